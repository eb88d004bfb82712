import Foundation
import LedgerCore
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A running node's local control socket (N-S-4, for operators on the node's machine): a Unix domain socket,
/// mode 0600 in the node's data folder, that answers one JSON object per line.
///
/// | request | answer |
/// |---|---|
/// | `{"op":"status"}` | `{"ok":true,"node":0,"height":12,"head":"…","peers":[1,2,3],"mempool":0}` |
/// | `{"op":"submit","transaction":"<hex of Transaction.encoded>"}` | `{"ok":true,"transactionID":"…","status":0,"height":13}` once committed (or `"committed":false` when it was admitted but did not commit within 30 s) |
///
/// A refusal answers `{"ok":false,"code":N,"message":"…"}` with the error's stable code (4xxx from the
/// mempool, 1xxx for a transaction that does not decode, 4200 for a request the socket does not understand).
/// Requests longer than 4 MiB close the connection.
///
/// ```swift
/// let control = try await NodeControlServer.start(node: node, path: dataFolder + "/node.sock")
/// let status = try await NodeControlClient(path: dataFolder + "/node.sock").request(["op": "status"])
/// ```
public final class NodeControlServer: Sendable {
    /// The longest request line accepted: 4 MiB.
    public static let maximumRequestBytes = 4 << 20

    private let channel: any Channel
    /// The socket's path.
    public let path: String

    private init(channel: any Channel, path: String) {
        self.channel = channel
        self.path = path
    }

    /// Listens on `path` (a stale socket file there is replaced) with mode 0600.
    /// - Parameters:
    ///   - node: Required. The node to answer for.
    ///   - path: Required. The socket's path (at most 107 bytes, a Unix socket limit).
    ///   - logger: Optional. Where refused requests are logged.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when the socket cannot be created.
    public static func start(node: any ChainNode, path: String, logger: Logger = Logger(label: "forgechain.node")) async throws(ChainError)
        -> NodeControlServer {
        if FileManager.default.fileExists(atPath: path) {
            do { try FileManager.default.removeItem(atPath: path) } catch {
                throw ChainError(.controlSocketFailed, "cannot replace the stale control socket \(path): \(error)", details: ["path": path])
            }
        }
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ControlLineHandler(node: node, logger: logger))
                    }
                }
                .bind(unixDomainSocketPath: path).get()
            guard chmod(path, 0o600) == 0 else {
                try? await channel.close()
                throw ChainError(.controlSocketFailed, "cannot restrict the control socket \(path) to its owner", details: ["path": path])
            }
            return NodeControlServer(channel: channel, path: path)
        } catch let error as ChainError {
            throw error
        } catch {
            throw ChainError(.controlSocketFailed, "cannot listen on the control socket \(path): \(error)", details: ["path": path])
        }
    }

    /// Stops listening and removes the socket file.
    public func close() async {
        try? await channel.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Answers one request (a JSON object) for `node`.
    static func answer(_ request: [String: Any], node: any ChainNode) async -> [String: Any] {
        func failure(_ code: UInt32, _ message: String) -> [String: Any] { ["ok": false, "code": Int(code), "message": message] }
        switch request["op"] as? String {
        case "status":
            let head = await node.head
            let peers = await node.health.peers.filter(\.isAlive).map { Int($0.node.rawValue) }
            return ["ok": true, "node": Int(node.id.rawValue), "height": Int(head.height.rawValue), "head": head.hash.hex, "peers": peers,
                    "mempool": await node.mempoolCount]
        case "submit":
            guard let hex = request["transaction"] as? String else { return failure(ChainError.Code.invalidControlRequest.rawValue, "submit needs 'transaction' (hex)") }
            let transaction: Transaction
            do { transaction = try Transaction(decoding: try Hex.decode(hex)) } catch let error as any CodedError {
                return failure(error.numericCode, error.message)
            } catch { return failure(ChainError.Code.invalidControlRequest.rawValue, "\(error)") }
            let id: Digest
            do { id = try await node.enqueue(transaction) } catch let error as any CodedError {
                return failure(error.numericCode, error.message)
            } catch { return failure(ChainError.Code.invalidControlRequest.rawValue, "\(error)") }
            do {
                let receipt = try await node.waitForReceipt(id, timeout: .seconds(30))
                return ["ok": true, "transactionID": id.hex, "committed": true, "status": Int(receipt.status),
                        "height": Int(await node.head.height.rawValue)]
            } catch {
                return ["ok": true, "transactionID": id.hex, "committed": false]
            }
        default:
            return failure(ChainError.Code.invalidControlRequest.rawValue, "unknown op; expected status or submit")
        }
    }
}

/// Splits the connection's bytes into lines and answers each.
final class ControlLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let node: any ChainNode
    private let logger: Logger
    private var pending = [UInt8]()

    init(node: any ChainNode, logger: Logger) {
        self.node = node
        self.logger = logger
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
        let node = self.node
        let data = Data(line)
        Task {
            let answer: [String: Any]
            if let request = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] {
                answer = await NodeControlServer.answer(request, node: node)
            } else {
                answer = ["ok": false, "code": Int(ChainError.Code.invalidControlRequest.rawValue), "message": "a request is one JSON object per line"]
            }
            var bytes: [UInt8]
            do { bytes = Array(try JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) } catch {
                bytes = Array(#"{"ok":false,"code":4200,"message":"the answer could not be encoded"}"#.utf8)
            }
            bytes.append(0x0A)
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            channel.writeAndFlush(buffer, promise: nil)
        }
    }
}

/// Talks to a node's control socket (``NodeControlServer``): one request, one answer.
public struct NodeControlClient: Sendable {
    /// The socket's path.
    public let path: String

    /// - Parameter path: Required. The node's control socket (`DATA/node.sock`).
    public init(path: String) { self.path = path }

    /// Sends `request` and returns the node's answer.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when the socket cannot be reached or answers nothing.
    public func request(_ request: [String: any Sendable]) async throws(ChainError) -> [String: Any] {
        let line: [UInt8]
        do { line = Array(try JSONSerialization.data(withJSONObject: request)) + [0x0A] } catch {
            throw ChainError(.invalidControlRequest, "the request is not JSON: \(error)")
        }
        let answer = AnswerBox()
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AnswerReader(box: answer)) }
                }
                .connect(unixDomainSocketPath: path).get()
            var buffer = channel.allocator.buffer(capacity: line.count)
            buffer.writeBytes(line)
            try await channel.writeAndFlush(buffer)
            try await channel.closeFuture.get()
        } catch {
            throw ChainError(.controlSocketFailed, "cannot reach the node's control socket \(path): \(error)", details: ["path": path])
        }
        guard let bytes = answer.line, let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            throw ChainError(.controlSocketFailed, "the node's control socket \(path) answered nothing", details: ["path": path])
        }
        return object
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
