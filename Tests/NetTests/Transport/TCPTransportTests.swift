import Foundation
import LedgerCore
import Logging
@testable import Net
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// The socket transport over real sockets on 127.0.0.1, ports chosen by the system: links come up after the
/// hello, carry messages both ways in order, refuse what does not match, close on bad frames, come back after a
/// peer restarts.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TCPTransportTests {
    static let genesis = HashAlgorithm.sha256.hash(Array("genesis".utf8))

    /// Log records of the transports, to wait for a refusal and read its reason.
    final class Captured: Sendable {
        let records = Mutex<[String]>([])
        func logger(_ label: String) -> Logger {
            Logger(label: label) { _ in CapturingHandler(sink: self) }
        }
        var lines: [String] { records.withLock { $0 } }
    }

    struct CapturingHandler: LogHandler {
        let sink: Captured
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let meta = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            sink.records.withLock { $0.append("\(event.message) \(meta)") }
        }
    }

    func configuration(_ node: NodeID, peers: [NodeID: TCPTransport.Endpoint] = [:], chainID: UInt64 = 53,
                       log: Captured? = nil) -> TCPTransport.Configuration {
        var c = TCPTransport.Configuration(node: node, chainID: chainID, genesisHash: Self.genesis)
        c.peers = peers
        c.heartbeatInterval = .milliseconds(100)
        c.deadAfter = .seconds(2)
        c.maximumReconnectDelay = .milliseconds(200)
        if let log { c.logger = log.logger("transport-\(node.rawValue)") }
        return c
    }

    /// Polls `condition` every 10 ms for up to `seconds`.
    func eventually(_ seconds: Double = 20, _ condition: () async -> Bool) async -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < end {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }

    /// Two transports that know each other, linked.
    func pair(log: Captured? = nil) async throws -> (TCPTransport, TCPTransport) {
        let b = try await TCPTransport.start(configuration(1, peers: [0: .init(host: "127.0.0.1", port: 1)], log: log))
        let a = try await TCPTransport.start(configuration(0, peers: [1: .init(host: "127.0.0.1", port: b.port)], log: log))
        #expect(await eventually { let x = await a.connectedPeers(), y = await b.connectedPeers(); return x == [1] && y == [0] })
        return (a, b)
    }

    @Test func aLinkComesUpAfterTheHelloAndCarriesMessagesBothWaysInOrder() async throws {
        let (a, b) = try await pair()
        var fromA = b.events.makeAsyncIterator()
        var fromB = a.events.makeAsyncIterator()
        #expect(await fromA.next() == .connected(0))
        #expect(await fromB.next() == .connected(1))
        for i in 0..<200 { try await a.send(Array("a\(i)".utf8), to: 1) }
        try await b.broadcast(Array("from b".utf8))
        for i in 0..<200 { #expect(await fromA.next() == .message(from: 0, bytes: Array("a\(i)".utf8))) }
        #expect(await fromB.next() == .message(from: 1, bytes: Array("from b".utf8)))
        // A large message crosses in many TCP segments and arrives whole.
        let big = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await a.send(big, to: 1)
        #expect(await fromA.next() == .message(from: 0, bytes: big))

        let tooBig = await #expect(throws: NetError.self) { try await a.send([UInt8](repeating: 0, count: (64 << 20) + 1), to: 1) }
        #expect(tooBig?.code == .messageTooLarge)
        let unknown = await #expect(throws: NetError.self) { try await a.send([1], to: 7) }
        #expect(unknown?.code == .peerUnreachable)
        await a.close()
        #expect(await fromA.next() == .disconnected(0))
        let closed = await #expect(throws: NetError.self) { try await a.send([1], to: 1) }
        #expect(closed?.code == .transportClosed)
        await b.close()
    }

    @Test func nodesOnOneMachineLinkOverUnixDomainSockets() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fc-unix-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var cb = configuration(1, peers: [0: .init(unixPath: dir + "/0.sock")])
        cb.unixPath = dir + "/1.sock"
        let b = try await TCPTransport.start(cb)
        var ca = configuration(0, peers: [1: .init(unixPath: dir + "/1.sock")])
        ca.unixPath = dir + "/0.sock"
        let a = try await TCPTransport.start(ca)
        var incoming = b.events.makeAsyncIterator()
        #expect(await incoming.next() == .connected(0))
        try await a.send(Array("over a Unix socket".utf8), to: 1)
        #expect(await incoming.next() == .message(from: 0, bytes: Array("over a Unix socket".utf8)))
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/1.sock")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(TCPTransport.Endpoint(unixPath: "/x.sock").description == "unix:/x.sock")
        for t in [a, b] { await t.close() }
        #expect(!FileManager.default.fileExists(atPath: dir + "/1.sock"))
    }

    @Test func theHelloSaysHowFarTheNodesChainReaches() async throws {
        let log = Captured()
        let b = try await TCPTransport.start(configuration(1, peers: [0: .init(host: "127.0.0.1", port: 1)], log: log))
        b.noteHead(height: 1_204)
        let a = try await TCPTransport.start(configuration(0, peers: [1: .init(host: "127.0.0.1", port: b.port)], log: log))
        #expect(await eventually { log.lines.contains { $0.contains("link up") && $0.contains("node=0") && $0.contains("peerHeight=1204") } })
        for t in [a, b] { await t.close() }
        let hello = LinkHello(chainID: 53, genesisHash: Self.genesis, node: 7, headHeight: 99)
        #expect(try LinkHello(decoding: hello.encoded) == hello)
        let bad = #expect(throws: NetError.self) { _ = try LinkHello(decoding: [0xC1, 0x80]) }
        #expect(bad?.code == .malformedFrame)
    }

    @Test func helloMismatchesAreRefusedWithTheReasonLogged() async throws {
        let log = Captured()
        // Node 5 knows node 0 only.
        let b = try await TCPTransport.start(configuration(5, peers: [0: .init(host: "127.0.0.1", port: 1)], log: log))
        // A member of another chain.
        let other = try await TCPTransport.start(configuration(0, peers: [5: .init(host: "127.0.0.1", port: b.port)], chainID: 99, log: log))
        #expect(await eventually { log.lines.contains { $0.contains("link refused") && $0.contains("chain 99, expected 53") } })
        #expect(await b.connectedPeers().isEmpty)
        #expect(await other.connectedPeers().isEmpty)
        await other.close()
        // A node that is not in the peer list.
        let stranger = try await TCPTransport.start(configuration(2, peers: [5: .init(host: "127.0.0.1", port: b.port)], log: log))
        #expect(await eventually { log.lines.contains { $0.contains("node 2 is not a member") } })
        #expect(await b.connectedPeers().isEmpty)
        #expect(await stranger.connectedPeers().isEmpty)
        await stranger.close()
        // A node answering at another node's endpoint.
        let impostor = try await TCPTransport.start(configuration(3, peers: [0: .init(host: "127.0.0.1", port: 1)], log: log))
        let dialer = try await TCPTransport.start(configuration(0, peers: [2: .init(host: "127.0.0.1", port: impostor.port)], log: log))
        #expect(await eventually { log.lines.contains { $0.contains("node 3 answered at node 2's endpoint") } })
        #expect(await dialer.connectedPeers().isEmpty)
        for t in [b, impostor, dialer] { await t.close() }
    }

    /// Opens a raw socket to `port`, writes `bytes` and reports whether the transport closed the connection.
    func closedAfterSending(_ chunks: [[UInt8]], to port: Int) async throws -> Bool {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        for bytes in chunks {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            try? await channel.writeAndFlush(buffer)
        }
        let closed = await eventually(10) { !channel.isActive }
        try? await channel.close()
        return closed
    }

    @Test func corruptTruncatedOversizedOrOutOfOrderFramesCloseTheLink() async throws {
        let log = Captured()
        let (a, b) = try await pair(log: log)
        let encoder = try FrameEncoder()
        let hello = LinkHello(chainID: 53, genesisHash: Self.genesis, node: 0, headHeight: 0)
        let helloFrame = try encoder.encode(Frame(kind: .hello, sender: 0, payload: hello.encoded))
        var corrupt = try encoder.encode(Frame(kind: .message, sender: 0, payload: [1, 2, 3, 4]))
        corrupt[21] ^= 0xFF
        var oversized = try encoder.encode(Frame(kind: .message, sender: 0, payload: [1]))
        // A header that declares 1 GiB of payload, with its header CRC recomputed: refused before any is buffered.
        oversized.replaceSubrange(12..<16, with: [0x40, 0, 0, 0])
        oversized.replaceSubrange(16..<20, with: withUnsafeBytes(of: CRC32C.checksum(Array(oversized[0..<16])).bigEndian) { Array($0) })

        #expect(try await closedAfterSending([Array("GET / HTTP/1.1\r\n\r\n".utf8)], to: b.port), "garbage")
        #expect(try await closedAfterSending([helloFrame, corrupt], to: b.port), "a corrupt frame after the hello")
        #expect(try await closedAfterSending([oversized], to: b.port), "an oversized frame")
        #expect(try await closedAfterSending([try encoder.encode(Frame(kind: .message, sender: 0, payload: [9]))], to: b.port),
                "a message before the hello")
        #expect(try await closedAfterSending([helloFrame, try encoder.encode(Frame(kind: .message, sender: 2, payload: [9]))], to: b.port),
                "a frame naming another sender")
        #expect(log.lines.contains { $0.contains("code=\(NetError.Code.checksumMismatch.rawValue)") })
        #expect(log.lines.contains { $0.contains("code=\(NetError.Code.frameTooLarge.rawValue)") })
        // The genuine link is still up (the raw connections that claimed node 0 replaced it, then dropped: it comes back).
        #expect(await eventually { let x = await a.connectedPeers(), y = await b.connectedPeers(); return x == [1] && y == [0] })
        try await a.send([42], to: 1)
        for t in [a, b] { await t.close() }
    }

    @Test func aRestartedPeerIsDialledAgainAndASilentOneIsDropped() async throws {
        let b = try await TCPTransport.start(configuration(1, peers: [0: .init(host: "127.0.0.1", port: 1)]))
        let port = b.port
        let a = try await TCPTransport.start(configuration(0, peers: [1: .init(host: "127.0.0.1", port: port)]))
        var events = a.events.makeAsyncIterator()
        #expect(await events.next() == .connected(1))
        await b.close()
        #expect(await events.next() == .disconnected(1))
        var restarted = configuration(1, peers: [0: .init(host: "127.0.0.1", port: 1)])
        restarted.port = port
        let b2 = try await TCPTransport.start(restarted)
        #expect(await events.next() == .connected(1))
        try await a.send(Array("again".utf8), to: 1)
        var incoming = b2.events.makeAsyncIterator()
        #expect(await incoming.next() == .connected(0))
        #expect(await incoming.next() == .message(from: 0, bytes: Array("again".utf8)))

        // A peer that accepts the socket but never answers the hello is dropped once deadAfter passes.
        let log = Captured()
        let mute = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let c = try await TCPTransport.start(configuration(0, peers: [4: .init(host: "127.0.0.1", port: mute.localAddress?.port ?? 0)], log: log))
        #expect(await eventually { log.lines.contains { $0.contains("presumed dead") } })
        for t in [a, b2, c] { await t.close() }
        try await mute.close()
    }

    @Test(arguments: [UInt64(1), 2, 0x4e11_0])
    func helloDecodingSurvivesFuzzing(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let valid = LinkHello(chainID: 53, genesisHash: Self.genesis, node: 3, headHeight: 1_204).encoded
        var codes = Set<UInt32>()
        for round in 0..<5_000 {
            var m = valid
            if round % 4 == 0 {
                m = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                for _ in 0..<(1 + Int(rng.next() % 3)) where !m.isEmpty {
                    let i = Int(rng.next() % UInt64(m.count))
                    if rng.next() % 4 == 0 { m.remove(at: i) } else { m[i] = UInt8(truncatingIfNeeded: rng.next()) }
                }
            }
            do throws(NetError) { _ = try LinkHello(decoding: m) } catch { codes.insert(error.numericCode) }
        }
        #expect(codes == [NetError.Code.malformedFrame.rawValue], "one typed code for every bad hello: \(codes.sorted())")
    }

    @Test func configurationOutsideItsRangesIsRefused() async throws {
        var c = configuration(0)
        c.deadAfter = .milliseconds(150)
        let e = await #expect(throws: NetError.self) { _ = try await TCPTransport.start(c) }
        #expect(e?.code == .invalidTransportConfiguration && e?.details["field"] == "deadAfter")
        let first = try await TCPTransport.start(configuration(0))
        var clash = configuration(1)
        clash.port = first.port
        let taken = await #expect(throws: NetError.self) { _ = try await TCPTransport.start(clash) }
        #expect(taken?.code == .bindFailed)
        await first.close()
    }
}
