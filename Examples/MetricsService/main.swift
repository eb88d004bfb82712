// MetricsService: a one-node platform that takes uploads while its metrics
// are served in Prometheus's text format.
//
// The host program chooses the backends, as a service would: swift-log to
// standard error, swift-metrics bootstrapped with swift-prometheus's factory.
// The platform itself only uses the swift-log and swift-metrics APIs.
//
//   swift run MetricsService                      # 200 uploads, check, print the exposition, exit
//   swift run MetricsService --uploads 1000 --serve-seconds 60
//   curl http://127.0.0.1:PORT/metrics            # while it serves (the port is printed on stderr)
//
// It starts a one-node platform in a new temporary folder (removed at the
// end), serves GET /metrics on 127.0.0.1 with a port the OS chooses, uploads
// the records in batches, queries them, scrapes its own endpoint, checks that
// every expected metric name is there and that the uploaded-records counter
// equals --uploads, prints the exposition to standard output, keeps serving
// for --serve-seconds (default 0), shuts the server down gracefully and exits
// 0; 1 when a check fails.
//
// The endpoint is a Hummingbird route (the project's HTTP server library; no
// library target depends on it), run in a swift-service-lifecycle
// `ServiceGroup` so that it can be shut down gracefully. The self-scrape is
// a plain Foundation `URLSession` request.
import AppAPI
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import LedgerCore
import Logging
import Metrics
import Prometheus
import ServiceLifecycle   // comes with Hummingbird, whose Application is a ServiceLifecycle Service

func option(_ name: String, _ fallback: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]), v >= 0 else { return fallback }
    return v
}
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("MetricsService: \(message)\n".utf8))
    exit(1)
}

let uploads = max(1, option("--uploads", 200))
let serveSeconds = option("--serve-seconds", 0)

// 1. The host's backends, chosen once per process.
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .notice
    return handler
}
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
let logger = Logger(label: "forgechain.example.metrics-service")

// 2. The metrics endpoint: GET /metrics answers the registry's exposition in
// Prometheus's text format; any other path is Hummingbird's 404.
let router = Router()
router.get("metrics") { _, _ in
    Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
             body: ResponseBody(byteBuffer: ByteBuffer(string: registry.emitToString())))
}
let (boundPorts, boundPort) = AsyncStream.makeStream(of: Int.self)
let app = Application(
    router: router,
    configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),   // port 0: the OS chooses
    onServerRunning: { channel in boundPort.yield(channel.localAddress?.port ?? 0) },
    logger: logger)
// No signals are trapped: Ctrl-C ends the process as it always did.
let services = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], logger: logger))
let serving = Task {
    defer { boundPort.finish() }   // a server that cannot bind never reports a port
    try await services.run()
}
guard let port = await boundPorts.first(where: { _ in true }) else {
    let cause = if case .failure(let error) = await serving.result { "\(error)" } else { "the server stopped" }
    fail("cannot serve: \(cause)")
}
guard port > 0 else { fail("cannot serve: the server's channel has no local address") }
logger.notice("serving metrics", metadata: ["url": "http://127.0.0.1:\(port)/metrics"])

/// Stops accepting connections, lets any request in flight finish and waits for the server to end.
func stopServing() async {
    await services.triggerGracefulShutdown()
    if case .failure(let error) = await serving.result { logger.error("server stopped with an error", metadata: ["error": "\(error)"]) }
}

/// Fetches the endpoint over HTTP, as Prometheus would, and returns the body of a 200 answer.
func scrape(port: Int) async throws -> String {
    struct ScrapeError: Error, CustomStringConvertible {
        var status: Int
        var description: String { "GET /metrics answered HTTP \(status)" }
    }
    let (body, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
    guard status == 200 else { throw ScrapeError(status: status) }
    return String(decoding: body, as: UTF8.self)
}

// 3. A one-node platform taking uploads, in a temporary folder removed at the end.
let directory = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-metrics-\(UUID().uuidString)").path
var exposition = ""
do {
    var options = Platform.Options()
    options.identity.hasher = PasswordHasher(logN: 12)
    options.writesLog = false
    options.passphrase = try Passphrase(Hex.encode(SecureRandom.bytes(count: 32)))   // a folder removed at the end
    let platform = try await Platform.open(.singleNode(directory: directory), options: options)
    let password = "Metrics-Service-Demo-2025"
    _ = try await platform.identity.createAdministrator(user: "operator", password: password, roles: [.superAdmin], token: nil)
    _ = try? await platform.identity.login(user: "operator", password: "not-the-password", oneTimeCode: nil)   // one refused login
    let token = try await platform.identity.login(user: "operator", password: password, oneTimeCode: nil).token

    let start = ContinuousClock.now
    var uploaded = 0
    while uploaded < uploads {
        let batch = (uploaded..<min(uploads, uploaded + 50)).map { i in
            ManufacturingRecord.production(ProductionRecord(
                productionTime: RecordTime(millisecondsSince1970: 1_740_816_000_000 + UInt64(i) * 1_000),
                productionLocation: "Kunming plant 2, line 3", productUID: "P-METRICS-\(i)",
                rawMaterial: .init(supplier: "Yunnan Copper Co.", batchNumber: "B-\(i / 50)", qualityReport: "pass"),
                processParameters: .init(temperature: "71.5", humidity: "40", pressure: "101.3"),
                operatorInfo: .init(name: "Li Wei", id: "OP-7", record: "shift A"),
                factoryUID: "F-KM-02", deviceID: "PRESS-04"))
        }
        _ = try await platform.records.uploadBatch(batch, token: token)
        uploaded += batch.count
        _ = try await platform.records.query(RecordQuery(batchNumber: "B-\((uploaded - 1) / 50)"), token: token)
    }
    logger.notice("uploads committed", metadata: ["records": "\(uploaded)", "elapsed": "\(ContinuousClock.now - start)"])
    try await Task.sleep(for: .milliseconds(200))   // at least one status beacon samples the mempool and peer gauges

    // 4. Scrape the endpoint like Prometheus would, and check it.
    exposition = try await scrape(port: port)
    await platform.close()
} catch {
    await stopServing()
    try? FileManager.default.removeItem(atPath: directory)
    fail("\(error)")
}
try? FileManager.default.removeItem(atPath: directory)

let expected = [
    "forgechain_committed_height", "forgechain_blocks_committed_total", "forgechain_transactions_committed_total",
    "forgechain_mempool_transactions", "forgechain_peers_alive", "forgechain_commit_latency_seconds",
    "forgechain_block_append_seconds", "forgechain_view_changes_total", "forgechain_leader_changes_total",
    "forgechain_records_uploaded_total", "forgechain_query_duration_seconds", "forgechain_logins_total",
    "forgechain_logins_refused_total",
]
let lines = exposition.split(separator: "\n")
let missing = expected.filter { name in !lines.contains { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") || $0.hasPrefix(name + "_bucket") } }
print(exposition)
if serveSeconds > 0 {
    logger.notice("serving until the time is up", metadata: ["seconds": "\(serveSeconds)"])
    try? await Task.sleep(for: .seconds(serveSeconds))
}
await stopServing()
guard missing.isEmpty else { fail("metrics missing from the exposition: \(missing.joined(separator: ", "))") }
let counted = lines.first { $0.hasPrefix("forgechain_records_uploaded_total") }?.split(separator: " ").last.flatMap { Double($0) }
guard counted == Double(uploads) else { fail("forgechain_records_uploaded_total is \(counted.map { "\($0)" } ?? "absent"), expected \(uploads)") }
logger.notice("exposition checked", metadata: ["metrics": "\(expected.count)", "uploads": "\(uploads)"])
