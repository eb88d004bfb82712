import LedgerCrypto
import LedgerModel

/// Raft's log with its committed prefix compacted: entries from ``first``
/// (genesis at index 0 on a new node, else a committed block) through
/// ``lastIndex`` are in memory; the committed entries below ``first`` are
/// read through the engine's ``ConsensusStorage`` (a block carries its
/// entry's term in its consensus data, so nothing else needs keeping).
///
/// ``first`` never passes the commit index: the uncommitted suffix and the
/// last committed entry are always in memory. A leader whose storage cannot
/// supply an entry a follower lacks sends it nothing; that follower catches
/// up through its host's block sync.
struct RaftLog: Sendable {
    /// The index of the first entry held in memory.
    private(set) var first: Int
    private var entries: [Block]
    private var terms: [Round]
    private var certificates: [CommitCertificate?]
    private let storage: (any ConsensusStorage)?
    /// Index 0, always known (term 0).
    private let genesis: Block

    /// Committed entries kept in memory below the commit index (between this and twice this).
    static let retained = ConsensusRecovery.recentBlocks

    /// A new log holding genesis at index 0.
    init(genesis: Block, storage: (any ConsensusStorage)?) {
        first = 0
        entries = [genesis]
        terms = [0]
        certificates = [nil]
        self.storage = storage
        self.genesis = genesis
    }

    /// The index of the last entry.
    var lastIndex: Int { first + entries.count - 1 }
    /// The term of the last entry.
    var lastTerm: Round { terms[terms.count - 1] }
    /// The last entry.
    var last: Block { entries[entries.count - 1] }
    /// In-memory entries (for tests of the bound).
    var count: Int { entries.count }

    /// The entry at `index`, which must be held in memory (`first...lastIndex`).
    subscript(index: Int) -> Block {
        precondition(index >= first && index <= lastIndex, "raft log entry \(index) is not in memory (\(first)...\(lastIndex))")
        return entries[index - first]
    }

    /// The term of the entry at `index`, from memory or storage; nil when unavailable.
    func term(at index: Int) -> Round? {
        if index >= first { return index <= lastIndex ? terms[index - first] : nil }
        if index == 0 { return 0 }
        return stored(index).map { RaftEngine.entryTerm(of: $0.block) }
    }

    /// The entry at `index`, from memory or storage; nil when unavailable.
    func block(at index: Int) -> Block? {
        if index >= first { return index <= lastIndex ? entries[index - first] : nil }
        if index == 0 { return genesis }
        return stored(index)?.block
    }

    /// The commit certificate of the entry at `index`, if it is committed and known.
    func certificate(at index: Int) -> CommitCertificate? {
        if index >= first { return index <= lastIndex ? certificates[index - first] : nil }
        return stored(index)?.certificate
    }

    /// Entries `from...through`, from storage below ``first``; nil when any is unavailable.
    func entries(from start: Int, through end: Int) -> [Block]? {
        guard start <= end else { return [] }
        var out = [Block]()
        out.reserveCapacity(end - start + 1)
        if start < first {
            let upTo = min(end, first - 1)
            let older = storage?.committedBlocks(from: Height(UInt64(start)), limit: upTo - start + 1) ?? []
            guard older.count == upTo - start + 1 else { return nil }
            for (i, c) in older.enumerated() where c.height.rawValue != UInt64(start + i) { return nil }
            out += older.map(\.block)
        }
        let low = max(start, first)
        if low <= end {
            guard end <= lastIndex else { return nil }
            out += entries[(low - first)...(end - first)]
        }
        return out
    }

    /// The in-memory entries above `index` (the uncommitted suffix a node persists).
    func suffix(after index: Int) -> ArraySlice<Block> {
        let start = max(index + 1, first) - first
        return start < entries.count ? entries[start...] : []
    }

    /// Appends the next entry.
    mutating func append(_ block: Block, term: Round, certificate: CommitCertificate? = nil) {
        entries.append(block)
        terms.append(term)
        certificates.append(certificate)
    }

    /// Drops the entries from `index` on; `index` must be above ``first``.
    mutating func truncate(from index: Int) {
        precondition(index > first, "raft log truncated at \(index), at or below its first entry \(first)")
        let keep = index - first
        guard keep < entries.count else { return }
        entries.removeSubrange(keep...)
        terms.removeSubrange(keep...)
        certificates.removeSubrange(keep...)
    }

    /// Records the certificate that committed the entry at `index`, then
    /// forgets committed entries more than ``retained`` below it.
    mutating func commit(_ index: Int, certificate: CommitCertificate) {
        certificates[index - first] = certificate
        if index - first > 2 * Self.retained {
            let drop = index - first - Self.retained
            entries.removeFirst(drop)
            terms.removeFirst(drop)
            certificates.removeFirst(drop)
            first += drop
        }
    }

    /// Restarts the log at a committed block recovered from the host (the
    /// first block of a recovered suffix), dropping everything held.
    mutating func rebase(at committed: CommittedBlock) {
        first = Int(committed.height.rawValue)
        entries = [committed.block]
        terms = [RaftEngine.entryTerm(of: committed.block)]
        certificates = [committed.certificate]
    }

    private func stored(_ index: Int) -> CommittedBlock? {
        guard index >= 1, let c = storage?.committedBlocks(from: Height(UInt64(index)), limit: 1).first,
              c.height.rawValue == UInt64(index) else { return nil }
        return c
    }
}
