import AppAPI
import ArgumentParser
import Foundation
import LedgerCore

/// `forgechain bench scale`: grows one data folder in steps of generated production records, each step a
/// `records import` of a CSV file in a child process (as an operator runs it), and reports per step: the import's
/// rate and peak RSS, the chain's commit rate, a reopen plus one query in another child (time and peak RSS), and
/// the bytes on disk per record (ledger, index, log).
enum ScaleBench {
    struct Options {
        /// Records at the end (the last step's total).
        var records: Int
        /// Records per step.
        var step: Int
        /// Where the data folder and CSV files go (default: a temporary folder, removed afterwards).
        var dataDirectory: String?
    }

    /// One child's run: wall time, its peak RSS (`VmHWM`, sampled every 20 ms while it runs) and what it printed.
    struct ChildRun {
        var seconds: Double
        var peakRSSKibibytes: Int
        var stdout: String
    }

    static let user = "bench"
    static let password = "Bench-Scale-Password-2025"
    /// The keystore passphrase of the bench's data folder (the children reopen it at every step).
    static let passphrase = "Bench-Scale-Keystore-2025"

    static func run(_ options: Options, reporter: BenchReporter) async throws {
        let root = options.dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-bench-scale-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { if options.dataDirectory == nil { try? FileManager.default.removeItem(atPath: root) } }
        let data = root + "/data"
        _ = try await child(["admin", "create", user, "--role", "super-admin", "--new-password", password, "--data", data], in: root)
        let progress = ProgressReporter(label: "bench scale", unit: "records", total: options.records)
        defer { progress.finish() }
        var total = 0, height = 0
        while total < options.records {
            let count = min(options.step, options.records - total)
            let csv = root + "/step-\(total).csv"
            try writeCSV(csv, from: total, count: count)
            let imported = try await child(["records", "import", csv, "--data", data, "--user", user, "--password", password], in: root)
            try FileManager.default.removeItem(atPath: csv)
            guard (envelope(imported.stdout)?["uploaded"] as? NSNumber)?.intValue == count else {
                throw ValidationError("bench scale: the import of records \(total)..<\(total + count) failed: \(imported.stdout)")
            }
            total += count
            progress.update(completed: total)
            let (newHeight, stepTransactions) = try chain(data + "/ledger.sqlite", from: height)
            height = newHeight
            // Reopen the folder and answer one query, as an operator's next command does.
            let query = try await child(["records", "query", "--batch", "B-\((total - 1) / 100)", "--order", "desc", "--limit", "10",
                                         "--data", data, "--user", user, "--password", password], in: root)
            let rows = envelope(query.stdout)?["records"] as? [[String: Any]] ?? []
            guard rows.first?["record_id"] as? String == "P-\(total - 1)" else {
                throw ValidationError("bench scale: the query after \(total) records did not find P-\(total - 1): \(query.stdout)")
            }
            let ledger = try bytes(data, prefix: "ledger.sqlite"), index = try bytes(data, prefix: "records-index.sqlite")
            let log = try bytes(data, prefix: "platform.log")
            reporter.report("scale.import", count: count, seconds: imported.seconds, extra: [
                "records_total": Double(total),
                "transactions": Double(stepTransactions),
                "commit_tx_per_sec": imported.seconds > 0 ? Double(stepTransactions) / imported.seconds : 0,
                "import_peak_rss_bytes": Double(imported.peakRSSKibibytes) * 1_024,
                "reopen_query_seconds": query.seconds,
                "reopen_query_peak_rss_bytes": Double(query.peakRSSKibibytes) * 1_024,
                "ledger_bytes": Double(ledger), "index_bytes": Double(index), "log_bytes": Double(log),
                "bytes_per_record": Double(ledger + index) / Double(total),
                "load_average": StartBench.loadAverage(),
            ])
        }
    }

    /// Writes `count` production records from `first` as CSV, 10,000 rows at a time.
    static func writeCSV(_ path: String, from first: Int, count: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ValidationError("bench scale: cannot create \(path)")
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: Data(("production_time,production_location,product_uid,pro_raw_material.pro_supplier,"
            + "pro_raw_material.pro_batch_number,pro_raw_material.pro_Report_qualify_eval,propara.pro_temperature,propara.pro_humidity,"
            + "propara.pro_pressure,pro_op_info.pro_op_name,pro_op_info.pro_op_id,pro_op_info.pro_op_record,pro_factory_uid,device_id\n").utf8))
        let base: UInt64 = 1_740_816_000_000
        var start = first
        while start < first + count {
            let end = min(first + count, start + 10_000)
            var text = ""
            for i in start..<end {
                let time = RecordTime(millisecondsSince1970: base + UInt64(i) * 1_000).iso8601
                text += "\(time),\"Kunming plant 2, line \(i % 8)\",P-\(i),Yunnan Copper,B-\(i / 100),pass,71.\(i % 10),40,101.3,"
                    + "Li Wei,OP-\(i % 50),shift A,F-KM-0\(i % 3),PRESS-\(i % 20)\n"
            }
            try handle.write(contentsOf: Data(text.utf8))
            start = end
        }
        try handle.close()
    }

    /// The head height now and the transactions in the blocks above `height`, read from the ledger read-only.
    static func chain(_ path: String, from height: Int) throws -> (height: Int, transactions: Int) {
        let store = try LedgerStore(path: path, configuration: .init(readOnly: true, quickCheckBlocks: 0, sqliteQuickCheckOnOpen: false))
        let head = Int(store.head?.height.rawValue ?? 0)
        var transactions = 0
        if head > height {
            for h in (height + 1)...head { transactions += try store.block(atHeight: Height(UInt64(h))).transactions.count }
        }
        return (head, transactions)
    }

    /// The bytes of the files in `folder` whose names start with `prefix` (a database with its -wal and -shm, a log
    /// with its rotated files).
    static func bytes(_ folder: String, prefix: String) throws -> Int {
        var total = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasPrefix(prefix) {
            total += (try FileManager.default.attributesOfItem(atPath: folder + "/" + name)[.size] as? NSNumber)?.intValue ?? 0
        }
        return total
    }

    /// Runs this binary with `arguments` (logs at error level only), sampling its peak RSS until it exits.
    static func child(_ arguments: [String], in folder: String) async throws -> ChildRun {
        let outPath = folder + "/child.out"
        guard FileManager.default.createFile(atPath: outPath, contents: nil) else {
            throw ValidationError("bench scale: cannot create \(outPath)")
        }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        defer { try? out.close() }   // the child wrote through its own descriptor; this copy only closes
        let process = Process()
        process.executableURL = URL(fileURLWithPath: StartBench.executablePath)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
        environment[LogLevelOption.environmentVariable] = "error"
        environment["FORGECHAIN_PASSPHRASE"] = passphrase
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = out
        let began = ContinuousClock.now
        try process.run()
        let pid = process.processIdentifier
        var peak = 0
        while process.isRunning {
            peak = max(peak, StartBenchProbe.statusKibibytes("VmHWM", file: "/proc/\(pid)/status"))
            try await Task.sleep(for: .milliseconds(20))
        }
        let seconds = StartBenchProbe.milliseconds(ContinuousClock.now - began) / 1_000
        process.waitUntilExit()
        let stdout = try String(contentsOfFile: outPath, encoding: .utf8)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw ValidationError("bench scale: forgechain \(arguments.prefix(2).joined(separator: " ")) exited with \(process.terminationStatus): \(stdout)")
        }
        return ChildRun(seconds: seconds, peakRSSKibibytes: peak, stdout: stdout)
    }

    /// The `data` of the envelope a command printed, when it printed one.
    static func envelope(_ stdout: String) -> [String: Any]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else { return nil }
        return object["data"] as? [String: Any]
    }
}
