import Foundation
import LedgerCore
import Logging
import Net
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A running node's control endpoint: one JSON object per line, on a Unix domain socket (mode 0600 in the node's
/// data folder, for operators on its machine) or on a TCP port with mutual TLS (for clients elsewhere, N-S-4,
/// K-T-4; ``ForgeChainClient`` speaks it).
///
/// | request | answer |
/// |---|---|
/// | `{"op":"status"}` | `{"ok":true,"node":0,"height":12,"head":"…","peers":[1,2,3],"mempool":0}` |
/// | `{"op":"submit","transaction":"<hex of Transaction.encoded>"}` | `{"ok":true,"transactionID":"…","committed":true,"status":0,"height":13}` once committed (`"committed":false` when admitted but not committed within 30 s); with `"wait":false`, at admission |
/// | `{"op":"submitBatch","transactions":["<hex>",…]}` | `{"ok":true,"results":[{"ok":true,"transactionID":"…"} or {"ok":false,"code":N,"message":"…"},…]}` at admission, in order |
/// | `{"op":"receipts","ids":["<hex>",…]}` | `{"ok":true,"receipts":{"<id>":{"status":0},…},"height":13}`, the committed ones only |
/// | `{"op":"consensus"}` | `{"ok":true,"height":12,"role":"backup","config":{…},"changes":[{"height":20,"validators":[0,1,2]}]}`: the configuration that decides the next block (`ConsensusConfig` JSON) and the scheduled changes |
/// | `{"op":"load"}` | `{"ok":true,"load":{…}}`, a ``LoadReport`` |
/// | `{"op":"nonce","sender":"<hex public key>","scheme":"ed25519"}` | `{"ok":true,"nextNonce":N}`, the sender's next committed nonce |
/// | `{"op":"ledger"}` | `{"ok":true,"path":"…","bytes":N,"hashAlgorithm":"sha256","height":12,"head":"…","stateRoot":"…"}` (`height` absent for an empty ledger) |
///
/// Layers above the node add operations of their own (``Operation``: the record index's signed queries, a platform's
/// operator commands), passed to `start`; an added name never replaces a built-in one.
///
/// A refusal answers `{"ok":false,"code":N,"message":"…"}` with the error's stable code (4xxx from the
/// mempool, 1xxx for a transaction that does not decode, 4200 for a request the endpoint does not understand).
/// Requests longer than 4 MiB close the connection.
///
/// ```swift
/// let control = try await NodeControlServer.start(node: node, path: dataFolder + "/node.sock")
/// let status = try await NodeControlClient(path: dataFolder + "/node.sock").request(["op": "status"])
/// ```
public final class NodeControlServer: Sendable {
    /// The longest request line accepted: 4 MiB.
    public static let maximumRequestBytes = 4 << 20

    /// An operation added to the endpoint by a layer above the node: it gets the request line (a JSON object whose
    /// `op` named it) and returns the answer, one JSON object (`{"ok":true,…}` or `{"ok":false,"code":N,"message":"…"}`)
    /// without the newline. Called concurrently, once per request; it must answer every input, garbage included.
    public typealias Operation = @Sendable (_ request: Data) async -> Data

    private let channel: any Channel
    /// The socket's path; empty for a TCP endpoint.
    public let path: String
    /// The TCP port (the system's choice when 0 was asked); 0 for a Unix socket.
    public let port: Int
    let shared: Shared

    /// What the connections of one endpoint share.
    final class Shared: Sendable {
        let node: any ChainNode
        let logger: Logger
        let connections = Atomic<Int>(0)
        let sampler = ProcessLoadSampler()
        let traffic: @Sendable () -> UInt64
        let operations: [String: Operation]
        init(node: any ChainNode, logger: Logger, traffic: @escaping @Sendable () -> UInt64, operations: [String: Operation]) {
            self.node = node
            self.logger = logger
            self.traffic = traffic
            self.operations = operations
        }
    }

    private init(channel: any Channel, path: String, port: Int, shared: Shared) {
        self.channel = channel
        self.path = path
        self.port = port
        self.shared = shared
    }

    /// Client connections open now.
    public var openConnections: Int { shared.connections.load(ordering: .relaxed) }

    /// Listens on a TCP port, with mutual TLS when `tls` is given (clients present certificates of the same CA).
    /// - Parameters:
    ///   - node: Required. The node to answer for.
    ///   - host: Optional, default `127.0.0.1`.
    ///   - port: Optional, default 0 (the system chooses; read ``port``).
    ///   - tls: Optional, default nil (plain TCP: only for a network the operator trusts).
    ///   - traffic: Optional, default none. The node's peer traffic in bytes so far (`TCPTransport.traffic`), for load reports.
    ///   - operations: Optional, default none. Operations added by the layers above, by `op` name (see ``Operation``).
    ///   - logger: Optional. Where refused requests are logged.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when the port cannot be listened on or TLS is misconfigured.
    public static func start(node: any ChainNode, host: String = "127.0.0.1", port: Int = 0, tls: TCPTransport.TLS?,
                             traffic: @escaping @Sendable () -> UInt64 = { 0 }, operations: [String: Operation] = [:],
                             logger: Logger = Logger(label: "forgechain.node")) async throws(ChainError) -> NodeControlServer {
        let shared = Shared(node: node, logger: logger, traffic: traffic, operations: operations)
        let context: NIOSSLContext?
        do { context = try tls?.contexts().server } catch {
            throw ChainError(.controlSocketFailed, "control endpoint TLS: \(error.message)", details: ["port": String(port)])
        }
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                        try channel.pipeline.syncOperations.addHandler(ControlLineHandler(shared: shared))
                    }
                }
                .bind(host: host, port: port).get()
            return NodeControlServer(channel: channel, path: "", port: channel.localAddress?.port ?? port, shared: shared)
        } catch {
            throw ChainError(.controlSocketFailed, "cannot listen for clients on \(host):\(port): \(error)", details: ["port": String(port)])
        }
    }

    /// Listens on `path` (a stale socket file there is replaced) with mode 0600.
    /// - Parameters:
    ///   - node: Required. The node to answer for.
    ///   - path: Required. The socket's path (at most 107 bytes, a Unix socket limit).
    ///   - traffic: Optional, default none. The node's peer traffic in bytes so far (`TCPTransport.traffic`), for load reports.
    ///   - operations: Optional, default none. Operations added by the layers above, by `op` name (see ``Operation``).
    ///   - logger: Optional. Where refused requests are logged.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when the socket cannot be created.
    public static func start(node: any ChainNode, path: String, traffic: @escaping @Sendable () -> UInt64 = { 0 },
                             operations: [String: Operation] = [:],
                             logger: Logger = Logger(label: "forgechain.node")) async throws(ChainError) -> NodeControlServer {
        let shared = Shared(node: node, logger: logger, traffic: traffic, operations: operations)
        if FileManager.default.fileExists(atPath: path) {
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw ChainError(.controlSocketFailed, "cannot replace the stale control socket \(path): \(error)", details: ["path": path])
            }
        }
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ControlLineHandler(shared: shared))
                    }
                }
                .bind(unixDomainSocketPath: path).get()
            guard chmod(path, 0o600) == 0 else {
                try? await channel.close()
                throw ChainError(.controlSocketFailed, "cannot restrict the control socket \(path) to its owner", details: ["path": path])
            }
            return NodeControlServer(channel: channel, path: path, port: 0, shared: shared)
        } catch let error as ChainError {
            throw error
        } catch {
            throw ChainError(.controlSocketFailed, "cannot listen on the control socket \(path): \(error)", details: ["path": path])
        }
    }

    /// Stops listening (and removes the socket file of a Unix socket).
    public func close() async {
        try? await channel.close()
        if !path.isEmpty { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Answers one request line: a built-in operation, else one added by the layers above.
    static func answer(line data: Data, shared: Shared) async -> [UInt8] {
        let answer: [String: Any]
        if let request = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
            if let name = request["op"] as? String, !builtIn.contains(name), let operation = shared.operations[name] {
                var bytes = Array(await operation(data))
                bytes.removeAll { $0 == 0x0A }   // one answer, one line (JSON escapes newlines inside strings)
                return bytes
            }
            answer = await NodeControlServer.answer(request, shared: shared)
        } else {
            answer = ["ok": false, "code": Int(ChainError.Code.invalidControlRequest.rawValue), "message": "a request is one JSON object per line"]
        }
        do { return Array(try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) } catch {
            return Array(#"{"ok":false,"code":4200,"message":"the answer could not be encoded"}"#.utf8)
        }
    }

    /// The operations the node itself answers; an added operation of the same name is never called.
    static let builtIn: Set<String> = ["status", "submit", "submitBatch", "receipts", "nonce", "ledger", "load"]

    /// Answers one request (a JSON object).
    static func answer(_ request: [String: Any], shared: Shared) async -> [String: Any] {
        let node = shared.node
        func failure(_ code: UInt32, _ message: String) -> [String: Any] { ["ok": false, "code": Int(code), "message": message] }
        func decode(_ hex: Any?) -> (transaction: Transaction?, code: UInt32, message: String) {
            guard let hex = hex as? String else { return (nil, ChainError.Code.invalidControlRequest.rawValue, "a transaction is a hex string") }
            do { return (try Transaction(decoding: try Hex.decode(hex)), 0, "") } catch { return (nil, error.numericCode, error.message) }
        }
        switch request["op"] as? String {
        case "status":
            let head = await node.head
            let peers = await node.health.peers.filter(\.isAlive).map { Int($0.node.rawValue) }
            return ["ok": true, "node": Int(node.id.rawValue), "height": Int(head.height.rawValue), "head": head.hash.hex, "peers": peers,
                    "mempool": await node.mempoolCount]
        case "consensus":
            let height = await node.head.height
            let schedule = await node.consensusSchedule
            let config: Any
            do { config = try JSONSerialization.jsonObject(with: Data(schedule.config(atHeight: height.next).json)) } catch {
                return failure(ChainError.Code.controlSocketFailed.rawValue, "encoding the consensus configuration: \(error)")
            }
            let changes: [[String: Any]] = schedule.changes.map {
                ["height": Int($0.height.rawValue), "validators": ($0.config.validators?.ids ?? []).map { Int($0.rawValue) }]
            }
            return ["ok": true, "height": Int(height.rawValue), "role": "\(await node.consensusStatus.role)", "config": config, "changes": changes]
        case "submit":
            let decoded = decode(request["transaction"])
            guard let transaction = decoded.transaction else { return failure(decoded.code, decoded.message) }
            let id: Digest
            do { id = try await node.enqueue(transaction) } catch let error as any CodedError {
                return failure(error.numericCode, error.message)
            } catch { return failure(ChainError.Code.invalidControlRequest.rawValue, "\(error)") }
            if request["wait"] as? Bool == false { return ["ok": true, "transactionID": id.hex, "admitted": true] }
            do {
                let receipt = try await node.waitForReceipt(id, timeout: .seconds(30))
                return ["ok": true, "transactionID": id.hex, "committed": true, "status": Int(receipt.status),
                        "height": Int(await node.head.height.rawValue)]
            } catch {
                return ["ok": true, "transactionID": id.hex, "committed": false]
            }
        case "submitBatch":
            guard let list = request["transactions"] as? [Any], list.count <= 10_000 else {
                return failure(ChainError.Code.invalidControlRequest.rawValue, "submitBatch needs 'transactions': up to 10,000 hex strings")
            }
            var results = [[String: Any]?](repeating: nil, count: list.count)
            var valid = [(Int, Transaction)]()
            for (i, item) in list.enumerated() {
                let decoded = decode(item)
                if let t = decoded.transaction { valid.append((i, t)) } else {
                    results[i] = ["ok": false, "code": Int(decoded.code), "message": decoded.message]
                }
            }
            let outcomes = await node.enqueue(valid.map(\.1))
            for ((i, _), outcome) in zip(valid, outcomes) {
                switch outcome {
                case .success(let id): results[i] = ["ok": true, "transactionID": id.hex]
                case .failure(let e): results[i] = ["ok": false, "code": Int(e.numericCode), "message": e.message]
                }
            }
            return ["ok": true, "results": results.map { $0 ?? [:] }]
        case "receipts":
            guard let ids = request["ids"] as? [String], ids.count <= 10_000 else {
                return failure(ChainError.Code.invalidControlRequest.rawValue, "receipts needs 'ids': up to 10,000 hex transaction IDs")
            }
            var receipts = [String: Any]()
            for hex in ids {
                guard let id = try? Digest(hex: hex) else { continue }
                do {
                    if let receipt = try await node.receipt(for: id) { receipts[hex] = ["status": Int(receipt.status)] }
                } catch let error as any CodedError {
                    return failure(error.numericCode, error.message)
                } catch { return failure(ChainError.Code.invalidControlRequest.rawValue, "\(error)") }
            }
            return ["ok": true, "receipts": receipts, "height": Int(await node.head.height.rawValue)]
        case "nonce":
            guard let hex = request["sender"] as? String, let raw = try? Hex.decode(hex),
                  let scheme = SignatureScheme(rawValue: request["scheme"] as? String ?? "ed25519"),
                  let sender = try? PublicKey(scheme: scheme, rawRepresentation: raw) else {
                return failure(ChainError.Code.invalidControlRequest.rawValue, "nonce needs 'sender' (hex public key) and optionally 'scheme'")
            }
            return ["ok": true, "nextNonce": Int(await node.nextNonce(for: sender))]
        case "ledger":
            let store = await node.ledger
            var answer: [String: Any] = ["ok": true, "path": store.path ?? ":memory:", "hashAlgorithm": store.hashAlgorithm.rawValue]
            if let path = store.path, let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber {
                answer["bytes"] = size.intValue
            }
            if let head = store.head {
                answer["height"] = Int(head.height.rawValue)
                answer["head"] = head.hash.hex
                answer["stateRoot"] = head.stateRoot.hex
            }
            return answer
        case "load":
            let sample = shared.sampler.sample(traffic: shared.traffic())
            let health = await node.health
            let report = LoadReport(cpuPercent: sample.cpuPercent, memoryBytes: sample.memoryBytes, bandwidthBytesPerSecond: sample.bytesPerSecond,
                                    openConnections: shared.connections.load(ordering: .relaxed), heightLag: health.lag,
                                    mempool: await node.mempoolCount)
            return ["ok": true, "load": ["cpuPercent": report.cpuPercent, "memoryBytes": Int(report.memoryBytes),
                                         "bandwidthBytesPerSecond": report.bandwidthBytesPerSecond, "openConnections": report.openConnections,
                                         "heightLag": Int(report.heightLag), "mempool": report.mempool]]
        default:
            let added = shared.operations.keys.sorted()
            return failure(ChainError.Code.invalidControlRequest.rawValue,
                           "unknown op; expected status, submit, submitBatch, receipts, nonce, ledger or load" + (added.isEmpty ? "" : ", or " + added.joined(separator: ", ")))
        }
    }
}

/// Splits the connection's bytes into lines and answers each.
final class ControlLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let shared: NodeControlServer.Shared
    private var pending = [UInt8]()
    private var logger: Logger { shared.logger }

    init(shared: NodeControlServer.Shared) {
        self.shared = shared
    }

    func channelActive(context: ChannelHandlerContext) {
        shared.connections.wrappingAdd(1, ordering: .relaxed)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        shared.connections.wrappingSubtract(1, ordering: .relaxed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.notice("control connection closed on an error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(contentsOf: unwrapInboundIn(data).readableBytesView)
        while let newline = pending.firstIndex(of: 0x0A) {
            let line = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            respond(to: line, context: context)
        }
        if pending.count > NodeControlServer.maximumRequestBytes {
            logger.warning("control request over the size limit; connection closed", metadata: ["bytes": "\(pending.count)"])
            context.close(promise: nil)
        }
    }

    private func respond(to line: [UInt8], context: ChannelHandlerContext) {
        let channel = context.channel
        let shared = self.shared
        let data = Data(line)
        Task {
            var bytes = await NodeControlServer.answer(line: data, shared: shared)
            bytes.append(0x0A)
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }
}

/// Talks to a node's control endpoint (``NodeControlServer``): one request, one answer, on a connection of its own.
public struct NodeControlClient: Sendable {
    /// Where the endpoint listens.
    public enum Endpoint: Hashable, Sendable {
        /// A Unix domain socket (`DATA/node.sock`).
        case unix(String)
        /// A TCP port.
        case tcp(host: String, port: Int)
    }

    /// The endpoint.
    public let endpoint: Endpoint
    private let tls: TCPTransport.TLS?

    /// The Unix socket at `path`.
    /// - Parameter path: Required. The node's control socket (`DATA/node.sock`).
    public init(path: String) {
        endpoint = .unix(path)
        tls = nil
    }

    /// A TCP endpoint, over mutual TLS when `tls` is given (a certificate of the node's consortium CA).
    public init(host: String, port: Int, tls: TCPTransport.TLS?) {
        endpoint = .tcp(host: host, port: port)
        self.tls = tls
    }

    private var name: String {
        switch endpoint {
        case .unix(let path): path
        case .tcp(let host, let port): "\(host):\(port)"
        }
    }

    /// Sends `request` and returns the node's answer.
    /// - Parameters:
    ///   - request: Required. A JSON object (see ``NodeControlServer``).
    ///   - timeout: Optional, default 60 s. How long to wait for the connection and the answer.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when the endpoint cannot be reached or answers nothing in
    ///   time; `.invalidControlRequest` (4200) when `request` is not JSON.
    public func request(_ request: [String: any Sendable], timeout: Duration = .seconds(60)) async throws(ChainError) -> [String: Any] {
        let line: Data
        do { line = try JSONSerialization.data(withJSONObject: request) } catch {
            throw ChainError(.invalidControlRequest, "the request is not JSON: \(error)")
        }
        let bytes = try await exchange(line, timeout: timeout)
        guard let object = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] else {
            throw ChainError(.controlSocketFailed, "the node's control endpoint \(name) answered something other than a JSON object",
                             details: ["endpoint": name])
        }
        return object
    }

    /// Sends one request line (a JSON object, without the newline) and returns the answer line as it came.
    /// - Parameters:
    ///   - request: Required. A JSON object's bytes with no newline in them (see ``NodeControlServer``).
    ///   - timeout: Optional, default 60 s. How long to wait for the connection and the answer.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when the endpoint cannot be reached or answers nothing in
    ///   time; `.invalidControlRequest` (4200) when `request` holds a newline.
    /// - Note: Safe to call concurrently (a connection per call). Example:
    ///   `let answer = try await NodeControlClient(path: "data/node.sock").exchange(Data(#"{"op":"status"}"#.utf8))`.
    public func exchange(_ request: Data, timeout: Duration = .seconds(60)) async throws(ChainError) -> Data {
        guard !request.contains(0x0A) else { throw ChainError(.invalidControlRequest, "a request is one line: it holds a newline") }
        let line = Array(request) + [0x0A]
        let answer = AnswerBox()
        let context: NIOSSLContext?
        do { context = try tls?.contexts().client } catch {
            throw ChainError(.controlSocketFailed, "control client TLS: \(error.message)", details: ["endpoint": name])
        }
        do {
            let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(timeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let context { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil)) }
                        try channel.pipeline.syncOperations.addHandler(AnswerReader(box: answer))
                    }
                }
            let channel: any Channel
            switch endpoint {
            case .unix(let path): channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            case .tcp(let host, let port): channel = try await bootstrap.connect(host: host, port: port).get()
            }
            let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                channel.close(promise: nil)
            }
            var buffer = channel.allocator.buffer(capacity: line.count)
            buffer.writeBytes(line)
            try await channel.writeAndFlush(buffer)
            try await channel.closeFuture.get()
            deadline.cancel()
        } catch {
            throw ChainError(.controlSocketFailed, "cannot reach the node's control endpoint \(name): \(error)", details: ["endpoint": name])
        }
        guard let bytes = answer.line else {
            throw ChainError(.controlSocketFailed, "the node's control endpoint \(name) answered nothing", details: ["endpoint": name])
        }
        return Data(bytes)
    }

    final class AnswerBox: Sendable {
        private let value = Mutex<[UInt8]?>(nil)
        var line: [UInt8]? {
            get { value.withLock { $0 } }
            set { value.withLock { $0 = newValue } }
        }
    }

    /// Collects the first line, then closes the connection.
    final class AnswerReader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let box: AnswerBox
        private var pending = [UInt8]()
        init(box: AnswerBox) { self.box = box }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending.append(contentsOf: unwrapInboundIn(data).readableBytesView)
            if let newline = pending.firstIndex(of: 0x0A) {
                box.line = Array(pending[..<newline])
                context.close(promise: nil)
            }
        }
    }
}
