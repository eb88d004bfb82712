import LedgerCore
import LedgerCoreTesting
import Testing

/// Beyond their tolerance the BFT engines are unsafe, and the simulator's own
/// agreement checker must say so: two colluding equivocators among four
/// validators (f + 1 = 2 for PBFT; half the stake, over 1/3, for PoS) show
/// each half of the correct nodes a different block and vote for both.
struct ByzantineThresholdSimulationTests {
    static func equivocatingCoalition() -> SimulationOptions {
        var options = SimulationOptions()
        options.byzantine = 2
        options.byzantineBehaviors = .equivocate
        options.allowExcessFaults = true
        return options
    }

    @Test func pbftWithTwoEquivocatingReplicasOfFourMakesTheAgreementCheckerFire() throws {
        var violations = [Violation]()
        for seed: UInt64 in 1...4 {
            var sim = try Simulator<PBFTEngine>(nodes: 4, seed: seed, options: Self.equivocatingCoalition())
            let run = sim.run()
            violations += run.violations
        }
        #expect(!violations.isEmpty)
        #expect(violations.contains { $0.kind == .agreement }, "\(violations.prefix(3))")
    }

    @Test func posWithHalfTheStakeEquivocatingMakesTheAgreementCheckerFire() throws {
        var violations = [Violation]()
        for seed: UInt64 in 1...4 {
            var sim = try Simulator<PoSEngine>(nodes: 4, seed: seed, options: Self.equivocatingCoalition())
            let run = sim.run()
            violations += run.violations
        }
        #expect(!violations.isEmpty)
        #expect(violations.contains { $0.kind == .agreement }, "\(violations.prefix(3))")
    }

    @Test func withinTheToleranceTheSameEquivocationIsHarmless() throws {
        var options = Self.equivocatingCoalition()
        options.byzantine = 1
        options.allowExcessFaults = false
        for seed: UInt64 in 1...4 {
            var pbft = try Simulator<PBFTEngine>(nodes: 4, seed: seed, options: options)
            let a = pbft.run()
            #expect(a.passed, "\(a)")
            var pos = try Simulator<PoSEngine>(nodes: 4, seed: seed, options: options)
            let b = pos.run()
            #expect(b.passed, "\(b)")
        }
    }
}
