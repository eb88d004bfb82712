import Foundation
import Testing

/// The receipts of a `records import --receipts` verify with `Scripts/verify_receipts.py`, a verifier that
/// reads only the documented formats (the JSON receipt, the trust anchor, RLP, RFC 6962, the header and
/// certificate encodings), and one altered byte of a receipt's operation makes it refuse that receipt.
struct OfflineVerifierTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let script = repository.appendingPathComponent("Scripts/verify_receipts.py").path

    /// Whether `python3` with the `cryptography` package can run here (checked once).
    static let pythonAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import cryptography"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    @Test func inCIThePythonVerifierIsInstalled() {
        // Locally a machine without python3 or its cryptography package skips the verifier's test (with that
        // reason); CI installs both (.ci/run), so there a missing one is a failure, not a silent skip.
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(Self.pythonAvailable, "CI needs python3 and python3-cryptography for Scripts/verify_receipts.py")
        }
    }

    /// Runs `python3 Scripts/verify_receipts.py RECEIPTS ANCHOR` without blocking a thread of the cooperative pool.
    static func verify(_ receipts: String, anchor: String, in cli: ForgeChainProcess) async throws -> ForgeChainProcess.Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, receipts, anchor]
        let out = cli.path("python-\(UUID().uuidString).out"), err = cli.path("python-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: out)), errHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        defer {
            try? outHandle.close()
            try? errHandle.close()
        }
        process.standardOutput = outHandle
        process.standardError = errHandle
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: .seconds(600))
            kill(pid, SIGTERM)
        }
        for await _ in exited.stream {}
        watchdog.cancel()
        process.waitUntilExit()
        return ForgeChainProcess.Output(status: process.terminationStatus, stdout: try String(contentsOfFile: out, encoding: .utf8),
                                        stderr: try String(contentsOfFile: err, encoding: .utf8))
    }

    @Test(.enabled(if: pythonAvailable, "python3 with the cryptography package is not installed (Debian: python3-cryptography)"))
    func everyReceiptOfA6000RecordImportVerifiesWithThePythonVerifierAndATamperedOneIsRefused() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let count = 6_000
        let csv = cli.path("line-3.csv")
        try Data((ImportResumeTests.header + "\n" + (0..<count).map(ImportResumeTests.row).joined(separator: "\n") + "\n").utf8)
            .write(to: URL(fileURLWithPath: csv))
        let receipts = cli.path("receipts.json"), anchor = cli.data + "/trust-anchor.json"
        // Three batches of 2,000, so that each command stays well inside the runner's 60 s.
        let imported = try await cli.run(["records", "import", csv, "--batch-size", "2000", "--receipts", receipts], credentials: root)
        #expect(imported.status == 0, "\(imported)")

        let verified = try await Self.verify(receipts, anchor: anchor, in: cli)
        #expect(verified.status == 0, "\(verified)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(verified.stdout.utf8)) as? [String: Int], "\(verified)")
        #expect(summary == ["verified": count, "failed": 0])
        // The CLI reads the same file one receipt at a time.
        let cliVerified = try await cli.run(["records", "verify", receipts])
        #expect(cliVerified.status == 0 && (cliVerified.data as? [String: String])?["verified"] == String(count), "\(cliVerified)")

        // Three receipts, the middle one with one hex digit of its operation changed.
        var three = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: receipts))) as? [[String: Any]])
        #expect(three.count == count)
        three = [three[0], three[count / 2], three[count - 1]]
        #expect(three.allSatisfy { ($0["format"] as? Int) == 2 && $0["transaction"] == nil })
        var operation = Array(try #require(three[1]["operation"] as? String))
        operation[operation.count / 2] = operation[operation.count / 2] == "0" ? "1" : "0"
        three[1]["operation"] = String(operation)
        let tampered = cli.path("tampered.json")
        try JSONSerialization.data(withJSONObject: three).write(to: URL(fileURLWithPath: tampered))
        let refused = try await Self.verify(tampered, anchor: anchor, in: cli)
        #expect(refused.status == 1, "\(refused)")
        #expect(try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Int] == ["verified": 2, "failed": 1])
        #expect(refused.stderr.contains("FAIL 2 P-\(count / 2): operation:"), "\(refused.stderr)")
        let cliRefused = try await cli.run(["records", "verify", tampered])
        #expect(cliRefused.status == 1 && cliRefused.details["check"] == "operation", "\(cliRefused)")

        // A receipts file whose framing is broken is refused as such, by both.
        let broken = cli.path("broken.json")
        try Data(#"[{"record_id": "P-1"},"#.utf8).write(to: URL(fileURLWithPath: broken))
        #expect(try await Self.verify(broken, anchor: anchor, in: cli).status == 2)
        let cliBroken = try await cli.run(["records", "verify", broken])
        #expect(cliBroken.status == 1 && cliBroken.details["check"] == "format", "\(cliBroken)")
    }
}
