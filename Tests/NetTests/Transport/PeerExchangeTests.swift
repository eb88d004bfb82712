import Foundation
import LedgerCore
import LedgerCoreTesting
@testable import Net
import Synchronization
import Testing

/// Peer exchange and relaying over real sockets on 127.0.0.1 (N-T-3): nodes given one seed each find the others,
/// learned addresses are hints kept for members only, and two nodes without a link reach each other through a
/// peer they share.
@Suite(.serialized, .timeLimit(.minutes(3))) struct PeerExchangeTests {
    static let genesis = HashAlgorithm.sha256.hash(Array("genesis".utf8))
    static let everyone: Set<NodeID> = [0, 1, 2, 3]

    func configuration(_ node: NodeID, members: Set<NodeID> = everyone, seeds: [TCPTransport.Endpoint] = [],
                       peers: [NodeID: TCPTransport.Endpoint] = [:]) -> TCPTransport.Configuration {
        var c = TCPTransport.Configuration(node: node, chainID: 53, genesisHash: Self.genesis)
        c.members = members.subtracting([node])
        c.seeds = seeds
        c.peers = peers
        c.heartbeatInterval = .milliseconds(100)
        c.deadAfter = .seconds(2)
        c.maximumReconnectDelay = .milliseconds(200)
        return c
    }

    func eventually(_ seconds: Double = 30, _ condition: () async -> Bool) async -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < end {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return await condition()
    }

    /// The next message event, skipping link events.
    func nextMessage(_ events: inout AsyncStream<TransportEvent>.Iterator) async -> TransportEvent? {
        while let e = await events.next() {
            if case .message = e { return e }
        }
        return nil
    }

    static func local(_ port: Int) -> TCPTransport.Endpoint { .init(host: "127.0.0.1", port: port) }

    @Test(arguments: [false, true]) func fourNodesGivenOneSeedEachFindAllTheOthers(mutualTLS: Bool) async throws {
        let identities = mutualTLS ? try Self.identities(4) : []
        // A chain of seeds: node 1 knows node 0, node 2 knows node 1, node 3 knows node 2; node 0 knows nobody.
        var transports = [TCPTransport]()
        for i in 0..<4 {
            var c = configuration(NodeID(UInt32(i)), seeds: i == 0 ? [] : [Self.local(transports[i - 1].port)])
            if mutualTLS { c.tls = identities[i] }
            transports.append(try await TCPTransport.start(c))
        }
        for (i, t) in transports.enumerated() {
            let others = (0..<4).filter { $0 != i }.map { NodeID(UInt32($0)) }
            #expect(await eventually { await t.connectedPeers() == others }, "node \(i) links with every other node")
        }
        // Every learned address is the one the member listens on.
        for (i, t) in transports.enumerated() {
            let learned = t.state.withLock { $0.learned }
            for (node, address) in learned {
                #expect(address.endpoint == Self.local(transports[Int(node.rawValue)].port), "node \(i)'s address for \(node)")
            }
        }
        var events = transports[3].events.makeAsyncIterator()
        try await transports[0].send(Array("found you".utf8), to: 3)
        #expect(await nextMessage(&events) == .message(from: 0, bytes: Array("found you".utf8)))
        for t in transports { await t.close() }
    }

    @Test func addressesOfNonMembersAndJunkChangeNothing() async throws {
        // Node 1 advertises only when its links change (its keeper waits a minute), so what node 0 hears is this test's.
        var cb = configuration(1, members: [0, 1, 2])
        cb.maximumReconnectDelay = .seconds(60)
        let b = try await TCPTransport.start(cb)
        let a = try await TCPTransport.start(configuration(0, members: [0, 1, 2], peers: [1: Self.local(b.port)]))
        #expect(await eventually { await a.connectedPeers() == [1] && a.state.withLock { $0.routes[1] != nil } })
        // Node 9 is no member: its address and its link are ignored; node 2's address from node 1 is a hint.
        let list = PeerList(entries: [.init(node: 9, endpoint: Self.local(4_000)), .init(node: 2, endpoint: Self.local(1)),
                                      .init(node: 0, endpoint: Self.local(2))],
                            links: [0, 2, 9])
        a.receivePeerList(list.encoded, from: 1)
        let (learned, routes) = a.state.withLock { ($0.learned, $0.routes) }
        #expect(learned[9] == nil)
        #expect(learned[0] == nil, "its own address is not learned")
        #expect(learned[2]?.rank == .hint)
        #expect(routes[1] == [2])
        // Bytes that are not a peer list, and a list from a node with no link, leave the table as it was.
        for junk: [UInt8] in [[], [0xC0], Array("garbage".utf8), PeerList(entries: [], links: []).encoded + [0]] {
            a.receivePeerList(junk, from: 1)
        }
        a.receivePeerList(PeerList(entries: [.init(node: 2, endpoint: Self.local(3))], links: []).encoded, from: 2)
        #expect(a.state.withLock { $0.learned.mapValues(\.endpoint) } == learned.mapValues(\.endpoint))
        #expect(a.state.withLock { $0.routes } == routes)
        // A member's own word beats the hint; a configured address is never replaced.
        a.receivePeerList(PeerList(entries: [.init(node: 1, endpoint: Self.local(5))], links: [2]).encoded, from: 1)
        #expect(a.state.withLock { $0.learned[1] } == nil)
        #expect(a.state.withLock { $0.peers[1] } == Self.local(b.port))
        for t in [a, b] { await t.close() }
    }

    /// An address given for one member where another listens: the dialled node refuses at the hello (which names
    /// the node meant), so the genuine link between the two is never taken over, and the address counts failures.
    @Test func anAddressWhereAnotherMemberListensNeitherLinksNorCutsTheGoodLink() async throws {
        let log = TCPTransportTests.Captured()
        var cb = configuration(1, members: [0, 1, 2])
        cb.logger = log.logger("transport-1")
        let b = try await TCPTransport.start(cb)
        var ca = configuration(0, members: [0, 1, 2], peers: [1: Self.local(b.port)])
        ca.logger = log.logger("transport-0")
        let a = try await TCPTransport.start(ca)
        #expect(await eventually { let x = await a.connectedPeers(), y = await b.connectedPeers(); return x == [1] && y == [0] })
        a.receivePeerList(PeerList(entries: [.init(node: 2, endpoint: Self.local(b.port))], links: []).encoded, from: 1)
        #expect(await eventually { a.state.withLock { ($0.learned[2]?.failures ?? 0) >= 2 } })
        #expect(log.lines.contains { $0.contains("node 1 answered at node 2's endpoint") })
        #expect(log.lines.filter { $0.contains("link up") }.count == 2, "the one genuine link, seen from both sides")
        #expect(!log.lines.contains { $0.contains("link down") })
        #expect(await a.connectedPeers() == [1])
        let hello = LinkHello(chainID: 53, genesisHash: Self.genesis, node: 0, headHeight: 5, dialled: 2)
        #expect(try LinkHello(decoding: hello.encoded) == hello)
        for t in [a, b] { await t.close() }
    }

    /// Node 2 listens where nobody can dial it (it advertises a closed port) and dials node 1 only: nodes 0 and 2
    /// have no link, and talk through node 1.
    @Test func nodesWithoutALinkTalkThroughAPeerTheyShare() async throws {
        let members: Set<NodeID> = [0, 1, 2]
        let b = try await TCPTransport.start(configuration(1, members: [0, 1, 2, 3]))
        let a = try await TCPTransport.start(configuration(0, members: members, peers: [1: Self.local(b.port)]))
        var cc = configuration(2, members: members, seeds: [Self.local(b.port)])
        cc.advertisedEndpoint = Self.local(1)
        let c = try await TCPTransport.start(cc)
        #expect(await eventually { await b.connectedPeers() == [0, 2] })
        // Node 0 learns which of its peers links with node 2.
        #expect(await eventually { a.state.withLock { $0.routes[1]?.contains(2) ?? false } && c.state.withLock { $0.routes[1]?.contains(0) ?? false } })
        #expect(await a.connectedPeers() == [1])
        #expect(await c.connectedPeers() == [1])

        var atC = c.events.makeAsyncIterator()
        var atA = a.events.makeAsyncIterator()
        try await a.send(Array("via 1".utf8), to: 2)
        #expect(await nextMessage(&atC) == .message(from: 0, bytes: Array("via 1".utf8)))
        try await c.broadcast(Array("to all".utf8))
        #expect(await nextMessage(&atA) == .message(from: 2, bytes: Array("to all".utf8)))
        #expect(b.traffic.relayed == 2)
        #expect(a.traffic.throughRelay == 2, "one sent, one received")
        #expect(c.traffic.throughRelay == 2)

        // An envelope whose path does not end with the peer that handed it over, one that loops, one past its hop
        // limit and one from a non-member are dropped and counted.
        let before = b.traffic.dropped
        b.receiveRelay(RelayEnvelope(destination: 2, hopsLeft: 1, path: [2], payload: [1]).encoded, from: 0)
        b.receiveRelay(RelayEnvelope(destination: 2, hopsLeft: 1, path: [0, 1], payload: [1]).encoded, from: 1)
        b.receiveRelay(RelayEnvelope(destination: 2, hopsLeft: 0, path: [0], payload: [1]).encoded, from: 0)
        b.receiveRelay(RelayEnvelope(destination: 2, hopsLeft: 1, path: [7], payload: [1]).encoded, from: 7)
        b.receiveRelay([0xC0], from: 0)
        #expect(b.traffic.dropped == before + 5)
        #expect(b.traffic.relayed == 2)

        // With relaying off, node 3 has no way to node 2.
        var ca = configuration(3, members: [1, 2, 3], seeds: [Self.local(b.port)])
        ca.maximumRelayHops = 0
        let d = try await TCPTransport.start(ca)
        #expect(await eventually { await d.connectedPeers() == [1] })
        let unreachable = await #expect(throws: NetError.self) { try await d.send([1], to: 2) }
        #expect(unreachable?.code == .peerUnreachable)
        for t in [a, b, c, d] { await t.close() }
    }

    /// A relay without a link to the destination hands the envelope to its own peer that has one, within the
    /// hop limit: 1 → 2 → 3 for an envelope from node 0.
    @Test func aRelayWithoutALinkToTheDestinationHandsTheEnvelopeToAPeerThatHasOne() async throws {
        let d = try await TCPTransport.start(configuration(2))
        let b = try await TCPTransport.start(configuration(1, peers: [2: Self.local(d.port)]))
        var cc = configuration(3, seeds: [Self.local(d.port)])
        cc.advertisedEndpoint = Self.local(1)
        let c = try await TCPTransport.start(cc)
        #expect(await eventually { b.state.withLock { $0.routes[2]?.contains(3) ?? false } })
        #expect(await b.connectedPeers() == [2])
        var atC = c.events.makeAsyncIterator()
        b.receiveRelay(RelayEnvelope(destination: 3, hopsLeft: 2, path: [0], payload: Array("two relays".utf8)).encoded, from: 0)
        #expect(await nextMessage(&atC) == .message(from: 0, bytes: Array("two relays".utf8)))
        #expect(b.traffic.relayed == 1 && d.traffic.relayed == 1)
        // With one forward left, the second relay has none to spend.
        let dropped = d.traffic.dropped
        b.receiveRelay(RelayEnvelope(destination: 3, hopsLeft: 1, path: [0], payload: [1]).encoded, from: 0)
        #expect(await eventually { d.traffic.dropped == dropped + 1 })
        #expect(b.traffic.relayed == 2 && d.traffic.relayed == 1)
        for t in [b, c, d] { await t.close() }
    }

    @Test func peerListsAndEnvelopesRoundTripAndRefuseWhatBreaksTheirRules() throws {
        let list = PeerList(entries: [.init(node: 2, endpoint: .init(host: "fe80::1%eth0", port: 7400)),
                                      .init(node: 4_000_000_000, endpoint: .init(host: "node-3.example", port: 65_535))],
                            links: [0, 1])
        #expect(try PeerList(decoding: list.encoded) == list)
        let envelope = RelayEnvelope(destination: 3, hopsLeft: 2, path: [0, 1], payload: [1, 2, 3])
        #expect(try RelayEnvelope(decoding: envelope.encoded) == envelope)
        #expect(envelope.origin == 0)
        let badLists: [PeerList] = [
            PeerList(entries: [.init(node: 1, endpoint: .init(host: "", port: 1))], links: []),
            PeerList(entries: [.init(node: 1, endpoint: .init(host: "a b", port: 1))], links: []),
            PeerList(entries: [.init(node: 1, endpoint: .init(host: "x", port: 0))], links: []),
            PeerList(entries: [.init(node: 1, endpoint: .init(host: String(repeating: "a", count: 254), port: 1))], links: []),
        ]
        for bad in badLists {
            let error = #expect(throws: NetError.self) { _ = try PeerList(decoding: bad.encoded) }
            #expect(error?.code == .malformedPeerList)
        }
        let tooMany = RLP.encode(.list([.list([]), .list((0...PeerList.maximumLinks).map { _ in .uint(1) })]))
        #expect(throws: NetError.self) { _ = try PeerList(decoding: tooMany) }
        let badEnvelopes = [
            RelayEnvelope(destination: 3, hopsLeft: 5, path: [0], payload: []),
            RelayEnvelope(destination: 3, hopsLeft: 1, path: [], payload: []),
            RelayEnvelope(destination: 3, hopsLeft: 1, path: [0, 1, 0], payload: []),
            RelayEnvelope(destination: 3, hopsLeft: 1, path: [0, 3], payload: []),
            RelayEnvelope(destination: 3, hopsLeft: 0, path: [0, 1, 2, 4, 5, 6], payload: []),
        ]
        for bad in badEnvelopes {
            let error = #expect(throws: NetError.self) { _ = try RelayEnvelope(decoding: bad.encoded) }
            #expect(error?.code == .malformedRelayEnvelope)
        }
    }

    /// Random bytes, random RLP and mutations of valid payloads decode or throw the decoder's code, never trap.
    @Test(arguments: [UInt64(1), 2, 0x5eed_f00d]) func peerPayloadsDecodeOrThrowNeverTrap(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let validList = PeerList(entries: [.init(node: 2, endpoint: .init(host: "10.0.0.2", port: 7400))], links: [0, 1]).encoded
        let validEnvelope = RelayEnvelope(destination: 3, hopsLeft: 2, path: [0], payload: [9, 9]).encoded
        var decoded = 0
        for round in 0..<3_000 {
            var input: [UInt8]
            switch round % 3 {
            case 0: input = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: input = FuzzInput.message(&rng)
            default:
                input = round % 2 == 0 ? validList : validEnvelope
                input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            do throws(NetError) {
                let list = try PeerList(decoding: input)
                #expect(list.entries.allSatisfy { (1...65_535).contains($0.endpoint.port) && !$0.endpoint.host.isEmpty })
                decoded += 1
            } catch {
                #expect(error.code == .malformedPeerList)
            }
            do throws(NetError) {
                let envelope = try RelayEnvelope(decoding: input)
                #expect(!envelope.path.isEmpty && !envelope.path.contains(envelope.destination))
                decoded += 1
            } catch {
                #expect(error.code == .malformedRelayEnvelope)
            }
        }
        #expect(decoded > 0, "some mutations still decode")
    }

    static func identities(_ count: Int) throws -> [TCPTransport.TLS] {
        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "PeerExchangeTests CA", key: caKey, validFor: 86_400)
        return try (0..<count).map { i in
            let key = try PrivateKey.generate(.p256)
            let certificate = try X509Certificate.issue(commonName: TCPTransport.TLS.commonName(of: NodeID(UInt32(i))), publicKey: key.publicKey,
                                                        issuer: ca, issuerKey: caKey, validFor: 86_400)
            return TCPTransport.TLS(authority: ca, certificate: certificate, key: key)
        }
    }
}
