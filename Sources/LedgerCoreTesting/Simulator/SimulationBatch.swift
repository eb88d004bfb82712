import Foundation
import LedgerCore

/// Seeds for simulation tests: `FORGECHAIN_SEED=n` in the environment replays exactly seed `n`.
public enum Seeds {
    /// Seeds `offset + 1 ... offset + count`, or only `FORGECHAIN_SEED` when it is set.
    /// - Parameters:
    ///   - count: Required; at least 0.
    ///   - offset: Optional, default 0. Gives different suites different seeds.
    public static func ci(_ count: Int, offset: UInt64 = 0) -> [UInt64] {
        if let replay = replaySeed { return [replay] }
        return (0..<UInt64(max(0, count))).map { offset + $0 + 1 }
    }

    /// The seed in `FORGECHAIN_SEED`, if set and numeric.
    public static var replaySeed: UInt64? {
        ProcessInfo.processInfo.environment["FORGECHAIN_SEED"].flatMap { UInt64($0) }
    }
}

/// The outcome of many seeds.
public struct SimulationBatchResult: Sendable {
    /// Seeds whose run passed every checker.
    public var passed: Int
    /// Seeds whose run failed (or whose simulator could not be built).
    public var failed: Int
    /// The first failing run (lowest seed), if any.
    public var firstFailure: SimulationReport?
    /// Every failing seed, ascending.
    public var failingSeeds: [UInt64]
    /// `N passed, N failed`, then the first failing seed and its first violation.
    public var summary: String {
        "\(passed) passed, \(failed) failed" + (firstFailure.map { "; first failing seed \($0.seed): \($0.violations.first?.description ?? "")" } ?? "")
    }
}

/// Runs one engine over many seeds, optionally on several threads (each seed is independent and deterministic).
///
/// ```swift
/// let result = SimulationBatch<RaftEngine>.run(nodes: 5, seeds: Seeds.ci(200), faults: .all)
/// print(result.summary)   // "200 passed, 0 failed"
/// ```
public enum SimulationBatch<Engine: SimulatableEngine> {
    /// - Parameters:
    ///   - nodes: Required; 1...64.
    ///   - seeds: Required.
    ///   - faults: Optional, default none. A closure may vary the plan by seed (see ``run(nodes:seeds:plan:options:parallelism:progress:)``).
    ///   - options: Optional.
    ///   - parallelism: Optional, default 1. Threads to spread seeds over.
    ///   - progress: Optional, default nil. Called after each seed finishes with the number of seeds finished
    ///     so far and the total, from the worker thread that ran it (so it must be thread-safe); the counts
    ///     rise by one per call but calls from different workers may arrive out of order. For progress
    ///     displays: the batch itself prints nothing.
    /// - Returns: Counts and the first failure. A seed whose simulator cannot be built counts as failed.
    public static func run(nodes: Int, seeds: [UInt64], faults: FaultPlan = .none, options: SimulationOptions = .init(),
                           parallelism: Int = 1, progress: (@Sendable (_ finished: Int, _ total: Int) -> Void)? = nil) -> SimulationBatchResult {
        run(nodes: nodes, seeds: seeds, plan: { _ in faults }, options: options, parallelism: parallelism, progress: progress)
    }

    /// As ``run(nodes:seeds:faults:options:parallelism:progress:)`` with a fault plan chosen per seed.
    public static func run(nodes: Int, seeds: [UInt64], plan: @Sendable (UInt64) -> FaultPlan, options: SimulationOptions = .init(),
                           parallelism: Int = 1, progress: (@Sendable (_ finished: Int, _ total: Int) -> Void)? = nil) -> SimulationBatchResult {
        let results = ResultBox(count: seeds.count)
        let workers = max(1, min(parallelism, seeds.count))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var k = w
            while k < seeds.count {
                let seed = seeds[k]
                let report: SimulationReport
                do {
                    var sim = try Simulator<Engine>(nodes: nodes, seed: seed, faults: plan(seed), options: options)
                    report = sim.run()
                } catch {
                    report = SimulationReport(seed: seed, ticks: 0,
                                              violations: [Violation(kind: .validity, tick: 0, node: 0, height: 0, message: "setup failed: \(error)")],
                                              traceDigest: .zero, committedHeights: [], messagesSent: 0, messagesDropped: 0, crashes: 0,
                                              partitions: 0, rollbacks: 0, rolledBackTransactions: 0, rejections: 0, byzantineNodes: [])
                }
                let finished = results.set(k, report)
                progress?(finished, seeds.count)
                k += workers
            }
        }
        let all = results.all()
        let failures = all.filter { !$0.passed }
        return SimulationBatchResult(passed: all.count - failures.count, failed: failures.count, firstFailure: failures.first,
                                     failingSeeds: failures.map(\.seed))
    }
}

/// Results written by worker threads, each to its own slot.
/// `@unchecked Sendable`: every access holds `lock` (an NSLock).
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [SimulationReport?]
    private var finished = 0
    init(count: Int) { reports = Array(repeating: nil, count: count) }
    /// Stores report `i`; returns how many reports are stored now.
    func set(_ i: Int, _ r: SimulationReport) -> Int {
        lock.withLock {
            reports[i] = r
            finished += 1
            return finished
        }
    }
    func all() -> [SimulationReport] { lock.withLock { reports.compactMap { $0 } } }
}
