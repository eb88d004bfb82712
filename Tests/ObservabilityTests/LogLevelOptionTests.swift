import Foundation
import Testing

/// The CLI's global `--log-level`: records go to standard error at the chosen level, standard output keeps
/// only the command's envelope, and a bad level is a usage error.
@Suite struct LogLevelOptionTests {
    static var binary: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("forgechain")
    }

    /// Runs `forgechain` with `arguments` and returns (status, stdout, stderr); waits without blocking a thread.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, out: String, err: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-loglevel-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out"), err = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        defer {
            try? outHandle.close()
            try? errHandle.close()
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
        env["FORGECHAIN_PASSPHRASE"] = "log-level-test-keystore"
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        for await _ in exited.stream {}
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    static func envelopeCode(_ text: String) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        return (object["code"] as? NSNumber)?.intValue
    }

    @Test func logRecordsGoToStandardErrorAtTheChosenLevelAndNeverTheSecrets() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-loglevel-data-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let password = "Cli-Secret-Pw-0b5e"
        let created = try await Self.run(["--log-level", "info", "admin", "create", "root", "--role", "super-admin",
                                          "--new-password", password, "--data", data])
        #expect(created.status == 0 && Self.envelopeCode(created.out) == 0, "stdout holds only the envelope: \(created)")
        #expect(created.err.contains("info forgechain.node:") && created.err.contains("node started"), "\(created.err)")
        #expect(created.err.contains("administrator created"), "\(created.err)")

        let refused = try await Self.run(["admin", "list", "--data", data, "--user", "root", "--password", "Wrong-\(password)",
                                          "--log-level=notice"])
        #expect(refused.status != 0 && refused.err.contains("notice forgechain.identity:") && refused.err.contains("login refused"))
        #expect(!refused.err.contains("node started"), "info records are below notice")

        let quiet = try await Self.run(["admin", "list", "--data", data, "--user", "root", "--password", password])
        #expect(quiet.status == 0 && Self.envelopeCode(quiet.out) == 0 && quiet.err.isEmpty, "default level warning: \(quiet.err)")

        let verbose = try await Self.run(["admin", "list", "--data", data, "--user", "root", "--password", password],
                                         environment: ["FORGECHAIN_LOG_LEVEL": "debug"])
        #expect(verbose.status == 0 && verbose.err.contains("login succeeded"), "FORGECHAIN_LOG_LEVEL applies without the flag")
        for run in [created, refused, quiet, verbose] {
            #expect(!run.err.contains(password), "the password reached the log: \(run.err)")
        }
    }

    @Test func anUnknownLevelIsAUsageError() async throws {
        let bad = try await Self.run(["--log-level", "loud", "ledger", "info", "/nonexistent/ledger.sqlite"])
        #expect(bad.status == 64 && bad.err.contains("'loud' is invalid for '--log-level <level>'"), "\(bad)")
        let missing = try await Self.run(["ledger", "info", "/nonexistent/ledger.sqlite", "--log-level"])
        #expect(missing.status == 64 && missing.err.contains("Missing value for '--log-level <level>'"), "\(missing)")
    }
}
