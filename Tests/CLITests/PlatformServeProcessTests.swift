import ChainRuntime
import Foundation
import LedgerCore
import Testing

/// A platform folder served by `forgechain platform run`: while it holds the folder, the operator commands run on
/// the same folder talk to it over `DATA/node.sock` (a local open would fail with 1520), print what they print on a
/// folder they open themselves, and check credentials the same way.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PlatformServeProcessTests {
    /// A `forgechain platform run` child process.
    final class PlatformProcess: @unchecked Sendable {
        let process = Process()
        init(data: String, log: String) throws {
            process.executableURL = ForgeChainProcess.binary
            process.arguments = ["platform", "run", "--data", data, "--log-level", "info"]
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
            env["FORGECHAIN_PASSPHRASE"] = ForgeChainProcess.passphrase
            process.environment = env
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        func signal(_ s: Int32) { kill(process.processIdentifier, s) }
        func exitStatus(within seconds: Int) async -> Int32? {
            let end = ContinuousClock.now + .seconds(seconds)
            while process.isRunning, ContinuousClock.now < end { try? await Task.sleep(for: .milliseconds(20)) }
            return process.isRunning ? nil : process.terminationStatus
        }
    }

    /// Polls the socket until the platform answers, for up to 60 s.
    func served(_ socket: String) async -> Bool {
        let end = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < end {
            if let answer = try? await NodeControlClient(path: socket).request(["op": "platform.hello"], timeout: .seconds(5)),
               answer["ok"] as? Bool == true { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func records(_ output: ForgeChainProcess.Output) -> [[String: Any]] {
        ((output.data as? [String: Any])?["records"] as? [[String: Any]]) ?? []
    }

    @Test func recordsAdminAndLedgerCommandsOnAServedFolderGoThroughItsSocket() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let csv = ForgeChainProcess.samples.appendingPathComponent("production-records.csv").path
        let server = try PlatformProcess(data: cli.data, log: cli.path("platform.log"))
        defer { if server.process.isRunning { server.signal(SIGKILL) } }
        let socket = cli.data + "/node.sock"
        let log = { (try? String(contentsOfFile: cli.path("platform.log"), encoding: .utf8)) ?? "" }
        try #require(await served(socket), "the platform serves its socket\n\(log())")
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        // The folder is held: a command that does not go through the socket still fails on the lock.
        let history = try await cli.run(["records", "history", "P-2025-0201"], credentials: root)
        #expect(history.status == 1 && history.code == 1520, "\(history)")

        let imported = try await cli.run(["records", "import", csv], credentials: root)
        #expect(imported.status == 0, "\(imported)\n\(log())")
        let summary = imported.data as? [String: Any]
        #expect(summary?["uploaded"] as? Int == 2 && summary?["already_on_chain"] as? Int == 0, "\(imported)")
        let again = try await cli.run(["records", "import", csv], credentials: root)
        #expect(again.status == 0 && (again.data as? [String: Any])?["already_on_chain"] as? Int == 2, "\(again)")

        let query = try await cli.run(["records", "query", "--batch", "B-19"], credentials: root)
        #expect(query.status == 0, "\(query)")
        #expect(records(query).compactMap { $0["record_id"] as? String }.sorted() == ["P-2025-0201", "P-2025-0202"], "\(query)")
        let table = try await cli.run(["records", "query", "--format", "table"], credentials: root)
        #expect(table.status == 0 && table.stdout.contains("2 record(s)"), "\(table)")

        let created = try await cli.run(["admin", "create", "viewer1", "--role", "viewer", "--new-password", "Viewer-Password-42"],
                                        credentials: root)
        #expect(created.status == 0 && (created.data as? [String: Any])?["user"] as? String == "viewer1", "\(created)")
        let viewerQuery = try await cli.run(["records", "query"], credentials: ("viewer1", "Viewer-Password-42"))
        #expect(viewerQuery.status == 0 && records(viewerQuery).count == 2, "\(viewerQuery)")
        let disabled = try await cli.run(["admin", "disable", "viewer1"], credentials: root)
        #expect(disabled.status == 0 && (disabled.data as? [String: Any])?["enabled"] as? Bool == false, "\(disabled)")
        let list = try await cli.run(["admin", "list"], credentials: root)
        let users = ((list.data as? [[String: Any]]) ?? []).compactMap { $0["user"] as? String }
        #expect(list.status == 0 && users.sorted() == ["root", "viewer1"], "\(list)")

        // Credentials are checked as on a folder opened here.
        let wrong = try await cli.run(["records", "query"], credentials: (root.0, "Not-The-Password-1"))
        #expect(wrong.status == 1 && wrong.code == 5401, "\(wrong)")
        let disabledLogin = try await cli.run(["admin", "list"], credentials: ("viewer1", "Viewer-Password-42"))
        #expect(disabledLogin.status == 1 && disabledLogin.code == 5401, "\(disabledLogin)")
        let unauthorised = try await cli.run(["records", "import", csv])
        #expect(unauthorised.status == 1 && unauthorised.code == 5401, "\(unauthorised)")

        let status = try await NodeControlClient(path: socket).request(["op": "status"])
        let info = try await cli.run(["ledger", "info", cli.data], withData: false)
        #expect(info.status == 0 && info.stdout.contains("head height \(status["height"] as? Int ?? -1)\n"), "\(info)\n\(status)")
        #expect(info.stdout.contains("head hash \(status["head"] as? String ?? "?")"), "\(info)")

        // Stopped, the platform releases the folder: the same commands open it and see the same records.
        server.signal(SIGTERM)
        #expect(await server.exitStatus(within: 30) == 0, "\(log())")
        #expect(!FileManager.default.fileExists(atPath: socket))
        let local = try await cli.run(["records", "query", "--batch", "B-19"], credentials: root)
        #expect(local.status == 0 && records(local).count == 2, "\(local)")
        let localInfo = try await cli.run(["ledger", "info", cli.data], withData: false)
        // The same lines whether served or opened here (the file's size aside: closing merges the write-ahead log).
        #expect(localInfo.stdout.split(separator: "\n").dropFirst() == info.stdout.split(separator: "\n").dropFirst(), "\(localInfo)\n\(info)")
    }
}
