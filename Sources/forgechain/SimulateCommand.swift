import ArgumentParser
import LedgerCore
import LedgerCoreTesting

/// `forgechain simulate`: runs the deterministic consensus simulator over many seeds.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run the seeded consensus simulator and check agreement, validity, gaps and liveness.",
        discussion: "Prints 'N passed, N failed' and the first failing seed; replay one seed with --first-seed S --seeds 1.")

    @Option(help: "Engine: pbft, raft, pow or pos.") var engine: String = "raft"
    @Option(help: "Number of nodes (1...64).") var nodes: Int = 4
    @Option(help: "Number of seeds to run.") var seeds: Int = 100
    @Option(help: "First seed.") var firstSeed: UInt64 = 1
    @Option(help: "Byzantine nodes (at most the engine's tolerance).") var byzantine: Int = 0
    @Option(help: "Comma-separated faults: drop, delay, duplicate, reorder, partition, crash, all, none.") var faults: String = "none"
    @Option(help: "Worker threads.") var jobs: Int = 1
    @Flag(help: "Print every failing seed's report.") var verbose = false

    func run() throws {
        let plan = try FaultPlan(parsing: faults)
        var options = SimulationOptions()
        options.byzantine = byzantine
        let list = (0..<UInt64(max(0, seeds))).map { firstSeed + $0 }
        guard let kind = ConsensusEngineKind(rawValue: engine.lowercased()) else {
            throw ValidationError("unknown engine '\(engine)'; expected pbft, raft, pow or pos")
        }
        let result: SimulationBatchResult
        // Adding an engine is one case here.
        switch kind {
        case .raft:
            result = SimulationBatch<RaftEngine>.run(nodes: nodes, seeds: list, faults: plan, options: options, parallelism: jobs)
        case .pbft, .pow, .pos:
            throw ValidationError("engine '\(kind)' is not merged into this build yet")
        }
        print("\(result.passed) passed, \(result.failed) failed")
        if let first = result.firstFailure {
            print("first failing seed: \(first.seed)")
            print(first)
            if verbose { print("failing seeds: \(result.failingSeeds.map(String.init).joined(separator: ","))") }
            throw ExitCode.failure
        }
    }
}
