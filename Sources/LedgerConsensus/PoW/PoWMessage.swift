import LedgerCrypto
import LedgerModel

/// The wire messages of proof-of-work consensus.
///
/// Canonical encoding: RLP `[type, fields...]`:
/// - `[1, block]`: a newly mined block (`block` as `Block.encoded` bytes);
/// - `[2, hash, count]`: "send me block `hash` and up to `count - 1` of its ancestors";
/// - `[3, [block...]]`: the answer, lowest block first;
/// - `[4, hash, height]`: "my heaviest chain ends at `hash`" (sent every
///   ``PoWEngine/tipAnnouncementIntervalTicks`` so a node that missed blocks catches up);
/// - `[5, hash, count, height]`: as type 2 for a block whose height the
///   asker knows, so a node that pruned it from its block tree can still
///   answer from its committed history.
///
/// ```swift
/// let bytes = PoWMessage.getBlocks(hash: parent, count: 32).encoded
/// let back = try PoWMessage(decoding: bytes)
/// ```
/// A value type; safe to share between threads.
public enum PoWMessage: ConsensusMessage {
    /// A newly mined block, broadcast by its miner.
    case block(Block)
    /// A request for block `hash` and up to `count - 1` ancestors (count `1...maximumBlocksPerReply`).
    case getBlocks(hash: Digest, count: UInt64)
    /// Blocks answering ``getBlocks(hash:count:)``, lowest height first.
    case blocks([Block])
    /// The sender's heaviest-chain tip.
    case tip(hash: Digest, height: Height)
    /// ``getBlocks(hash:count:)`` for a block known to be at `height`: answered from the
    /// responder's committed history when the block is below its block tree.
    case getBlocksAt(hash: Digest, count: UInt64, height: Height)

    /// The most blocks one ``blocks(_:)`` reply carries: 64.
    public static let maximumBlocksPerReply: UInt64 = 64

    public var encoded: [UInt8] {
        switch self {
        case .block(let b): RLP.encode(.list([.uint(1), .bytes(b.encoded)]))
        case .getBlocks(let hash, let count): RLP.encode(.list([.uint(2), .digest(hash), .uint(count)]))
        case .blocks(let bs): RLP.encode(.list([.uint(3), .list(bs.map { .bytes($0.encoded) })]))
        case .tip(let hash, let height): RLP.encode(.list([.uint(4), .digest(hash), .uint(height.rawValue)]))
        case .getBlocksAt(let hash, let count, let height):
            RLP.encode(.list([.uint(5), .digest(hash), .uint(count), .uint(height.rawValue)]))
        }
    }

    /// Decodes ``encoded``.
    /// - Throws: `LedgerError` encoding (10xx) and block errors (11xx, 13xx), or
    ///   `.malformedConsensusMessage` (1720) for an unknown type, a wrong field
    ///   count or more than ``maximumBlocksPerReply`` blocks. Never traps.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("powMessage")
        guard let first = f.first else {
            throw LedgerError(.malformedConsensusMessage, "empty PoW message", details: ["field": "powMessage"])
        }
        let type = try first.uint64("powMessage.type")
        func expect(_ n: Int) throws(LedgerError) {
            guard f.count == n else {
                throw LedgerError(.malformedConsensusMessage, "PoW message type \(type) has \(f.count) fields, expected \(n)",
                                  details: ["field": "powMessage"])
            }
        }
        switch type {
        case 1:
            try expect(2)
            self = .block(try Block(decoding: try f[1].bytes("powMessage.block")))
        case 2:
            try expect(3)
            self = .getBlocks(hash: try f[1].digest("powMessage.hash"), count: try f[2].uint64("powMessage.count"))
        case 3:
            try expect(2)
            let items = try f[1].list("powMessage.blocks")
            guard UInt64(items.count) <= Self.maximumBlocksPerReply else {
                throw LedgerError(.malformedConsensusMessage, "\(items.count) blocks in one reply, at most \(Self.maximumBlocksPerReply)",
                                  details: ["field": "powMessage.blocks"])
            }
            var blocks = [Block]()
            for item in items { blocks.append(try Block(decoding: try item.bytes("powMessage.blocks"))) }
            self = .blocks(blocks)
        case 4:
            try expect(3)
            self = .tip(hash: try f[1].digest("powMessage.hash"), height: Height(try f[2].uint64("powMessage.height")))
        case 5:
            try expect(4)
            self = .getBlocksAt(hash: try f[1].digest("powMessage.hash"), count: try f[2].uint64("powMessage.count"),
                                height: Height(try f[3].uint64("powMessage.height")))
        default:
            throw LedgerError(.malformedConsensusMessage, "unknown PoW message type \(type)", details: ["field": "powMessage.type"])
        }
    }
}
