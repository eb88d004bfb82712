import LedgerCore
import LedgerCoreTesting
import Testing

/// PoS under the deterministic fault simulator.
struct PoSSimulationTests {
    @Test func fourValidatorsCommitWithoutFaults() throws {
        var sim = try Simulator<PoSEngine>(nodes: 4, seed: 1)
        let report = sim.run()
        #expect(report.passed, "\(report)")
        #expect(report.committedHeights.allSatisfy { $0.rawValue >= 40 }, "\(report)")
    }

    /// 60 seeds, 10 per standard schedule, in the debug suite; `.ci/run` sweeps more in release.
    @Test func seedsAcrossFaultSchedulesWithOneByzantineValidatorPass() {
        var options = SimulationOptions()
        options.byzantine = 1
        let schedules = FaultPlan.standardSchedules
        let result = SimulationBatch<PoSEngine>.run(nodes: 4, seeds: Seeds.ci(60, offset: 5_000),
                                                     plan: { schedules[Int($0 % UInt64(schedules.count))] },
                                                     options: options, parallelism: 2)
        #expect(result.failed == 0, "\(result.summary)")
    }

    @Test func randomStakesWithTheirTolerableByzantineStakePass() {
        var options = SimulationOptions()
        options.randomStakes = true
        let result = SimulationBatch<PoSEngine>.run(nodes: 5, seeds: Seeds.ci(12, offset: 6_000), faults: .all, options: options, parallelism: 2)
        #expect(result.failed == 0, "\(result.summary)")
    }
}
