import ChainRuntime
import Foundation
import LedgerCore
import Synchronization
import Testing

/// Four `forgechain node run` processes, each in its own network namespace (`ip netns`) with a veth pair to a
/// bridge in a hub namespace, PBFT over mutual TLS, every node given one seed and learning the rest (N-T-3).
/// Faults come from Debian's `iptables` inside the namespaces (the kernel has no `netem`): one node cut off, then
/// the primary of view 0, then a partition between nodes 0 and 3 alone (their messages go through 1 and 2) under
/// 10% random loss on every node; after healing, every node holds every transaction whose receipt said committed,
/// and all heads agree.
///
/// Runs only as root, outside CI, where `ip netns add` and `iptables` work; elsewhere it is skipped and the reason
/// printed. Never touches the host's interfaces: everything lives in namespaces named for this run, removed at the
/// end whatever happens.
@Suite(.serialized, .timeLimit(.minutes(6))) struct NetnsClusterTests {
    /// Why the test cannot run here, or nil.
    static let unavailable: String? = {
        let reason = probe()
        if let reason { print("NetnsClusterTests skipped: \(reason)") }
        return reason
    }()

    static func probe() -> String? {
        if ProcessInfo.processInfo.environment["CI"] != nil { return "the CI variable is set (never runs in CI)" }
        if geteuid() != 0 { return "not root (network namespaces need it)" }
        guard let ip = tool("ip") else { return "no `ip` command" }
        guard tool("iptables") != nil else { return "no `iptables` (apt-get install iptables)" }
        let name = "fcprobe-\(getpid())"
        guard runNow(ip, ["netns", "add", name]) == 0 else { return "`ip netns add` fails here" }
        defer { _ = runNow(ip, ["netns", "del", name]) }
        guard runNow(ip, ["netns", "exec", name, tool("iptables")!, "-S"]) == 0 else { return "`iptables` does not work inside a namespace" }
        return nil
    }

    static func tool(_ name: String) -> String? {
        ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a short command to its end (only in the one-time probe, before any test task runs).
    static func runNow(_ executable: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// The namespaces of one run and the commands that shape their network.
    final class Lab: @unchecked Sendable {
        let id = String(UInt32.random(in: 0..<UInt32.max), radix: 16)
        let ip = NetnsClusterTests.tool("ip")!
        let iptables = NetnsClusterTests.tool("iptables")!
        var hub: String { "fch-\(id)" }
        func namespace(_ i: Int) -> String { "fcn\(i)-\(id)" }
        func address(_ i: Int) -> String { "10.53.0.\(i + 1)" }
        var created: [String] = []

        /// Runs a command without blocking a thread; fails the test when it fails.
        @discardableResult
        func run(_ executable: String, _ arguments: [String], mustSucceed: Bool = true) async -> Int32 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = arguments
            p.standardOutput = FileHandle.nullDevice
            let err = Pipe()
            p.standardError = err
            let exited = AsyncStream<Void>.makeStream()
            p.terminationHandler = { _ in exited.continuation.finish() }
            do { try p.run() } catch {
                Issue.record("\(executable) did not start: \(error)")
                return -1
            }
            for await _ in exited.stream {}
            p.waitUntilExit()
            if mustSucceed, p.terminationStatus != 0 {
                let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                Issue.record("\(executable) \(arguments.joined(separator: " ")) exited \(p.terminationStatus): \(text)")
            }
            return p.terminationStatus
        }

        /// The hub with a bridge, and per node a namespace joined to it by a veth pair (created inside the
        /// namespaces, never in the host's).
        func build(nodes: Int) async {
            await run(ip, ["netns", "add", hub])
            created.append(hub)
            await run(ip, ["-n", hub, "link", "add", "br0", "type", "bridge"])
            await run(ip, ["-n", hub, "link", "set", "br0", "up"])
            for i in 0..<nodes {
                let ns = namespace(i)
                await run(ip, ["netns", "add", ns])
                created.append(ns)
                await run(ip, ["-n", hub, "link", "add", "p\(i)", "type", "veth", "peer", "name", "eth0", "netns", ns])
                await run(ip, ["-n", hub, "link", "set", "p\(i)", "master", "br0"])
                await run(ip, ["-n", hub, "link", "set", "p\(i)", "up"])
                await run(ip, ["-n", ns, "addr", "add", address(i) + "/24", "dev", "eth0"])
                await run(ip, ["-n", ns, "link", "set", "eth0", "up"])
                await run(ip, ["-n", ns, "link", "set", "lo", "up"])
            }
        }

        func iptables(_ i: Int, _ rule: [String]) async {
            await run(ip, ["netns", "exec", namespace(i), iptables] + rule)
        }

        /// Node `i` loses every packet on its link to the bridge.
        func cut(_ i: Int) async {
            await iptables(i, ["-A", "INPUT", "-i", "eth0", "-j", "DROP"])
            await iptables(i, ["-A", "OUTPUT", "-o", "eth0", "-j", "DROP"])
        }

        /// Nodes `a` and `b` lose every packet between them (each drops the other's).
        func partition(_ a: Int, _ b: Int) async {
            for (x, y) in [(a, b), (b, a)] {
                await iptables(x, ["-A", "INPUT", "-s", address(y), "-j", "DROP"])
                await iptables(x, ["-A", "OUTPUT", "-d", address(y), "-j", "DROP"])
            }
        }

        /// Node `i` drops incoming packets at random.
        func loss(_ i: Int, probability: Double) async {
            await iptables(i, ["-A", "INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random", "--probability", "\(probability)", "-j", "DROP"])
        }

        func heal(_ i: Int) async {
            await iptables(i, ["-F"])
        }

        /// Removes every namespace of the run (the veths and the bridge go with them).
        func tearDown() async {
            for ns in created.reversed() { await run(ip, ["netns", "del", ns], mustSucceed: false) }
            created = []
        }
    }

    /// `forgechain node run` inside a namespace.
    final class NodeProcess: @unchecked Sendable {
        let process = Process()
        init(namespace: String, ip: String, config: String, log: String) throws {
            process.executableURL = URL(fileURLWithPath: ip)
            // `ip netns exec` execs the node: the process is the node itself.
            process.arguments = ["netns", "exec", namespace, ForgeChainProcess.binary.path, "node", "run", "--config", config, "--log-level", "info"]
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
    }

    func status(_ socket: String) async -> [String: Any]? {
        try? await NodeControlClient(path: socket).request(["op": "status"], timeout: .seconds(5))
    }

    func eventually(_ sockets: [String], seconds: Int = 90, _ condition: ([[String: Any]]) -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < end {
            var all = [[String: Any]]()
            for s in sockets { if let answer = await status(s) { all.append(answer) } }
            if all.count == sockets.count, condition(all) { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    @Test(.enabled(if: NetnsClusterTests.unavailable == nil, "needs root, no CI, `ip netns` and `iptables`"))
    func fourNodesInNamespacesSurviveCutsAPrimaryFailureAPartitionAndLossWithoutLosingAcknowledgedTransactions() async throws {
        let lab = Lab()
        let cli = try ForgeChainProcess()
        var nodes = [NodeProcess]()
        defer {
            for n in nodes where n.process.isRunning { n.signal(SIGKILL) }
            // Namespaces are removed even when the test fails part way (a synchronous wait: the test is over).
            for ns in lab.created.reversed() { _ = NetnsClusterTests.runNow(lab.ip, ["netns", "del", ns]) }
            cli.remove()
        }
        await lab.build(nodes: 4)
        let folder = cli.path("consortium")
        let made = try await cli.run(["certs", "--nodes", "4", "--out", folder, "--hosts", (0..<4).map(lab.address).joined(separator: ","),
                                      "--ports", "7400,7400,7400,7400", "--consensus", "pbft", "--client-port-offset", "0",
                                      "--executors", "records,access,kv"], withData: false)
        try #require(made.status == 0, "\(made)")
        // One seed each instead of the full peer list: node 0 is given node 1, the others node 0.
        for i in 0..<4 {
            let path = "\(folder)/node\(i)/config.json"
            var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            config["peers"] = [String: String]()
            config["seeds"] = ["\(lab.address(i == 0 ? 1 : 0)):7400"]
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
        }
        let sockets = (0..<4).map { "\(folder)/node\($0)/data/node.sock" }
        for i in 0..<4 {
            nodes.append(try NodeProcess(namespace: lab.namespace(i), ip: lab.ip, config: "\(folder)/node\(i)/config.json", log: cli.path("node\(i).log")))
        }
        func logs() -> String {
            (0..<4).map { "node \($0): " + ((try? String(contentsOfFile: cli.path("node\($0).log"), encoding: .utf8)) ?? "").suffix(3_000) }
                .joined(separator: "\n")
        }
        let linked = await eventually(sockets) { all in all.allSatisfy { ($0["peers"] as? [Int])?.count == 3 } }
        try #require(linked, "every node finds and links with the three others from one seed\n\(linked ? "" : logs())")

        // Each transaction from its own account (nonce 0): one that is lost to a fault holds up no other.
        var acknowledged = [String]()
        var next = 0
        func submit(to targets: [Int], count: Int) async {
            for k in 0..<count {
                next += 1
                let key = try? PrivateKey(scheme: .ed25519, rawRepresentation: (0..<32).map { UInt8(truncatingIfNeeded: next &* 7 &+ $0 &+ 1) })
                guard let key else { continue }
                var account = SigningAccount(key: key, chainID: 53_1407)
                guard let tx = try? account.set(key: Array("lot-\(next)".utf8), value: Array("passed".utf8)) else { continue }
                let node = targets[k % targets.count]
                let answer = try? await NodeControlClient(path: sockets[node]).request(["op": "submit", "transaction": Hex.encode(tx.encoded)],
                                                                                      timeout: .seconds(45))
                if answer?["committed"] as? Bool == true, let id = answer?["transactionID"] as? String { acknowledged.append(id) }
            }
        }

        await submit(to: [0, 1, 2, 3], count: 8)
        #expect(acknowledged.count == 8, "a healthy cluster commits everything")

        // 1. Node 3 cut off: the other three go on.
        await lab.cut(3)
        let before = acknowledged.count
        await submit(to: [0, 1, 2], count: 6)
        #expect(acknowledged.count - before == 6, "three of four nodes commit without node 3")
        let cutHeights = await (status(sockets[3])?["height"] as? Int ?? -1, status(sockets[0])?["height"] as? Int ?? -1)
        #expect(cutHeights.0 < cutHeights.1, "node 3 fell behind while cut off: \(cutHeights)")
        await lab.heal(3)

        // 2. The primary of view 0 cut off: the others change view and go on.
        #expect(await eventually(sockets) { all in all.allSatisfy { ($0["peers"] as? [Int])?.count == 3 } }, "node 3 back\n\(logs())")
        await lab.cut(0)
        let beforePrimary = acknowledged.count
        await submit(to: [1, 2, 3], count: 6)
        #expect(acknowledged.count > beforePrimary, "the others commit after the primary is lost")
        let primaryHeights = await (status(sockets[0])?["height"] as? Int ?? -1, status(sockets[1])?["height"] as? Int ?? -1)
        #expect(primaryHeights.0 < primaryHeights.1, "node 0 fell behind while cut off: \(primaryHeights)")
        await lab.heal(0)

        // 3. Nodes 0 and 3 cannot reach each other (relayed through 1 and 2) and every node loses 10% of packets.
        #expect(await eventually(sockets) { all in all.allSatisfy { ($0["peers"] as? [Int])?.count == 3 } }, "node 0 back\n\(logs())")
        await lab.partition(0, 3)
        // The link between them times out (no heartbeat crosses), while both keep their links to 1 and 2.
        #expect(await eventually([sockets[0]]) { all in !((all[0]["peers"] as? [Int]) ?? []).contains(3) }, "the 0-3 link goes down")
        for i in 0..<4 { await lab.loss(i, probability: 0.1) }
        let beforeLoss = acknowledged.count
        await submit(to: [0, 3, 1, 2], count: 8)
        #expect(acknowledged.count > beforeLoss, "transactions commit under the partition and loss")

        // 4. Heal: every acknowledged transaction is on every node, and all heads agree.
        for i in 0..<4 { await lab.heal(i) }
        let agreed = await eventually(sockets, seconds: 120) { all in
            let heights = Set(all.compactMap { $0["height"] as? Int }), heads = Set(all.compactMap { $0["head"] as? String })
            return heights.count == 1 && heads.count == 1
        }
        #expect(agreed, "all heads agree after healing\n\(agreed ? "" : logs())")
        for (i, socket) in sockets.enumerated() {
            let answer = try await NodeControlClient(path: socket).request(["op": "receipts", "ids": acknowledged], timeout: .seconds(30))
            let receipts = answer["receipts"] as? [String: Any] ?? [:]
            let missing = acknowledged.filter { receipts[$0] == nil }
            #expect(missing.isEmpty, "node \(i) lacks acknowledged transactions \(missing)")
        }
        #expect(acknowledged.count >= 20, "most submissions were acknowledged: \(acknowledged.count)")
        print("NetnsClusterTests: \(acknowledged.count) of \(next) submissions acknowledged; every node holds all of them")

        for n in nodes { n.signal(SIGTERM) }
        for n in nodes {
            let end = ContinuousClock.now + .seconds(30)
            while n.process.isRunning, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(50)) }
        }
        await lab.tearDown()
    }
}

/// `node run` with `seeds` instead of a full peer list, on loopback (runs everywhere, unlike the namespace test):
/// each node is given one other node's address and links with all three others, then they commit and agree.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SeedProcessTests {
    @Test func fourNodeProcessesGivenOneSeedEachLinkCommitAndAgree() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let folder = cli.path("consortium")
        let ports = NodeProcessTests.freePorts(4)
        let made = try await cli.run(["certs", "--nodes", "4", "--out", folder, "--ports", ports.map(String.init).joined(separator: ","),
                                      "--consensus", "pbft", "--client-port-offset", "0", "--executors", "records,access,kv"], withData: false)
        try #require(made.status == 0, "\(made)")
        for i in 0..<4 {
            let path = "\(folder)/node\(i)/config.json"
            var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            config["peers"] = [String: String]()
            config["seeds"] = ["127.0.0.1:\(ports[(i + 1) % 4])"]
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
        }
        let sockets = (0..<4).map { "\(folder)/node\($0)/data/node.sock" }
        let nodes = try (0..<4).map { try NodeProcessTests.NodeProcess(config: "\(folder)/node\($0)/config.json", socket: sockets[$0],
                                                                        log: cli.path("node\($0).log")) }
        defer { for n in nodes where n.process.isRunning { n.signal(SIGKILL) } }
        let probe = NodeProcessTests()
        let linked = await probe.eventually(sockets) { all in all.allSatisfy { ($0["peers"] as? [Int])?.count == 3 } }
        #expect(linked, "every node finds the three others from its one seed")
        var alice = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 11, count: 32)), chainID: 53_1407)
        var top = 0
        for i in 0..<4 {
            let tx = try alice.set(key: Array("lot-\(i)".utf8), value: Array("passed".utf8))
            let answer = try await NodeControlClient(path: sockets[i]).request(["op": "submit", "transaction": Hex.encode(tx.encoded)])
            #expect(answer["committed"] as? Bool == true, "\(answer)")
            top = max(top, answer["height"] as? Int ?? 0)
        }
        #expect(await probe.eventually(sockets) { NodeProcessTests.agree($0, atLeast: top) }, "the four nodes agree")
        for n in nodes { n.signal(SIGTERM) }
        for (i, n) in nodes.enumerated() { #expect(await n.exitStatus(within: 30) == 0, "node \(i) exits 0") }
    }
}
