import ChainRuntime
import Foundation
import LedgerCore
import Testing

@Suite(.serialized) struct RecoveryTests {
    @Test func rollbackReturnsTheUndoneTransactionsWhichAreCommittedAgain() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 1, consensus: .raft, seed: 51).simulated)
        var alice = cluster.account(1)
        let receipts = try await TestChain.load(cluster, account: &alice, count: 30, prefix: "r")
        let node = try await cluster.node(0)
        let top = await node.head.height
        let to = Height(top.rawValue - 1)
        let inTop = try await node.ledger.block(atHeight: top).transactions
        let undone = try await node.rollback(toHeight: to)
        #expect(undone == inTop)
        #expect(!undone.isEmpty)
        // They return to the mempool and are committed again.
        for tx in undone { _ = try await node.waitForReceipt(tx.id(using: .sha256), timeout: TestChain.patience) }
        for r in receipts { #expect(try await node.receipt(for: r.transactionID) != nil) }
        let error = await #expect(throws: ChainError.self) { _ = try await node.rollback(toHeight: Height(1_000_000)) }
        #expect(error?.code == .rollbackHeightInvalid)
        await cluster.shutdown()
    }

    @Test func periodicBackupsAreTakenAndRestoreThenCatchUp() async throws {
        var config = ClusterConfiguration(nodes: 3, consensus: .raft, seed: 52)
        config.backupEveryBlocks = 2
        let cluster = try await Cluster.start(config.simulated)
        var alice = cluster.account(1)
        for round in 0..<6 { _ = try await TestChain.load(cluster, account: &alice, count: 10, prefix: "b\(round)") }
        let node = try await cluster.node(1)
        try await TestChain.waitUntil("node 1's first periodic backup", timeout: .seconds(60)) { await node.metrics.backupsTaken > 0 }
        let folder = cluster.directory + "/node-1/backups"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".sqlite") }.sorted()
        let backup = try #require(files.first)
        // Kept aside: the schedule keeps only the newest files, and more blocks follow.
        let kept = cluster.directory + "/kept-backup.sqlite"
        try FileManager.default.copyItem(atPath: folder + "/" + backup, toPath: kept)
        _ = try await TestChain.load(cluster, account: &alice, count: 50, prefix: "after")
        let top = try await cluster.node(0).head.height
        let restored = try await node.restore(fromBackup: kept)
        #expect(restored < top)
        try await cluster.waitForHeight(top, nodes: [1], timeout: TestChain.patience)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        await cluster.shutdown()
    }

    @Test func healthReportsIsolationLagAndRecovery() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 53).simulated)
        var alice = cluster.account(1)
        _ = try await TestChain.load(cluster, account: &alice, count: 5, prefix: "h")
        let leader = try await cluster.node(0).consensusStatus.leader ?? 0
        let lonely = (await cluster.runningNodes).first { $0 != leader }!
        let updates = try await cluster.node(lonely).healthUpdates()
        await cluster.partition([[lonely]])
        // Bounded: a node that never reports isolation fails the test instead of hanging it.
        let isolated = try await TestChain.first(updates, "node \(lonely) to report itself isolated") { $0.state == .isolated }
        #expect(isolated.peers.allSatisfy { !$0.isAlive }, "\(isolated)")
        _ = try await TestChain.load(cluster, account: &alice, count: 100, prefix: "lag", to: leader)
        await cluster.healAll()
        let top = try await cluster.node(leader).head.height
        let stuck = try await cluster.node(lonely).head.height
        let reached = try await cluster.node(lonely).resync(from: leader, timeout: .seconds(120))
        #expect(reached > stuck)
        try await cluster.waitForHeight(top, nodes: [lonely], timeout: TestChain.patience)
        let lonelyNode = try await cluster.node(lonely)
        try await TestChain.waitUntil("node \(lonely) to report itself healthy again", timeout: .seconds(60)) {
            let h = await lonelyNode.health
            return h.state == .healthy && h.peers.allSatisfy { $0.isAlive }
        }
        await cluster.shutdown()
    }
}
