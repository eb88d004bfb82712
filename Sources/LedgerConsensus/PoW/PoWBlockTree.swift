import LedgerCrypto
import LedgerModel

/// The tree of the valid blocks a PoW node knows above its root (genesis,
/// or a committed block once the tree is pruned or recovered from a
/// suffix), with cumulative work per block, the heaviest chain, and blocks
/// waiting for their parent.
///
/// Fork choice: the tip with the most cumulative work (the sum of the
/// difficulties from genesis); equal work is broken by the lower header hash,
/// so every node that knows the same blocks picks the same tip whatever the
/// order they arrived in. Nothing here iterates a `Set` or `Dictionary` on
/// an output path.
struct PoWBlockTree: Sendable {
    struct Node: Sendable {
        let block: Block
        let hash: Digest
        let cumulativeWork: UInt128
        let difficulty: UInt64
        /// First height of the difficulty period this block belongs to.
        let periodStartHeight: UInt64
        /// Timestamp of the block just before `periodStartHeight`.
        let periodStartTimestamp: Timestamp
        var height: Height { block.header.height }
        var parentHash: Digest { block.header.parentHash }
    }

    /// The configuration in effect at each height.
    var schedule: ConsensusSchedule
    /// Block-timestamp milliseconds per tick (to turn timestamp spans into ticks for retargeting).
    let millisecondsPerTick: UInt64
    private(set) var nodes: [Digest: Node] = [:]
    /// Heaviest chain, by height: `chain[0]` is genesis, `chain.last` the tip.
    private(set) var chain: [Digest]
    /// Blocks whose parent is unknown, by parent hash, in arrival order.
    private(set) var orphans: [Digest: [Block]] = [:]
    private(set) var orphanCount = 0
    /// The parent hash of each block in `orphans`, by the block's hash (lookups only).
    private var orphanParents: [Digest: Digest] = [:]
    /// Orphans kept at most; more are dropped (they are fetched again later).
    static let maximumOrphans = 4_096

    init(genesis: Block, genesisHash: Digest, schedule: ConsensusSchedule, millisecondsPerTick: UInt64) {
        self.schedule = schedule
        self.millisecondsPerTick = max(1, millisecondsPerTick)
        let config = Self.config(at: genesis.header.height, in: schedule)
        nodes[genesisHash] = Node(block: genesis, hash: genesisHash, cumulativeWork: 0,
                                  difficulty: config.initialDifficulty, periodStartHeight: genesis.header.height.rawValue + 1,
                                  periodStartTimestamp: genesis.header.timestamp)
        chain = [genesisHash]
    }

    /// A tree rooted at `root` (a committed block with its data as persisted).
    init(root: Node, schedule: ConsensusSchedule, millisecondsPerTick: UInt64) {
        self.schedule = schedule
        self.millisecondsPerTick = max(1, millisecondsPerTick)
        nodes[root.hash] = root
        chain = [root.hash]
    }

    /// Makes the heaviest chain's block at `height` the root and forgets every
    /// block that does not descend from it (older blocks, and branches that
    /// fork below it). A branch forking below the root can no longer be
    /// followed: its blocks stay orphans.
    /// - Returns: The hashes forgotten.
    @discardableResult
    mutating func reroot(at height: Height) -> [Digest] {
        guard height > genesis.height, let root = onChain(at: height) else { return [] }
        let drop = Int(height.rawValue - genesis.height.rawValue)
        chain.removeFirst(drop)
        var kept: [Digest: Node] = [root.hash: root]
        var forgotten: [Digest] = []
        // Parents before children: by height, then hash (deterministic).
        for node in nodes.values.sorted(by: { ($0.height, $0.hash) < ($1.height, $1.hash) }) where node.hash != root.hash {
            if node.height > root.height, kept[node.parentHash] != nil {
                kept[node.hash] = node
            } else {
                forgotten.append(node.hash)
            }
        }
        nodes = kept
        return forgotten
    }

    /// The PoW parameters deciding block `height` (the defaults if the schedule is for another engine,
    /// which ``PoWEngine`` refuses at init).
    static func config(at height: Height, in schedule: ConsensusSchedule) -> PoWConfig {
        if case .pow(let config) = schedule.config(atHeight: height) { return config }
        return PoWConfig()
    }

    func config(at height: Height) -> PoWConfig { Self.config(at: height, in: schedule) }

    var tip: Node { nodes[chain[chain.count - 1]]! }
    var genesis: Node { nodes[chain[0]]! }
    func node(_ hash: Digest) -> Node? { nodes[hash] }
    func contains(_ hash: Digest) -> Bool { nodes[hash] != nil }

    /// The block on the heaviest chain at `height`, if the chain is that long.
    func onChain(at height: Height) -> Node? {
        let base = genesis.height.rawValue
        guard height.rawValue >= base, height.rawValue - base < UInt64(chain.count) else { return nil }
        return nodes[chain[Int(height.rawValue - base)]]
    }

    /// Difficulty and period of a child of `parent` (the retargeting rule).
    func childDifficulty(of parent: Node) -> (difficulty: UInt64, periodStartHeight: UInt64, periodStartTimestamp: Timestamp) {
        let height = parent.height.next
        let config = self.config(at: height)
        let previous = self.config(at: parent.height)
        if height.rawValue > 1, Self.differInChainRules(config, previous) {
            let difficulty = config.initialDifficulty != previous.initialDifficulty
                ? config.initialDifficulty : max(parent.difficulty, config.minimumDifficulty)
            return (difficulty, height.rawValue, parent.block.header.timestamp)
        }
        if height.rawValue - parent.periodStartHeight >= config.retargetIntervalBlocks {
            let end = parent.block.header.timestamp.rawValue, start = parent.periodStartTimestamp.rawValue
            let actualTicks = end > start ? (end - start) / millisecondsPerTick : 1
            return (PoWDifficulty.retarget(parent.difficulty, actualTicks: actualTicks, config: config),
                    height.rawValue, parent.block.header.timestamp)
        }
        return (parent.difficulty, parent.periodStartHeight, parent.periodStartTimestamp)
    }

    /// Whether two configurations differ in a rule that decides difficulty
    /// (the local hash rate, depth and block size do not).
    static func differInChainRules(_ a: PoWConfig, _ b: PoWConfig) -> Bool {
        a.initialDifficulty != b.initialDifficulty || a.minimumDifficulty != b.minimumDifficulty
            || a.retargetIntervalBlocks != b.retargetIntervalBlocks || a.targetBlockIntervalTicks != b.targetBlockIntervalTicks
            || a.maximumRetargetFactor != b.maximumRetargetFactor
    }

    /// Adds a block whose parent is in the tree and which has been validated
    /// against it. Returns the new node.
    @discardableResult
    mutating func insert(_ block: Block, hash: Digest) -> Node {
        let parent = nodes[block.header.parentHash]!
        let d = childDifficulty(of: parent)
        let node = Node(block: block, hash: hash, cumulativeWork: parent.cumulativeWork + UInt128(d.difficulty),
                        difficulty: d.difficulty, periodStartHeight: d.periodStartHeight,
                        periodStartTimestamp: d.periodStartTimestamp)
        nodes[hash] = node
        return node
    }

    /// Keeps `block` until its parent arrives. Returns false when it was
    /// already held or the pool is full.
    mutating func addOrphan(_ block: Block, hash: Digest) -> Bool {
        guard orphanCount < Self.maximumOrphans else { return false }
        var list = orphans[block.header.parentHash] ?? []
        guard !list.contains(where: { $0.headerHash == hash }) else { return false }
        list.append(block)
        orphans[block.header.parentHash] = list
        orphanParents[hash] = block.header.parentHash
        orphanCount += 1
        return true
    }

    /// Removes and returns the orphans waiting for `parent`, ordered by hash.
    mutating func takeOrphans(childrenOf parent: Digest) -> [Block] {
        guard let list = orphans.removeValue(forKey: parent) else { return [] }
        orphanCount -= list.count
        for b in list { orphanParents[b.headerHash] = nil }
        return list.sorted { $0.headerHash < $1.headerHash }
    }

    /// Whether `hash` is held as an orphan.
    func isOrphan(_ hash: Digest) -> Bool { orphanParents[hash] != nil }

    /// The first missing ancestor of `hash`: `hash` itself when it is unknown,
    /// else the parent of the lowest orphan under it; nil when `hash` is in the tree.
    func missingAncestor(of hash: Digest) -> Digest? {
        guard !contains(hash) else { return nil }
        var cursor = hash
        var steps = 0
        while let parent = orphanParents[cursor], steps <= Self.maximumOrphans {
            cursor = parent
            steps += 1
        }
        return contains(cursor) ? nil : cursor
    }

    /// The height of the missing block ``missingAncestor(of:)`` names, when an
    /// orphan held here is its child (nil when `hash` itself is the missing block).
    func heightOfMissingParent(below hash: Digest) -> Height? {
        guard !contains(hash) else { return nil }
        var cursor = hash, child: Digest?
        var steps = 0
        while let parent = orphanParents[cursor], steps <= Self.maximumOrphans {
            child = cursor
            cursor = parent
            steps += 1
        }
        guard let child, let block = orphans[cursor]?.first(where: { $0.headerHash == child }), block.header.height.rawValue >= 1 else { return nil }
        return Height(block.header.height.rawValue - 1)
    }

    /// True when `a` is preferred to `b` by fork choice.
    static func isHeavier(_ a: Node, than b: Node) -> Bool {
        a.cumulativeWork != b.cumulativeWork ? a.cumulativeWork > b.cumulativeWork : a.hash < b.hash
    }

    /// A switch of the heaviest chain: the height of the last common block,
    /// the blocks left (ascending height) and the blocks joined (ascending).
    struct HeadChange: Sendable {
        var forkHeight: Height
        var undone: [Block]
        var added: [Block]
    }

    /// Makes `hash` the tip and returns what changed.
    mutating func setTip(_ hash: Digest) -> HeadChange {
        var newBranch: [Digest] = []
        var cursor = hash
        // Walk back from the new tip until the heaviest chain is met.
        while true {
            let node = nodes[cursor]!
            if let onChain = onChain(at: node.height), onChain.hash == cursor { break }
            newBranch.append(cursor)
            cursor = node.parentHash
        }
        let forkNode = nodes[cursor]!
        let keep = Int(forkNode.height.rawValue - genesis.height.rawValue) + 1
        let undone = chain[keep...].map { nodes[$0]!.block }
        chain.removeSubrange(keep...)
        chain.append(contentsOf: newBranch.reversed())
        return HeadChange(forkHeight: forkNode.height, undone: undone,
                          added: newBranch.reversed().map { nodes[$0]!.block })
    }
}
