import ChainRuntime
import Foundation
import LedgerCore
import LedgerCoreTesting
import Net
import Testing

// The code of `Sources/LedgerCoreTesting/LedgerCoreTesting.docc/SimulateAChainWithFaults.md`, verbatim.
struct SimulateAChainWithFaultsTests {
    @Test func oneSeededRunPassesItsCheckersAndReplaysExactly() throws {
        // Four PBFT replicas, one of them Byzantine, under every kind of network and crash fault.
        var options = SimulationOptions()
        options.byzantine = 1
        var simulation = try Simulator<PBFTEngine>(nodes: 4, seed: 42, faults: .all, options: options)
        let report = simulation.run()
        print(report)   // heights per node, messages sent and dropped, crashes, partitions, violations
        #expect(report.passed, "replay with seed \(report.seed): \(report.violations)")

        // The same seed replays the same run, message for message.
        var again = try Simulator<PBFTEngine>(nodes: 4, seed: 42, faults: .all, options: options)
        #expect(again.run().traceDigest == report.traceDigest)
    }

    @Test func aBatchOfSeedsPassesAndAPlanCanBeWrittenAsText() throws {
        // Many seeds, fault plans cycled per seed, spread over two threads.
        let plans = FaultPlan.standardSchedules
        let result = SimulationBatch<RaftEngine>.run(nodes: 5, seeds: Seeds.ci(12),
                                                     plan: { plans[Int($0 % UInt64(plans.count))] },
                                                     parallelism: 2)
        print(result.summary)   // "12 passed, 0 failed"
        #expect(result.failed == 0, "\(result.summary)")

        // A plan as data: which faults, their maxima, and how long the run must stay live after healing.
        var plan = try FaultPlan(parsing: "drop,partition")
        plan.maximumDropRate = 0.4
        plan.faultTicks = 400
        var simulation = try Simulator<RaftEngine>(nodes: 5, seed: 7, faults: plan)
        #expect(simulation.run().passed)
    }

    @Test func aCheckerFiresWhenTheFaultBudgetIsExceeded() throws {
        // Two equivocating replicas of four are more than PBFT tolerates: the agreement checker must say so.
        var options = SimulationOptions()
        options.byzantine = 2
        options.allowExcessFaults = true
        options.byzantineBehaviors = .equivocate
        var violations = [Violation]()
        for seed: UInt64 in 1...4 {
            var simulation = try Simulator<PBFTEngine>(nodes: 4, seed: seed, options: options)
            violations += simulation.run().violations
        }
        #expect(violations.contains { $0.kind == .agreement })   // two replicas committed different blocks at one height
    }

    @Test func aClusterOfRealNodesKeepsCommittingWhileOneIsDownAndCatchesUp() async throws {
        // Four real nodes (actors, SQLite stores in a temporary folder) on simulated time: the cluster
        // ticks them and carries their messages, losing 2% and delaying some; timeouts count ticks.
        var configuration = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 7)
        configuration.clock = .simulated
        configuration.faults = InMemoryNetwork.Faults(dropRate: 0.02, minimumDelayMillis: 1, maximumDelayMillis: 50)
        let cluster = try await Cluster.start(configuration)
        var client = cluster.account(1)

        await cluster.crash(NodeID(3))
        let tx = try client.set(key: Array("line-3/temp".utf8), value: Array("71.2".utf8))
        let receipt = try await cluster.submit(tx, to: NodeID(0), timeout: .seconds(60))   // three of four still make a quorum

        try await cluster.restart(NodeID(3))
        let head = await cluster.heads()[NodeID(0)]!.height
        try await cluster.waitForHeight(head, timeout: .seconds(60))   // node 3 catches up from its peers
        await cluster.shutdown()
        #expect(receipt.status == 0)
    }
}
