import Foundation
import Testing

/// `forgechain bench scale`: one data folder grown in steps by `records import` in child processes, one JSON line
/// per step with the figures Performance.md reports.
struct BenchScaleTests {
    @Test func eachStepReportsImportRateMemoryReopenAndBytesPerRecord() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = cli.path("scale")
        let out = try await cli.run(["bench", "scale", "--records", "250", "--step", "100", "--json", "--data-dir", folder], withData: false)
        #expect(out.status == 0, "\(out)")
        let lines = try out.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(lines.map { $0["records_total"] as? Double } == [100, 200, 250])
        #expect(lines.map { $0["count"] as? Int } == [100, 100, 50])
        for step in lines {
            #expect(step["name"] as? String == "scale.import")
            #expect((step["transactions"] as? Double ?? 0) >= 1)
            #expect((step["import_peak_rss_bytes"] as? Double ?? 0) > 10_000_000)
            #expect((step["reopen_query_peak_rss_bytes"] as? Double ?? 0) > 10_000_000)
            #expect((step["reopen_query_seconds"] as? Double ?? 0) > 0)
            #expect((step["ledger_bytes"] as? Double ?? 0) > 0 && (step["index_bytes"] as? Double ?? 0) > 0 && (step["log_bytes"] as? Double ?? 0) > 0)
            let perRecord = (step["ledger_bytes"] as? Double ?? 0) + (step["index_bytes"] as? Double ?? 0)
            #expect(abs((step["bytes_per_record"] as? Double ?? 0) - perRecord / (step["records_total"] as? Double ?? 1)) < 1)
        }
        // The folder given is kept and holds every record once.
        let query = try await cli.run(["records", "query", "--limit", "1000", "--data", folder + "/data",
                                       "--user", "bench", "--password", "Bench-Scale-Password-2025"],
                                      environment: ["FORGECHAIN_PASSPHRASE": "Bench-Scale-Keystore-2025"], withData: false)
        let page = try #require(query.data as? [String: Any], "\(query)")
        #expect((page["records"] as? [Any])?.count == 250)
    }
}
