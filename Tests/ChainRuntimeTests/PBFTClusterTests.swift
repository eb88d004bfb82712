import ChainRuntime
import Foundation
import LedgerCore
import Testing

@Suite(.serialized) struct PBFTClusterTests {
    @Test func fourNodePBFTClusterCommitsIdenticalChains() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 21))
        var alice = cluster.account(1)
        var bob = cluster.account(2)
        let a = try await TestChain.load(cluster, account: &alice, count: 150, prefix: "a", to: 1)
        let b = try await TestChain.load(cluster, account: &bob, count: 150, prefix: "b", to: 3)
        #expect((a + b).allSatisfy { $0.status == Receipt.success })
        // The highest head: a node that answered the last receipts may be ahead of the others.
        let top = await cluster.heads().values.map(\.height).max() ?? 0
        try await cluster.waitForHeight(top, timeout: TestChain.patience)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        var roots = Set<Digest>()
        for id in cluster.nodeIDs { roots.insert(try await cluster.node(id).ledger.header(atHeight: top).stateRoot) }
        #expect(roots.count == 1)
        let cert = try #require(try await cluster.node(0).ledger.certificate(atHeight: top))
        #expect(cert.kind == .pbft)
        await cluster.shutdown()
    }

    @Test func crashedPBFTNodeRestartsAndCatchesUp() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 22).simulated)
        var alice = cluster.account(1)
        _ = try await TestChain.load(cluster, account: &alice, count: 40, prefix: "a")
        await cluster.crash(3)
        _ = try await TestChain.load(cluster, account: &alice, count: 120, prefix: "b")
        let top = try await cluster.node(0).head.height
        try await cluster.restart(3)
        try await cluster.waitForHeight(top, nodes: [3], timeout: TestChain.patience)
        let r0 = try await cluster.node(0).ledger.header(atHeight: top).stateRoot
        let r3 = try await cluster.node(3).ledger.header(atHeight: top).stateRoot
        #expect(r0 == r3)
        await cluster.shutdown()
    }

    @Test func byzantineNodeUnderPBFTDoesNotStopTheOthers() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 23).simulated)
        try await cluster.makeByzantine(2, corruptionRate: 0.5)
        var alice = cluster.account(1)
        var receipts = [Receipt]()
        for round in 0..<4 {
            receipts += try await TestChain.load(cluster, account: &alice, count: 40, prefix: "r\(round)", to: 0)
        }
        #expect(receipts.count == 160)
        let top = try await cluster.node(0).head.height
        try await cluster.waitForHeight(top, nodes: [0, 1, 3], timeout: TestChain.patience)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(hashes[0] == hashes[1] && hashes[1] == hashes[3])
        // The honest nodes refused something the Byzantine one sent.
        var refused = 0
        for id in [NodeID(0), 1, 3] {
            let m = try await cluster.node(id).metrics
            refused += m.invalidPeerMessages + m.consensusRejections + m.rejectedPeerTransactions
        }
        #expect(refused > 0)
        await cluster.shutdown()
    }
}

@Suite(.serialized) struct OtherEngineClusterTests {
    @Test func proofOfStakeClusterConverges() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 4, consensus: .pos, seed: 31).simulated)
        var alice = cluster.account(1)
        _ = try await TestChain.load(cluster, account: &alice, count: 100, prefix: "s")
        let top = try await cluster.node(0).head.height
        try await cluster.waitForHeight(top, timeout: TestChain.patience)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        await cluster.shutdown()
    }

    @Test func proofOfWorkClusterConverges() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .pow, seed: 32).simulated)
        var alice = cluster.account(1)
        _ = try await TestChain.load(cluster, account: &alice, count: 60, prefix: "w")
        let top = try await cluster.node(0).head.height
        try await cluster.waitForHeight(top, timeout: TestChain.patience)
        let hashes = try await TestChain.blockHashes(cluster, through: top)
        #expect(Set(hashes.values).count == 1)
        await cluster.shutdown()
    }
}
