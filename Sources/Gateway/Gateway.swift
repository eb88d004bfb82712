import AppAPI
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// The HTTPS gateway: the standard's REST interface (D-7..D-10) over a records `Platform`, served with TLS only
/// (D-8) on Hummingbird. Every answer is the uniform envelope in JSON or XML (by Accept) with the HTTP status of
/// ``GatewayStatusTable``, except `GET /openapi.json` (the document) and `GET /v1/events` (Server-Sent Events).
///
/// Before a route's handler runs the gateway checks, in this order: the route and method (6008, 6009), Accept (6013),
/// the rate of the caller's token or address (6007, 429 with Retry-After), query and path parameters against the
/// route table (6010), the bearer token's presence (6006), the body's Content-Type (6001), size (6002) and arrival
/// time (6011), JSON/XML nesting (6004) and XML declarations (6005). A refused request changes nothing.
///
/// ```swift
/// let tls = try Gateway.serverTLS(certificatePath: "gateway.pem", keyPath: "gateway.key")
/// let gateway = try await Gateway.start(platform: platform, configuration: .init(tls: tls, port: 8443))
/// // ... curl --cacert ca.pem https://127.0.0.1:8443/v1/node/status -H "Authorization: Bearer $TOKEN"
/// await gateway.stop()
/// ```
public final class Gateway: Sendable {
    /// Listen address, TLS, limits and timeouts, with defaults and ranges.
    public struct Configuration: Sendable {
        /// The address to bind. Default `127.0.0.1`.
        public var host = "127.0.0.1"
        /// The port; 0 lets the OS choose (see ``Gateway/port``). Default 8443; range 0...65535.
        public var port = 8443
        /// The server's TLS configuration (certificate chain and key); see ``Gateway/serverTLS(certificatePath:keyPath:)``.
        public var tls: TLSConfiguration
        /// The largest request body. Default 8 MiB; range 1 KiB...64 MiB.
        public var maximumBodyBytes = 8 << 20
        /// The deepest nesting of arrays/objects in a JSON body, or of elements in an XML body. Default 32; range 2...256.
        public var maximumNesting = 32
        /// How long a client may take to send its whole body once the request line arrived; a slower one gets 408
        /// (6011) and its connection is closed. Default 10 s.
        public var bodyTimeout: Duration = .seconds(10)
        /// How long the platform may take to answer a request (an upload waits for its commit, 30 s by default); then 504
        /// (6012). Default 60 s.
        public var requestTimeout: Duration = .seconds(60)
        /// A connection with no request for this long is closed. Default 60 s.
        public var idleTimeout: Duration = .seconds(60)
        /// Requests per second each token (or, without one, each client address) regains. Default 50.
        public var requestsPerSecond: Double = 50
        /// The most requests a token may send at once before the rate applies. Default 100.
        public var burst = 100
        /// A limiter to use instead of one made from ``requestsPerSecond`` and ``burst`` (tests give one on a simulated clock).
        public var rateLimiter: RateLimiter?
        /// How often an event stream looks for new commits. Default 200 ms.
        public var eventPollInterval: Duration = .milliseconds(200)
        /// How often an idle event stream sends a keep-alive comment. Default 15 s.
        public var eventKeepAlive: Duration = .seconds(15)
        /// Routes served besides ``GatewayRoutes/standard`` (and published in the OpenAPI document). Default none.
        public var extraRoutes: [GatewayRoute] = []
        /// Where the gateway logs (never a token, password or body). Default label `forgechain.gateway`.
        public var logger = Logger(label: "forgechain.gateway")

        /// - Parameters:
        ///   - tls: Required. The server's TLS configuration.
        ///   - host: Optional, default `127.0.0.1`.
        ///   - port: Optional, default 8443; 0 for an OS-chosen port.
        public init(tls: TLSConfiguration, host: String = "127.0.0.1", port: Int = 8443) {
            self.tls = tls
            self.host = host
            self.port = port
        }

        /// The limits as published in the OpenAPI document (`x-limits`) and the status route.
        var published: [String: Int] {
            ["maximum_body_bytes": maximumBodyBytes, "maximum_nesting": maximumNesting,
             "body_timeout_ms": Self.milliseconds(bodyTimeout), "request_timeout_ms": Self.milliseconds(requestTimeout),
             "idle_timeout_ms": Self.milliseconds(idleTimeout), "requests_per_second": Int(requestsPerSecond.rounded()), "burst": burst,
             "maximum_upload_records": GatewayRoutes.maximumUploadRecords]
        }

        static func milliseconds(_ d: Duration) -> Int {
            Int(d.components.seconds) * 1_000 + Int(d.components.attoseconds / 1_000_000_000_000_000)
        }
    }

    /// The port the gateway listens on (the OS's choice when the configuration said 0).
    public let port: Int
    /// The routes served.
    public let routes: [GatewayRoute]
    /// The OpenAPI document served at `/openapi.json`.
    public let openAPIDocument: Data
    private let core: GatewayCore
    private let task: Mutex<Task<Void, Never>?>
    private let group: ServiceGroup

    private init(port: Int, core: GatewayCore, task: Task<Void, Never>, group: ServiceGroup) {
        self.port = port
        self.core = core
        self.routes = core.routes
        self.openAPIDocument = core.openAPI
        self.task = Mutex(task)
        self.group = group
    }

    /// A TLS server configuration from PEM files.
    /// - Parameters:
    ///   - certificatePath: Required. The server certificate (and any intermediates), PEM.
    ///   - keyPath: Required. Its private key, PEM (PKCS#8 or SEC1).
    /// - Throws: `GatewayError` `.invalidConfiguration` (6014) naming the file that does not load.
    public static func serverTLS(certificatePath: String, keyPath: String) throws(GatewayError) -> TLSConfiguration {
        let chain: [NIOSSLCertificate], key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMFile(certificatePath) } catch {
            throw GatewayError(.invalidConfiguration, "the certificate file '\(certificatePath)' does not load: \(error)", details: ["field": "cert"])
        }
        do { key = try NIOSSLPrivateKey(file: keyPath, format: .pem) } catch {
            throw GatewayError(.invalidConfiguration, "the key file '\(keyPath)' does not load: \(error)", details: ["field": "key"])
        }
        guard !chain.isEmpty else {
            throw GatewayError(.invalidConfiguration, "the certificate file '\(certificatePath)' holds no certificate", details: ["field": "cert"])
        }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    /// Starts serving `platform` and returns once the port is bound.
    /// - Parameters:
    ///   - platform: Required. An open platform; the gateway does not close it.
    ///   - configuration: Required. See ``Configuration``.
    /// - Returns: The running gateway; call ``stop()`` before closing the platform.
    /// - Throws: `GatewayError` `.invalidConfiguration` (6014) for a bad address, a port in use, out-of-range limits or a
    ///   route table with a repeated method and path; `.internalError` (6015) when the OpenAPI document cannot be made.
    public static func start(platform: Platform, configuration: Configuration) async throws -> Gateway {
        guard (0...65_535).contains(configuration.port), (1 << 10...64 << 20).contains(configuration.maximumBodyBytes),
              (2...256).contains(configuration.maximumNesting) else {
            throw GatewayError(.invalidConfiguration, "port 0...65535, body limit 1 KiB...64 MiB and nesting 2...256 expected",
                               details: ["port": String(configuration.port), "maximumBodyBytes": String(configuration.maximumBodyBytes)])
        }
        let routes = GatewayRoutes.standard + configuration.extraRoutes
        let openAPI = try OpenAPIDocument.generate(routes: routes, limits: configuration.published)
        let core = GatewayCore(platform: platform, routes: routes, openAPI: openAPI, configuration: configuration)
        let responder = CallbackResponder<GatewayRequestContext> { request, context in await core.respond(request, context: context) }
        let idle = TimeAmount.milliseconds(Int64(Configuration.milliseconds(configuration.idleTimeout)))
        let server: HTTPServerBuilder
        do { server = try .tls(.http1(configuration: .init(idleTimeout: idle)), tlsConfiguration: configuration.tls) } catch {
            throw GatewayError(.invalidConfiguration, "the TLS configuration is refused: \(error)", details: ["field": "tls"])
        }
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let failure = Mutex<String?>(nil)
        let app = Application(responder: responder, server: server,
                              configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
                              onServerRunning: { channel in
                                  portSink.yield(channel.localAddress?.port ?? 0)
                                  portSink.finish()
                              },
                              logger: configuration.logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: configuration.logger))
        let task = Task {
            do { try await group.run() } catch {
                failure.withLock { $0 = String(describing: error) }
            }
            portSink.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            await task.value
            throw GatewayError(.invalidConfiguration, "the gateway could not listen on \(configuration.host):\(configuration.port): "
                               + (failure.withLock { $0 } ?? "no address"), details: ["field": "listen"])
        }
        configuration.logger.info("gateway listening", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
        return Gateway(port: port, core: core, task: task, group: group)
    }

    /// Stops listening, ends event streams and waits for the server to finish. The platform stays open. Idempotent.
    public func stop() async {
        core.stopping.store(true, ordering: .releasing)
        guard let task = self.task.withLock({ t -> Task<Void, Never>? in defer { t = nil }; return t }) else { return }
        await group.triggerGracefulShutdown()
        await task.value
    }
}

/// The request context: Hummingbird's storage and the client's address (the rate key before login).
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: String
    /// The connection, closed by the gateway after answering a request whose body it did not read.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        channel = source.channel
    }
}
