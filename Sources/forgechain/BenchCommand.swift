import ArgumentParser
import Foundation
import LedgerCore

/// `forgechain bench hash|merkle|validate|append|tps|records|start|scale|net [--json]`: quick sizing of a machine.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure operations per second of the hashing and validation core.",
        discussion: """
        Build with -c release for meaningful figures: swift run -c release forgechain bench hash. \
        With --json, prints one JSON object per line per measured operation with name, count, seconds, ops_per_sec. \
        start: a node's start-up time and peak RSS (in a child process) on a baseline ledger and a large one, per engine: \
        forgechain bench start --engine pbft --blocks 1000 --transactions-per-block 1000 --data-dir /var/tmp/ledgers. \
        scale: one data folder grown by `records import` of generated CSV files in child processes, per step the import rate and \
        peak RSS, the commit rate, a reopen with one query, and bytes per record on disk: forgechain bench scale --records 1000000 --step 100000. \
        net: frames/s and MB/s between two transports on 127.0.0.1, plain TCP and mutual TLS 1.3 alternating, per payload size: \
        forgechain bench net --payload-sizes 256,4096,65536 --runs 3. \
        tps --only pbft4-processes: four `forgechain node run` processes (PBFT, mutual TLS) fed through their control sockets, \
        with CPU seconds per committed transaction: forgechain bench tps --only pbft4 --only pbft4-processes --transactions 10000. \
        evm: the interpreter's gas/s on an arithmetic-, a memory- and a storage-heavy loop (count = gas): forgechain bench evm --runs 5; \
        Scripts/bench-evm.py runs the same bytecode on revm (pyrevm) and py-evm beside it.
        """
    )

    enum Area: String, ExpressibleByArgument, CaseIterable {
        case hash, merkle, validate, append, tps, records, start, scale, net, evm
        /// The child process of `start` (not listed in the help).
        case startProbe = "start-probe"

        static var allValueStrings: [String] { allCases.filter { $0 != .startProbe }.map(\.rawValue) }
    }

    @Argument(help: "What to measure: hash, merkle, validate, append (the ledger store), tps (node and cluster), records (100,000 records uploaded and queried), start (a node's start-up time and memory by ledger size), scale (a data folder grown to --records in --step imports) net (frames over TCP and TLS on loopback) or evm (the interpreter's gas/s).")
    var area: Area

    @Flag(help: "One JSON object per line per measured operation.")
    var json = false

    @Option(help: "Scale factor for the work done (1 = default sizes; smaller for a quick run).")
    var scale: Double = 1

    @Option(help: "For tps: run only 'node1' (one node), 'pbft4' (the 4-node PBFT cluster in memory), 'pbft4-tls' (four nodes in this process over mutual TLS on loopback) or 'pbft4-processes' (four node processes over mutual TLS); repeat for several; all by default.")
    var only: [TPSBench.Run] = []

    @Option(help: "For tps: transactions per run, 200...1,000,000 (default 20,000 × --scale for node1, half that for the clusters).")
    var transactions: Int?

    @Option(help: "For net: comma-separated payload sizes in bytes, each 1...16,777,216.")
    var payloadSizes = "256,4096,65536"

    @Option(help: "For net: frames per run, 1...10,000,000 (default: about 256 MiB of payload × --scale, 1,000...200,000 frames).")
    var frames: Int?

    @Option(help: "For tps: the signature scheme of the transaction senders (p256, ed25519, secp256k1, sm2).")
    var senderScheme: TPSBench.Scheme = .p256

    @Option(help: "For start: the consensus engine (all, pbft, raft, pos, pow).")
    var engine: StartBench.EngineChoice = .all

    @Option(help: "For start: blocks of the large ledger (1...100,000).")
    var blocks: Int = 1_000

    @Option(help: "For start: transactions per block of both ledgers (1...10,000).")
    var transactionsPerBlock: Int = 1_000

    @Option(help: "For start: blocks of the baseline ledger the large one is compared with (0: no baseline).")
    var baselineBlocks: Int = 1

    @Option(help: "For start: where generated ledgers are kept and reused; for scale: where the data folder grows (default: a temporary folder, removed afterwards; its user is bench, password Bench-Scale-Password-2025, keystore passphrase Bench-Scale-Keystore-2025).")
    var dataDir: String?

    @Option(help: "For scale: records in the data folder at the end (1...10,000,000).")
    var records: Int = 1_000_000

    @Option(help: "For scale: records imported per step (1...1,000,000).")
    var step: Int = 100_000

    @Option(help: "For start: start-ups measured per ledger, each on a fresh copy of its store; the fastest is reported (default 1). For net: runs per transport and size, alternating TCP and TLS; the median is reported (default 3).")
    var runs: Int?

    @Option(help: "For evm: write the workloads' bytecode and gas limits to this JSON file (for Scripts/bench-evm.py).")
    var workloadsOut: String?

    @Option(help: .hidden) var ledger: String?
    @Option(help: .hidden) var store: String?
    @Flag(help: .hidden) var storeOnly = false

    func validate() throws {
        if let transactions, !(200...1_000_000).contains(transactions) {
            throw ValidationError("--transactions is \(transactions), expected 200...1000000")
        }
        if area == .net {
            guard !netPayloadSizes.isEmpty, netPayloadSizes.allSatisfy({ (1...(16 << 20)).contains($0) }) else {
                throw ValidationError("--payload-sizes is '\(payloadSizes)', expected sizes 1...16777216 separated by commas")
            }
            if let frames, !(1...10_000_000).contains(frames) { throw ValidationError("--frames is \(frames), expected 1...10000000") }
            if let runs, !(1...100).contains(runs) { throw ValidationError("--runs is \(runs), expected 1...100") }
            return
        }
        if area == .scale {
            guard (1...10_000_000).contains(records) else { throw ValidationError("--records is \(records), expected 1...10000000") }
            guard (1...1_000_000).contains(step) else { throw ValidationError("--step is \(step), expected 1...1000000") }
            return
        }
        guard area == .start else { return }
        guard (1...100_000).contains(blocks) else { throw ValidationError("--blocks is \(blocks), expected 1...100000") }
        guard (1...10_000).contains(transactionsPerBlock) else {
            throw ValidationError("--transactions-per-block is \(transactionsPerBlock), expected 1...10000")
        }
        guard (0...blocks).contains(baselineBlocks) else { throw ValidationError("--baseline-blocks is \(baselineBlocks), expected 0...\(blocks)") }
        if let runs, !(1...100).contains(runs) { throw ValidationError("--runs is \(runs), expected 1...100") }
    }

    /// `--payload-sizes` as numbers (empty when one does not parse).
    var netPayloadSizes: [Int] {
        let sizes = payloadSizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return sizes.contains(nil) ? [] : sizes.compactMap { $0 }
    }

    func run() async throws {
        let reporter = BenchReporter(json: json)
        if area == .startProbe {
            guard let ledger, let store else { throw ValidationError("start-probe needs --ledger and --store") }
            try await StartBench.probe(ledger: ledger, store: store, storeOnly: storeOnly)
            return
        }
        if area == .start {
            let sizes = baselineBlocks > 0 && baselineBlocks < blocks ? [baselineBlocks, blocks] : [blocks]
            try await StartBench.run(StartBench.Options(engines: engine.engines, sizes: sizes, transactionsPerBlock: transactionsPerBlock,
                                                        dataDirectory: dataDir, runs: runs ?? 1), reporter: reporter)
            return
        }
        if area == .scale {
            try await ScaleBench.run(ScaleBench.Options(records: records, step: step, dataDirectory: dataDir), reporter: reporter)
            return
        }
        if area == .net {
            try await NetBench.run(NetBench.Options(payloadSizes: netPayloadSizes, frames: frames, runs: runs ?? 3, scale: scale), reporter: reporter)
            return
        }
        if area == .evm {
            if let runs, !(1...100).contains(runs) { throw ValidationError("--runs is \(runs), expected 1...100") }
            try EVMBench.run(scale: scale, runs: runs ?? 3, workloadsOut: workloadsOut, reporter: reporter)
            return
        }
        if area == .tps {
            let count = transactions ?? max(1_000, Int(20_000 * scale))
            let clusterCount = transactions ?? max(1_000, count / 2)
            func selected(_ run: TPSBench.Run) -> Bool { only.isEmpty || only.contains(run) }
            func report(_ name: String, _ r: TPSBench.Result, extra: [String: Double] = [:]) {
                reporter.report(name, count: r.count, seconds: r.seconds,
                                extra: ["p50_latency_seconds": r.p50, "p99_latency_seconds": r.p99, "cpu_seconds": r.cpuSeconds,
                                        "cpu_seconds_per_transaction": r.count > 0 ? r.cpuSeconds / Double(r.count) : 0,
                                        "load_average": r.loadAverage].merging(extra) { _, new in new })
            }
            if selected(.node1) { report("tps.node1", try await TPSBench.singleNode(count: count, scheme: senderScheme)) }
            if selected(.pbft4) { report("tps.pbft4", try await TPSBench.cluster(count: clusterCount, scheme: senderScheme)) }
            if selected(.pbft4TLS) { report("tps.pbft4-tls", try await TPSBench.socketCluster(count: clusterCount, scheme: senderScheme)) }
            if selected(.pbft4Processes) {
                let r = try await ProcessClusterBench.run(count: clusterCount, scheme: senderScheme)
                var extra: [String: Double] = ["submitted": Double(r.submitted), "committed": Double(r.committed), "client_cpu_seconds": r.clientCPUSeconds,
                             "senders": Double(r.senders), "height": Double(r.height)]
                for (i, cpu) in r.nodeCPUSeconds.enumerated() { extra["node\(i)_cpu_seconds"] = cpu }
                report("tps.pbft4-processes", r.tps, extra: extra)
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
        case .tps, .records, .start, .startProbe, .scale, .net, .evm: break
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
