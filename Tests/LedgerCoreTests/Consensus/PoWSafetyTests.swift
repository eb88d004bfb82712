import Testing
import LedgerCore

/// Where proof of work is unsafe in theory, committed ("final") blocks do
/// revert; where it is safe, they do not.
struct PoWSafetyTests {
    static let config = PoWConfig(initialDifficulty: 8, retargetIntervalBlocks: 1_000, targetBlockIntervalTicks: 4,
                                  hashesPerTick: 1, confirmationDepth: 3)

    /// Heights at which node `i` committed two different blocks over the run.
    static func revertedHeights(_ cluster: PoWTestCluster, node i: Int) -> [Height] {
        var seen: [Height: Digest] = [:]
        var out: [Height] = []
        for c in cluster.commits[i] {
            if let d = seen[c.height], d != c.hash { out.append(c.height) }
            seen[c.height] = c.hash
        }
        return out
    }

    @Test func attackerWithMostHashPowerRevertsCommittedBlocksByReleasingAPrivateChain() throws {
        // Nodes 0 and 1 are honest with 1 attempt per tick each; node 2 mines alone with 4.
        var cluster = try PoWTestCluster(nodes: 3, config: Self.config, seed: 3, hashesPerTick: [1, 1, 4])
        cluster.partition([2], [0, 1])
        try cluster.run(ticks: 300)
        let honestFinal = cluster.committedChain(0)
        #expect(honestFinal.count >= 5)
        #expect(Self.revertedHeights(cluster, node: 0).isEmpty)
        let attackerTip = cluster.engines[2].headWork
        #expect(attackerTip > cluster.engines[0].headWork)
        cluster.heal()
        try cluster.run(ticks: 60)
        // The honest nodes adopt the heavier private chain: a rollback below their committed height...
        let deep = cluster.rollbacks[0].filter { r in r.undone.contains { b in honestFinal[b.header.height] == b.headerHash } }
        #expect(!deep.isEmpty)
        #expect(deep[0].height.rawValue < UInt64(honestFinal.count))
        // ...and a different block committed at a height that was already final.
        #expect(!Self.revertedHeights(cluster, node: 0).isEmpty)
        #expect(cluster.engines[0].headHash == cluster.engines[2].headHash)
    }

    @Test func partitionLongerThanTheConfirmationDepthLetsBothSidesCommitConflictingBlocks() throws {
        var cluster = try PoWTestCluster(nodes: 4, config: Self.config, seed: 4)
        cluster.partition([0, 1], [2, 3])
        try cluster.run(ticks: 200)
        let a = cluster.committedChain(0), b = cluster.committedChain(2)
        let conflicts = a.keys.filter { b[$0] != nil && b[$0] != a[$0] }
        #expect(!conflicts.isEmpty)
        cluster.heal()
        try cluster.run(ticks: 100)
        // After healing every node follows one chain again; one side's final blocks were undone.
        #expect(Set(cluster.engines.map(\.headHash)).count == 1)
        #expect(!Self.revertedHeights(cluster, node: 0).isEmpty || !Self.revertedHeights(cluster, node: 2).isEmpty)
    }

    @Test func partitionShorterThanTheConfirmationDepthRevertsNothingFinal() throws {
        var deep = Self.config
        deep.confirmationDepth = 12
        var cluster = try PoWTestCluster(nodes: 4, config: deep, seed: 4)
        try cluster.run(ticks: 100)
        cluster.partition([0, 1], [2, 3])
        try cluster.run(ticks: 12)
        cluster.heal()
        try cluster.run(ticks: 200)
        let chains = (0..<4).map { cluster.committedChain($0) }
        #expect(chains.allSatisfy { $0.count >= 20 })
        for i in 0..<4 {
            #expect(Self.revertedHeights(cluster, node: i).isEmpty)
            for h in chains[i].keys { if let x = chains[0][h] { #expect(x == chains[i][h]) } }
        }
        // Short forks did happen and were resolved by rollbacks above the committed height.
        #expect(cluster.rollbacks.contains { !$0.isEmpty })
    }
}
