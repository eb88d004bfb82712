@testable import ChainRuntime
import Foundation
import LedgerCore
import Testing

/// Whole nodes on simulated time: replay by seed, the faults, and each checker firing on a
/// deliberately broken node.
/// Serialized: each run takes a thread of its own, and in parallel they would take every core from the
/// rest of the suite.
@Suite(.serialized) struct NodeSimulatorTests {
    /// Runs one seed on a thread of its own: a run is seconds of synchronous work, which would otherwise
    /// hold one of the cooperative pool's two threads and starve the suite's async tests.
    static func run(_ kind: ConsensusEngineKind, seed: UInt64, options: NodeSimulationOptions) async -> NodeSimulationReport {
        await withCheckedContinuation { c in
            let thread = Thread { c.resume(returning: NodeSimulationBatch.runOne(kind, seed: seed, options: options)) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    static func options(faults: NodeFaults = [], faultTicks: UInt64 = 120, quietTicks: UInt64 = 400) -> NodeSimulationOptions {
        var o = NodeSimulationOptions()
        o.faults = faults
        o.faultTicks = faultTicks
        o.quietTicks = quietTicks
        return o
    }

    @Test func oneSeedReplaysExactly() async {
        let o = Self.options(faults: [.drop, .delay, .partition, .crash])
        let a = await Self.run(.pbft, seed: 11, options: o)
        let b = await Self.run(.pbft, seed: 11, options: o)
        let c = await Self.run(.pbft, seed: 12, options: o)
        #expect(a.traceDigest == b.traceDigest && a.committedHeights == b.committedHeights && a.acknowledged == b.acknowledged)
        #expect(a.traceDigest != c.traceDigest)
        #expect(a.passed, "\(a)")
    }

    @Test(arguments: [ConsensusEngineKind.raft, .pbft, .pos, .pow])
    func wholeNodesCommitAndAgreeWithoutFaults(_ kind: ConsensusEngineKind) async {
        let r = await Self.run(kind, seed: 3, options: Self.options(faultTicks: 0, quietTicks: 200))
        #expect(r.passed, "\(r)")
        #expect(r.acknowledged > 100 && (r.committedHeights.min() ?? 0) > 5, "\(r)")
    }

    @Test(arguments: [ConsensusEngineKind.raft, .pbft, .pos])
    func wholeNodesSurviveNetworkFaultsAndCrashes(_ kind: ConsensusEngineKind) async {
        let r = await Self.run(kind, seed: 21, options: Self.options(faults: [.drop, .delay, .partition, .crash], faultTicks: 200, quietTicks: 500))
        #expect(r.passed, "\(r)")
        #expect(r.crashes + r.partitions > 0 && r.messagesDropped > 0, "the seed injected nothing: \(r)")
    }

    @Test(arguments: [ConsensusEngineKind.raft, .pbft])
    func wholeNodesSurviveFailedAndSlowAppends(_ kind: ConsensusEngineKind) async {
        var o = Self.options(faults: [.crash, .failedAppend, .slowAppend], faultTicks: 200, quietTicks: 500)
        o.transactionsPerTick = 2
        let r = await Self.run(kind, seed: 22, options: o)
        #expect(r.passed, "\(r)")
        #expect(r.failedAppends > 0, "no append failed: \(r)")
    }

    /// Every fault at once, Raft, seed 21: a leader elected after failed appends and restarts holds
    /// uncommitted entries it never executed; it must still propose (an empty block) so they commit.
    @Test func wholeNodesSurviveEveryFaultAtOnce() async {
        var o = Self.options(faults: [.drop, .delay, .partition, .crash, .failedAppend, .slowAppend, .clockSkew], faultTicks: 300, quietTicks: 0)
        o.transactionsPerTick = 2
        let r = await Self.run(.raft, seed: 21, options: o)
        #expect(r.passed, "\(r)\n\(r.nodeStates.joined(separator: "\n"))")
        #expect(r.failedAppends > 0 && r.crashes > 0)
    }

    @Test func wholeNodesSurviveClockSkew() async {
        let r = await Self.run(.pbft, seed: 23, options: Self.options(faults: [.clockSkew, .drop], faultTicks: 150, quietTicks: 400))
        #expect(r.passed, "\(r)")
    }

    @Test func agreementCheckerFiresOnANodeThatThinksItIsTheOnlyValidator() async {
        var o = Self.options(faultTicks: 0, quietTicks: 200)
        o.sabotage = .soleValidator(node: 2)
        let r = await Self.run(.pbft, seed: 5, options: o)
        #expect(r.violations.contains { $0.kind == .agreement }, "\(r)")
    }

    @Test func stateRootCheckerFiresOnANodeReportingAnotherRoot() async {
        var o = Self.options(faultTicks: 0, quietTicks: 200)
        o.sabotage = .alteredStateRoot(node: 1)
        let r = await Self.run(.raft, seed: 5, options: o)
        #expect(r.violations.contains { $0.kind == .stateRoot && $0.node == 1 }, "\(r)")
    }

    @Test func receiptCheckerFiresOnANodeHandingOutAlteredReceipts() async {
        var o = Self.options(faultTicks: 0, quietTicks: 200)
        o.sabotage = .alteredReceipts(node: 3)
        let r = await Self.run(.pbft, seed: 5, options: o)
        #expect(r.violations.contains { $0.kind == .receipt && $0.node == 3 }, "\(r)")
    }

    @Test func lostTransactionCheckerFiresOnANodeWhoseFsyncLies() async {
        var o = Self.options(faultTicks: 0, quietTicks: 200)
        o.sabotage = .lyingWriter(node: 0)
        let r = await Self.run(.raft, seed: 5, options: o)
        #expect(r.violations.contains { $0.kind == .lostTransaction && $0.node == 0 }, "\(r)")
    }

    @Test func livenessCheckerFiresWhenMoreNodesAreDownThanTheEngineTolerates() async {
        var o = Self.options(faultTicks: 0, quietTicks: 200)
        o.permanentCrashes = 2
        o.allowExcessFaults = true
        let r = await Self.run(.pbft, seed: 5, options: o)
        #expect(r.violations.contains { $0.kind == .liveness }, "\(r)")
        #expect(!r.violations.contains { $0.kind == .agreement })
    }

    @Test func unknownFaultWordsAreRefusedWithTheirName() {
        #expect(throws: ChainError.self) { try NodeFaults(parsing: "drop,flood") }
        #expect((try? NodeFaults(parsing: "drop,append,slow,skew")) == [.drop, .failedAppend, .slowAppend, .clockSkew])
    }
}
