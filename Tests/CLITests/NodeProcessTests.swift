import ChainRuntime
import Foundation
import LedgerCore
import Synchronization
import Testing
@testable import forgechain

/// Nodes as separate processes: `forgechain certs` makes a consortium, four `forgechain node run` processes link
/// over mutual TLS on loopback, commit and agree; a SIGKILLed node's peers notice, and when it restarts it catches
/// up; SIGTERM stops each cleanly.
@Suite(.serialized, .timeLimit(.minutes(3))) struct NodeProcessTests {
    /// Ports reserved until the end of the test that asks (the bench's `ReservedPorts`: bound, not listening, with
    /// SO_REUSEADDR, so no other socket takes one while a node's listener may bind it).
    static func freePorts(_ count: Int) -> [Int] {
        let reserved = ReservedPorts(count)
        held.withLock { $0.append(reserved) }
        return reserved.ports
    }

    /// Reservations kept for the process's life (a few sockets per test).
    static let held = Mutex<[ReservedPorts]>([])

    /// A `forgechain node run` child process.
    final class NodeProcess: @unchecked Sendable {
        let process = Process()
        let socket: String
        init(config: String, socket: String, log: String) throws {
            self.socket = socket
            process.executableURL = ForgeChainProcess.binary
            process.arguments = ["node", "run", "--config", config, "--log-level", "info"]
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
            env["FORGECHAIN_PASSPHRASE"] = ForgeChainProcess.passphrase
            process.environment = env
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        func signal(_ s: Int32) { kill(process.processIdentifier, s) }
        /// Waits for the process to end (polling, so no thread blocks); its exit status, or nil after `seconds`.
        func exitStatus(within seconds: Double) async -> Int32? {
            let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
            while process.isRunning, ContinuousClock.now < end { try? await Task.sleep(for: .milliseconds(20)) }
            return process.isRunning ? nil : process.terminationStatus
        }
    }

    func status(_ socket: String) async -> [String: Any]? {
        try? await NodeControlClient(path: socket).request(["op": "status"])
    }

    /// Polls until `condition` holds over every node's status, for up to 90 s.
    func eventually(_ sockets: [String], _ condition: ([[String: Any]]) -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < end {
            var all = [[String: Any]]()
            for s in sockets { if let answer = await status(s) { all.append(answer) } }
            if all.count == sockets.count, condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    static func agree(_ statuses: [[String: Any]], atLeast height: Int) -> Bool {
        let heights = Set(statuses.compactMap { $0["height"] as? Int }), heads = Set(statuses.compactMap { $0["head"] as? String })
        return heights.count == 1 && heads.count == 1 && (heights.first ?? 0) >= height
    }

    @Test(arguments: ["pbft", "raft", "pos"])
    func fourNodeProcessesOverMutualTLSCommitAgreeAndTakeBackAKilledNode(consensus: String) async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = cli.path("consortium")
        let ports = Self.freePorts(4)
        let made = try await cli.run(["certs", "--nodes", "4", "--out", folder, "--ports", ports.map(String.init).joined(separator: ","),
                                      "--consensus", consensus, "--client-port-offset", "0",
                                      "--executors", "records,access,kv"], withData: false)
        try #require(made.status == 0, "\(made)")
        #expect(FileManager.default.fileExists(atPath: folder + "/ca/ca.pem"))
        let configs = (0..<4).map { "\(folder)/node\($0)/config.json" }
        let sockets = (0..<4).map { "\(folder)/node\($0)/data/node.sock" }
        var nodes = try (0..<4).map { try NodeProcess(config: configs[$0], socket: sockets[$0], log: cli.path("node\($0).log")) }
        defer { for n in nodes where n.process.isRunning { n.signal(SIGKILL) } }

        func logs() -> String {
            (0..<4).map { "node \($0): " + ((try? String(contentsOfFile: cli.path("node\($0).log"), encoding: .utf8)) ?? "").suffix(2_000) }
                .joined(separator: "\n")
        }
        let linked = await eventually(sockets) { all in all.allSatisfy { ($0["peers"] as? [Int])?.count == 3 } }
        #expect(linked, "every node links with the three others\n\(linked ? "" : logs())")

        // Transactions submitted to different nodes commit, and every node holds the same chain.
        var alice = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 9, count: 32)), chainID: 53_1407)
        func submit(_ i: Int, to node: Int) async throws -> [String: Any] {
            let tx = try alice.set(key: Array("lot-\(i)".utf8), value: Array("passed".utf8))
            return try await NodeControlClient(path: sockets[node]).request(["op": "submit", "transaction": Hex.encode(tx.encoded)])
        }
        var top = 0
        for i in 0..<8 {
            let answer = try await submit(i, to: i % 4)
            #expect(answer["committed"] as? Bool == true && answer["status"] as? Int == 0, "\(answer)")
            top = max(top, answer["height"] as? Int ?? 0)
        }
        #expect(await eventually(sockets) { Self.agree($0, atLeast: top) }, "the four nodes agree")

        // A node killed outright: the others notice and go on; restarted, it catches up.
        nodes[3].signal(SIGKILL)
        _ = await nodes[3].exitStatus(within: 10)
        #expect(await eventually(Array(sockets.prefix(3))) { all in all.allSatisfy { !(($0["peers"] as? [Int]) ?? []).contains(3) } },
                "the survivors see node 3 gone")
        for i in 8..<12 {
            let answer = try await submit(i, to: i % 3)
            #expect(answer["committed"] as? Bool == true, "\(answer)")
            top = max(top, answer["height"] as? Int ?? 0)
        }
        nodes[3] = try NodeProcess(config: configs[3], socket: sockets[3], log: cli.path("node3.log"))
        #expect(await eventually(sockets) { Self.agree($0, atLeast: top) }, "the restarted node caught up")

        // The consortium suspends node 2 on chain: every peer cuts it off; reactivated, it links again.
        if consensus == "pbft" {
            let suspended = try await cli.run(["node", "standing", "--consortium", folder, "--node", "2", "--status", "suspended",
                                               "--connect", sockets[0]], withData: false)
            #expect(suspended.status == 0, "\(suspended)")
            #expect(await eventually([sockets[0], sockets[1], sockets[3]]) { all in all.allSatisfy { !(($0["peers"] as? [Int]) ?? []).contains(2) } },
                    "node 2 cut off by every peer")
            let back = try await cli.run(["node", "standing", "--consortium", folder, "--node", "2", "--status", "active", "--connect", sockets[0]],
                                         withData: false)
            #expect(back.status == 0, "\(back)")
            #expect(await eventually(sockets) { all in all.allSatisfy { ($0["peers"] as? [Int])?.count == 3 } }, "node 2 linked again")
        }

        // Node 3 leaves gracefully (N-D-3): out of the validator set at a height, its mempool drained, its standing
        // revoked; stopped, it is not missed: the remaining three (all of them needed by PBFT and PoS) go on.
        let left = try await cli.run(["node", "leave", "--consortium", folder, "--connect", sockets[3], "--timeout", "60"], withData: false)
        #expect(left.status == 0, "\(left)\n\(left.status == 0 ? "" : logs())")
        #expect(await eventually(Array(sockets.prefix(3))) { all in all.allSatisfy { !(($0["peers"] as? [Int]) ?? []).contains(3) } },
                "the others cut the revoked node off")
        nodes[3].signal(SIGTERM)
        #expect(await nodes[3].exitStatus(within: 30) == 0)
        for i in 12..<16 {
            let answer = try await submit(i, to: i % 3)
            #expect(answer["committed"] as? Bool == true, "\(answer)")
            top = max(top, answer["height"] as? Int ?? 0)
        }
        #expect(await eventually(Array(sockets.prefix(3))) { Self.agree($0, atLeast: top) }, "the three remaining agree")
        let consensusView = try await NodeControlClient(path: sockets[0]).request(["op": "consensus"])
        #expect((consensusView["changes"] as? [[String: Any]])?.last?["validators"] as? [Int] == [0, 1, 2])

        // SIGTERM: each node stops cleanly and removes its control socket.
        for n in nodes.prefix(3) { n.signal(SIGTERM) }
        for (i, n) in nodes.enumerated() {
            #expect(await n.exitStatus(within: 30) == 0, "node \(i) exits 0 on SIGTERM")
            #expect(!FileManager.default.fileExists(atPath: sockets[i]))
        }
    }

    @Test func aNodeRefusesAWrongPassphraseAndABrokenConfiguration() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = cli.path("consortium")
        try #require(try await cli.run(["certs", "--nodes", "1", "--out", folder, "--ports", "\(Self.freePorts(1)[0])"], withData: false).status == 0)
        let wrong = try await cli.run(["node", "run", "--config", folder + "/node0/config.json"], environment: ["FORGECHAIN_PASSPHRASE": "not-it"],
                                      withData: false)
        #expect(wrong.status == 1 && wrong.code == 1363, "\(wrong)")
        try Data("{\"node\": 0}".utf8).write(to: URL(fileURLWithPath: folder + "/broken.json"))
        let broken = try await cli.run(["node", "run", "--config", folder + "/broken.json"], withData: false)
        #expect(broken.status == 1 && broken.code == Int(ChainError.Code.invalidNodeConfiguration.rawValue), "\(broken)")
        let again = try await cli.run(["certs", "--nodes", "1", "--out", folder], withData: false)
        #expect(again.status != 0, "an existing consortium folder is never overwritten")
    }

    @Test func certsWritesEachNodesAddressKeysAndCertificate() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = cli.path("consortium")
        let made = try await cli.run(["certs", "--nodes", "3", "--out", folder, "--hosts", "10.0.0.10,10.0.0.11,10.0.0.12",
                                      "--ports", "7400,7401,7402", "--consensus", "raft"], withData: false)
        try #require(made.status == 0, "\(made)")
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/node1/config.json"))) as? [String: Any])
        #expect(config["listen"] as? String == "10.0.0.11:7401")
        #expect(config["peers"] as? [String: String] == ["0": "10.0.0.10:7400", "2": "10.0.0.12:7402"])
        #expect(config["consensus"] as? String == "raft" && (config["validators"] as? [String])?.count == 3)
        let certificate = try X509Certificate(pemRepresentation: try String(contentsOfFile: folder + "/node1/node.pem", encoding: .utf8))
        let ca = try X509Certificate(pemRepresentation: try String(contentsOfFile: folder + "/ca/ca.pem", encoding: .utf8))
        #expect(certificate.commonName == "forgechain-node-1" && certificate.isSigned(by: ca) && ca.isAuthority)
        // The private keys are sealed: no PEM or DER private key anywhere in the folder.
        let keystore = try Keystore(directory: folder + "/node1/data/keystore", passphrase: try Passphrase(ForgeChainProcess.passphrase))
        let tlsKey = try PrivateKey(derRepresentation: try keystore.load("tls").bytesCopy())
        #expect(tlsKey.publicKey.derRepresentation == certificate.publicKeyDER)
        for file in try FileManager.default.subpathsOfDirectory(atPath: folder) {
            let text = (try? String(contentsOfFile: folder + "/" + file, encoding: .utf8)) ?? ""
            #expect(!text.contains("PRIVATE KEY"), "\(file)")
            if let bytes = FileManager.default.contents(atPath: folder + "/" + file) {
                #expect([UInt8](bytes).firstRange(of: tlsKey.derRepresentation) == nil, "\(file)")
            }
        }
    }

    @Test func aClientKilledWithAFullOutboxSendsEverythingExactlyOnceWhenTheNodesAreBack() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = cli.path("consortium")
        let ports = Self.freePorts(8)
        let made = try await cli.run(["certs", "--nodes", "4", "--out", folder, "--ports", ports.prefix(4).map(String.init).joined(separator: ","),
                                      "--client-ports", ports.suffix(4).map(String.init).joined(separator: ","), "--executors", "kv"], withData: false)
        try #require(made.status == 0, "\(made)")
        let clientConfig = folder + "/client/config.json"

        // No node runs: the client queues 1,000 writes durably, then is killed while it waits.
        let sender = Process()
        sender.executableURL = ForgeChainProcess.binary
        sender.arguments = ["client", "send", "--config", clientConfig, "--kv", "1000", "--seed", "5", "--wait", "600"]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
        env["FORGECHAIN_PASSPHRASE"] = ForgeChainProcess.passphrase
        sender.environment = env
        let out = cli.path("sender.out")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        sender.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        sender.standardError = FileHandle.nullDevice
        try sender.run()
        let end = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < end, !((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("\"queued\":1000") {
            try await Task.sleep(for: .milliseconds(20))
        }
        let queued = try String(contentsOfFile: out, encoding: .utf8)
        try #require(queued.contains("\"queued\":1000"), "\(queued)")
        kill(sender.processIdentifier, SIGKILL)
        while sender.isRunning { try await Task.sleep(for: .milliseconds(10)) }

        // The nodes come back; a new client process sends what the outbox holds.
        let configs = (0..<4).map { "\(folder)/node\($0)/config.json" }
        let sockets = (0..<4).map { "\(folder)/node\($0)/data/node.sock" }
        let nodes = try (0..<4).map { try NodeProcess(config: configs[$0], socket: sockets[$0], log: cli.path("node\($0).log")) }
        defer { for n in nodes where n.process.isRunning { n.signal(SIGKILL) } }
        #expect(await eventually(sockets) { all in all.allSatisfy { ($0["peers"] as? [Int])?.count == 3 } })
        let flushed = try await cli.run(["client", "flush", "--config", clientConfig, "--wait", "50"], withData: false)
        #expect(flushed.status == 0, "\(flushed)")
        #expect(flushed.stdout.contains("\"committed\":1000") && flushed.stdout.contains("\"pending\":0") && flushed.stdout.contains("\"refused\":0"),
                "\(flushed)")
        // Exactly once: the sender's nonce advanced by 1,000 on every node.
        let senderKey = try #require(queued.split(separator: "\"").drop { $0 != "sender" }.dropFirst(2).first.map(String.init))
        for socket in sockets {
            var nonce: Int?
            let deadline = ContinuousClock.now + .seconds(60)
            repeat {
                nonce = try await NodeControlClient(path: socket).request(["op": "nonce", "sender": senderKey])["nextNonce"] as? Int
                if nonce == 1_000 { break }
                try await Task.sleep(for: .milliseconds(50))
            } while ContinuousClock.now < deadline
            #expect(nonce == 1_000, "\(socket)")
        }
        for n in nodes { n.signal(SIGTERM) }
        for n in nodes { #expect(await n.exitStatus(within: 30) == 0) }
    }
}
