import Foundation
import Testing

/// `forgechain contract audit` and `forgechain contract compile`, run as a child process on the committed fixtures.
@Suite struct ContractCLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Contracts")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// vyper for the compile tests: FORGECHAIN_VYPER or PATH; in CI (.ci/run installs it) the tests never skip.
    static var vyperPath: String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["FORGECHAIN_VYPER"], FileManager.default.isExecutableFile(atPath: path) { return path }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("vyper").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" && $0 != "0" } ?? false }
    static var compileTestsRun: Bool { inCI || vyperPath != nil }
    static let skipReason: Comment = "vyper is not on PATH (pip install vyper==0.4.3, or FORGECHAIN_VYPER=/path/to/vyper); CI installs it and never skips"

    @Test func auditPrintsTheFindingsAndExitsOneWhenThePolicyRefusesAHighOne() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let output = try await cli.run(["contract", "audit", Self.fixture("Audit/Reentrancy.bin-runtime"),
                                        "--source-map", Self.fixture("Audit/Reentrancy.srcmap-runtime.json")], withData: false)
        #expect(output.status == 1, "\(output)")
        #expect(output.stdout.contains("high   pc "), "\(output)")
        #expect(output.stdout.contains("SSTORE line 18 reentrancy@"), "\(output)")
        #expect(output.stdout.contains("refused: 1 finding(s) at or above high"), "\(output)")
    }

    @Test func auditJSONCarriesTheReportTheDecisionAndHonoursTheAllowList() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let refused = try await cli.run(["contract", "audit", Self.fixture("Audit/Reentrancy.bin-runtime"), "--json"], withData: false)
        #expect(refused.status == 1, "\(refused)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any])
        #expect(object["refused"] as? Bool == true)
        let report = try #require(object["report"] as? [String: Any])
        #expect((report["codeHash"] as? String)?.count == 66)
        let findings = try #require(report["findings"] as? [[String: Any]])
        let reentrancy = try #require(findings.first { $0["kind"] as? String == "reentrancy" })
        #expect(reentrancy["severity"] as? String == "high" && reentrancy["opcode"] as? String == "SSTORE")
        #expect((object["refusingFindings"] as? [String]) == [reentrancy["id"] as? String ?? "-"])

        let allowed = try await cli.run(["contract", "audit", Self.fixture("Audit/Reentrancy.bin-runtime"), "--json",
                                         "--allow", reentrancy["id"] as? String ?? "-"], withData: false)
        #expect(allowed.status == 0, "\(allowed)")
        let decision = try #require(try JSONSerialization.jsonObject(with: Data(allowed.stdout.utf8)) as? [String: Any])
        #expect(decision["refused"] as? Bool == false)
    }

    @Test func theCleanTraceabilityContractPassesAPolicyRefusingMediumFindings() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let output = try await cli.run(["contract", "audit", Self.fixture("Traceability.bin-runtime"), "--fail-on", "medium"], withData: false)
        #expect(output.status == 0, "\(output)")
        #expect(output.stdout.hasPrefix("code hash 0x"), "\(output)")
        #expect(!output.stdout.contains("refused"), "\(output)")
    }

    @Test func unreadableBytecodeExitsTwoWithTheErrorCode() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        try Data("0xzz12".utf8).write(to: URL(fileURLWithPath: cli.path("bad.hex")))
        let bad = try await cli.run(["contract", "audit", cli.path("bad.hex")], withData: false)
        #expect(bad.status == 2, "\(bad)")
        #expect(bad.stderr.contains("error 2360"), "\(bad)")
        let badSeverity = try await cli.run(["contract", "audit", cli.path("bad.hex"), "--fail-on", "severe"], withData: false)
        #expect(badSeverity.status != 0 && badSeverity.stderr.contains("--fail-on"), "\(badSeverity)")
        let noCompiler = try await cli.run(["contract", "compile", Self.fixture("Traceability.vy"), "--compiler", "/nonexistent/vyper"],
                                           withData: false)
        #expect(noCompiler.status == 2 && noCompiler.stderr.contains("error 2350"), "\(noCompiler)")
    }

    @Test(.enabled(if: compileTestsRun, skipReason))
    func compileWritesTheCommittedOutputAndAuditCompilesASourceFirst() async throws {
        let vyper = try #require(Self.vyperPath, "CI must install vyper 0.4.3 (.ci/run)")
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let compiled = try await cli.run(["contract", "compile", Self.fixture("Traceability.vy"), "--compiler", vyper, "--out", cli.path("out")],
                                         withData: false)
        #expect(compiled.status == 0, "\(compiled)")
        let runtime = try String(contentsOfFile: cli.path("out/Traceability.bin-runtime"), encoding: .utf8)
        let committed = try String(contentsOfFile: Self.fixture("Traceability.bin-runtime"), encoding: .utf8)
        #expect(runtime.trimmingCharacters(in: .whitespacesAndNewlines) == committed.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(FileManager.default.fileExists(atPath: cli.path("out/Traceability.abi.json")))
        #expect(FileManager.default.fileExists(atPath: cli.path("out/Traceability.srcmap-runtime.json")))

        let printed = try await cli.run(["contract", "compile", Self.fixture("Audit/TxOrigin.vy"), "--compiler", vyper], withData: false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any], "\(printed)")
        #expect(object["name"] as? String == "TxOrigin")
        #expect((object["runtimeBytecode"] as? String)?.hasPrefix("0x5f") == true)

        let audited = try await cli.run(["contract", "audit", Self.fixture("Audit/TxOrigin.vy"), "--compiler", vyper, "--fail-on", "medium"],
                                        withData: false)
        #expect(audited.status == 1, "\(audited)")
        #expect(audited.stdout.contains("ORIGIN line 15 tx-origin-authorisation@"), "\(audited)")
    }
}
