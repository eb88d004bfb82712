import AppAPI
import ChainRuntime
import Foundation
import LedgerCore

/// The standard's REST interface over the records platform (D-7, D-9): the route table the gateway serves and
/// publishes as OpenAPI. Queries are GET, submissions POST.
///
/// | method | path | token | does |
/// |---|---|---|---|
/// | POST | /v1/auth/login | no | user, password, one-time code → token |
/// | POST | /v1/auth/logout | yes | revokes the token |
/// | POST | /v1/records | yes | uploads a JSON, XML or CSV document (by Content-Type) |
/// | GET | /v1/records | yes | query with filters and a cursor |
/// | GET | /v1/records/{id} | yes | the current version |
/// | GET | /v1/records/{id}/history | yes | every version |
/// | POST | /v1/records/{id}/update | yes | update with a condition |
/// | GET | /v1/receipts/{id} | yes | a version's receipt |
/// | POST | /v1/receipts/verify | yes | offline verification against the trust anchor |
/// | GET | /v1/admins | yes | administrators |
/// | POST | /v1/admins | yes | creates an administrator |
/// | POST | /v1/admins/{user}/disable | yes | disables one |
/// | GET | /v1/node/status | yes | status and load |
/// | GET | /v1/events | yes | record changes as Server-Sent Events, resumable |
/// | GET | /openapi.json | no | this table as OpenAPI 3.1 |
public enum GatewayRoutes {
    /// The most records one upload takes.
    public static let maximumUploadRecords = 10_000
    /// The most events one `GET /v1/events` call reads from the ledger per poll.
    public static let eventBatch = 500

    /// Every standard route, in the order of the table above.
    public static var standard: [GatewayRoute] {
        [login, logout, upload, query, record, history, update, receipt, verify, listAdmins, createAdmin, disableAdmin, nodeStatus,
         events, openAPI]
    }

    private static let tokenCodes: [UInt32] = [5406, 5407, 5408, 5403, 5409]
    private static let idParameter = GatewayParameter("id", in: .path, .string, required: true, "The record ID.", minimumLength: 1, maximumLength: 300,
                                                      example: "P-2025-0201")

    // MARK: Identity

    struct LoginBody: Codable { var user: String; var password: String; var otp: String? }
    struct SessionData: Codable, Sendable {
        var token: String; var user: String; var roles: [String]; var expiresAt: UInt64
        enum CodingKeys: String, CodingKey { case token, user, roles, expiresAt = "expires_at" }
    }
    struct Done: Codable, Sendable { var done = true }

    static let login = GatewayRoute(
        method: .post, path: "/v1/auth/login", operationID: "login",
        summary: "Logs in with user name, password and one-time code (TOTP, SMS or e-mail) and returns an access token.",
        requiresToken: false,
        body: GatewayBody(contentTypes: ["application/json"], description: "The credentials.", fields: [
            GatewayParameter("user", in: .body, .string, required: true, "The administrator's user name.", minimumLength: 3, maximumLength: 64, example: "root"),
            GatewayParameter("password", in: .body, .string, required: true, "The password.", minimumLength: 1, maximumLength: 1_024, example: "correct horse battery"),
            GatewayParameter("otp", in: .body, .string, "The one-time code, when the account has MFA.", maximumLength: 16, example: "123456"),
        ]),
        errorCodes: [5401, 5402, 5403, 5404, 5405, 5415],
        responseDescription: "`{token, user, roles, expires_at}`; send the token as `Authorization: Bearer TOKEN`."
    ) { request, env in
        let body = try request.decodeJSON(LoginBody.self)
        let session = try await env.platform.identity.login(user: body.user, password: body.password, oneTimeCode: body.otp)
        return .ok(SessionData(token: session.token, user: session.user, roles: session.roles.map(\.rawValue),
                               expiresAt: session.expiresAt.millisecondsSince1970))
    }

    static let logout = GatewayRoute(
        method: .post, path: "/v1/auth/logout", operationID: "logout", summary: "Revokes the bearer token (at once, for every later request).",
        requiresToken: true, errorCodes: [5406, 5407, 5408], responseDescription: "`{done: true}`"
    ) { request, env in
        try await env.platform.identity.logout(token: try request.requireToken())
        return .ok(Done())
    }

    // MARK: Records

    struct UploadData: Codable, Sendable { var count: Int; var receipts: [UploadReceipt] }

    static let upload = GatewayRoute(
        method: .post, path: "/v1/records", operationID: "uploadRecords",
        summary: "Uploads the records of a JSON, XML or CSV document (chosen by Content-Type), all or none.",
        requiresToken: true,
        parameters: [GatewayParameter("kind", in: .query, .string, "The kind of records without `record_kind`.",
                                      allowed: RecordKind.allCases.map(\.rawValue), example: "production", defaultValue: "production")],
        body: GatewayBody(contentTypes: ["application/json", "application/xml", "text/xml", "text/csv"],
                          description: "A document the platform's decoders read (Appendix A fields), 1...10,000 records.",
                          jsonTypes: [.object, .array]),
        errorCodes: [5001, 5002, 5003, 5004, 5005, 5006, 5007, 5009, 5010, 5011, 5012, 5101, 5102, 5103, 5105, 5107, 5109] + tokenCodes,
        responseDescription: "`{count, receipts}`: one receipt per record, in order."
    ) { request, env in
        let token = try request.requireToken()
        let format: RecordFormat = switch request.contentType {
        case "application/json": .json
        case "text/csv": .csv
        default: .xml
        }
        let kind = try RecordKind(name: request.query["kind"] ?? "production")
        let parsed = try RecordIngest.parse(request.body, format: format, kind: kind, allOrNothing: true)
        guard parsed.records.count <= maximumUploadRecords else {
            throw AppError(.invalidBatch, "an upload holds at most \(maximumUploadRecords) records, got \(parsed.records.count)",
                           details: ["field": "body"])
        }
        let receipts = try await env.platform.records.uploadBatch(parsed.records.map(\.record), token: token)
        return .ok(UploadData(count: receipts.count, receipts: receipts))
    }

    static let query = GatewayRoute(
        method: .get, path: "/v1/records", operationID: "queryRecords",
        summary: "One page of current records matching every filter given, inside the caller's permissions.",
        requiresToken: true,
        parameters: [
            GatewayParameter("from", in: .query, .string, "Earliest record time (ISO 8601 or `yyyy-MM-dd HH:mm:ss`).", example: "2025-01-01T00:00:00Z"),
            GatewayParameter("to", in: .query, .string, "Latest record time.", example: "2025-12-31T23:59:59Z"),
            GatewayParameter("product_uid", in: .query, .string, "Product UID.", maximumLength: 300, example: "PU-1"),
            GatewayParameter("batch_number", in: .query, .string, "Batch number.", maximumLength: 300, example: "B-17"),
            GatewayParameter("device_id", in: .query, .string, "Device ID.", maximumLength: 300, example: "D-3"),
            GatewayParameter("factory_uid", in: .query, .string, "Factory UID.", maximumLength: 300, example: "F-01"),
            GatewayParameter("location", in: .query, .string, "Location.", maximumLength: 300, example: "Line 2"),
            GatewayParameter("operator_id", in: .query, .string, "Operator ID.", maximumLength: 300, example: "OP-7"),
            GatewayParameter("kind", in: .query, .string, "Record kind.", allowed: RecordKind.allCases.map(\.rawValue), example: "production"),
            GatewayParameter("order", in: .query, .string, "Sort order by record time.", allowed: RecordQuery.Order.allCases.map(\.rawValue),
                             example: RecordQuery.Order.timeAscending.rawValue, defaultValue: RecordQuery.Order.timeAscending.rawValue),
            GatewayParameter("limit", in: .query, .integer, "Rows per page.", range: 1...Int64(RecordQuery.maximumLimit), example: "100",
                             defaultValue: "100"),
            GatewayParameter("cursor", in: .query, .string, "The previous page's `next_cursor`.", maximumLength: 4_096, example: "djE6..."),
            GatewayParameter("include_proofs", in: .query, .boolean, "Attach each record's receipt.", example: "false", defaultValue: "false"),
        ],
        errorCodes: [5003, 5009, 5201, 5202, 5204, 5205] + tokenCodes,
        responseDescription: "A record page: `records`, `next_cursor`, `indexed_height`, `head_height`."
    ) { request, env in
        let q = request.query
        func time(_ name: String) throws -> RecordTime? { try q[name].map { try RecordTime(parsing: $0, field: name) } }
        var query = RecordQuery(from: try time("from"), to: try time("to"), productUID: q["product_uid"], batchNumber: q["batch_number"],
                                deviceID: q["device_id"], factoryUID: q["factory_uid"], location: q["location"], operatorID: q["operator_id"],
                                kind: try q["kind"].map { try RecordKind(name: $0) }, limit: Int(request.integer("limit", default: 100) ?? 100),
                                cursor: q["cursor"], includeProofs: q["include_proofs"] == "true")
        if let order = q["order"].flatMap(RecordQuery.Order.init(rawValue:)) { query.order = order }
        try query.validate()
        return .ok(try await env.platform.records.query(query, token: try request.requireToken()))
    }

    static let record = GatewayRoute(
        method: .get, path: "/v1/records/{id}", operationID: "getRecord", summary: "The current version of a record.",
        requiresToken: true, parameters: [idParameter], errorCodes: [5203, 5205] + tokenCodes, responseDescription: "A stored record."
    ) { request, env in
        let id = request.pathParameters["id"] ?? ""
        let versions = try await env.platform.records.history(recordID: id, token: try request.requireToken())
        guard let last = versions.last else { throw AppError(.recordNotFound, "no record '\(id)'", details: ["recordID": id]) }
        return .ok(last)
    }

    static let history = GatewayRoute(
        method: .get, path: "/v1/records/{id}/history", operationID: "recordHistory", summary: "Every version of a record, oldest first.",
        requiresToken: true, parameters: [idParameter], errorCodes: [5203, 5205] + tokenCodes, responseDescription: "A list of stored records."
    ) { request, env in
        .ok(try await env.platform.records.history(recordID: request.pathParameters["id"] ?? "", token: try request.requireToken()))
    }

    struct FieldCondition: Codable { var field: String; var equals: String }
    struct UpdateBody: Codable {
        var fields: [String: String]
        var expectedVersion: UInt64?
        var condition: FieldCondition?
        enum CodingKeys: String, CodingKey { case fields, expectedVersion = "expected_version", condition }
    }

    static let update = GatewayRoute(
        method: .post, path: "/v1/records/{id}/update", operationID: "updateRecord",
        summary: "Appends a new version with the given fields changed, if the condition holds (the old version stays in the history).",
        requiresToken: true, parameters: [idParameter],
        body: GatewayBody(contentTypes: ["application/json"], description: "The changes and the condition.", fields: [
            GatewayParameter("fields", in: .body, .object, required: true, "Dotted field name → new value (1...64 entries).", range: 1...64,
                             example: #"{"propara.pro_temperature":"72.0"}"#),
            GatewayParameter("expected_version", in: .body, .integer, "The version the record must be at.", range: 1...Int64.max, example: "1"),
            GatewayParameter("condition", in: .body, .object, "`{field, equals}`: a field's current value must equal `equals`.",
                             example: #"{"field":"pro_status","equals":"open"}"#),
        ], exclusive: ["expected_version", "condition"]),
        errorCodes: [5001, 5002, 5003, 5004, 5102, 5109, 5203, 5301, 5302, 5303, 5107] + tokenCodes,
        responseDescription: "The new version's receipt."
    ) { request, env in
        let body = try request.decodeJSON(UpdateBody.self)
        guard body.expectedVersion == nil || body.condition == nil else {
            throw GatewayError(.malformedBody, "give expected_version or condition, not both", details: ["field": "condition"])
        }
        let condition: UpdateCondition = if let v = body.expectedVersion { .expectedVersion(v) } else if let c = body.condition {
            .field(c.field, equals: c.equals)
        } else { .none }
        return .ok(try await env.platform.records.update(recordID: request.pathParameters["id"] ?? "", fields: body.fields, condition: condition,
                                                         token: try request.requireToken()))
    }

    // MARK: Receipts

    static let receipt = GatewayRoute(
        method: .get, path: "/v1/receipts/{id}", operationID: "getReceipt",
        summary: "The receipt (inclusion proofs and commit certificate) of a record version, rebuilt from the ledger.",
        requiresToken: true,
        parameters: [idParameter, GatewayParameter("version", in: .query, .integer, "The version; default the current one.", range: 1...Int64.max,
                                                   example: "1")],
        errorCodes: [5203, 5204] + tokenCodes, responseDescription: "An upload receipt; verify it with POST /v1/receipts/verify or offline."
    ) { request, env in
        .ok(try await env.platform.receipt(recordID: request.pathParameters["id"] ?? "", version: request.integer("version").map(UInt64.init),
                                           token: try request.requireToken()))
    }

    struct Verified: Codable, Sendable {
        var valid: Bool; var recordID: String; var version: UInt64; var height: UInt64; var chainID: UInt64
        enum CodingKeys: String, CodingKey { case valid, recordID = "record_id", version, height, chainID = "chain_id" }
    }

    static let verify = GatewayRoute(
        method: .post, path: "/v1/receipts/verify", operationID: "verifyReceipt",
        summary: "Verifies a receipt offline against this chain's trust anchor (proofs, commit certificate, validators).",
        requiresToken: true,
        body: GatewayBody(contentTypes: ["application/json"], description: "An upload receipt as GET /v1/receipts/{id} returns it."),
        errorCodes: [5104, 5406, 5407, 5408], responseDescription: "`{valid: true, record_id, version, height, chain_id}`; a failed check is 5104."
    ) { request, env in
        _ = try await env.platform.identity.authenticate(token: try request.requireToken())
        let receipt: UploadReceipt
        do { receipt = try JSONDecoder().decode(UploadReceipt.self, from: request.body) } catch {
            throw AppError(.receiptInvalid, "the body is not an upload receipt: \(error)", details: ["check": "format"])
        }
        try receipt.verify(against: env.platform.trustAnchor)
        return .ok(Verified(valid: true, recordID: receipt.recordID, version: receipt.version, height: receipt.height,
                            chainID: env.platform.trustAnchor.chainID))
    }

    // MARK: Administrators

    static let listAdmins = GatewayRoute(
        method: .get, path: "/v1/admins", operationID: "listAdministrators", summary: "Every administrator (no secrets).",
        requiresToken: true, errorCodes: tokenCodes, responseDescription: "A list of administrator summaries."
    ) { request, env in
        .ok(try await env.platform.identity.listAdministrators(token: try request.requireToken()))
    }

    struct CreateBody: Codable { var user: String; var password: String; var roles: [String]; var scope: String?; var contact: String?; var channel: String? }

    static let createAdmin = GatewayRoute(
        method: .post, path: "/v1/admins", operationID: "createAdministrator", summary: "Creates an administrator.",
        requiresToken: true,
        body: GatewayBody(contentTypes: ["application/json"], description: "The new account.", fields: [
            GatewayParameter("user", in: .body, .string, required: true, "User name: letters, digits, `._@-`.", minimumLength: 3, maximumLength: 64,
                             pattern: "^[A-Za-z0-9._@-]{3,64}$", example: "alice"),
            GatewayParameter("password", in: .body, .string, required: true, "Password: 10...256 characters (and the platform's strength rules).", minimumLength: 10,
                             maximumLength: 256, example: "Str0ng&Long-pass"),
            GatewayParameter("roles", in: .body, .array, required: true, "Role names.", range: 1...5, allowed: Role.allCases.map(\.rawValue), example: #"["viewer"]"#),
            GatewayParameter("scope", in: .body, .string, "Factories (`*` or a comma-separated list).", example: "*", defaultValue: "*"),
            GatewayParameter("contact", in: .body, .string, "Phone or e-mail for one-time codes.", example: "alice@example.com"),
            GatewayParameter("channel", in: .body, .string, "How codes are sent.", allowed: CodeChannel.allCases.map(\.rawValue), example: "email"),
        ]),
        errorCodes: [5410, 5411, 5412, 5417, 5418, 5415] + tokenCodes, responseDescription: "The new administrator's summary."
    ) { request, env in
        let body = try request.decodeJSON(CreateBody.self)
        let roles = try Set(body.roles.map { name throws(AppError) in try Role(name: name) })
        let channel = try body.channel.map { name throws(GatewayError) -> CodeChannel in
            guard let c = CodeChannel(rawValue: name) else {
                throw GatewayError(.malformedBody, "channel '\(name)' is not sms or email", details: ["field": "channel"])
            }
            return c
        }
        return .ok(try await env.platform.identity.createAdministrator(user: body.user, password: body.password, roles: roles,
                                                                       scope: FactoryScope(text: body.scope ?? "*"), contact: body.contact,
                                                                       channel: channel, token: try request.requireToken()))
    }

    static let disableAdmin = GatewayRoute(
        method: .post, path: "/v1/admins/{user}/disable", operationID: "disableAdministrator",
        summary: "Disables an administrator (its tokens stop working at once).", requiresToken: true,
        parameters: [GatewayParameter("user", in: .path, .string, required: true, "User name.", minimumLength: 1, maximumLength: 64, example: "alice")],
        errorCodes: [5413, 5414] + tokenCodes, responseDescription: "The administrator's summary."
    ) { request, env in
        .ok(try await env.platform.identity.disableAdministrator(user: request.pathParameters["user"] ?? "", token: try request.requireToken()))
    }

    // MARK: Node

    struct NodeStatus: Codable, Sendable {
        var node: UInt32; var state: String; var height: UInt64; var head: String; var lag: UInt64; var peersAlive: Int; var peers: Int
        var mempool: Int; var storeErrors: Int; var chainID: UInt64; var requestsInFlight: Int; var requestsServed: Int
        enum CodingKeys: String, CodingKey {
            case node, state, height, head, lag, peersAlive = "peers_alive", peers, mempool, storeErrors = "store_errors", chainID = "chain_id"
            case requestsInFlight = "requests_in_flight", requestsServed = "requests_served"
        }
    }

    static let nodeStatus = GatewayRoute(
        method: .get, path: "/v1/node/status", operationID: "nodeStatus",
        summary: "The serving node's status and load: state, height, lag, peers, mempool, store errors, gateway requests in flight and served.",
        requiresToken: true, errorCodes: [5406, 5407, 5408, 5403],
        responseDescription: "`{node, state, height, head, lag, peers_alive, peers, mempool, store_errors, chain_id, requests_in_flight, requests_served}`"
    ) { request, env in
        _ = try await env.platform.identity.authenticate(token: try request.requireToken())
        let node = env.platform.node
        let health = await node.health
        let head = await node.head
        return .ok(NodeStatus(node: health.node.rawValue, state: health.state.rawValue, height: head.height.rawValue, head: head.hash.hex,
                              lag: health.lag, peersAlive: health.peers.filter(\.isAlive).count, peers: health.peers.count,
                              mempool: health.mempoolCount, storeErrors: health.storeErrors, chainID: env.platform.trustAnchor.chainID,
                              requestsInFlight: env.requestsInFlight, requestsServed: env.requestsServed))
    }

    // MARK: Events

    struct ChangeEvent: Codable, Sendable { var checkpoint: String; var record: StoredRecord }

    /// `height:transaction:operation`, as LogCheckpoint prints it.
    static func checkpoint(_ text: String) throws(GatewayError) -> LogCheckpoint {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let h = UInt64(parts[0]), let t = UInt32(parts[1]), let o = UInt32(parts[2]) else {
            throw GatewayError(.invalidParameter, "checkpoint '\(text.prefix(64))' is not HEIGHT:TRANSACTION:OPERATION", details: ["field": "after"])
        }
        return LogCheckpoint(height: h, transactionIndex: t, logIndex: o)
    }

    static let events = GatewayRoute(
        method: .get, path: "/v1/events", operationID: "recordEvents",
        summary: "Committed record changes the caller may see, as Server-Sent Events read from the ledger; resume after any event's id.",
        requiresToken: true,
        parameters: [
            GatewayParameter("after", in: .query, .string, "Start strictly after this checkpoint (an event's id, HEIGHT:TRANSACTION:OPERATION); "
                             + "default the beginning of the chain. The Last-Event-ID header, when sent, wins.", maximumLength: 64, example: "12:0:3",
                             defaultValue: "0:0:0"),
            GatewayParameter("limit", in: .query, .integer, "End the stream after this many events; default never (until the token's rights end).",
                             range: 1...1_000_000, example: "100"),
        ],
        errorCodes: [5204, 5106] + tokenCodes,
        responseDescription: "`text/event-stream`: `id: CHECKPOINT`, `event: record`, `data: {checkpoint, record}`; comments as keep-alives.",
        streams: true
    ) { request, env in
        let token = try request.requireToken()
        let start = try checkpoint(request.lastEventID ?? request.query["after"] ?? "0:0:0")
        // Checks the token before the stream starts, so a bad one is an envelope, not an empty stream.
        _ = try await env.platform.identity.authorize(token: token, permission: .queryRecords)
        let platform = env.platform
        return .events(start: start.description) { after in
            let position = try checkpoint(after)
            let (changes, next) = try await platform.committedChanges(after: position, token: token, limit: eventBatch)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let events = try changes.map { change in
                let id = change.checkpoint.description
                let data = String(decoding: try encoder.encode(ChangeEvent(checkpoint: id, record: change.record)), as: UTF8.self)
                return ServerSentEvent(id: id, event: "record", data: data)
            }
            return (events, next.description)
        }
    }

    // MARK: Description

    static let openAPI = GatewayRoute(
        method: .get, path: "/openapi.json", operationID: "openAPI", summary: "This interface as an OpenAPI 3.1 document, generated from the route table.",
        requiresToken: false, errorCodes: [], responseDescription: "The OpenAPI document itself (not an envelope)."
    ) { _, env in
        .document(env.openAPIDocument, contentType: "application/json")
    }
}
