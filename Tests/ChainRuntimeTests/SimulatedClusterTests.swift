import ChainRuntime
import Foundation
import LedgerCore
import Testing

/// `ClusterClock.simulated`: the cluster ticks its nodes itself, and every timeout counts ticks.
@Suite struct SimulatedClusterTests {
    @Test func timeoutsCountSimulatedTicksNotWallTime() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 71).simulated)
        let before = await cluster.tick
        let error = await #expect(throws: ChainError.self) {
            try await cluster.waitForHeight(1_000_000, timeout: .seconds(2))
        }
        #expect(error?.code == .heightTimeout)
        // Two seconds of 10 ms ticks passed on the cluster's clock (however long the machine took).
        #expect(await cluster.tick - before >= 200)
        await cluster.shutdown()
    }

    @Test func runAdvancesTimeAndRunUntilStopsWhenTheConditionHolds() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 72).simulated)
        let t0 = await cluster.tick
        await cluster.run(ticks: 50)
        #expect(await cluster.tick >= t0 + 50)
        var client = cluster.account(1)
        let ids = try await cluster.enqueue([try client.set(key: Array("k".utf8), value: Array("v".utf8))]).map { try $0.get() }
        try await cluster.run(until: { c in
            for id in c.nodeIDs where try await c.node(id).receipt(for: ids[0]) == nil { return false }
            return true
        }, timeout: .seconds(30))
        for id in cluster.nodeIDs { #expect(try await cluster.node(id).receipt(for: ids[0])?.status == Receipt.success) }
        let error = await #expect(throws: ChainError.self) {
            try await cluster.run(until: { _ in false }, timeout: .milliseconds(500))
        }
        #expect(error?.code == .heightTimeout)
        await cluster.shutdown()
    }

    @Test func aCutLinkCarriesNothingUntilHealed() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .pbft, seed: 73).simulated)
        var client = cluster.account(1)
        _ = try await cluster.submit(try client.set(key: Array("a".utf8), value: Array("1".utf8)), timeout: .seconds(30))
        // Node 2 cut off from both others: it sees both links go down and stops at its height.
        await cluster.cut(0, 2)
        await cluster.cut(1, 2)
        let node2 = try await cluster.node(2)
        try await cluster.run(until: { _ in await node2.health.peers.allSatisfy { !$0.isAlive } }, timeout: .seconds(30))
        let stuck = await node2.head.height
        await cluster.heal(0, 2)
        await cluster.heal(1, 2)
        _ = try await cluster.submit(try client.set(key: Array("b".utf8), value: Array("2".utf8)), to: 0, timeout: .seconds(60))
        let top = try await cluster.node(0).head.height
        try await cluster.waitForHeight(top, nodes: [2], timeout: .seconds(60))
        #expect(await node2.head.height > stuck)
        await cluster.shutdown()
    }
}
