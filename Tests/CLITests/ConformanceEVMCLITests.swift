import Foundation
import Testing

/// `forgechain conformance evm DIR` on a folder holding one fixture copied from the conformance set (passes)
/// and an altered copy of it (reported as failed, exit status 1).
@Suite struct ConformanceEVMCLITests {
    /// ../shared/conformance/evm, or under `FORGECHAIN_CONFORMANCE_DIR`.
    static let fixtures: URL = {
        if let override = ProcessInfo.processInfo.environment["FORGECHAIN_CONFORMANCE_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override).appendingPathComponent("evm")
        }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/conformance/evm")
    }()

    static let source = "legacytests/Constantinople/VMTests/vmArithmeticTest/add0.json"

    /// Present; absent on a developer's machine skips; absent in CI fails.
    static var fixturesPresent: Bool {
        get throws {
            if FileManager.default.fileExists(atPath: fixtures.appendingPathComponent(source).path) { return true }
            let ci = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" && $0 != "0" } ?? false
            if ci { throw Missing() }
            return false
        }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String { "the EVM fixtures are required in CI: \(ConformanceEVMCLITests.fixtures.path) is absent" }
    }

    @Test(.enabled { try fixturesPresent }) func aCopiedFixturePassesAndAnAlteredOneFails() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = URL(fileURLWithPath: cli.path("fixtures"))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let original = try String(contentsOf: Self.fixtures.appendingPathComponent(Self.source), encoding: .utf8)
        try original.write(to: folder.appendingPathComponent("add0.json"), atomically: true, encoding: .utf8)

        let passing = try await cli.run(["conformance", "evm", folder.path], withData: false)
        #expect(passing.status == 0, "\(passing)")
        #expect(passing.stdout.contains("1 passed, 0 failed"), "\(passing)")

        // The expected storage value of add0 (2^256 - 2) changed to 2^256 - 3: the runner must notice.
        let expected = "0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe"
        #expect(original.contains("\"0x00\" : \"\(expected)\"") || original.contains("\"0x00\": \"\(expected)\""))
        let altered = original.replacingOccurrences(of: ": \"\(expected)\"", with: ": \"0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd\"")
        #expect(altered != original)
        let sub = folder.appendingPathComponent("altered")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try altered.write(to: sub.appendingPathComponent("add0.json"), atomically: true, encoding: .utf8)

        let failing = try await cli.run(["conformance", "evm", folder.path], withData: false)
        #expect(failing.status == 1, "\(failing)")
        #expect(failing.stdout.contains("1 passed, 1 failed"), "\(failing)")
        #expect(failing.stdout.contains("FAIL vm altered/add0"), "\(failing)")
        #expect(failing.stdout.contains("slot 0x"), "\(failing)")

        let missing = try await cli.run(["conformance", "evm", cli.path("absent")], withData: false)
        #expect(missing.status == 2, "\(missing)")
    }
}
