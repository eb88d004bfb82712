import ChainRuntime
import Foundation
import LedgerCore

/// The operator commands a running platform answers on its control socket (`DATA/node.sock`, mode 0600), so that
/// `forgechain records|admin` on the folder of a running `forgechain platform run` talk to that process instead of
/// failing on the folder's lock (`.storeLocked`, 1520).
///
/// Every operation checks credentials as the same call in process does: `platform.login` takes the password and
/// one-time code (refused with 5401 like a local login, counted towards the lockout), the others an access token;
/// results and failures are the same values and codes (see ``PlatformControlClient``). The socket is reachable only
/// by the folder's owner; it is not a network API (remote clients use a node's client endpoint and
/// ``RecordQueryEndpoint``).
///
/// | op | request fields | answer `data` |
/// |---|---|---|
/// | `platform.hello` | | `{"directory":…,"chainID":…}` |
/// | `platform.login` | `user`, `password`, `otp` | `{"token":…}` |
/// | `platform.bootstrapNeeded` | | `true` when the folder has no administrator |
/// | `platform.createAdministrator` | `user`, `password`, `roles`, `scope`, `contact`, `channel`, `token` | an ``AdminSummary`` |
/// | `platform.listAdministrators` | `token` | `[AdminSummary]` |
/// | `platform.disableAdministrator` | `user`, `token` | an ``AdminSummary`` |
/// | `platform.deleteAdministrator` | `user`, `token` | `{}` |
/// | `platform.changePassword` | `user`, `currentPassword`, `newPassword`, `token` | `{}` |
/// | `platform.query` | `query` (a ``RecordQuery``), `token` | a ``RecordPage`` |
/// | `platform.history` | `recordID`, `token` | `[StoredRecord]` |
/// | `platform.update` | `recordID`, `fields`, `expectedVersion`, `token` | an ``UploadReceipt`` |
/// | `platform.upload` | `records` (hex canonical encodings, 1...2,000), `token` | `{"receipts":[UploadReceipt],"already_on_chain":[id]}` |
///
/// ```swift
/// let control = try await NodeControlServer.start(node: platform.node, path: dir + "/node.sock",
///                                                 operations: PlatformControl.operations(for: platform))
/// ```
public enum PlatformControl {
    /// The most records one `platform.upload` request carries (a request line is at most 4 MiB).
    public static let maximumUploadRecords = 2_000

    struct Hello: Codable { var directory: String; var chainID: UInt64 }
    struct Login: Codable { var user: String; var password: String; var otp: String? }
    struct Token: Codable { var token: String }
    struct Create: Codable {
        var user: String; var password: String; var roles: [String]; var scope: String; var contact: String?; var channel: String?; var token: String?
    }
    struct UserRequest: Codable { var user: String; var token: String }
    struct Password: Codable { var user: String; var currentPassword: String?; var newPassword: String; var token: String }
    struct History: Codable { var recordID: String; var token: String }
    struct Update: Codable { var recordID: String; var fields: [String: String]; var expectedVersion: UInt64; var token: String }
    struct Query: Codable { var query: RecordQuery; var token: String }
    struct Upload: Codable { var records: [String]; var token: String }
    struct Uploaded: Codable {
        var receipts: [UploadReceipt]
        var alreadyOnChain: [String]
        enum CodingKeys: String, CodingKey { case receipts, alreadyOnChain = "already_on_chain" }
    }

    /// The operations to add to the platform's control socket.
    /// - Parameter platform: Required. An open platform; the operations fail with its errors once it is closed.
    public static func operations(for platform: Platform) -> [String: NodeControlServer.Operation] {
        let identity = platform.identity, records = platform.records
        let hello = Hello(directory: platform.directory, chainID: platform.trustAnchor.chainID)
        return [
            "platform.hello": { _ in ControlWire.success(hello) },
            "platform.login": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(Login.self, from: line, op: "platform.login")
                    return Token(token: try await identity.login(user: r.user, password: r.password, oneTimeCode: r.otp).token)
                }
            },
            "platform.bootstrapNeeded": { _ in await ControlWire.answer { try await identity.needsBootstrap() } },
            "platform.createAdministrator": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(Create.self, from: line, op: "platform.createAdministrator")
                    let roles = try Set(r.roles.map { name throws(AppError) in try Role(name: name) })
                    let channel: CodeChannel?
                    if let name = r.channel {
                        guard let c = CodeChannel(rawValue: name) else {
                            throw AppError(.invalidFieldValue, "channel '\(name)' is not sms or email", details: ["field": "channel"])
                        }
                        channel = c
                    } else {
                        channel = nil
                    }
                    return try await identity.createAdministrator(user: r.user, password: r.password, roles: roles, scope: FactoryScope(text: r.scope),
                                                                  contact: r.contact, channel: channel, token: r.token)
                }
            },
            "platform.listAdministrators": { line in
                await ControlWire.answer {
                    try await identity.listAdministrators(token: try ControlWire.request(Token.self, from: line, op: "platform.listAdministrators").token)
                }
            },
            "platform.disableAdministrator": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(UserRequest.self, from: line, op: "platform.disableAdministrator")
                    return try await identity.disableAdministrator(user: r.user, token: r.token)
                }
            },
            "platform.deleteAdministrator": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(UserRequest.self, from: line, op: "platform.deleteAdministrator")
                    try await identity.deleteAdministrator(user: r.user, token: r.token)
                    return ControlWire.Done()
                }
            },
            "platform.changePassword": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(Password.self, from: line, op: "platform.changePassword")
                    try await identity.changePassword(user: r.user, currentPassword: r.currentPassword, newPassword: r.newPassword, token: r.token)
                    return ControlWire.Done()
                }
            },
            "platform.history": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(History.self, from: line, op: "platform.history")
                    return try await records.history(recordID: r.recordID, token: r.token)
                }
            },
            "platform.update": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(Update.self, from: line, op: "platform.update")
                    return try await records.update(recordID: r.recordID, fields: r.fields, condition: .expectedVersion(r.expectedVersion), token: r.token)
                }
            },
            "platform.query": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(Query.self, from: line, op: "platform.query")
                    return try await records.query(r.query, token: r.token)
                }
            },
            "platform.upload": { line in
                await ControlWire.answer {
                    let r = try ControlWire.request(Upload.self, from: line, op: "platform.upload")
                    guard (1...maximumUploadRecords).contains(r.records.count) else {
                        throw AppError(.invalidFieldValue, "platform.upload takes 1...\(maximumUploadRecords) records, got \(r.records.count)",
                                       details: ["field": "records"])
                    }
                    var list = [ManufacturingRecord]()
                    for (i, hex) in r.records.enumerated() {
                        guard let bytes = try? Hex.decode(hex) else {
                            throw AppError(.invalidFieldValue, "record \(i) is not hex", details: ["field": "records", "record": String(i)])
                        }
                        list.append(try ManufacturingRecord(canonicalEncoding: bytes))
                    }
                    let result = try await records.uploadNew(list, token: r.token)
                    return Uploaded(receipts: result.receipts, alreadyOnChain: result.alreadyOnChain)
                }
            },
        ]
    }
}

/// Talks to a running platform's control socket (``PlatformControl``): the same calls as ``IdentityService`` and
/// ``RecordService`` make in process, with the same results and error codes.
///
/// ```swift
/// if let remote = try await PlatformControlClient.serving(directory: "forgechain-data") {
///     let token = try await remote.login(user: "root", password: password, oneTimeCode: nil)
///     let page = try await remote.query(RecordQuery(batchNumber: "B-19"), token: token)
/// }
/// ```
/// - Note: A connection per call; safe to use concurrently.
public struct PlatformControlClient: Sendable {
    /// The control socket.
    public let path: String
    private let control: NodeControlClient

    /// The platform whose control socket is `path`.
    /// - Parameter path: Required. `DATA/node.sock`.
    public init(path: String) {
        self.path = path
        control = NodeControlClient(path: path)
    }

    /// The platform serving `directory`, or nil when no process answers on its `node.sock` (none there, or a stale
    /// socket file of a process that ended).
    /// - Parameters:
    ///   - directory: Required. The data folder.
    ///   - timeout: Optional, default 10 s. How long the process may take to answer.
    /// - Throws: `AppError` `.platformNotServed` (5432) when the process answering is a chain node without the platform.
    public static func serving(directory: String, timeout: Duration = .seconds(10)) async throws -> PlatformControlClient? {
        let path = directory + "/node.sock"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let client = PlatformControlClient(path: path)
        let answer: Data
        do { answer = try await client.control.exchange(Data(#"{"op":"platform.hello"}"#.utf8), timeout: timeout) } catch {
            return nil
        }
        do {
            _ = try ControlWire.value(PlatformControl.Hello.self, from: answer)
        } catch let error as ChainError where error.code == .invalidControlRequest {
            throw AppError(.platformNotServed, "the process serving \(directory) (its node.sock answers) is a chain node without the records "
                           + "platform; use `forgechain client` or a ForgeChainClient to reach it", details: ["socket": path])
        }
        return client
    }

    private func call<Request: Encodable, Value: Decodable>(_ op: String, _ request: Request, as: Value.Type) async throws -> Value {
        // `{"op":"…"` then the request's own fields, if any.
        let fields = try ControlWire.encode(request).dropFirst()
        var line = Data(#"{"op":"\#(op)""#.utf8)
        if fields.first != UInt8(ascii: "}") { line.append(UInt8(ascii: ",")) }
        line.append(contentsOf: fields)
        return try ControlWire.value(Value.self, from: try await control.exchange(line, timeout: .seconds(600)))
    }

    private struct Empty: Encodable {}

    /// ``IdentityService/login(user:password:oneTimeCode:)``, returning the token.
    /// - Throws: As the login in process: `.invalidCredentials` (5401) for any refusal; `ChainError` 4201 when the process is gone.
    public func login(user: String, password: String, oneTimeCode: String?) async throws -> String {
        try await call("platform.login", PlatformControl.Login(user: user, password: password, otp: oneTimeCode), as: PlatformControl.Token.self).token
    }

    /// ``IdentityService/needsBootstrap()``.
    public func needsBootstrap() async throws -> Bool {
        try await call("platform.bootstrapNeeded", Empty(), as: Bool.self)
    }

    /// ``IdentityService/createAdministrator(user:password:roles:scope:contact:channel:token:)``.
    /// - Throws: As in process (54xx).
    public func createAdministrator(user: String, password: String, roles: Set<Role>, scope: FactoryScope = .all, contact: String? = nil,
                                    channel: CodeChannel? = nil, token: String?) async throws -> AdminSummary {
        try await call("platform.createAdministrator",
                       PlatformControl.Create(user: user, password: password, roles: roles.map(\.rawValue).sorted(), scope: scope.text,
                                              contact: contact, channel: channel?.rawValue, token: token), as: AdminSummary.self)
    }

    /// ``IdentityService/listAdministrators(token:)``.
    public func listAdministrators(token: String) async throws -> [AdminSummary] {
        try await call("platform.listAdministrators", PlatformControl.Token(token: token), as: [AdminSummary].self)
    }

    /// ``IdentityService/disableAdministrator(user:token:)``.
    public func disableAdministrator(user: String, token: String) async throws -> AdminSummary {
        try await call("platform.disableAdministrator", PlatformControl.UserRequest(user: user, token: token), as: AdminSummary.self)
    }

    /// ``IdentityService/deleteAdministrator(user:token:)``.
    public func deleteAdministrator(user: String, token: String) async throws {
        _ = try await call("platform.deleteAdministrator", PlatformControl.UserRequest(user: user, token: token), as: ControlWire.Done.self)
    }

    /// ``IdentityService/changePassword(user:currentPassword:newPassword:token:)``.
    public func changePassword(user: String, currentPassword: String?, newPassword: String, token: String) async throws {
        _ = try await call("platform.changePassword",
                           PlatformControl.Password(user: user, currentPassword: currentPassword, newPassword: newPassword, token: token),
                           as: ControlWire.Done.self)
    }

    /// ``RecordService/history(recordID:token:)``.
    public func history(recordID: String, token: String) async throws -> [StoredRecord] {
        try await call("platform.history", PlatformControl.History(recordID: recordID, token: token), as: [StoredRecord].self)
    }

    /// ``RecordService/update(recordID:fields:condition:token:timeout:)`` with the condition `.expectedVersion(expectedVersion)`.
    /// - Throws: As in process (5203, 5301–5303, 5001–5004, 5102, 5109, 5409, token errors).
    public func update(recordID: String, fields: [String: String], expectedVersion: UInt64, token: String) async throws -> UploadReceipt {
        try await call("platform.update", PlatformControl.Update(recordID: recordID, fields: fields, expectedVersion: expectedVersion, token: token),
                       as: UploadReceipt.self)
    }

    /// ``RecordService/query(_:token:)``.
    /// - Throws: As in process (5201, 5202, 5204, 5205, 5409, token errors).
    public func query(_ query: RecordQuery, token: String) async throws -> RecordPage {
        try await call("platform.query", PlatformControl.Query(query: query, token: token), as: RecordPage.self)
    }

    /// ``RecordService/uploadNew(_:token:timeout:progress:)``, sent in requests of at most
    /// ``PlatformControl/maximumUploadRecords`` records and 3 MiB, each committed on its own before the next is sent.
    /// - Parameters:
    ///   - records: Required. Records with distinct IDs.
    ///   - token: Required.
    ///   - progress: Optional. Called after each request with the records settled so far and the total.
    /// - Throws: As in process; the records of the requests answered before a failure stay uploaded (a re-run skips them).
    public func uploadNew(_ records: [ManufacturingRecord], token: String,
                          progress: (@Sendable (_ settled: Int, _ total: Int) -> Void)? = nil) async throws -> RecordService.UploadResult {
        var result = RecordService.UploadResult(receipts: [], alreadyOnChain: [])
        var chunk = [String](), bytes = 0, settled = 0
        func send() async throws {
            let answer = try await call("platform.upload", PlatformControl.Upload(records: chunk, token: token), as: PlatformControl.Uploaded.self)
            result.receipts += answer.receipts
            result.alreadyOnChain += answer.alreadyOnChain
            settled += chunk.count
            chunk.removeAll()
            bytes = 0
            progress?(settled, records.count)
        }
        for record in records {
            let hex = Hex.encode(record.canonicalEncoding)
            if !chunk.isEmpty, chunk.count == PlatformControl.maximumUploadRecords || bytes + hex.utf8.count > 3 << 20 { try await send() }
            chunk.append(hex)
            bytes += hex.utf8.count + 3
        }
        if !chunk.isEmpty { try await send() }
        return result
    }
}
