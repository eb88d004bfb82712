import Foundation
import Testing
@testable import LedgerCore
@testable import LedgerStorage

struct LedgerStoreTests {
    @Test func integrityChecksReportProgressOncePerCheckedBlock() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        try chain.extend(store, blocks: 40)
        var full = [(checked: Int, total: Int)]()
        let report = try store.checkIntegrity(.full) { full.append(($0, $1)) }
        #expect(report.blocksChecked == 40)
        #expect(full.map(\.checked) == Array(1...40) && full.allSatisfy { $0.total == 40 })
        var quick = [(checked: Int, total: Int)]()
        try store.checkIntegrity(.quick(lastBlocks: 16)) { quick.append(($0, $1)) }
        #expect(quick.map(\.checked) == Array(1...16) && quick.allSatisfy { $0.total == 16 })
    }

    @Test func appendsAndReadsBackTwoThousandBlocksAcrossAReopen() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        var chain = try TestChain()
        var blocks = [Block]()
        do {
            let store = try LedgerStore(path: path)
            blocks = try chain.extend(store, blocks: 2_000, transactions: 2, changes: sampleChanges)
            #expect(store.head?.height == 1_999)
            #expect(store.head?.hash == blocks.last!.headerHash)
        }
        let store = try LedgerStore(path: path)
        #expect(store.head?.height == 1_999)
        for h in [0, 1, 999, 1_998, 1_999] {
            #expect(try store.block(atHeight: Height(UInt64(h))) == blocks[h])
            #expect(try store.blockHash(atHeight: Height(UInt64(h))) == blocks[h].headerHash)
        }
        #expect(try store.block(withHash: blocks[1234].headerHash) == blocks[1234])
        let report = try store.checkIntegrity(.full)
        #expect(report.blocksChecked == 2_000)
        #expect(report.transactionsChecked == 4_000)
        // The appended chain continues after the reopen.
        try chain.extend(store, blocks: 3)
        #expect(store.head?.height == 2_002)
    }

    @Test func storedEncodingIsTheCanonicalBlockEncoding() throws {
        var chain = try TestChain()
        for count in [0, 1, 3, 300] {
            let (block, _) = try chain.next(transactions: count)
            let assembled = BlockEncoding.assemble(block, transactionEncodings: block.transactions.map(\.encoded))
            #expect(assembled.encoded == block.encoded)
            for (i, tx) in block.transactions.enumerated() {
                let o = assembled.offsets[i]
                #expect(Array(assembled.encoded[o..<o + tx.encoded.count]) == tx.encoded)
            }
        }
    }

    @Test func transactionsAndReceiptsAreFoundByIDAndByBlock() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 2)
        let (block, receipts) = try chain.next(transactions: 5)
        try store.append(block, receipts: receipts)
        for (i, tx) in block.transactions.enumerated() {
            let id = tx.id(using: .sha256)
            let found = try #require(try store.transaction(withID: id))
            #expect(found.transaction == tx)
            #expect(found.location == TransactionLocation(height: 2, index: i))
            #expect(try store.receipt(forTransaction: id) == receipts[i])
        }
        #expect(try store.receipts(atHeight: 2) == receipts)
        #expect(try store.receipts(atHeight: 2)[3].logs[0].topics == [block.transactions[3].id(using: .sha256)])
        #expect(try store.transaction(withID: HashAlgorithm.sha256.hash([1, 2, 3])) == nil)
        let missing = #expect(throws: LedgerError.self) { try store.block(atHeight: 3) }
        #expect(missing?.code == .heightNotFound)
        #expect(missing?.details["height"] == "3")
    }

    @Test func blockWithoutReceiptsIsStoredWhenItsReceiptRootIsZero() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        let (block, _) = try chain.next(transactions: 2, receipts: false)
        try store.append(block)
        #expect(try store.receipts(atHeight: 0).isEmpty)
        try store.checkIntegrity(.full)
    }

    @Test func appendRefusesAHeightGapAndWritesNothing() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 2)
        _ = try chain.next()
        let (skipped, receipts) = try chain.next()
        let error = #expect(throws: LedgerError.self) { try store.append(skipped, receipts: receipts) }
        #expect(error?.code == .heightGap)
        #expect(error?.details["height"] == "3")
        #expect(error?.details["expected"] == "2")
        #expect(store.head?.height == 1)
    }

    @Test func appendRefusesAForkOfTheHead() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 3)
        var other = try TestChain()
        try other.extend(try LedgerStore.inMemory(), blocks: 3)
        let (fork, receipts) = try other.next()
        let error = #expect(throws: LedgerError.self) { try store.append(fork, receipts: receipts) }
        #expect(error?.code == .parentNotHead)
        #expect(error?.details["height"] == "3")
    }

    @Test func appendRefusesReceiptsThatDoNotMatchTheHeader() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        let (block, receipts) = try chain.next(transactions: 3)
        var altered = receipts
        altered[1].status = 99
        let wrongRoot = #expect(throws: LedgerError.self) { try store.append(block, receipts: altered) }
        #expect(wrongRoot?.code == .receiptRootMismatch)
        let wrongCount = #expect(throws: LedgerError.self) { try store.append(block, receipts: Array(receipts.dropLast())) }
        #expect(wrongCount?.code == .receiptRootMismatch)
        #expect(store.head == nil)
        try store.append(block, receipts: receipts)
        #expect(store.head?.height == 0)
    }

    @Test func appendRefusesABlockWhoseHashOrTransactionRootIsWrong() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        let (block, receipts) = try chain.next(transactions: 3)
        var badHash = block
        badHash.headerHash = HashAlgorithm.sha256.hash([9])
        #expect((#expect(throws: LedgerError.self) { try store.append(badHash, receipts: receipts) })?.code == .blockHashMismatch)
        var dropped = block
        dropped.transactions.removeLast()
        #expect((#expect(throws: LedgerError.self) { try store.append(dropped, receipts: Array(receipts.dropLast())) })?.code == .transactionRootMismatch)
        #expect(store.head == nil)
    }

    @Test func stateReadsAtEveryRetainedHeightSeeThatHeightsValues() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 30, changes: sampleChanges)
        // Replay the changes into a dictionary per height and compare.
        var model = [[UInt8]: [UInt8]]()
        for h in 0..<30 {
            for c in sampleChanges(Height(UInt64(h))).changes { model[c.key] = c.value }
            for k in 0..<10 {
                let key = Array("k\(k)".utf8)
                #expect(try store.stateValue(forKey: key, atHeight: Height(UInt64(h))) == model[key], "key k\(k) at height \(h)")
            }
            let entries = try store.stateEntries(atHeight: Height(UInt64(h)))
            #expect(entries.count == model.count)
        }
        #expect(try store.stateValue(forKey: Array("never".utf8)) == nil)
        let above = #expect(throws: LedgerError.self) { try store.stateValue(forKey: [1], atHeight: 30) }
        #expect(above?.code == .heightNotFound)
    }

    @Test func snapshotKeepsItsHeightWhileTheNextBlocksAreWritten() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        try chain.extend(store, blocks: 5, changes: sampleChanges)
        let view = try store.snapshot()
        let before = try (0..<10).map { try view.value(forKey: Array("k\($0)".utf8)) }
        try chain.extend(store, blocks: 5, changes: sampleChanges)
        #expect(view.height == 4)
        #expect(try (0..<10).map { try view.value(forKey: Array("k\($0)".utf8)) } == before)
        #expect(try (0..<10).map { try store.stateValue(forKey: Array("k\($0)".utf8)) } != before)
    }

    @Test func readersRunConcurrentlyWithTheWriter() async throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        let first = try chain.extend(store, blocks: 20)
        let writer = Task.detached { [chain] in
            var chain = chain
            try chain.extend(store, blocks: 200, changes: sampleChanges)
        }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for r in 0..<3 {
                group.addTask {
                    var reads = 0
                    for i in 0..<300 {
                        let h = (i * 7 + r) % 20
                        guard try store.block(atHeight: Height(UInt64(h))) == first[h] else { throw CancellationError() }
                        if let head = store.head { _ = try store.header(atHeight: head.height) }
                        reads += 1
                    }
                    return reads
                }
            }
            var total = 0
            for try await n in group { total += n }
            #expect(total == 900)
        }
        try await writer.value
        #expect(store.head?.height == 219)
        try store.checkIntegrity(.full)
    }

    @Test func rollbackReturnsTheUndoneTransactionsInChainOrder() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        let blocks = try chain.extend(store, blocks: 10, transactions: 4, changes: sampleChanges)
        let undone = try store.rollback(toHeight: 6)
        #expect(undone == blocks[7...9].flatMap(\.transactions))
        #expect(store.head?.height == 6)
        #expect(store.head?.hash == blocks[6].headerHash)
        for tx in blocks[8].transactions {
            #expect(try store.transaction(withID: tx.id(using: .sha256)) == nil)
            #expect(try store.receipt(forTransaction: tx.id(using: .sha256)) == nil)
        }
        #expect((#expect(throws: LedgerError.self) { try store.block(atHeight: 7) })?.code == .heightNotFound)
        #expect(try store.rollback(toHeight: 6).isEmpty)
        let above = #expect(throws: LedgerError.self) { try store.rollback(toHeight: 7) }
        #expect(above?.code == .heightNotFound)
        try store.checkIntegrity(.full)
    }

    @Test func rollbackThenReappendReachesTheStateOfAStoreThatNeverRolledBack() throws {
        let dir = try TemporaryDirectory()
        let straight = try LedgerStore(path: dir.path("straight.sqlite"))
        let rolled = try LedgerStore(path: dir.path("rolled.sqlite"))
        var chain = try TestChain()
        var blocks = [(Block, [Receipt], StateChangeSet)]()
        for h in 0..<40 {
            let c = sampleChanges(Height(UInt64(h)))
            let (b, r) = try chain.next(transactions: 2, changes: c, stateRoot: try straight.stateRoot(applying: c))
            try straight.append(b, receipts: r, stateChanges: c)
            blocks.append((b, r, c))
        }
        // The other store appends a different branch first, rolls it back, then follows the same chain.
        for (b, r, c) in blocks[0...24] { try rolled.append(b, receipts: r, stateChanges: c) }
        var branch = chain
        branch.parent = blocks[24].0.header
        var junk = StateChangeSet()
        for k in 0..<10 { junk.set(Array("k\(k)".utf8), to: Array("junk".utf8)) }
        for _ in 0..<5 {
            let (b, r) = try branch.next(transactions: 3, changes: junk, stateRoot: try rolled.stateRoot(applying: junk))
            try rolled.append(b, receipts: r, stateChanges: junk)
        }
        let undone = try rolled.rollback(toHeight: 24)
        #expect(undone.count == 15)
        for (b, r, c) in blocks[25...] { try rolled.append(b, receipts: r, stateChanges: c) }
        #expect(rolled.head == straight.head)
        for h in stride(from: 0, to: 40, by: 3) {
            let a = try rolled.stateEntries(atHeight: Height(UInt64(h))), b = try straight.stateEntries(atHeight: Height(UInt64(h)))
            #expect(a.map(\.key) == b.map(\.key))
            #expect(a.map(\.value) == b.map(\.value))
        }
        try rolled.checkIntegrity(.full)
    }

    @Test func readOnlyStoreRefusesWrites() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        var chain = try TestChain()
        do { try chain.extend(try LedgerStore(path: path), blocks: 2) }
        let store = try LedgerStore(path: path, configuration: .init(readOnly: true))
        #expect(store.head?.height == 1)
        let (b, r) = try chain.next()
        #expect((#expect(throws: LedgerError.self) { try store.append(b, receipts: r) })?.code == .readOnlyStore)
        #expect((#expect(throws: LedgerError.self) { try store.rollback(toHeight: 0) })?.code == .readOnlyStore)
    }

    @Test func storeOpenedWithAnotherHashAlgorithmIsRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        do { _ = try LedgerStore(path: path, configuration: .init(hashAlgorithm: .sm3)) }
        #expect(try LedgerStore(path: path).hashAlgorithm == .sm3)
        let error = #expect(throws: LedgerError.self) { try LedgerStore(path: path, configuration: .init(hashAlgorithm: .sha256)) }
        #expect(error?.code == .configurationMismatch)
    }

    @Test func chainUnderSM3IsStoredAndChecked() throws {
        let store = try LedgerStore.inMemory(configuration: .init(hashAlgorithm: .sm3))
        var chain = try TestChain(algorithm: .sm3)
        try chain.extend(store, blocks: 5)
        #expect(try store.checkIntegrity(.full).blocksChecked == 5)
    }

    /// A chain written by this build, copied into a database at an older schema version (3: nodes keyed
    /// by digest; 4: rows with digest and height), then opened: it migrates in place to the compact
    /// rows, proves, appends, rolls back and passes the full check.
    @Test(arguments: [3, 4])
    func stateNodesOfAnOlderStoreMigrateInPlaceAndStayUsable(version: Int) throws {
        let dir = try TemporaryDirectory()
        let source = try LedgerStore(path: dir.path("source.sqlite"))
        var chain = try TestChain()
        try chain.extend(source, blocks: 6, changes: sampleChanges)
        let head = try #require(source.head)
        let old = dir.path("v\(version).sqlite")
        let c = try SQLiteConnection(path: old, mode: .readWrite)
        try StoreSchema.migrate(c, upTo: version)
        try c.execute("ATTACH DATABASE '\(dir.path("source.sqlite"))' AS src")
        for table in ["meta", "blocks", "transactions", "state", "certificates", "consensus_state"] {
            try c.execute("INSERT INTO \(table) SELECT * FROM src.\(table)")
        }
        // The old rows: each node's digest (the hash of its bytes) and the height that first wrote it.
        let rows = try c.statement("""
            SELECT n.bytes, (SELECT max(height) FROM src.state_node_marks WHERE first_id <= n.id) FROM src.state_nodes AS n ORDER BY n.id
            """)
        var nodes = [(bytes: [UInt8], height: Int64)]()
        while try rows.step() { nodes.append((rows.blob(0), rows.int(1))) }
        rows.reset()
        try c.execute("DETACH DATABASE src")
        let insert = try c.statement("INSERT INTO state_nodes(digest, height, bytes) VALUES(?1, ?2, ?3)")
        for n in nodes {
            insert.bind(1, try StateNode(encoded: n.bytes).digest(StateHasher(.sha256)))
            insert.bind(2, n.height)
            insert.bind(3, n.bytes)
            try insert.run()
        }
        #expect(nodes.count > 20)

        let store = try LedgerStore(path: old)
        #expect(try c.scalarInt("PRAGMA user_version") == Int64(StoreSchema.latestVersion))
        #expect(try c.textRows("SELECT name FROM pragma_table_info('state_nodes') ORDER BY cid") == ["id", "tag", "bytes"])
        #expect(store.head == head)
        #expect(try c.scalarInt("SELECT count(*) FROM state_nodes") == Int64(nodes.count))
        #expect(try c.scalarInt("SELECT count(DISTINCT bytes) FROM state_nodes") == Int64(nodes.count))
        #expect(try store.checkIntegrity(.full).blocksChecked == 6)
        for k in 0..<10 {
            let key = Array("k\(k)".utf8)
            let value = try source.stateValue(forKey: key)
            try store.stateProof(key: key).verify(key: key, value: value, root: head.stateRoot, algorithm: .sha256)
            #expect(try store.stateProof(key: key, atHeight: 2) == source.stateProof(key: key, atHeight: 2))
        }
        // Appends, duplicate nodes and rollback on the new layout.
        try chain.extend(store, blocks: 3, changes: sampleChanges)
        #expect(try store.checkIntegrity(.full).blocksChecked == 9)
        #expect(try c.scalarInt("SELECT count(*) FROM state_nodes") == c.scalarInt("SELECT count(DISTINCT bytes) FROM state_nodes"))
        try store.rollback(toHeight: 5)
        #expect(store.head == head)
        #expect(try c.scalarInt("SELECT count(*) FROM state_nodes") == Int64(nodes.count))
    }

    @Test func olderSchemaIsMigratedAndNewerSchemaIsRefused() throws {
        let dir = try TemporaryDirectory()
        let old = dir.path("v1.sqlite")
        let c = try SQLiteConnection(path: old, mode: .readWrite)
        try StoreSchema.migrate(c, upTo: 1)
        #expect(try c.scalarInt("PRAGMA user_version") == 1)
        let store = try LedgerStore(path: old)
        var chain = try TestChain()
        try chain.extend(store, blocks: 2)
        #expect(try c.scalarInt("PRAGMA user_version") == Int64(StoreSchema.latestVersion))

        let newer = dir.path("v99.sqlite")
        do { _ = try LedgerStore(path: newer) }
        try rawSQL(newer, "PRAGMA user_version = 99")
        let error = #expect(throws: LedgerError.self) { try LedgerStore(path: newer) }
        #expect(error?.code == .migrationFailed)
    }
}
