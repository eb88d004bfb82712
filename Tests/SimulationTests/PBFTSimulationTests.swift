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

    /// 60 seeds, 10 per standard schedule, in the debug suite; `.ci/run` then sweeps more in release
    /// with the `forgechain simulate` CLI, and Performance.md records the 10,000-seed runs.
    @Test func seedsAcrossFaultSchedulesWithOneByzantineReplicaPass() {
        var options = SimulationOptions()
        options.byzantine = 1
        let schedules = FaultPlan.standardSchedules
        let result = SimulationBatch<PBFTEngine>.run(nodes: 4, seeds: Seeds.ci(60, offset: 4_000),
                                                      plan: { schedules[Int($0 % UInt64(schedules.count))] },
                                                      options: options, parallelism: 2)
        #expect(result.failed == 0, "\(result.summary)")
    }
}

/// Seeds that once stalled PBFT after healing under drops, delays, partitions and crashes with `f` Byzantine
/// replicas (see Architecture.md, "PBFT liveness after healing").
struct PBFTLivenessRegressionTests {
    static let faults = "drop,delay,partition,crash"

    @Test(arguments: [53, 87, 192, 194] as [UInt64])
    func fourReplicasWithOneByzantineCommitAfterHealing(seed: UInt64) throws {
        var options = SimulationOptions()
        options.byzantine = 1
        var sim = try Simulator<PBFTEngine>(nodes: 4, seed: seed, faults: try FaultPlan(parsing: Self.faults), options: options)
        let report = sim.run()
        #expect(report.passed, "\(report)")
    }

    @Test func sevenReplicasWithTwoByzantineCommitAfterHealingSeed26() throws {
        var options = SimulationOptions()
        options.byzantine = 2
        var sim = try Simulator<PBFTEngine>(nodes: 7, seed: 26, faults: try FaultPlan(parsing: Self.faults), options: options)
        let report = sim.run()
        #expect(report.passed, "\(report)")
    }
}
