import ChainRuntime
import Foundation
import LedgerCore
import Testing

@Suite(.serialized) struct RaftClusterTests {
    @Test func threeNodeRaftClusterCommitsIdenticalChains() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 11))
        var alice = cluster.account(1)
        let receipts = try await TestChain.load(cluster, account: &alice, count: 200, prefix: "a")
        #expect(receipts.allSatisfy { $0.status == Receipt.success })
        let top = try await cluster.node(0).head.height
        try await cluster.waitForHeight(top)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        let roots = Set(await cluster.heads().values.map(\.stateRoot))
        #expect(roots.count == 1)
        let value = try await cluster.node(2).ledger.stateValue(forKey: KeyValueExecutor.stateKey(Array("a-7".utf8)))
        #expect(value == Array("v7".utf8))
        await cluster.shutdown()
    }
}
