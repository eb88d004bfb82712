import ArgumentParser
import Foundation
import LedgerCore

/// `forgechain bench start`: a node's start-up time and peak memory on a small and a large ledger, per engine.
///
/// For each engine and ledger size it makes sure the ledger exists (``StartBenchLedger``, kept in
/// `<data-dir>/<engine>-<blocks>x<transactions per block>` and reused while its manifest matches), copies its
/// store, and runs `forgechain bench start-probe` on the copy in a child process (``StartBenchProbe``), which
/// opens the node, starts it and waits until it is ready. Each run opens a fresh copy, so runs are alike and the
/// kept ledger stays as generated (a running node appends and saves its consensus state).
enum StartBench {
    /// Which engines `--engine` selects.
    enum EngineChoice: String, ExpressibleByArgument, CaseIterable {
        case all, pbft, raft, pos, pow

        var engines: [ConsensusEngineKind] {
            self == .all ? StartBenchChain.engines : [ConsensusEngineKind(rawValue: rawValue)!]
        }
    }

    struct Options {
        var engines: [ConsensusEngineKind]
        /// Ledger sizes in blocks, measured in this order (the first is the baseline of the ratio).
        var sizes: [Int]
        var transactionsPerBlock: Int
        /// nil: a temporary folder, removed at the end.
        var dataDirectory: String?
        var runs: Int
        var seed: UInt64 = 1407
    }

    /// One measured ledger: the fastest of the runs.
    struct Measurement {
        var manifest: StartBenchManifest
        var probe: StartBenchProbe.Result
        /// The fastest store-only open (``StartBenchProbe/runStoreOnly(ledger:store:)``).
        var storeOpen: StartBenchProbe.Result
        /// Wall time of the child process from spawn to exit, milliseconds.
        var processMilliseconds: Double
        var storeBytes: Int
    }

    static func run(_ options: Options, reporter: BenchReporter) async throws {
        let directory: String
        let owned = options.dataDirectory == nil
        if let d = options.dataDirectory {
            directory = d
        } else {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-bench-start-\(UUID().uuidString)").path
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { if owned { try? FileManager.default.removeItem(atPath: directory) } }
        for engine in options.engines {
            var measured = [Measurement]()
            for blocks in options.sizes {
                let wanted = StartBenchManifest(engine: engine.rawValue, blocks: blocks, transactionsPerBlock: options.transactionsPerBlock,
                                                seed: options.seed, height: UInt64(blocks), generationSeconds: 0)
                let folder = directory + "/\(engine.rawValue)-\(blocks)x\(options.transactionsPerBlock)"
                let (manifest, generated) = try await ledger(wanted, in: folder)
                let transactions = blocks * options.transactionsPerBlock
                if generated {
                    reporter.report("start.generate.\(engine.rawValue).\(blocks)x\(options.transactionsPerBlock)", count: transactions,
                                    seconds: manifest.generationSeconds, extra: ["blocks": Double(blocks)])
                }
                let m = try await measure(manifest, in: folder, runs: options.runs)
                measured.append(m)
                reporter.report("start.\(engine.rawValue).\(blocks)x\(options.transactionsPerBlock)", count: transactions,
                                seconds: m.probe.readyMilliseconds / 1_000, extra: [
                                    "blocks": Double(blocks), "height": Double(m.probe.committedHeight),
                                    "start_ms": m.probe.readyMilliseconds, "init_ms": m.probe.initMilliseconds,
                                    "process_ms": m.processMilliseconds, "store_open_ms": m.storeOpen.readyMilliseconds,
                                    "store_open_peak_rss_mb": Double(m.storeOpen.peakRSSKibibytes) / 1_024,
                                    "peak_rss_mb": Double(m.probe.peakRSSKibibytes) / 1_024,
                                    "ready_rss_mb": Double(m.probe.readyRSSKibibytes) / 1_024,
                                    "store_mb": Double(m.storeBytes) / 1_048_576, "load_average": loadAverage(),
                                ])
            }
            if measured.count >= 2, let small = measured.first, let large = measured.last {
                reporter.report("start.\(engine.rawValue).ratio", count: large.manifest.blocks * large.manifest.transactionsPerBlock,
                                seconds: 0, extra: [
                                    "start_ratio": large.probe.readyMilliseconds / max(small.probe.readyMilliseconds, 1e-3),
                                    "peak_rss_ratio": Double(large.probe.peakRSSKibibytes) / Double(max(small.probe.peakRSSKibibytes, 1)),
                                    "store_ratio": Double(large.storeBytes) / Double(max(small.storeBytes, 1)),
                                ])
            }
        }
    }

    /// The ledger of `wanted` in `folder`: the kept one when its manifest matches, else generated anew.
    static func ledger(_ wanted: StartBenchManifest, in folder: String) async throws -> (StartBenchManifest, generated: Bool) {
        if let kept = try? readManifest(in: folder), kept.matches(wanted), FileManager.default.fileExists(atPath: storePath(in: folder)) {
            return (kept, false)
        }
        if FileManager.default.fileExists(atPath: folder) { try FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let progress = ProgressReporter(label: "bench start: generating \(wanted.engine) \(wanted.blocks)x\(wanted.transactionsPerBlock)",
                                        unit: "blocks", total: wanted.blocks)
        defer { progress.finish() }
        let manifest = try await StartBenchLedger.generate(wanted, at: storePath(in: folder), progress: progress)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(manifest).write(to: URL(fileURLWithPath: folder + "/manifest.json"), options: .atomic)
        return (manifest, true)
    }

    static func storePath(in folder: String) -> String { folder + "/ledger.sqlite" }

    static func readManifest(in folder: String) throws -> StartBenchManifest {
        try JSONDecoder().decode(StartBenchManifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
    }

    /// The store's files: the database and, if SQLite left one, its write-ahead log.
    static func storeFiles(in folder: String) -> [String] {
        [storePath(in: folder), storePath(in: folder) + "-wal"].filter { FileManager.default.fileExists(atPath: $0) }
    }

    static func storeBytes(in folder: String) throws -> Int {
        try storeFiles(in: folder).reduce(0) { total, path in
            total + ((try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0)
        }
    }

    /// Runs the probe `runs` times, each on a fresh copy of the store, and keeps the fastest run; then as many
    /// store-only probes, and keeps the fastest.
    static func measure(_ manifest: StartBenchManifest, in folder: String, runs: Int) async throws -> Measurement {
        let bytes = try storeBytes(in: folder)
        var best: (probe: StartBenchProbe.Result, processMilliseconds: Double)?
        var bestOpen: StartBenchProbe.Result?
        for storeOnly in [false, true] {
            for _ in 0..<max(1, runs) {
                let (probe, processMilliseconds) = try await probeOnCopy(of: folder, storeOnly: storeOnly)
                guard probe.committedHeight == manifest.height, probe.engineCommittedHeight == manifest.height else {
                    throw ValidationError("bench start: the \(storeOnly ? "store" : "node") on \(folder) opened at height \(probe.committedHeight) (engine \(probe.engineCommittedHeight)), the ledger's is \(manifest.height)")
                }
                if storeOnly {
                    if bestOpen.map({ probe.readyMilliseconds < $0.readyMilliseconds }) ?? true { bestOpen = probe }
                } else if best.map({ probe.readyMilliseconds < $0.probe.readyMilliseconds }) ?? true {
                    best = (probe, processMilliseconds)
                }
            }
        }
        return Measurement(manifest: manifest, probe: best!.probe, storeOpen: bestOpen!, processMilliseconds: best!.processMilliseconds,
                           storeBytes: bytes)
    }

    /// Copies the ledger's store into `<folder>/run`, runs a probe on the copy and removes it.
    static func probeOnCopy(of folder: String, storeOnly: Bool) async throws -> (StartBenchProbe.Result, Double) {
        let copy = folder + "/run"
        if FileManager.default.fileExists(atPath: copy) { try FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for file in storeFiles(in: folder) {
            try FileManager.default.copyItem(atPath: file, toPath: copy + "/" + (file as NSString).lastPathComponent)
        }
        let outcome = await Result(catching: { try await spawnProbe(ledger: folder, store: storePath(in: copy), storeOnly: storeOnly) })
        try FileManager.default.removeItem(atPath: copy)
        return try outcome.get()
    }

    /// This executable, for the child process.
    static var executablePath: String {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }

    /// Runs `forgechain bench start-probe` and returns its result and its wall time (spawn to exit) in milliseconds.
    /// - Note: Waits for the child without blocking a thread of the cooperative pool.
    static func spawnProbe(ledger: String, store: String, storeOnly: Bool = false) async throws -> (StartBenchProbe.Result, Double) {
        let folder = (store as NSString).deletingLastPathComponent
        let outPath = folder + "/probe.out", errPath = folder + "/probe.err"
        guard FileManager.default.createFile(atPath: outPath, contents: nil), FileManager.default.createFile(atPath: errPath, contents: nil) else {
            throw ValidationError("bench start: cannot create the probe's output files in \(folder)")
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath)
        process.arguments = ["bench", "start-probe", "--ledger", ledger, "--store", store] + (storeOnly ? ["--store-only"] : [])
        var environment = ProcessInfo.processInfo.environment
        environment[LogLevelOption.environmentVariable] = "error"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        let began = ContinuousClock.now
        try process.run()
        for await _ in exited.stream {}
        let elapsed = StartBenchProbe.milliseconds(ContinuousClock.now - began)
        process.waitUntilExit()
        let stdout = try String(contentsOfFile: outPath, encoding: .utf8)
        let stderr = try String(contentsOfFile: errPath, encoding: .utf8)
        guard process.terminationReason == .exit, process.terminationStatus == 0,
              let line = stdout.split(separator: "\n").last(where: { $0.hasPrefix(StartBenchProbe.resultPrefix) }) else {
            throw ValidationError("bench start: the probe on \(store) failed (status \(process.terminationStatus)): \(stderr)\(stdout)")
        }
        let result = try JSONDecoder().decode(StartBenchProbe.Result.self, from: Data(line.dropFirst(StartBenchProbe.resultPrefix.count).utf8))
        return (result, elapsed)
    }

    /// The probe's side: runs it and prints its result line.
    static func probe(ledger: String, store: String, storeOnly: Bool) async throws {
        let result = storeOnly ? try StartBenchProbe.runStoreOnly(ledger: ledger, store: store)
            : try await StartBenchProbe.run(ledger: ledger, store: store)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(StartBenchProbe.resultPrefix + String(decoding: try encoder.encode(result), as: UTF8.self))
    }

    /// The 1-minute load average.
    static func loadAverage() -> Double {
        var load = [Double](repeating: 0, count: 3)
        return getloadavg(&load, 3) > 0 ? load[0] : 0
    }
}
