import ArgumentParser
import LedgerCore
import LedgerCoreTesting
import ChainRuntime

/// `forgechain simulate`: runs the deterministic consensus simulator over many seeds.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the seeded consensus simulator and check agreement, validity, gaps and liveness.",
        discussion: """
            Prints 'N passed, N failed' and the first failing seed; replay one seed with --first-seed S --seeds 1. \
            On a terminal, standard error shows the seeds finished, the rate and the time left.
            """)

    @Option(help: "Engine: pbft, raft, pow or pos.") var engine: String = "raft"
    @Option(help: "Number of nodes (1...64).") var nodes: Int = 4
    @Option(help: "Number of seeds to run.") var seeds: Int = 100
    @Option(help: "First seed.") var firstSeed: UInt64 = 1
    @Option(help: "Byzantine nodes (at most the engine's tolerance).") var byzantine: Int = 0
    @Option(help: "Comma-separated faults: drop, delay, duplicate, reorder, partition, crash, all, none.") var faults: String = "none"
    @Option(help: "Nodes down until the network heals that then start from an empty store and must catch up on the whole chain (at most the engine's crash tolerance).")
    var lateJoiners: Int = 0
    @Option(help: "Worker threads.") var jobs: Int = 1
    @Option(help: "What runs: 'engine' (bare consensus engines) or 'node' (whole nodes: mempool, execution, an in-memory SQLite store, catch-up sync and recovery; faults also 'append' for failed appends, 'slow' for slow ones, 'skew' for clock skew).")
    var level: String = "engine"
    @Option(help: "With --level node: client transactions submitted per tick.") var transactionsPerTick: Int = 1
    @Flag(help: "Print every failing seed's report; with --seeds 1, print the seed's report even when it passes.") var verbose = false

    func run() throws {
        switch level.lowercased() {
        case "engine": break
        case "node": return try runNodes()
        default: throw ValidationError("unknown level '\(level)'; expected engine or node")
        }
        let plan = try FaultPlan(parsing: faults)
        var options = SimulationOptions()
        options.byzantine = byzantine
        options.lateJoiners = lateJoiners
        let list = (0..<UInt64(max(0, seeds))).map { firstSeed + $0 }
        guard let kind = ConsensusEngineKind(rawValue: engine.lowercased()) else {
            throw ValidationError("unknown engine '\(engine)'; expected pbft, raft, pow or pos")
        }
        if verbose && list.count == 1 {
            let report: SimulationReport
            switch kind {
            case .raft: report = try Self.replay(RaftEngine.self, nodes: nodes, seed: list[0], faults: plan, options: options)
            case .pbft: report = try Self.replay(PBFTEngine.self, nodes: nodes, seed: list[0], faults: plan, options: options)
            case .pos: report = try Self.replay(PoSEngine.self, nodes: nodes, seed: list[0], faults: plan, options: options)
            case .pow:
                report = try Self.replay(PoWEngine.self, nodes: nodes, seed: list[0], faults: plan, options: options)
            }
            print(report)
            print("\(report.passed ? 1 : 0) passed, \(report.passed ? 0 : 1) failed")
            if !report.passed { throw ExitCode.failure }
            return
        }
        let result: SimulationBatchResult
        let progress = ProgressReporter(label: "simulate \(kind.rawValue)", unit: "seeds", total: list.count)
        let report: @Sendable (Int, Int) -> Void = { progress.update(completed: $0, total: $1) }
        // Adding an engine is one case here.
        switch kind {
        case .raft:
            result = SimulationBatch<RaftEngine>.run(nodes: nodes, seeds: list, faults: plan, options: options, parallelism: jobs, progress: report)
        case .pbft:
            result = SimulationBatch<PBFTEngine>.run(nodes: nodes, seeds: list, faults: plan, options: options, parallelism: jobs, progress: report)
        case .pos:
            result = SimulationBatch<PoSEngine>.run(nodes: nodes, seeds: list, faults: plan, options: options, parallelism: jobs, progress: report)
        case .pow:
            result = SimulationBatch<PoWEngine>.run(nodes: nodes, seeds: list, faults: plan, options: options, parallelism: jobs, progress: report)
        }
        progress.finish()
        print("\(result.passed) passed, \(result.failed) failed")
        if let first = result.firstFailure {
            print("first failing seed: \(first.seed)")
            print(first)
            if verbose { print("failing seeds: \(result.failingSeeds.map(String.init).joined(separator: ","))") }
            throw ExitCode.failure
        }
    }

    /// `--level node`: whole nodes under the node simulator.
    private func runNodes() throws {
        guard let kind = ConsensusEngineKind(rawValue: engine.lowercased()) else {
            throw ValidationError("unknown engine '\(engine)'; expected pbft, raft, pow or pos")
        }
        guard byzantine == 0, lateJoiners == 0 else {
            throw ValidationError("--byzantine and --late-joiners apply to --level engine")
        }
        var options = NodeSimulationOptions()
        options.nodes = nodes
        options.faults = try NodeFaults(parsing: faults)
        options.transactionsPerTick = transactionsPerTick
        let list = (0..<UInt64(max(0, seeds))).map { firstSeed + $0 }
        let progress = ProgressReporter(label: "simulate --level node \(kind.rawValue)", unit: "seeds", total: list.count)
        let result = NodeSimulationBatch.run(kind, seeds: list, options: options, parallelism: jobs) { progress.update(completed: $0, total: $1) }
        progress.finish()
        if verbose && list.count == 1, result.failed == 0 {
            print(NodeSimulationBatch.runOne(kind, seed: list[0], options: options))
        }
        print("\(result.passed) passed, \(result.failed) failed")
        if let first = result.firstFailure {
            print("first failing seed: \(first.seed)")
            print(first)
            if verbose {
                for line in first.nodeStates { print("  \(line)") }
                print("failing seeds: \(result.failingSeeds.map(String.init).joined(separator: ","))")
            }
            throw ExitCode.failure
        }
    }

    private static func replay<E: SimulatableEngine>(_: E.Type, nodes: Int, seed: UInt64, faults: FaultPlan,
                                                     options: SimulationOptions) throws -> SimulationReport {
        var sim = try Simulator<E>(nodes: nodes, seed: seed, faults: faults, options: options)
        return sim.run()
    }
}
