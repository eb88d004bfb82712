import Foundation
import Testing

/// Runs the real `forgechain` binary (built beside the test bundle) as a child
/// process on one data folder, the way an operator would.
struct ForgeChainProcess {
    /// The binary: SwiftPM builds it because `CLITests` depends on the `forgechain` target.
    static var binary: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("forgechain")
    }

    /// The sample inputs in `Examples/data`.
    /// The keystore passphrase every spawned command gets (FORGECHAIN_PASSPHRASE).
    static let passphrase = "CLI-Test-Keystore-Passphrase"
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Examples/data")

    /// What one run printed and how it ended.
    struct Output: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String

        /// The envelope the command printed: on standard output when it succeeded, else on standard error.
        var envelope: [String: Any]? {
            for text in [stdout, stderr] {
                if let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                    return object
                }
            }
            return nil
        }

        var code: Int? { (envelope?["code"] as? NSNumber)?.intValue }
        var message: String { envelope?["message"] as? String ?? "" }
        var details: [String: String] { envelope?["details"] as? [String: String] ?? [:] }
        var data: Any? { envelope?["data"] }

        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    let directory: URL

    /// A fresh data folder under the temporary directory (removed by ``remove()``).
    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var data: String { directory.appendingPathComponent("data").path }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Runs `forgechain ARGS --data DIR [credentials]`; no FORGECHAIN_* variable leaks in from the test's own environment.
    /// - Parameters:
    ///   - credentials: Optional `(user, password)` passed as `--user`/`--password`.
    ///   - environment: Extra variables (for example FORGECHAIN_USER).
    ///   - withData: Whether to pass `--data` (every command but `records verify --anchor`).
    /// - Note: Waits for the child without blocking a thread: the tests run on the cooperative pool, and tests
    ///   that block its few threads starve every other test's tasks (a platform's node among them).
    func run(_ arguments: [String], credentials: (String, String)? = nil, otp: String? = nil, environment: [String: String] = [:],
             withData: Bool = true) async throws -> Output {
        var args = arguments
        if withData { args += ["--data", data] }
        if let (user, password) = credentials { args += ["--user", user, "--password", password] }
        if let otp { args += ["--otp", otp] }
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = args
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
        env["FORGECHAIN_PASSPHRASE"] = Self.passphrase
        env.merge(environment) { _, new in new }
        process.environment = env
        // Files, not pipes: a large query must not block on a full pipe buffer.
        let out = directory.appendingPathComponent("stdout-\(UUID().uuidString)")
        let err = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        defer {
            try? outHandle.close()
            try? errHandle.close()
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in exited.continuation.finish() }
        try process.run()
        let pid = process.processIdentifier
        let watchdog = Task {
            try await Task.sleep(for: .seconds(60))
            kill(pid, SIGTERM)
        }
        for await _ in exited.stream {}
        watchdog.cancel()
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM {
            Issue.record("forgechain \(arguments.joined(separator: " ")) ran for more than 60 s")
        }
        return Output(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                      stderr: try String(contentsOf: err, encoding: .utf8))
    }

    /// Creates the first super-admin without credentials (bootstrap) and returns its credentials.
    @discardableResult
    func bootstrap(user: String = "root", password: String = "Correct-Horse-Battery-9") async throws -> (String, String) {
        let out = try await run(["admin", "create", user, "--role", "super-admin", "--new-password", password])
        #expect(out.status == 0, "\(out)")
        return (user, password)
    }
}
