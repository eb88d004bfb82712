import ArgumentParser
import Foundation
import LedgerCore

/// `forgechain bench hash|merkle|validate|tps [--json]`: quick sizing of a machine.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure operations per second of the hashing and validation core.",
        discussion: """
        Build with -c release for meaningful figures: swift run -c release forgechain bench hash. \
        With --json, prints one JSON object per line per measured operation with name, count, seconds, ops_per_sec.
        """
    )

    enum Area: String, ExpressibleByArgument, CaseIterable {
        case hash, merkle, validate, append, tps, records
    }

    @Argument(help: "What to measure: hash, merkle, validate, append (the ledger store), tps (node and cluster) or records (100,000 records uploaded and queried).")
    var area: Area

    @Flag(help: "One JSON object per line per measured operation.")
    var json = false

    @Option(help: "Scale factor for the work done (1 = default sizes; smaller for a quick run).")
    var scale: Double = 1

    @Option(help: "For tps: run only 'node1' (one node) or 'pbft4' (the 4-node PBFT cluster); both by default.")
    var only: TPSBench.Run?

    @Option(help: "For tps: the signature scheme of the transaction senders (p256, ed25519, secp256k1, sm2).")
    var senderScheme: TPSBench.Scheme = .p256

    func run() async throws {
        let reporter = BenchReporter(json: json)
        if area == .tps {
            let count = max(1_000, Int(20_000 * scale))
            if only != .pbft4 {
                let r = try await TPSBench.singleNode(count: count, scheme: senderScheme)
                reporter.report("tps.node1", count: r.count, seconds: r.seconds,
                                extra: ["p50_latency_seconds": r.p50, "p99_latency_seconds": r.p99,
                                        "cpu_seconds": r.cpuSeconds, "load_average": r.loadAverage])
            }
            if only != .node1 {
                let r = try await TPSBench.cluster(count: max(1_000, count / 2), scheme: senderScheme)
                reporter.report("tps.pbft4", count: r.count, seconds: r.seconds,
                                extra: ["p50_latency_seconds": r.p50, "p99_latency_seconds": r.p99,
                                        "cpu_seconds": r.cpuSeconds, "load_average": r.loadAverage])
            }
            return
        }
        if area == .records {
            let r = try await RecordsBench.run(count: max(1_000, Int(100_000 * scale)))
            reporter.report("records.submit", count: r.records, seconds: r.seconds,
                            extra: ["transactions": Double(r.transactions), "cpu_seconds": r.cpuSeconds, "load_average": r.loadAverage])
            reporter.report("records.query.batch", count: 1_000, seconds: 0, extra: ["p50_ms": r.batchP50 * 1000, "p99_ms": r.batchP99 * 1000])
            reporter.report("records.query.time", count: 1_000, seconds: 0, extra: ["p50_ms": r.timeP50 * 1000, "p99_ms": r.timeP99 * 1000])
            return
        }
        switch area {
        case .hash: try Benchmarks.hash(reporter, scale: scale)
        case .merkle: try Benchmarks.merkle(reporter, scale: scale)
        case .validate: try Benchmarks.validate(reporter, scale: scale)
        case .append: try Benchmarks.append(reporter, scale: scale)
        case .tps, .records: break
        }
    }
}

struct BenchReporter {
    var json: Bool

    func report(_ name: String, count: Int, seconds: Double, extra: [String: Double] = [:]) {
        let rate = seconds > 0 ? Double(count) / seconds : 0
        if json {
            var fields: [String] = [
                "\"name\":\"\(name)\"", "\"count\":\(count)",
                "\"seconds\":\(String(format: "%.6f", seconds))", "\"ops_per_sec\":\(String(format: "%.1f", rate))",
            ]
            for (k, v) in extra.sorted(by: { $0.key < $1.key }) { fields.append("\"\(k)\":\(String(format: "%.6f", v))") }
            print("{" + fields.joined(separator: ",") + "}")
        } else {
            let extras = extra.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\(String(format: "%.6f", $0.value))" }.joined(separator: " ")
            print(String(format: "%-34@ %12.0f ops/s  (%d in %.3f s)", name as NSString, rate, count, seconds) + (extras.isEmpty ? "" : "  " + extras))
        }
    }
}

/// Times `body` (best of `repetitions`), returning seconds.
func measure(repetitions: Int = 3, _ body: () throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<repetitions {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        best = min(best, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
    }
    return best
}

/// Process CPU time (all threads) in seconds.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Times `body` (best of `repetitions`) in wall-clock and in process CPU
/// seconds. `openssl speed` divides by CPU time by default, so CPU-time
/// rates are the like-for-like comparison on a loaded machine.
func measureWallAndCPU(repetitions: Int = 3, _ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
    var wall = Double.infinity, cpu = Double.infinity
    for _ in 0..<repetitions {
        let c0 = processCPUSeconds()
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        wall = min(wall, Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18)
        cpu = min(cpu, processCPUSeconds() - c0)
    }
    return (wall, cpu)
}
