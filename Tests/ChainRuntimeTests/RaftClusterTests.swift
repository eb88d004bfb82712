import ChainRuntime
import Foundation
import LedgerCore
import Testing

@Suite(.serialized) struct RaftClusterTests {
    @Test func threeNodeRaftClusterCommitsIdenticalChains() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 11).simulated)
        var alice = cluster.account(1)
        let receipts = try await TestChain.load(cluster, account: &alice, count: 200, prefix: "a")
        #expect(receipts.allSatisfy { $0.status == Receipt.success })
        let top = try await cluster.node(0).head.height
        try await cluster.waitForHeight(top, timeout: TestChain.patience)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        let roots = Set(await cluster.heads().values.map(\.stateRoot))
        #expect(roots.count == 1)
        let value = try await cluster.node(2).ledger.stateValue(forKey: KeyValueExecutor.stateKey(Array("a-7".utf8)))
        #expect(value == Array("v7".utf8))
        // K-T-3: every receipt is stored with its block, and certificates are stored with blocks.
        let store = try await cluster.node(1).ledger
        for r in receipts { #expect(try store.receipt(forTransaction: r.transactionID) == r) }
        #expect(try store.certificate(atHeight: top) != nil)
        await cluster.shutdown()
    }

    @Test func crashedNodeRestartsAndCatchesUpToTheSameStateRoot() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 12).simulated)
        var alice = cluster.account(1)
        _ = try await TestChain.load(cluster, account: &alice, count: 50, prefix: "before")
        let crashedAt = try await cluster.node(2).head.height
        await cluster.crash(2)
        _ = try await TestChain.load(cluster, account: &alice, count: 150, prefix: "during")
        let top = try await cluster.node(0).head.height
        #expect(top > crashedAt)
        try await cluster.restart(2)
        #expect(try await cluster.node(2).head.height >= crashedAt)   // resumed from its own store
        try await cluster.waitForHeight(top, nodes: [2], timeout: TestChain.patience)
        let root0 = try await cluster.node(0).ledger.header(atHeight: top).stateRoot
        let root2 = try await cluster.node(2).ledger.header(atHeight: top).stateRoot
        #expect(root0 == root2)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        await cluster.shutdown()
    }

    @Test func partitionedMinorityCatchesUpAfterThePartitionHeals() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 13).simulated)
        var alice = cluster.account(1)
        _ = try await TestChain.load(cluster, account: &alice, count: 20, prefix: "a")
        let leader = try await cluster.node(0).consensusStatus.leader ?? 0
        let minority = (await cluster.runningNodes).first { $0 != leader }!
        let majority = (await cluster.runningNodes).filter { $0 != minority }
        await cluster.partition([[minority]])
        // Blocks it decided before the cut may still be being written: take its height once that stops moving.
        var stuckAt = try await cluster.node(minority).head.height
        try await TestChain.waitUntil("node \(minority)'s height to stop moving after the cut", timeout: .seconds(120)) {
            try await Task.sleep(for: .milliseconds(100))
            let now = try await cluster.node(minority).head.height
            defer { stuckAt = now }
            return now == stuckAt
        }
        _ = try await TestChain.load(cluster, account: &alice, count: 200, prefix: "p", to: majority[0])
        let top = try await cluster.node(majority[0]).head.height
        #expect(try await cluster.node(minority).head.height <= stuckAt.next)
        #expect(try await cluster.node(minority).head.height < top)
        await cluster.healAll()
        try await cluster.waitForHeight(top, nodes: [minority], timeout: TestChain.patience)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        await cluster.shutdown()
    }
}
