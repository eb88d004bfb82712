@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import LedgerCoreTesting
@testable import Net
import Testing

/// Four PBFT nodes over mutual TLS on 127.0.0.1 where nodes 0 and 3 have no link (N-T-3): node 3 can dial out but
/// nobody can dial it (it advertises a closed port) and it is given nodes 1 and 2 as seeds. Messages between 0
/// and 3 go through 1 or 2; the chain commits and every node agrees.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RelayClusterTests {
    @Test func aPBFTClusterWhoseNodes0And3CannotLinkCommitsThroughRelays() async throws {
        let dir = try TestChain.temporaryDirectory("relay-pbft")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = try (0..<4).map { i throws(LedgerError) in try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(60 + i), count: 32)) }
        let genesis = try ChainGenesis.make(chainID: 53, key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 59, count: 32)))
        let validators = try ValidatorSet(keys.enumerated().map { Validator(id: NodeID(UInt32($0.offset)), publicKey: $0.element.publicKey) })
        let schedule = ConsensusSchedule(initial: try ClusterEngines.networkConfig(.pbft, validators: validators, maximumTransactionsPerBlock: 500,
                                                                                    timeoutTicks: 100))
        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "RelayClusterTests CA", key: caKey, validFor: 86_400)
        var identities = [TCPTransport.TLS]()
        for i in 0..<4 {
            let key = try PrivateKey.generate(.p256)
            let certificate = try X509Certificate.issue(commonName: TCPTransport.TLS.commonName(of: NodeID(UInt32(i))), publicKey: key.publicKey,
                                                        issuer: ca, issuerKey: caKey, validFor: 86_400)
            identities.append(TCPTransport.TLS(authority: ca, certificate: certificate, key: key))
        }
        let members = Set(validators.ids)
        func transportConfiguration(_ i: Int) -> TCPTransport.Configuration {
            var c = TCPTransport.Configuration(node: NodeID(UInt32(i)), chainID: 53, genesisHash: genesis.headerHash)
            c.maximumReconnectDelay = .milliseconds(200)
            c.members = members.subtracting([NodeID(UInt32(i))])
            c.tls = identities[i]
            return c
        }
        var transports = [TCPTransport]()
        for i in 0..<3 { transports.append(try await TCPTransport.start(transportConfiguration(i))) }
        // Nodes 0, 1 and 2 know each other; node 3 knows 1 and 2 as seeds and is dialled by nobody.
        for i in 0..<3 {
            transports[i].updatePeers(Dictionary(uniqueKeysWithValues: (0..<3).filter { $0 != i }.map {
                (NodeID(UInt32($0)), TCPTransport.Endpoint(host: "127.0.0.1", port: transports[$0].port))
            }))
        }
        var c3 = transportConfiguration(3)
        c3.seeds = [1, 2].map { TCPTransport.Endpoint(host: "127.0.0.1", port: transports[$0].port) }
        c3.advertisedEndpoint = TCPTransport.Endpoint(host: "127.0.0.1", port: 1)
        transports.append(try await TCPTransport.start(c3))

        var nodes = [any ChainNode]()
        for i in 0..<4 {
            let configuration = NodeConfiguration(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, schedule: schedule,
                                                  storePath: "\(dir)/node\(i).sqlite")
            let node = try await Node<PBFTEngine>(configuration: configuration, transport: transports[i])
            await node.start()
            nodes.append(node)
        }
        // Node 3 links with 1 and 2 only, and node 0 learns a way to it.
        let linked = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < linked {
            let three = await transports[3].connectedPeers()
            let routed = transports[0].state.withLock { s in s.routes.values.contains { $0.contains(3) } }
            if three == [1, 2], routed { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(await transports[3].connectedPeers() == [1, 2])

        var alice = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 8, count: 32)), chainID: 53)
        for i in 0..<16 {
            let receipt = try await nodes[[0, 3, 1, 2][i % 4]].submit(try TestChain.kv(&alice, "lot-\(i)", "passed"), timeout: TestChain.realTimePatience)
            #expect(receipt.status == Receipt.success)
        }
        let deadline = ContinuousClock.now + .seconds(60)
        var agreed = false
        while ContinuousClock.now < deadline, !agreed {
            var heads = [LedgerStore.Head]()
            for node in nodes { heads.append(await node.head) }
            let top = heads.map(\.height).max()!
            if heads.allSatisfy({ $0.height == top }), top >= 1 {
                var hashes = Set<Digest>()
                for node in nodes { hashes.insert(try await node.ledger.blockHash(atHeight: top)) }
                agreed = hashes.count == 1
            }
            if !agreed { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(agreed, "every node holds the same chain")
        #expect(!(await transports[0].connectedPeers()).contains(3), "nodes 0 and 3 never linked")
        #expect(transports[1].traffic.relayed + transports[2].traffic.relayed > 0, "messages between 0 and 3 went through 1 or 2")
        #expect(transports[0].traffic.throughRelay > 0 && transports[3].traffic.throughRelay > 0)
        for node in nodes { await node.stop() }
        for t in transports { await t.close() }
    }
}
