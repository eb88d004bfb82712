@testable import AppAPI
import ChainRuntime
import Foundation
import LedgerCore
import Net
import Testing

/// A platform folder served by `forgechain platform run`: while it holds the folder, the operator commands run on
/// the same folder talk to it over `DATA/node.sock` (a local open would fail with 1520), print what they print on a
/// folder they open themselves, and check credentials the same way. A `forgechain node run` process with the records
/// executor answers record queries from a `ForgeChainClient` over its mutual-TLS client endpoint.
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
        let reindex = try await cli.run(["records", "reindex"], credentials: root)
        #expect(reindex.status == 1 && reindex.code == 1520, "\(reindex)")

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

        let updated = try await cli.run(["records", "update", "P-2025-0201", "--set", "propara.pro_temperature=72.5", "--expect-version", "1"],
                                        credentials: root)
        #expect(updated.status == 0 && (updated.data as? [String: Any])?["version"] as? Int == 2, "\(updated)")
        let conflict = try await cli.run(["records", "update", "P-2025-0201", "--set", "propara.pro_temperature=73", "--expect-version", "1"],
                                         credentials: root)
        #expect(conflict.status == 1 && conflict.code == 5301, "\(conflict)")
        let history = try await cli.run(["records", "history", "P-2025-0201"], credentials: root)
        #expect(history.status == 0 && ((history.data as? [[String: Any]]) ?? []).compactMap { $0["version"] as? Int } == [1, 2], "\(history)")

        let created = try await cli.run(["admin", "create", "viewer1", "--role", "viewer", "--new-password", "Viewer-Password-41"],
                                        credentials: root)
        #expect(created.status == 0 && (created.data as? [String: Any])?["user"] as? String == "viewer1", "\(created)")
        let passwd = try await cli.run(["admin", "passwd", "viewer1", "--new-password", "Viewer-Password-42"], credentials: root)
        #expect(passwd.status == 0, "\(passwd)")
        let viewerQuery = try await cli.run(["records", "query"], credentials: ("viewer1", "Viewer-Password-42"))
        #expect(viewerQuery.status == 0 && records(viewerQuery).count == 2, "\(viewerQuery)")
        let disabled = try await cli.run(["admin", "disable", "viewer1"], credentials: root)
        #expect(disabled.status == 0 && (disabled.data as? [String: Any])?["enabled"] as? Bool == false, "\(disabled)")
        let disabledLogin = try await cli.run(["records", "query"], credentials: ("viewer1", "Viewer-Password-42"))
        #expect(disabledLogin.status == 1 && disabledLogin.code == 5401, "\(disabledLogin)")
        let list = try await cli.run(["admin", "list"], credentials: root)
        let users = ((list.data as? [[String: Any]]) ?? []).compactMap { $0["user"] as? String }
        #expect(list.status == 0 && users.sorted() == ["root", "viewer1"], "\(list)")
        let deleted = try await cli.run(["admin", "delete", "viewer1"], credentials: root)
        #expect(deleted.status == 0, "\(deleted)")
        let after = try await cli.run(["admin", "list"], credentials: root)
        #expect(((after.data as? [[String: Any]]) ?? []).compactMap { $0["user"] as? String } == ["root"], "\(after)")

        // Credentials are checked as on a folder opened here.
        let wrong = try await cli.run(["records", "query"], credentials: (root.0, "Not-The-Password-1"))
        #expect(wrong.status == 1 && wrong.code == 5401, "\(wrong)")
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

    @Test func aKilledPlatformsStaleSocketDoesNotStopTheCommandsFromOpeningTheFolder() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let server = try PlatformProcess(data: cli.data, log: cli.path("platform.log"))
        defer { if server.process.isRunning { server.signal(SIGKILL) } }
        let socket = cli.data + "/node.sock"
        try #require(await served(socket))
        server.signal(SIGKILL)
        _ = await server.exitStatus(within: 30)
        #expect(FileManager.default.fileExists(atPath: socket), "a killed process leaves its socket file")
        let list = try await cli.run(["admin", "list"], credentials: root)
        #expect(list.status == 0 && ((list.data as? [[String: Any]]) ?? []).count == 1, "\(list)")
        let info = try await cli.run(["ledger", "info", cli.data], withData: false)
        #expect(info.status == 0 && info.stdout.contains("head height"), "\(info)")
    }

    @Test func aNodeProcessAnswersRecordQueriesSignedByAChainAccountOverMutualTLS() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = cli.path("consortium")
        let ports = NodeProcessTests.freePorts(2)
        let made = try await cli.run(["certs", "--nodes", "1", "--out", folder, "--ports", "\(ports[0])", "--client-ports", "\(ports[1])",
                                      "--consensus", "raft", "--executors", "records,access"], withData: false)
        try #require(made.status == 0, "\(made)")
        let data = folder + "/node0/data", socket = data + "/node.sock"
        let node = try NodeProcessTests.NodeProcess(config: folder + "/node0/config.json", socket: socket, log: cli.path("node0.log"))
        defer { if node.process.isRunning { node.signal(SIGKILL) } }
        let log = { (try? String(contentsOfFile: cli.path("node0.log"), encoding: .utf8)) ?? "" }
        var up = false
        for _ in 0..<600 where !up {
            up = (try? await NodeControlClient(path: socket).request(["op": "status"], timeout: .seconds(5)))?["ok"] as? Bool == true
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(up, "the node serves its socket\n\(log())")

        // The consortium's genesis key registers an operator of F-KM-02, whose key uploads the sample records.
        let passphrase = try Passphrase(ForgeChainProcess.passphrase)
        let genesisKey = try PrivateKey(scheme: .ed25519,
                                        rawRepresentation: try Keystore(directory: folder + "/ca/keystore", passphrase: passphrase).load("genesis").bytesCopy())
        let chainID: UInt64 = 53_1407
        var founder = SigningAccount(key: genesisKey, chainID: chainID)
        var alice = SigningAccount(key: try .generate(.ed25519), chainID: chainID)
        func submit(_ tx: Transaction) async throws {
            let answer = try await NodeControlClient(path: socket).request(["op": "submit", "transaction": Hex.encode(tx.encoded)])
            #expect(answer["committed"] as? Bool == true && answer["status"] as? Int == 0, "\(answer)")
        }
        try await submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .putAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true), .addKey(user: "alice", key: alice.key.publicKey)])))
        let csv = ForgeChainProcess.samples.appendingPathComponent("production-records.csv").path
        let samples = try #require(try CSVRecordStream(path: csv, kind: .production).next(100)).records.map(\.record)
        try await submit(try alice.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body(samples.map {
            RecordOperation(kind: .create, recordID: $0.recordID, version: 1, recordBytes: $0.canonicalEncoding, digest: $0.digest(), uploader: "alice")
        })))

        // A client with the consortium's client certificate queries the node.
        let keystore = try Keystore(directory: folder + "/client/keystore", passphrase: passphrase)
        func certificate(_ path: String) throws -> X509Certificate {
            try X509Certificate(pemRepresentation: try String(contentsOfFile: path, encoding: .utf8))
        }
        var configuration = ForgeChainClient.Configuration(nodes: [.init(id: 0, host: "127.0.0.1", port: ports[1])], outboxPath: cli.path("outbox.sqlite"))
        configuration.tls = TCPTransport.TLS(authority: try certificate(folder + "/ca/ca.pem"), certificate: try certificate(folder + "/client/client.pem"),
                                             key: try PrivateKey(derRepresentation: try keystore.load("tls").bytesCopy()))
        let client = try await ForgeChainClient.open(configuration)
        let page = try await client.queryRecords(RecordQuery(batchNumber: "B-19", includeProofs: true), signedBy: alice.key, chainID: chainID)
        #expect(page.records.map(\.recordID) == samples.map(\.recordID), "\(page.records.map(\.recordID))")
        #expect(page.records.allSatisfy { $0.uploader == "alice" && $0.proof != nil })
        let stranger = await #expect(throws: AppError.self) {
            _ = try await client.queryRecords(RecordQuery(), signedBy: try PrivateKey.generate(.ed25519), chainID: chainID)
        }
        #expect(stranger?.code == .signerNotRegistered)
        await client.close()

        // On the node's folder, the platform commands say the process serving it is a bare node; ledger info asks it.
        let refused = try await cli.run(["records", "query", "--data", data], credentials: ("root", "Correct-Horse-Battery-9"), withData: false)
        #expect(refused.status == 1 && refused.code == 5432, "\(refused)")
        // The node may commit (an empty block) meanwhile: the head ledger info reports lies between two status reads.
        let before = try await NodeControlClient(path: socket).request(["op": "status"])["height"] as? Int ?? -1
        let info = try await cli.run(["ledger", "info", data], withData: false)
        let after = try await NodeControlClient(path: socket).request(["op": "status"])["height"] as? Int ?? -1
        let reported = info.stdout.split(separator: "\n").first { $0.hasPrefix("head height ") }.flatMap { Int($0.dropFirst("head height ".count)) }
        #expect(info.status == 0 && reported.map { (before...after).contains($0) } == true, "\(before)...\(after): \(info)")

        node.signal(SIGTERM)
        #expect(await node.exitStatus(within: 30) == 0, "\(log())")
        #expect(FileManager.default.fileExists(atPath: data + "/records-index.sqlite"), "the node keeps its record index in its folder")
    }
}
