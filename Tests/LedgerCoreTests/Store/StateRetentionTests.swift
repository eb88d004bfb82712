import LedgerCore
import Testing

/// A store that keeps a window of recent heights (`StateRetention.recent`) deletes the tree nodes
/// only older heights need: proofs and rollback inside the window work as in an archive, below it
/// they fail with `.stateNotRetained` and change nothing, and the tree's rows stop growing with
/// history.
@Suite struct StateRetentionTests {
    /// Updates of the same 12 keys block after block, two of them deleted and set again: an archive's
    /// tree grows with every block, a pruned one stays the size of the live state plus the window.
    static func churn(_ h: Height) -> StateChangeSet {
        var c = StateChangeSet()
        let n = Int(h.rawValue)
        for i in 0..<5 {
            let key = Array("key-\((n * 5 + i) % 12)".utf8)
            if (n + i) % 7 == 0 { c.delete(key) } else { c.set(key, to: Array("value \(n) \(i)".utf8)) }
        }
        return c
    }

    static func nodeRows(_ path: String) throws -> Int64 {
        try #require(try SQLiteConnection(path: path, mode: .readOnly).scalarInt("SELECT count(*) FROM state_nodes"))
    }

    /// Appends the same blocks to an archive and to a store keeping 4 heights.
    static func twin(blocks: Int, in dir: TemporaryDirectory) throws -> (archive: LedgerStore, pruned: LedgerStore, chain: TestChain) {
        let archive = try LedgerStore(path: dir.path("archive.sqlite"))
        let pruned = try LedgerStore(path: dir.path("pruned.sqlite"), configuration: .init(stateRetention: .recent(heights: 4)))
        var chain = try TestChain()
        try extend(&chain, archive, pruned, blocks: blocks)
        return (archive, pruned, chain)
    }

    static func extend(_ chain: inout TestChain, _ archive: LedgerStore, _ pruned: LedgerStore, blocks: Int) throws {
        for _ in 0..<blocks {
            let h = chain.parent.map { $0.height.next } ?? 0
            let c = churn(h)
            let (block, receipts) = try chain.next(changes: c, stateRoot: try archive.stateRoot(applying: c))
            try archive.append(block, receipts: receipts, stateChanges: c)
            try pruned.append(block, receipts: receipts, stateChanges: c)
        }
    }

    @Test func theWindowStaysProvableAndOlderHeightsAreRefused() throws {
        let dir = try TemporaryDirectory()
        let (archive, pruned, _) = try Self.twin(blocks: 40, in: dir)
        let head = try #require(pruned.head).height
        #expect(head == 39)
        let keys = (0..<12).map { Array("key-\($0)".utf8) }
        for h in 36...39 {
            let root = try pruned.header(atHeight: Height(UInt64(h))).stateRoot
            for key in keys {
                let value = try archive.stateValue(forKey: key, atHeight: Height(UInt64(h)))
                let proof = try pruned.stateProof(key: key, atHeight: Height(UInt64(h)))
                try proof.verify(key: key, value: value, root: root, algorithm: .sha256)
                #expect(proof == (try archive.stateProof(key: key, atHeight: Height(UInt64(h)))))
            }
        }
        for h in [0, 10, 35] {
            let error = #expect(throws: LedgerError.self) { try pruned.stateProof(key: keys[0], atHeight: Height(UInt64(h))) }
            #expect(error?.code == .stateNotRetained)
            #expect(error?.details["retainedFrom"] == "36")
            // Values at every height stay readable from the flat table.
            #expect(try pruned.stateValue(forKey: keys[3], atHeight: Height(UInt64(h))) == archive.stateValue(forKey: keys[3], atHeight: Height(UInt64(h))))
            _ = try archive.stateProof(key: keys[0], atHeight: Height(UInt64(h)))
        }
        #expect(try pruned.checkIntegrity(.full).blocksChecked == 40)
    }

    @Test func prunedTreeStopsGrowingWithHistory() throws {
        let dir = try TemporaryDirectory()
        var (archive, pruned, chain) = try Self.twin(blocks: 40, in: dir)
        let archiveAt40 = try Self.nodeRows(dir.path("archive.sqlite")), prunedAt40 = try Self.nodeRows(dir.path("pruned.sqlite"))
        try Self.extend(&chain, archive, pruned, blocks: 120)
        let archiveAt160 = try Self.nodeRows(dir.path("archive.sqlite")), prunedAt160 = try Self.nodeRows(dir.path("pruned.sqlite"))
        // 12 keys: about 12 leaves and 11-20 internal nodes live, plus 4 blocks of replaced paths.
        #expect(archiveAt160 > archiveAt40 * 3)
        #expect(prunedAt160 <= prunedAt40 + 20, "pruned rows grew from \(prunedAt40) to \(prunedAt160)")
        #expect(prunedAt160 < 150)
        let stale = try SQLiteConnection(path: dir.path("pruned.sqlite"), mode: .readOnly).scalarInt("SELECT count(DISTINCT height) FROM state_stale")
        #expect(stale ?? 0 <= 4)
        #expect(try SQLiteConnection(path: dir.path("archive.sqlite"), mode: .readOnly).scalarInt("SELECT count(*) FROM state_stale") == 0)
        #expect(try pruned.checkIntegrity(.full).blocksChecked == 160)
    }

    @Test func rollbackInsideTheWindowWorksAndBelowItChangesNothing() throws {
        let dir = try TemporaryDirectory()
        var (archive, pruned, chain) = try Self.twin(blocks: 30, in: dir)
        let before = try #require(pruned.head)
        let error = #expect(throws: LedgerError.self) { try pruned.rollback(toHeight: 25) }
        #expect(error?.code == .stateNotRetained)
        #expect(pruned.head == before)
        #expect(try pruned.checkIntegrity(.full).blocksChecked == 30)

        let undone = try pruned.rollback(toHeight: 26)
        #expect(undone.count == 9)
        #expect(pruned.head?.stateRoot == (try archive.header(atHeight: 26)).stateRoot)
        _ = try archive.rollback(toHeight: 26)
        chain.parent = try archive.header(atHeight: 26)
        try Self.extend(&chain, archive, pruned, blocks: 10)
        #expect(pruned.head == archive.head)
        let key = Array("key-5".utf8)
        let root = try #require(pruned.head).stateRoot
        try pruned.stateProof(key: key).verify(key: key, value: try archive.stateValue(forKey: key), root: root, algorithm: .sha256)
        #expect(try pruned.checkIntegrity(.full).blocksChecked == 37)
    }

    /// A key set back to an old value brings back old nodes (the same digests); the store keeps them
    /// although they were listed as replaced, and the tree stays whole after the window passes.
    @Test func nodesWrittenAgainAreKeptByPruning() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("pruned.sqlite")
        let store = try LedgerStore(path: path, configuration: .init(stateRetention: .recent(heights: 2)))
        var chain = try TestChain()
        func append(_ c: StateChangeSet) throws {
            let (block, receipts) = try chain.next(changes: c, stateRoot: try store.stateRoot(applying: c))
            try store.append(block, receipts: receipts, stateChanges: c)
        }
        let keys = ["a", "b", "c", "d"].map { Array($0.utf8) }
        var first = StateChangeSet()
        for k in keys { first.set(k, to: [1]) }
        try append(first)
        let rootOne = try #require(store.head).stateRoot
        var two = StateChangeSet(); two.set(keys[0], to: [2])
        try append(two)
        var three = StateChangeSet(); three.set(keys[0], to: [1])
        try append(three)
        #expect(store.head?.stateRoot == rootOne)
        #expect(try SQLiteConnection(path: path, mode: .readOnly).scalarInt("SELECT count(*) FROM state_revived") ?? 0 > 0)
        for i in 0..<6 {
            var c = StateChangeSet(); c.set(Array("other-\(i)".utf8), to: [UInt8(i)])
            try append(c)
        }
        let root = try #require(store.head).stateRoot
        for k in keys { try store.stateProof(key: k).verify(key: k, value: [1], root: root, algorithm: .sha256) }
        #expect(try store.checkIntegrity(.full).blocksChecked == 9)
    }
}
