import LedgerCore
import LedgerCoreTesting
import Testing

/// PBFT under the deterministic fault simulator: agreement, validity, no gaps and liveness after heal.
struct PBFTSimulationTests {
    @Test func fourReplicasCommitWithoutFaults() throws {
        var sim = try Simulator<PBFTEngine>(nodes: 4, seed: 1)
        let report = sim.run()
        #expect(report.passed, "\(report)")
        #expect(report.committedHeights.allSatisfy { $0.rawValue >= 50 }, "\(report)")
    }

    @Test func twoHundredSeedsAcrossFaultSchedulesWithOneByzantineReplicaPass() async {
        var options = SimulationOptions()
        options.byzantine = 1
        let schedules = FaultPlan.standardSchedules
        let result = await SimulationBatch<PBFTEngine>.runOnThreads(nodes: 4, seeds: Seeds.ci(200, offset: 4_000),
                                                      plan: { schedules[Int($0 % UInt64(schedules.count))] },
                                                      options: options, parallelism: 2)
        #expect(result.failed == 0, "\(result.summary)")
    }
}
