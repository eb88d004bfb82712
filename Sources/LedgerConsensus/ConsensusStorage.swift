import LedgerCrypto
import LedgerModel
import Synchronization

/// Read access to the committed history a consensus engine needs but does
/// not hold (etcd-raft's `Storage`): old blocks with their certificates, to
/// answer a lagging peer or to re-send a block in a view change.
///
/// An engine keeps in memory only what its protocol works on (the
/// uncommitted suffix, the last stable checkpoint and its proof, and the
/// last ``ConsensusRecovery/recentBlocks`` committed blocks); everything
/// older it reads from here, so a node's memory and start-up time do not
/// grow with the chain. The host writes the storage (it appends each
/// committed block after the engine reports it in
/// ``ConsensusEffects/commits``); the engine only reads it.
///
/// A node passes its ledger store; the simulator and tests pass an
/// ``InMemoryConsensusStorage``. Without a storage
/// (``ConsensusContext/storage`` nil) an engine serves history only from its
/// recent window, and a peer further behind catches up through its host's
/// block sync.
///
/// ```swift
/// let history = InMemoryConsensusStorage()
/// let context = ConsensusContext(node: 1, signingKey: key, genesis: genesis,
///                                schedule: schedule, storage: history)
/// // after each step: for c in effects.commits { try history.append(c) }
/// ```
/// - Note: Called from the engine's `step`, so reads should be quick; a
///   read that fails returns fewer blocks (the engine treats a missing block
///   as unavailable and never as absent from the chain).
public protocol ConsensusStorage: Sendable {
    /// Up to `limit` consecutive committed blocks with their certificates,
    /// starting at `height`.
    /// - Parameters:
    ///   - height: Required, at least 1 (genesis is in ``ConsensusContext/genesis``).
    ///   - limit: Required, at least 1. The most blocks to return.
    /// - Returns: Blocks at `height`, `height + 1`, …, ascending and
    ///   consecutive; fewer than `limit` (or none) when the storage does not
    ///   hold them or cannot read them.
    func committedBlocks(from height: Height, limit: Int) -> [CommittedBlock]
}

/// A ``ConsensusStorage`` in memory: the committed chain of one simulated
/// node or test harness, appended by the host as its engine commits.
///
/// ```swift
/// let history = InMemoryConsensusStorage()
/// try history.append(committed)             // height 1, then 2, …
/// let recent = history.suffix(8)            // what a restart passes in ConsensusRecovery
/// ```
/// - Note: Thread-safe (a mutex); memory grows with the chain, so it is for
///   simulations and tests, not for a plant node (which uses its store).
public final class InMemoryConsensusStorage: ConsensusStorage {
    private let blocks: Mutex<[CommittedBlock]>
    private let readCalls = Mutex(0)

    /// How many times ``committedBlocks(from:limit:)`` was called: how often
    /// an engine reached below what it keeps in memory.
    package var reads: Int { readCalls.withLock { $0 } }

    /// - Parameter blocks: Optional, default none. The committed chain from
    ///   height 1, ascending and consecutive (not checked here; ``append(_:)`` checks).
    public init(_ blocks: [CommittedBlock] = []) { self.blocks = Mutex(blocks) }

    /// The height of the last block held (0 when empty).
    public var height: Height { blocks.withLock { Height(UInt64($0.count)) } }

    /// Every block held, ascending from height 1.
    public var all: [CommittedBlock] { blocks.withLock { $0 } }

    /// The last block held, if any.
    public var last: CommittedBlock? { blocks.withLock { $0.last } }

    /// The last `count` blocks held (all of them when fewer), ascending.
    /// - Parameter count: Required, at least 0.
    public func suffix(_ count: Int) -> [CommittedBlock] { blocks.withLock { Array($0.suffix(max(0, count))) } }

    /// The block at `height`, if held.
    /// - Parameter height: Required, 1 through ``height``.
    public func block(at height: Height) -> CommittedBlock? {
        blocks.withLock { list in
            guard height.rawValue >= 1, height.rawValue <= UInt64(list.count) else { return nil }
            return list[Int(height.rawValue - 1)]
        }
    }

    /// Appends the next committed block.
    /// - Parameter block: Required; its height must be ``height`` + 1.
    /// - Throws: `LedgerError` `.consensusStateCorrupt` (1724) when it is not the next height; nothing changes.
    public func append(_ block: CommittedBlock) throws(LedgerError) {
        let expected = blocks.withLock { list -> Height? in
            guard block.height.rawValue == UInt64(list.count) + 1 else { return Height(UInt64(list.count) + 1) }
            list.append(block)
            return nil
        }
        if let expected {
            throw LedgerError(.consensusStateCorrupt, "committed block at height \(block.height) appended where \(expected) was expected",
                              details: ["height": block.height.description, "expected": expected.description])
        }
    }

    /// Drops every block above `height` (a PoW rollback).
    /// - Parameter height: Required; blocks at and below it stay.
    public func truncate(toHeight height: Height) {
        blocks.withLock { list in
            let keep = Int(min(height.rawValue, UInt64(list.count)))
            list.removeSubrange(keep...)
        }
    }

    public func committedBlocks(from height: Height, limit: Int) -> [CommittedBlock] {
        readCalls.withLock { $0 += 1 }
        return blocks.withLock { list in
            guard height.rawValue >= 1, limit > 0, height.rawValue <= UInt64(list.count) else { return [] }
            let start = Int(height.rawValue - 1)
            return Array(list[start..<min(list.count, start + limit)])
        }
    }
}

/// What an engine holds in memory of the chain, for tests and the
/// simulator to check that it stays bounded as the chain grows.
package protocol ChainMemoryReporting {
    /// Blocks (committed or not) the engine holds in memory now.
    var blocksInMemory: Int { get }
}

/// The committed history an engine holds: the most recent blocks in memory
/// (at most twice ``recentCapacity``) and everything older through its
/// ``ConsensusStorage``.
package struct CommittedHistory: Sendable {
    /// How many recent committed blocks an engine keeps in memory (at least;
    /// at most twice as many before it trims).
    package static let recentCapacity = ConsensusRecovery.recentBlocks

    private var recent: [CommittedBlock] = []
    private let storage: (any ConsensusStorage)?

    package init(storage: (any ConsensusStorage)?) { self.storage = storage }

    /// Blocks held in memory now (for tests of the bound).
    package var recentCount: Int { recent.count }

    /// Adds the next committed block, dropping the oldest in-memory ones past the bound.
    package mutating func append(_ block: CommittedBlock) {
        recent.append(block)
        if recent.count > 2 * Self.recentCapacity { recent.removeFirst(recent.count - Self.recentCapacity) }
    }

    /// Loads the committed suffix a restarted engine gets back
    /// (``ConsensusRecovery/committed``) on top of `header` (genesis): the
    /// first block may start anywhere above it (the host's own store vouches
    /// for the blocks below); every later one must extend the one before.
    /// Leaves `header` and `hash` at the last block's.
    /// - Throws: `.consensusStateCorrupt` (1724) when a block does not extend the one before.
    package mutating func load(_ suffix: [CommittedBlock], head header: inout BlockHeader, hash: inout Digest) throws(LedgerError) {
        for (i, cb) in suffix.enumerated() {
            let startsSuffix = i == 0 && cb.height > header.height.next
            guard startsSuffix || (cb.height == header.height.next && cb.block.header.parentHash == hash) else {
                throw LedgerError(.consensusStateCorrupt, "recovered block at height \(cb.height) does not extend height \(header.height)",
                                  details: ["height": cb.height.description])
            }
            append(cb)
            header = cb.block.header
            hash = cb.hash
        }
    }

    /// Up to `limit` consecutive committed blocks from `height`: the
    /// in-memory ones where held, the older ones from storage.
    package func blocks(from height: Height, limit: Int) -> [CommittedBlock] {
        guard height.rawValue >= 1, limit > 0 else { return [] }
        if let first = recent.first, height >= first.height {
            let start = Int(height.rawValue - first.height.rawValue)
            guard start < recent.count else { return [] }
            return Array(recent[start..<min(recent.count, start + limit)])
        }
        var out = [CommittedBlock]()
        var next = height
        for b in storage?.committedBlocks(from: height, limit: limit) ?? [] {
            guard b.height == next else { break }
            out.append(b)
            next = next.next
        }
        if out.count < limit, let first = recent.first, first.height == next {
            out += recent.prefix(limit - out.count)
        }
        return out
    }

    /// The committed block at `height`, if held here or in storage.
    package func block(at height: Height) -> CommittedBlock? {
        guard let b = blocks(from: height, limit: 1).first, b.height == height else { return nil }
        return b
    }
}
