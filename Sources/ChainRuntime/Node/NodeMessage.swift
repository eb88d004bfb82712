import LedgerCore
import Net

/// What nodes say to each other on a ``Transport``: one RLP list `[type, ...]`.
///
/// | type | message | fields |
/// |---|---|---|
/// | 1 | consensus | engine message bytes |
/// | 2 | transactions | list of transactions |
/// | 3 | status | height, head hash |
/// | 4 | syncRequest | first height, count |
/// | 5 | syncResponse | list of committed blocks |
/// | 6 | syncFailed | first height asked for, the store's error code |
///
/// A node that does not know a type counts the message as undecodable and otherwise ignores it, so a new type
/// (like 6) reaches older nodes harmlessly.
enum NodeMessage: Sendable, Equatable {
    /// A consensus engine message (its own canonical encoding).
    case consensus([UInt8])
    /// Transactions relayed from one node's mempool (K-T-1).
    case transactions([Transaction])
    /// Liveness beacon: the sender's committed height and head hash (K-R-1).
    case status(height: Height, head: Digest)
    /// Asks for committed blocks with certificates from `from`, at most `count`.
    case syncRequest(from: Height, count: Int)
    /// Committed blocks with certificates, ascending.
    case syncResponse([CommittedBlock])
    /// The answer to a sync request the sender could not serve because its store failed (`code`: the store's
    /// `LedgerError` code, for example 1501 or 1510). Unlike an empty ``syncResponse(_:)`` (the sender holds no
    /// blocks from `from` on), it says the blocks may exist: ask another peer, or this one again later.
    case syncFailed(from: Height, code: UInt32)

    static let maximumSyncBatch = 1_024

    var encoded: [UInt8] {
        switch self {
        case .consensus(let b): RLP.encode(.list([.uint(1), .bytes(b)]))
        case .transactions(let txs): RLP.encode(.list([.uint(2), .list(txs.map(\.item))]))
        case .status(let h, let d): RLP.encode(.list([.uint(3), .uint(h.rawValue), .digest(d)]))
        case .syncRequest(let h, let n): RLP.encode(.list([.uint(4), .uint(h.rawValue), .uint(UInt64(n))]))
        case .syncResponse(let blocks): RLP.encode(.list([.uint(5), .list(blocks.map { .bytes($0.encoded) })]))
        case .syncFailed(let h, let code): RLP.encode(.list([.uint(6), .uint(h.rawValue), .uint(UInt64(code))]))
        }
    }

    init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("nodeMessage")
        guard let first = f.first else { throw LedgerError(.fieldCount, "node message is empty") }
        switch try first.uint64("nodeMessage.type") {
        case 1 where f.count == 2: self = .consensus(try f[1].bytes("nodeMessage.consensus"))
        case 2 where f.count == 2:
            var txs = [Transaction]()
            for item in try f[1].list("nodeMessage.transactions") { txs.append(try Transaction(item: item)) }
            self = .transactions(txs)
        case 3 where f.count == 3: self = .status(height: Height(try f[1].uint64("nodeMessage.height")), head: try f[2].digest("nodeMessage.head"))
        case 4 where f.count == 3:
            self = .syncRequest(from: Height(try f[1].uint64("nodeMessage.from")),
                                count: Int(min(try f[2].uint64("nodeMessage.count"), UInt64(Self.maximumSyncBatch))))
        case 5 where f.count == 2:
            let items = try f[1].list("nodeMessage.blocks")
            guard items.count <= Self.maximumSyncBatch else { throw LedgerError(.fieldCount, "sync batch of \(items.count) blocks") }
            var blocks = [CommittedBlock]()
            for item in items { blocks.append(try CommittedBlock(decoding: try item.bytes("nodeMessage.block"))) }
            self = .syncResponse(blocks)
        case 6 where f.count == 3:
            let code = try f[2].uint64("nodeMessage.code")
            guard code <= UInt64(UInt32.max) else {
                throw LedgerError(.malformedConsensusMessage, "sync failure code \(code) is out of range", details: ["field": "nodeMessage.code"])
            }
            self = .syncFailed(from: Height(try f[1].uint64("nodeMessage.from")), code: UInt32(code))
        default:
            throw LedgerError(.malformedConsensusMessage, "unknown node message type or field count", details: ["field": "nodeMessage.type"])
        }
    }
}

/// A transport event decoded for the node: node and engine messages decoded,
/// relayed transactions encoded, hashed and signature-checked on all cores.
enum NodeInbound<Message: ConsensusMessage>: Sendable {
    case connected(NodeID)
    case disconnected(NodeID)
    /// Bytes that are not a node message.
    case undecodable(from: NodeID)
    /// A consensus message; nil when the bytes inside do not decode as one.
    case consensus(from: NodeID, Message?)
    /// Transactions a peer relayed, prepared for admission.
    case transactions(from: NodeID, PreparedTransactions)
    /// Any other node message.
    case other(from: NodeID, NodeMessage)

    /// ``decode(_:mempool:)`` for async callers: relayed transactions are prepared on all cores while the
    /// calling task suspends (a node's receive task; no cooperative thread blocks).
    static func decodeSuspending(_ event: TransportEvent, mempool: MempoolConfiguration) async -> Self {
        guard case .message(let from, let bytes) = event else { return decode(event, mempool: mempool) }
        let message: NodeMessage
        do { message = try NodeMessage(decoding: bytes) } catch { return .undecodable(from: from) }
        if case .transactions(let txs) = message {
            return .transactions(from: from, await Mempool.prepare(txs, configuration: mempool))
        }
        return classify(message, from: from, mempool: mempool)
    }

    /// Decodes `event` (and prepares relayed transactions for `mempool`). Pure apart from the
    /// process-wide memo of verified transaction signatures; runs on the caller's thread.
    static func decode(_ event: TransportEvent, mempool: MempoolConfiguration) -> Self {
        switch event {
        case .connected(let peer): return .connected(peer)
        case .disconnected(let peer): return .disconnected(peer)
        case .message(let from, let bytes):
            let message: NodeMessage
            do { message = try NodeMessage(decoding: bytes) } catch { return .undecodable(from: from) }
            return classify(message, from: from, mempool: mempool)
        }
    }

    private static func classify(_ message: NodeMessage, from: NodeID, mempool: MempoolConfiguration) -> Self {
        switch message {
        // Bytes inside a node message that are not an engine message: counted by the node as invalid.
        case .consensus(let inner): return .consensus(from: from, try? Message(decoding: inner))
        case .transactions(let txs): return .transactions(from: from, Mempool.prepare(txs, configuration: mempool))
        default: return .other(from: from, message)
        }
    }
}
