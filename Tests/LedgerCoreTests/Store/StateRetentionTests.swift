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

    /// A key set back to an old value brings back old nodes (the same digests): they get rows of their
    /// own, so pruning the rows listed as replaced leaves the tree whole after the window passes.
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
        for i in 0..<6 {
            var c = StateChangeSet(); c.set(Array("other-\(i)".utf8), to: [UInt8(i)])
            try append(c)
        }
        // Height 2 wrote the leaf a = 1 of height 0's tree again, in a row of its own; height 0's row, replaced
        // at height 1, is pruned once the window (2 heights) has passed it and enough is replaced to prune.
        let db = try SQLiteConnection(path: path, mode: .readOnly)
        #expect(try db.scalarInt("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'state_retained_from'") ?? 0 > 1)
        #expect(try db.scalarInt("SELECT count(*) FROM state_nodes WHERE bytes = x'00000000000000000061'") == 0)
        #expect(try db.scalarInt("SELECT count(*) FROM state_nodes WHERE bytes = x'00000000000000000261'") == 1)
        let root = try #require(store.head).stateRoot
        for k in keys { try store.stateProof(key: k).verify(key: k, value: [1], root: root, algorithm: .sha256) }
        #expect(try store.checkIntegrity(.full).blocksChecked == 9)
    }

    /// A leaf's value is stored once, in the flat state row of the block that wrote it: the tree's row
    /// refers to it. A lost flat row makes the leaf unreadable (a typed error), never a wrong value.
    @Test func leavesReferToTheirFlatStateRow() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        let store = try LedgerStore(path: path)
        var chain = try TestChain()
        let key = Array("a-key-of-some-length".utf8), value = [UInt8](repeating: 7, count: 300)
        var c = StateChangeSet(); c.set(key, to: value); c.set(Array("other".utf8), to: [1])
        let (block, receipts) = try chain.next(changes: c, stateRoot: try store.stateRoot(applying: c))
        try store.append(block, receipts: receipts, stateChanges: c)
        let db = try SQLiteConnection(path: path, mode: .readOnly)
        #expect(try db.scalarInt("SELECT max(length(bytes)) FROM state_nodes") ?? 0 < 100)
        #expect(try db.scalarInt("SELECT count(*) FROM state_nodes WHERE substr(bytes, 1, 1) = x'00'") == 2)
        let root = try #require(store.head).stateRoot
        try store.stateProof(key: key).verify(key: key, value: value, root: root, algorithm: .sha256)
        try rawSQL(path, "DELETE FROM state WHERE key = x'\(Hex.encode(key))'")
        let error = #expect(throws: LedgerError.self) { try store.stateProof(key: key) }
        #expect(error?.code == .stateNodeCorrupted)
        #expect(throws: LedgerError.self) { try store.checkIntegrity(.full) }
    }

    /// A window of 8 prunes every 2 heights: between 8 and 9 heights stay provable, never fewer.
    @Test func pruningRunsInStridesOfAQuarterWindow() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"), configuration: .init(stateRetention: .recent(heights: 8)))
        var chain = try TestChain()
        let key = Array("key-1".utf8)
        for blocks in [40, 1] {
            try chain.extend(store, blocks: blocks, changes: Self.churn)
            let head = try #require(store.head).height.rawValue
            let lowestKept: UInt64 = 32   // pruned at 39 (floor 32); at 40 the floor 33 waits for the next stride
            _ = try store.stateProof(key: key, atHeight: Height(lowestKept))
            let error = #expect(throws: LedgerError.self) { try store.stateProof(key: key, atHeight: Height(lowestKept - 1)) }
            #expect(error?.code == .stateNotRetained)
            #expect(head - lowestKept + 1 >= 8)
        }
    }

    /// A large live state changed a little per block: the replaced rows below the window are left until
    /// they are half the live tree (a prune rewrites pages all over the tree, so it waits until it
    /// deletes a share of it), then go at once; the window stays provable throughout, and the row
    /// counters the decision reads match the tables across prunes and a rollback.
    @Test func pruningWaitsUntilItDeletesHalfTheLiveTree() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        let store = try LedgerStore(path: path, configuration: .init(stateRetention: .recent(heights: 4)))
        var chain = try TestChain()
        let changes: (Height) -> StateChangeSet = { h in
            var c = StateChangeSet()
            if h == 0 {
                for i in 0..<300 { c.set(Array("key-\(i)".utf8), to: [0]) }
            } else {
                c.set(Array("key-\(Int(h.rawValue) * 7 % 300)".utf8), to: [UInt8(truncatingIfNeeded: h.rawValue)])
            }
            return c
        }
        let db = try SQLiteConnection(path: path, mode: .readOnly)
        func retainedFrom() throws -> Int64 {
            try db.scalarInt("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'state_retained_from'") ?? 0
        }
        func countersMatchTables() throws {
            let nodes = try db.scalarInt("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'state_node_rows'")
            let stale = try db.scalarInt("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'state_stale_rows'")
            #expect(nodes == (try db.scalarInt("SELECT count(*) FROM state_nodes")))
            #expect(stale == (try db.scalarInt("SELECT count(*) FROM state_stale")))
        }
        // 20 heights: a stride (1 height) has long passed, but what a prune would delete is a small part of the tree.
        try chain.extend(store, blocks: 21, changes: changes)
        #expect(try retainedFrom() == 0)
        _ = try store.stateProof(key: Array("key-7".utf8), atHeight: 1)
        try countersMatchTables()
        var prunes = 0, last = try retainedFrom()
        var rows = [Int64]()
        for _ in 0..<300 {
            try chain.extend(store, blocks: 1, changes: changes)
            let now = try retainedFrom()
            if now != last { prunes += 1; last = now }
            rows.append(try #require(try db.scalarInt("SELECT count(*) FROM state_nodes")))
        }
        let head = try #require(store.head).height.rawValue
        #expect(prunes >= 2 && prunes <= 30, "\(prunes) prunes in 300 blocks")
        for h in head - 3...head { _ = try store.stateProof(key: Array("key-7".utf8), atHeight: Height(h)) }
        if last > 0 {
            let error = #expect(throws: LedgerError.self) { try store.stateProof(key: Array("key-7".utf8), atHeight: Height(UInt64(last - 1))) }
            #expect(error?.code == .stateNotRetained)
        }
        // The tree stays bounded: the live tree (about 600 rows), at most half of it again, and the window.
        #expect(try #require(rows.max()) < 1_200, "rows grew to \(rows.max() ?? 0)")
        try countersMatchTables()
        _ = try store.rollback(toHeight: Height(head - 2))
        try countersMatchTables()
        #expect(try store.checkIntegrity(.full).blocksChecked == Int(head - 1))
    }
}
