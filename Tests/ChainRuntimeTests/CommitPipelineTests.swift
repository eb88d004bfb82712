@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import Net
import Synchronization
import Testing

/// The node's pipelined writes: `CommitWriter` keeps the engine contract's
/// order (writes durable before the messages after them), and a node hands
/// out a receipt only once its block is in the store, recovering without
/// loss when an append fails.
@Suite(.serialized) struct CommitPipelineTests {
    /// Empty blocks on top of a genesis, for the writer to append.
    private static func chain(_ count: Int) throws -> (genesis: Block, blocks: [Block]) {
        let key = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32))
        let genesis = try ChainGenesis.make(chainID: 53, key: key)
        var blocks = [Block]()
        var parent = genesis.header
        for _ in 0..<count {
            let b = try Block.make(parent: parent, transactions: [], stateRoot: parent.stateRoot, producerKey: key,
                                   hashAlgorithm: .sha256, timestamp: Timestamp(millisecondsSince1970: parent.timestamp.rawValue + 1))
            blocks.append(b)
            parent = b.header
        }
        return (genesis, blocks)
    }

    /// A one-node chain with a few blocks, and a second connection to its database that holds the write lock
    /// while `held` (the node's appends then wait for it: SQLite's busy timeout, 5 s, then fail).
    private struct LockedStore {
        let cluster: Cluster
        let node: any ChainNode
        let ledger: LedgerStore
        var account: SigningAccount
        /// A second connection that takes SQLite's write lock, as another writer would; raw SQLite, so it does not
        /// take the store lock the node's `LedgerStore` holds.
        private let blocker: SQLiteConnection

        init(seed: UInt64) async throws {
            cluster = try await Cluster.start(ClusterConfiguration(nodes: 1, consensus: .raft, seed: seed))
            account = cluster.account(1)
            _ = try await TestChain.load(cluster, account: &account, count: 3, prefix: "warm")
            node = try await cluster.node(0)
            ledger = await node.ledger
            blocker = try SQLiteConnection(path: ledger.path!, mode: .readWrite)
        }

        func hold(_ held: Bool) throws {
            try blocker.execute(held ? "BEGIN IMMEDIATE" : "ROLLBACK")
        }
    }

    @Test func aMessageQueuedBehindAppendsLeavesOnlyOnceTheyAreInTheStore() throws {
        let dir = try TestChain.temporaryDirectory("writer")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LedgerStore(path: dir + "/ledger.sqlite")
        let (genesis, blocks) = try Self.chain(3)
        try store.append(genesis)
        let sent = Mutex<[(peer: NodeID?, bytes: [UInt8], storeHeight: Height?)]>([])
        let writer = CommitWriter { peer, bytes in sent.withLock { $0.append((peer, bytes, store.head?.height)) } }
        defer { writer.finish() }

        writer.emit([9], to: NodeID(2))   // nothing pending: out at once, on this thread
        #expect(sent.withLock { $0.count } == 1)
        for b in blocks.prefix(2) {
            writer.submit(.append(store: store, block: b, receipts: [], changes: StateChangeSet(), transition: nil, certificate: nil))
        }
        writer.submit(.saveConsensusState(store: store, bytes: [1, 2, 3]))
        writer.emit([1], to: nil)
        writer.waitUntilIdle()
        let log = sent.withLock { $0 }
        #expect(log.count == 2)
        #expect(log[1].peer == nil && log[1].bytes == [1])
        #expect(log[1].storeHeight == 2)   // both appends were durable before the message left
        #expect(try store.consensusState() == [1, 2, 3])
        let outcomes = writer.takeOutcomes()
        #expect(outcomes.count == 2)
        #expect(outcomes.allSatisfy { if case .appended = $0 { true } else { false } })
        #expect(writer.takeOutcomes().isEmpty)
        #expect(writer.pendingAppends == 0)

        // A failed append is reported with its height and code; later jobs still run.
        writer.submit(.append(store: store, block: blocks[0], receipts: [], changes: StateChangeSet(), transition: nil, certificate: nil))
        writer.submit(.append(store: store, block: blocks[2], receipts: [], changes: StateChangeSet(), transition: nil, certificate: nil))
        writer.waitUntilIdle()
        let more = writer.takeOutcomes()
        guard more.count == 2, case .appendFailed(let h, let error) = more[0], case .appended(let h2) = more[1] else {
            Issue.record("unexpected outcomes \(more)")
            return
        }
        #expect(h == 1 && error.code == .heightGap)
        #expect(h2 == 3 && store.head?.height == 3)
    }

    @Test func aReceiptMeansTheBlockIsAlreadyInTheStore() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 1, consensus: .raft, seed: 61))
        var alice = cluster.account(1)
        var txs = [Transaction]()
        for i in 0..<400 { txs.append(try TestChain.kv(&alice, "p\(i % 37)", "v\(i)")) }
        let node = try await cluster.node(0)
        let ids = try await node.enqueue(txs).map { try $0.get() }
        for id in ids {
            let receipt = try await node.waitForReceipt(id, timeout: TestChain.realTimePatience)
            #expect(receipt.status == Receipt.success)
            // Durable when handed out: the store answers for it at once.
            let stored = try await node.ledger.receipt(forTransaction: id)
            #expect(stored == receipt)
        }
        #expect(await node.nextNonce(for: alice.key.publicKey) == 400)
        await cluster.shutdown()
    }

    @Test func aFailedAppendLosesNothingAndTheNodeCommitsOnceTheStoreWorksAgain() async throws {
        var f = try await LockedStore(seed: 62)
        let (node, ledger) = (f.node, f.ledger)
        let before = await node.head
        // The node's next append waits for the lock, then fails.
        try f.hold(true)
        let tx = try TestChain.kv(&f.account, "blocked", "v")
        let id = try await node.enqueue(tx)
        let deadline = ContinuousClock.now + .seconds(60)
        while await node.metrics.storeErrors == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(await node.metrics.storeErrors >= 1)
        #expect(await node.head == before)
        #expect(try await node.receipt(for: id) == nil)
        #expect(await node.health.lastStoreError != nil)
        try f.hold(false)

        let receipt = try await node.waitForReceipt(id, timeout: TestChain.realTimePatience)
        #expect(receipt.status == Receipt.success)
        #expect(try ledger.stateValue(forKey: KeyValueExecutor.stateKey(Array("blocked".utf8))) == Array("v".utf8))
        #expect(await node.head.height > before.height)
        // The chain the node wrote after the failure is whole.
        #expect(try ledger.checkIntegrity(.full).blocksChecked == Int(ledger.head!.height.rawValue) + 1)
        await f.cluster.shutdown()
    }

    @Test func aTransactionInADecidedBlockStillBeingWrittenIsWaitedForNotReportedMissing() async throws {
        var f = try await LockedStore(seed: 63)
        let node = f.node
        // The next append waits for the lock.
        try f.hold(true)
        let id = try await node.enqueue(try TestChain.kv(&f.account, "decided", "v"))
        let deadline = ContinuousClock.now + .seconds(30)
        while await node.mempoolCount > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(await node.mempoolCount == 0)   // in a decided block
        #expect(try await node.receipt(for: id) == nil)   // not in the store yet
        let answer = Task { try await node.receiptOfDecided(id) }
        try await Task.sleep(for: .milliseconds(300))
        try f.hold(false)   // within SQLite's 5 s busy wait
        let receipt = try await answer.value
        #expect(receipt?.status == Receipt.success)
        #expect(try await node.receipt(for: id) == receipt)
        // Not in any decided block: answered at once from the store.
        #expect(try await node.receiptOfDecided(Digest.zero) == nil)
        await f.cluster.shutdown()
    }
}
