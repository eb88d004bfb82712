import LedgerCore
import LedgerCoreTesting
import Testing

/// Proof of work under the deterministic fault simulator: safe and live
/// across the standard fault schedules at the simulation confirmation depth,
/// and unsafe exactly where theory says (a partition outlasting the depth).
struct PoWSimulationTests {
    /// The fault schedule of a seed: the standard schedules in turn; every
    /// fourth seed also has a Byzantine miner (a minority of the hash power).
    static func plan(_ seed: UInt64) -> FaultPlan { withPoWLivenessBound(FaultPlan.standardSchedules[Int(seed % 6)]) }

    /// PoW commits a block only `confirmationDepth` (12) blocks of ~20 ticks
    /// later, so after healing it needs about `(12 + requiredProgress) × 20`
    /// ticks plus sync and variance to show progress: 500 quiet ticks (the
    /// standard 200 suit vote-based engines).
    static func withPoWLivenessBound(_ plan: FaultPlan) -> FaultPlan {
        var p = plan
        p.quietTicks = 500
        return p
    }

    static func options(_ seed: UInt64) -> SimulationOptions {
        var o = SimulationOptions()
        o.transactionsPerBlock = 2
        o.byzantine = seed % 4 == 0 ? 1 : 0
        return o
    }

    @Test(arguments: Seeds.ci(60, offset: 4_000))
    func powStaysSafeAndLiveUnderFaults(seed: UInt64) throws {
        var sim = try Simulator<PoWEngine>(nodes: 4, seed: seed, faults: Self.plan(seed), options: Self.options(seed))
        let report = sim.run()
        #expect(report.passed, "\(report)")
    }

    @Test func sameSeedReplaysTheSameTrace() throws {
        for seed: UInt64 in [4_005, 4_006] {
            var a = try Simulator<PoWEngine>(nodes: 4, seed: seed, faults: Self.withPoWLivenessBound(.all), options: Self.options(seed))
            var b = try Simulator<PoWEngine>(nodes: 4, seed: seed, faults: Self.withPoWLivenessBound(.all), options: Self.options(seed))
            let ra = a.run(), rb = b.run()
            #expect(ra.traceDigest == rb.traceDigest)
            #expect(ra.committedHeights == rb.committedHeights)
        }
    }

    @Test func forksUnderDelaysAreRolledBackAndTheirTransactionsReturned() throws {
        var rollbacks = 0, returned = 0
        for seed in Seeds.ci(6, offset: 4_300) {
            var sim = try Simulator<PoWEngine>(nodes: 4, seed: seed, faults: Self.withPoWLivenessBound(.delays), options: Self.options(seed))
            let report = sim.run()
            #expect(report.passed, "\(report)")
            rollbacks += report.rollbacks
            returned += report.rolledBackTransactions
        }
        #expect(rollbacks > 0)
        #expect(returned >= 2 * rollbacks)   // two transactions a block, at least one block a rollback
    }

    @Test func partitionLongerThanTheConfirmationDepthMakesFinalBlocksConflictAndTheCheckerSaysSo() throws {
        // Depth 2 against partitions that last tens of ticks (blocks every ~20 ticks): both sides commit.
        var options = SimulationOptions()
        options.schedule = { validators in
            guard case .pow(var c) = PoWEngine.simulationConfig(validators: validators) else { fatalError("not PoW") }
            c.confirmationDepth = 2
            return ConsensusSchedule(initial: .pow(c))
        }
        var plan = FaultPlan.partitions
        plan.faultTicks = 1_500
        var agreementViolations = 0
        for seed in Seeds.ci(4, offset: 4_400) {
            var sim = try Simulator<PoWEngine>(nodes: 4, seed: seed, faults: plan, options: options)
            let report = sim.run()
            agreementViolations += report.violations.filter { $0.kind == .agreement }.count
        }
        #expect(agreementViolations > 0)
        // The same partitions at the simulation depth (12) stay safe.
        for seed in Seeds.ci(4, offset: 4_400) {
            var sim = try Simulator<PoWEngine>(nodes: 4, seed: seed, faults: plan)
            let report = sim.run()
            #expect(!report.violations.contains { $0.kind == .agreement }, "\(report)")
        }
    }
}
