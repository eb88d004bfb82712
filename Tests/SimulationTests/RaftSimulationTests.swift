import LedgerCore
import LedgerCoreTesting
import Testing

struct RaftSimulationTests {
    @Test func raftCommitsWithoutFaults() throws {
        var sim = try Simulator<RaftEngine>(nodes: 3, seed: 1)
        let report = sim.run()
        print(report)
        #expect(report.passed, "\(report)")
        #expect(report.committedHeights.allSatisfy { $0.rawValue >= 20 }, "\(report)")
    }
}
