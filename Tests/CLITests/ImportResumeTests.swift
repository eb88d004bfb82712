import Foundation
import Testing

/// `records import` of a CSV file in batches: a run killed halfway (SIGKILL, no clean-up) and run again ends with
/// each record on chain exactly once, and the receipts of both runs cover every record.
struct ImportResumeTests {
    static let header = "production_time,production_location,product_uid,pro_raw_material.pro_supplier,pro_raw_material.pro_batch_number,"
        + "pro_raw_material.pro_Report_qualify_eval,propara.pro_temperature,propara.pro_humidity,propara.pro_pressure,"
        + "pro_op_info.pro_op_name,pro_op_info.pro_op_id,pro_op_info.pro_op_record,pro_factory_uid,device_id"

    static func row(_ i: Int) -> String {
        "2025-03-02T08:00:00Z,Line 3,P-\(i),Copper Co.,B-\(i % 7),pass,70.1,39,101.3,Li Wei,OP-7,shift A,F-KM-02,PRESS-04"
    }

    @Test func anImportKilledHalfwayAndRunAgainLeavesEachRecordOnChainOnce() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let count = 2_000
        let csv = cli.path("line-3.csv")
        try Data((Self.header + "\n" + (0..<count).map(Self.row).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: csv))
        let firstReceipts = cli.path("receipts-1.json")

        // The first run: killed with SIGKILL once its first batches have committed (their receipts are written).
        let process = Process()
        process.executableURL = ForgeChainProcess.binary
        process.arguments = ["records", "import", csv, "--batch-size", "20", "--receipts", firstReceipts,
                             "--data", cli.data, "--user", root.0, "--password", root.1]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
            .merging(["FORGECHAIN_PASSPHRASE": ForgeChainProcess.passphrase]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        // The watcher is a thread of its own, not a task: on a loaded machine the test's tasks can wait seconds for
        // the cooperative pool, long enough for the whole import to finish before it would be killed.
        let pid = process.processIdentifier, partial = firstReceipts + ".partial", whole = firstReceipts
        let watcher = Thread {
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline, !FileManager.default.fileExists(atPath: whole) {
                let size = (try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? NSNumber)?.intValue ?? 0
                if size > 20_000 { break }
                usleep(2_000)
            }
            // A run that finished (its receipts file whole) is not killed: the expectation below then reports it.
            if !FileManager.default.fileExists(atPath: whole) { kill(pid, SIGKILL) }
        }
        watcher.start()
        for await _ in exited.stream {}
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the first run ended before it was killed")
        #expect(!FileManager.default.fileExists(atPath: firstReceipts), "a killed run leaves no receipts file that looks whole")

        // The second run skips what the first committed and uploads the rest.
        let secondReceipts = cli.path("receipts-2.json")
        let again = try await cli.run(["records", "import", csv, "--batch-size", "500", "--receipts", secondReceipts], credentials: root)
        #expect(again.status == 0, "\(again)")
        let summary = try #require(again.data as? [String: Any])
        let uploaded = try #require(summary["uploaded"] as? Int), skipped = try #require(summary["already_on_chain"] as? Int)
        #expect(uploaded + skipped == count)
        #expect(skipped >= 20 && uploaded >= 50, "killed after \(skipped) of \(count) records")
        let receipts = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: secondReceipts))) as? [[String: Any]])
        #expect(receipts.count == uploaded)

        // Each record exactly once, and a third run has nothing left to do.
        var ids = [String](), cursor: String?
        repeat {
            var args = ["records", "query", "--limit", "1000"]
            if let cursor { args += ["--cursor", cursor] }
            let page = try await cli.run(args, credentials: root)
            let data = try #require(page.data as? [String: Any], "\(page)")
            ids += (data["records"] as? [[String: Any]] ?? []).compactMap { $0["record_id"] as? String }
            cursor = data["next_cursor"] as? String
        } while cursor != nil
        #expect(ids.count == count)
        #expect(Set(ids) == Set((0..<count).map { "P-\($0)" }))
        let third = try await cli.run(["records", "import", csv], credentials: root)
        #expect(third.status == 0, "\(third)")
        let last = try #require(third.data as? [String: Any])
        #expect(last["uploaded"] as? Int == 0 && last["already_on_chain"] as? Int == count)
    }
}
