@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import LedgerCoreTesting
import Net
import NIOCore
import NIOPosix
import Testing

/// The client over real sockets and mutual TLS: submissions reach the chain through any node, each commits
/// exactly once, wait in the durable outbox while no node answers (also across a restart of the client), and fail
/// over when a node dies.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ForgeChainClientTests {
    struct Consortium {
        let ca: X509Certificate
        let caKey: PrivateKey
        init() throws {
            caKey = try PrivateKey.generate(.p256)
            ca = try X509Certificate.authority(commonName: "client tests CA", key: caKey, validFor: 86_400)
        }
        func identity(_ name: String) throws -> TCPTransport.TLS {
            let key = try PrivateKey.generate(.p256)
            return TCPTransport.TLS(authority: ca, certificate: try X509Certificate.issue(commonName: name, publicKey: key.publicKey, issuer: ca,
                                                                                             issuerKey: caKey, validFor: 86_400), key: key)
        }
    }

    /// A 4-node PBFT cluster on simulated time with a client endpoint (mutual TLS) per node.
    struct Network {
        let cluster: Cluster
        let consortium: Consortium
        var servers: [NodeControlServer]
        var ports: [Int]

        static func start(seed: UInt64) async throws -> Network {
            var c = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: seed)
            c.clock = .simulated
            let cluster = try await Cluster.start(c)
            let consortium = try Consortium()
            var network = Network(cluster: cluster, consortium: consortium, servers: [], ports: [])
            for i in 0..<4 { try await network.serve(i, port: 0) }
            return network
        }

        mutating func serve(_ i: Int, port: Int) async throws {
            let server = try await NodeControlServer.start(node: try await cluster.node(NodeID(UInt32(i))), port: port,
                                                           tls: try consortium.identity("forgechain-node-\(i)"))
            if servers.count > i { servers[i] = server; ports[i] = server.port } else { servers.append(server); ports.append(server.port) }
        }

        func clientConfiguration(_ outbox: String, strategy: LoadBalancer.Strategy = .roundRobin) throws -> ForgeChainClient.Configuration {
            var c = ForgeChainClient.Configuration(nodes: (0..<4).map { .init(id: NodeID(UInt32($0)), host: "127.0.0.1", port: ports[$0]) },
                                                   outboxPath: outbox)
            c.tls = try consortium.identity("forgechain-client-plant-7")
            c.strategy = strategy
            c.batchSize = 50
            c.retryInterval = .milliseconds(50)
            c.requestTimeout = .seconds(5)
            return c
        }

        func stop() async {
            for s in servers { await s.close() }
            await cluster.shutdown()
        }
    }

    /// `count` signed key-value writes from each of `senders` accounts.
    func transactions(senders: Int, count: Int, chainID: UInt64 = 53) throws -> [Transaction] {
        var out = [Transaction]()
        for s in 0..<senders {
            var account = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(100 + s), count: 32)),
                                         chainID: chainID)
            for i in 0..<count { out.append(try account.set(key: Array("s\(s)-lot-\(i)".utf8), value: Array("passed".utf8))) }
        }
        return out
    }

    func outboxPath() throws -> String { try TestChain.temporaryDirectory("outbox") + "/outbox.sqlite" }

    @Test func submissionsGoThroughEveryNodeOverMutualTLSAndEachCommitsOnce() async throws {
        let network = try await Network.start(seed: 61)
        let chainID = network.cluster.configuration.chainID
        let client = try await ForgeChainClient.open(try network.clientConfiguration(try outboxPath()))
        let txs = try transactions(senders: 4, count: 50, chainID: chainID)
        let ids = try await client.submit(txs)
        let entries = try await client.waitUntilSettled(ids, timeout: .seconds(120))
        #expect(entries.allSatisfy { $0.state == .committed && $0.status == Receipt.success })
        let perNode = await client.requestsPerNode
        #expect(perNode.count == 4 && perNode.values.allSatisfy { $0 >= 1 }, "round robin used every node: \(perNode)")
        // Exactly once: each sender's nonce advanced by its 50 transactions, no more.
        let node = try await network.cluster.node(0)
        for tx in txs.prefix(1) + txs.suffix(1) { #expect(await node.nextNonce(for: tx.sender) == 50) }
        // Submitting the same transactions again changes nothing.
        #expect(try await client.submit(txs) == ids)
        #expect(try await client.pendingCount == 0)

        // Without a certificate of the consortium, the endpoint answers nothing.
        let stranger = NodeControlClient(host: "127.0.0.1", port: network.ports[0], tls: try Consortium().identity("forgechain-client-x"))
        let refused = await #expect(throws: ChainError.self) { _ = try await stranger.request(["op": "status"], timeout: .seconds(5)) }
        #expect(refused?.code == .controlSocketFailed)
        let plain = NodeControlClient(host: "127.0.0.1", port: network.ports[0], tls: nil)
        _ = await #expect(throws: ChainError.self) { _ = try await plain.request(["op": "status"], timeout: .seconds(2)) }
        await client.close()
        await network.stop()
    }

    /// Bound, never listening: a connection to it is refused, and no other socket takes the port meanwhile.
    static func deadPorts(_ count: Int) -> (ports: [Int], close: () -> Void) {
        var fds = [Int32](), ports = [Int]()
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
            fds.append(fd)
        }
        return (ports, { for fd in fds { close(fd) } })
    }

    @Test func theOutboxKeepsSubmissionsWhileNoNodeAnswersAndAcrossARestartOfTheClient() async throws {
        let network = try await Network.start(seed: 62)
        let chainID = network.cluster.configuration.chainID
        let path = try outboxPath()
        // First the client can reach no node: every address it knows refuses connections.
        let dead = Self.deadPorts(4)
        defer { dead.close() }
        var unreachable = try network.clientConfiguration(path)
        unreachable.nodes = (0..<4).map { .init(id: NodeID(UInt32($0)), host: "127.0.0.1", port: dead.ports[$0]) }
        let first = try await ForgeChainClient.open(unreachable)
        let txs = try transactions(senders: 4, count: 250, chainID: chainID)
        let ids = try await first.submit(txs)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await first.pendingCount == 1_000)
        await first.close()

        // The nodes are reachable now; a new client on the same outbox sends everything.
        let second = try await ForgeChainClient.open(try network.clientConfiguration(path))
        let entries = try await second.waitUntilSettled(ids, timeout: .seconds(180))
        #expect(entries.filter { $0.state == .committed && $0.status == Receipt.success }.count == 1_000)
        let node = try await network.cluster.node(3)
        for tx in [txs[0], txs[250], txs[500], txs[750]] { #expect(await node.nextNonce(for: tx.sender) == 250, "each committed once") }
        await second.close()
        await network.stop()
    }

    @Test func aNodeThatDiesMidRunIsFailedOverAndNothingIsLost() async throws {
        let network = try await Network.start(seed: 63)
        let chainID = network.cluster.configuration.chainID
        let client = try await ForgeChainClient.open(try network.clientConfiguration(try outboxPath(), strategy: .leastConnections))
        let txs = try transactions(senders: 4, count: 100, chainID: chainID)
        let early = try await client.submit(Array(txs.prefix(200)))
        _ = try await client.waitUntilSettled(Array(early.prefix(10)), timeout: .seconds(120))
        await network.servers[1].close()
        let late = try await client.submit(Array(txs.suffix(200)))
        let entries = try await client.waitUntilSettled(early + late, timeout: .seconds(180))
        #expect(entries.allSatisfy { $0.state == .committed })
        let node = try await network.cluster.node(0)
        for s in 0..<4 { #expect(await node.nextNonce(for: txs[s * 100].sender) == 100) }
        await client.close()
        await network.stop()
    }

    @Test func theLoadReportDescribesTheNode() async throws {
        let network = try await Network.start(seed: 64)
        let control = NodeControlClient(host: "127.0.0.1", port: network.ports[2], tls: try network.consortium.identity("forgechain-client-ops"))
        let answer = try await control.request(["op": "load"])
        let load = try #require(answer["load"] as? [String: Any])
        #expect((load["memoryBytes"] as? Int ?? 0) > 1 << 20, "resident memory read from /proc")
        #expect(load["openConnections"] as? Int == 1, "this request's own connection")
        #expect(load["heightLag"] as? Int != nil && load["cpuPercent"] as? Double != nil)
        let unknown = try await control.request(["op": "drop-tables"])
        #expect(unknown["ok"] as? Bool == false && unknown["code"] as? Int == Int(ChainError.Code.invalidControlRequest.rawValue))
        await network.stop()
    }

    /// Raw bytes to a node's control socket: each line answered (a refusal with code 4200 for anything but a JSON
    /// request), an endless line closes the connection, and the node goes on.
    @Test func theControlSocketAnswersGarbageWithACodeAndClosesOnAnEndlessLine() async throws {
        let network = try await Network.start(seed: 65)
        let path = try TestChain.temporaryDirectory("control") + "/node.sock"
        let control = try await NodeControlServer.start(node: try await network.cluster.node(1), path: path)
        var rng = SplitMix64(seed: 65)
        final class Lines: @unchecked Sendable { var data = [UInt8](); let lock = NSLock() }
        final class Collector: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = ByteBuffer
            let lines: Lines
            init(_ lines: Lines) { self.lines = lines }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let bytes = Array(unwrapInboundIn(data).readableBytesView)
                lines.lock.lock(); lines.data += bytes; lines.lock.unlock()
            }
        }
        let lines = Lines()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Collector(lines)) } }
            .connect(unixDomainSocketPath: path).get()
        var requests = 0
        for _ in 0..<200 {
            var junk = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }.filter { $0 != 0x0A }
            if rng.next() % 3 == 0 { junk = Array(#"{"op":"submit","transaction":"zz"}"#.utf8) }
            junk.append(0x0A)
            requests += 1
            var buffer = channel.allocator.buffer(capacity: junk.count)
            buffer.writeBytes(junk)
            try await channel.writeAndFlush(buffer)
        }
        let end = ContinuousClock.now + .seconds(30)
        func answers() -> [[String: Any]] {
            lines.lock.lock(); defer { lines.lock.unlock() }
            return lines.data.split(separator: 0x0A).compactMap { (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] }
        }
        while answers().count < requests, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(10)) }
        let all = answers()
        #expect(all.count == requests)
        #expect(all.allSatisfy { $0["ok"] as? Bool == false && ($0["code"] as? Int).map { $0 > 0 } == true })
        #expect(all.contains { $0["code"] as? Int == Int(ChainError.Code.invalidControlRequest.rawValue) })
        // A line without end beyond 4 MiB closes the connection.
        var big = channel.allocator.buffer(capacity: 5 << 20)
        big.writeBytes([UInt8](repeating: 0x41, count: 5 << 20))
        try? await channel.writeAndFlush(big)
        let closedBy = ContinuousClock.now + .seconds(30)
        while channel.isActive, ContinuousClock.now < closedBy { try await Task.sleep(for: .milliseconds(10)) }
        #expect(!channel.isActive)
        // The node answers as before.
        #expect(try await NodeControlClient(path: path).request(["op": "status"])["ok"] as? Bool == true)
        await control.close()
        await network.stop()
    }
}
