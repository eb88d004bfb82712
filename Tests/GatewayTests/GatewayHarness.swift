import AppAPI
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Gateway
import LedgerCore
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// A platform folder in a temporary directory, a test CA and server certificate, the gateway on an OS-chosen
/// loopback port, and an HTTPS client that trusts only that CA.
final class GatewayHarness: Sendable {
    static let rootPassword = "Correct-Horse-Battery-9"
    static let passphrase = "Gateway-Test-Keystore-Passphrase"

    let directory: String
    let platform: Platform
    let gateway: Gateway
    let client: HTTPClient
    let caPEM: String
    let rootToken: String
    var port: Int { gateway.port }

    /// Starts `executable` with `arguments` in `directory` (default: the test's own), both output streams written to
    /// the file `log` (created empty).
    static func launch(_ executable: URL, _ arguments: [String], environment: [String: String], log: String,
                       in directory: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try handle.close()   // the child holds its own descriptor
        return process
    }

    /// The test CA and a server certificate for `commonName`, written as PEM files in `directory`.
    static func certificates(in directory: String, commonName: String = "localhost") throws -> (ca: String, cert: String, key: String) {
        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "gateway test CA", key: caKey, validFor: 86_400)
        let key = try PrivateKey.generate(.p256)
        let cert = try X509Certificate.issue(commonName: commonName, publicKey: key.publicKey, issuer: ca, issuerKey: caKey, validFor: 86_400,
                                             subjectAltNames: ["DNS:" + commonName, "IP:127.0.0.1"])
        let paths = (ca: directory + "/ca.pem", cert: directory + "/server.pem", key: directory + "/server.key")
        try ca.pemRepresentation.write(toFile: paths.ca, atomically: true, encoding: .utf8)
        try cert.pemRepresentation.write(toFile: paths.cert, atomically: true, encoding: .utf8)
        try key.pemRepresentation.write(toFile: paths.key, atomically: true, encoding: .utf8)
        return paths
    }

    /// Opens a platform with a super-admin `root` (no MFA) and starts the gateway; `customize` changes its configuration.
    init(customize: (inout Gateway.Configuration) -> Void = { _ in }) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-gateway-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = try Self.certificates(in: directory)
        caPEM = try String(contentsOfFile: files.ca, encoding: .utf8)
        var options = Platform.Options()
        options.passphrase = try Passphrase(Self.passphrase)
        options.writesLog = false
        let platform = try await Platform.open(.singleNode(directory: directory + "/data"), options: options)
        self.platform = platform
        do {
            _ = try await platform.identity.createAdministrator(user: "root", password: Self.rootPassword, roles: [.superAdmin], token: nil)
            rootToken = try await platform.identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil).token
            var configuration = Gateway.Configuration(tls: try Gateway.serverTLS(certificatePath: files.cert, keyPath: files.key), port: 0)
            configuration.requestsPerSecond = 10_000
            configuration.burst = 10_000
            customize(&configuration)
            gateway = try await Gateway.start(platform: platform, configuration: configuration)
        } catch {
            await platform.close()
            throw error
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        tls.certificateVerification = .noHostnameVerification
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    func close() async {
        try? await client.shutdown()
        await gateway.stop()
        await platform.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// One answer: status, headers, body.
    struct Answer: CustomStringConvertible {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var code: Int { (json["code"] as? NSNumber)?.intValue ?? -1 }
        var data: Any? { json["data"] }
        var object: [String: Any] { data as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        var description: String { "HTTP \(status) \(text.prefix(600))" }
    }

    /// Sends one request to the gateway over HTTPS.
    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, contentType: String? = nil, token: String? = nil,
              accept: String? = nil, headers extra: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let accept { request.headers.add(name: "Accept", value: accept) }
        for (n, v) in extra { request.headers.add(name: n, value: v) }
        if let body { request.body = .bytes(ByteBuffer(data: body)) }
        let response = try await client.execute(request, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Data(buffer.readableBytesView))
    }

    func json(_ object: Any) -> Data { (try? JSONSerialization.data(withJSONObject: object)) ?? Data() }

    /// Every current record and the head: what a refused request must leave unchanged.
    func state() async throws -> (records: Int, head: UInt64) {
        var count = 0
        var cursor: String?
        repeat {
            let page = try await platform.records.query(RecordQuery(limit: 1_000, cursor: cursor), token: rootToken)
            count += page.records.count
            cursor = page.nextCursor
        } while cursor != nil
        return (count, await platform.node.head.height.rawValue)
    }

    // MARK: Records in the three formats

    static func jsonRecords(_ ids: [String], batch: String = "B-GW") -> Data {
        let records = ids.map { id in
            """
            {"production_time":"2025-03-01T08:00:00Z","production_location":"Kunming plant 2, line 3","product_uid":"\(id)",
             "pro_raw_material":{"pro_supplier":"Yunnan Copper Co.","pro_batch_number":"\(batch)","pro_Report_qualify_eval":"QR-17: pass"},
             "propara":{"pro_temperature":"71.5","pro_humidity":"40","pro_pressure":"101.3"},
             "pro_op_info":{"pro_op_name":"Li Wei","pro_op_id":"OP-7","pro_op_record":"shift A"},
             "pro_factory_uid":"F-KM-02","device_id":"PRESS-04"}
            """
        }
        return Data(("{\"records\":[" + records.joined(separator: ",") + "]}").utf8)
    }

    static func xmlRecords(_ ids: [String], batch: String = "B-GW") -> Data {
        let records = ids.map { id in
            """
            <record><production_time>2025-03-01T17:30:00+08:00</production_time><production_location>Kunming plant 2, line 4</production_location>
            <product_uid>\(id)</product_uid><pro_raw_material><pro_supplier>Dian Steel &amp; Alloy</pro_supplier>
            <pro_batch_number>\(batch)</pro_batch_number><pro_Report_qualify_eval>QR-18: pass</pro_Report_qualify_eval></pro_raw_material>
            <propara><pro_temperature>69.8</pro_temperature><pro_humidity>38</pro_humidity><pro_pressure>101.4</pro_pressure></propara>
            <pro_op_info><pro_op_name>Zhang Min</pro_op_name><pro_op_id>OP-9</pro_op_id><pro_op_record>shift B</pro_op_record></pro_op_info>
            <pro_factory_uid>F-KM-02</pro_factory_uid></record>
            """
        }
        return Data(("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<records>" + records.joined() + "</records>").utf8)
    }

    static func csvRecords(_ ids: [String], batch: String = "B-GW") -> Data {
        var text = "production_time,production_location,product_uid,pro_raw_material.pro_supplier,pro_raw_material.pro_batch_number,"
            + "pro_raw_material.pro_Report_qualify_eval,propara.pro_temperature,propara.pro_humidity,propara.pro_pressure,"
            + "pro_op_info.pro_op_name,pro_op_info.pro_op_id,pro_op_info.pro_op_record,pro_factory_uid,device_id\n"
        for id in ids {
            text += "2025-03-02T08:00:00Z,\"Kunming plant 2, line 3\",\(id),Yunnan Copper Co.,\(batch),QR-19: pass,70.1,39,101.3,Li Wei,OP-7,shift A,F-KM-02,PRESS-04\n"
        }
        return Data(text.utf8)
    }
}

/// A raw TLS (or plain) connection to the gateway, for what a well-behaved client never does: a body that stops
/// half way, a body larger than the limit, plain HTTP on the HTTPS port.
enum RawConnection {
    /// Writes `bytes`, then reads until the server closes the connection or `wait` passes; returns what arrived.
    static func exchange(port: Int, caPEM: String?, bytes: [UInt8], wait: Duration) async throws -> (received: String, closed: Bool) {
        let sslContext: NIOSSLContext? = try caPEM.map { pem in
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            tls.certificateVerification = .noHostnameVerification
            return try NIOSSLContext(configuration: tls)
        }
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: nil))
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        final class Flag: Sendable { let fired = Atomic<Bool>(false) }
        let flag = Flag()
        let raw = channel.channel
        let timer = raw.eventLoop.scheduleTask(in: .milliseconds(Int64(wait.components.seconds) * 1_000)) {
            flag.fired.store(true, ordering: .relaxed)
            raw.close(promise: nil)
        }
        var received = ""
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: bytes))
                do {
                    for try await buffer in inbound { received += String(buffer: buffer) }
                } catch {
                    // A reset or a TLS failure ends the connection too.
                }
            }
        } catch {
            // The same: the connection ended.
        }
        timer.cancel()
        let closed = !flag.fired.load(ordering: .relaxed)
        return (received, closed)
    }
}
