import Foundation
import Testing

/// `forgechain bench evm`: the three workloads in the bench JSON form (count = gas), and their bytecode written for
/// Scripts/bench-evm.py.
@Suite struct BenchEVMTests {
    @Test func benchEVMReportsGasPerSecondForEachWorkloadAndWritesTheirBytecode() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let path = cli.path("workloads.json")
        let out = try await cli.run(["bench", "evm", "--json", "--scale", "0.002", "--runs", "1", "--workloads-out", path], withData: false)
        try #require(out.status == 0, "\(out)")
        let lines = out.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.map { $0["name"] as? String } == ["evm.arithmetic", "evm.memory", "evm.storage"])
        for line in lines {
            #expect((line["count"] as? Int ?? 0) > 100_000 && (line["ops_per_sec"] as? Double ?? 0) > 0, "\(line)")
        }
        let workloads = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [[String: String]])
        #expect(workloads.map { $0["name"] } == ["evm.arithmetic", "evm.memory", "evm.storage"])
        #expect(workloads.allSatisfy { ($0["code"]?.count ?? 0) > 20 && $0["gas_limit"] != nil })
    }
}
