@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import LedgerCoreTesting
import Net
import Testing

/// Four nodes of one chain over real sockets on 127.0.0.1 (``TCPTransport``), over mutual TLS with the consortium's
/// certificates or plain TCP: they link, commit and agree, and a node that restarts on the same port is linked again
/// and catches up.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TCPClusterTests {
    struct Member {
        var key: PrivateKey
        var store: String
    }

    @Test(arguments: zip([ConsensusEngineKind.pbft, .raft, .pos, .pbft], [true, true, true, false]))
    func fourNodesOverSocketsCommitAndAgree(engine: ConsensusEngineKind, mutualTLS: Bool) async throws {
        let dir = try TestChain.temporaryDirectory("tcp-\(engine)-\(mutualTLS)")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = try (0..<4).map { i throws(LedgerError) in try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(40 + i), count: 32)) }
        let genesis = try ChainGenesis.make(chainID: 53, key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 39, count: 32)))
        let validators = try ValidatorSet(keys.enumerated().map { Validator(id: NodeID(UInt32($0.offset)), publicKey: $0.element.publicKey) })
        // Network timeouts (1 s at 10 ms ticks): the in-process defaults change views on a loaded machine.
        let schedule = ConsensusSchedule(initial: try ClusterEngines.networkConfig(engine, validators: validators, maximumTransactionsPerBlock: 500,
                                                                                    timeoutTicks: 100))

        // The consortium's CA and a certificate per node.
        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "TCPClusterTests CA", key: caKey, validFor: 86_400)
        var identities = [TCPTransport.TLS]()
        for i in 0..<4 {
            let key = try PrivateKey.generate(.p256)
            let certificate = try X509Certificate.issue(commonName: TCPTransport.TLS.commonName(of: NodeID(UInt32(i))), publicKey: key.publicKey,
                                                        issuer: ca, issuerKey: caKey, validFor: 86_400)
            identities.append(TCPTransport.TLS(authority: ca, certificate: certificate, key: key))
        }
        func transportConfiguration(_ i: Int) -> TCPTransport.Configuration {
            var c = TCPTransport.Configuration(node: NodeID(UInt32(i)), chainID: 53, genesisHash: genesis.headerHash)
            c.maximumReconnectDelay = .milliseconds(200)
            if mutualTLS { c.tls = identities[i] }
            return c
        }
        // Listen first (ports chosen by the system), then tell every transport where the others are.
        var transports = [TCPTransport]()
        for i in 0..<4 { transports.append(try await TCPTransport.start(transportConfiguration(i))) }
        func endpoints(except i: Int) -> [NodeID: TCPTransport.Endpoint] {
            Dictionary(uniqueKeysWithValues: (0..<4).filter { $0 != i }.map { (NodeID(UInt32($0)), TCPTransport.Endpoint(host: "127.0.0.1", port: transports[$0].port)) })
        }
        for i in 0..<4 { transports[i].updatePeers(endpoints(except: i)) }

        func start(_ i: Int, transport: TCPTransport) async throws -> any ChainNode {
            let configuration = NodeConfiguration(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, schedule: schedule,
                                                  storePath: "\(dir)/node\(i).sqlite")
            switch engine {
            case .pbft:
                let node = try await Node<PBFTEngine>(configuration: configuration, transport: transport)
                await node.start()
                return node
            case .pos:
                let node = try await Node<PoSEngine>(configuration: configuration, transport: transport)
                await node.start()
                return node
            default:
                let node = try await Node<RaftEngine>(configuration: configuration, transport: transport)
                await node.start()
                return node
            }
        }
        var nodes = [any ChainNode]()
        for i in 0..<4 { nodes.append(try await start(i, transport: transports[i])) }
        // Every link up before the first submission (a transaction relayed meanwhile reaches a late peer only when
        // its link comes up).
        let linked = ContinuousClock.now + .seconds(60)
        for t in transports { while await t.connectedPeers().count < 3, ContinuousClock.now < linked { try await Task.sleep(for: .milliseconds(10)) } }

        var alice = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32)), chainID: 53)
        for i in 0..<20 {
            let receipt = try await nodes[i % 4].submit(try TestChain.kv(&alice, "lot-\(i)", "passed"), timeout: TestChain.realTimePatience)
            #expect(receipt.status == Receipt.success)
        }
        func agree(_ nodes: [any ChainNode], atLeast height: Height) async throws -> Bool {
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                var heads = [LedgerStore.Head]()
                for node in nodes { heads.append(await node.head) }
                let top = heads.map(\.height).max()!
                if heads.allSatisfy({ $0.height == top }), top >= height {
                    var hashes = Set<Digest>()
                    for node in nodes { hashes.insert(try await node.ledger.blockHash(atHeight: top)) }
                    return hashes.count == 1
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            return false
        }
        let committed = await nodes[0].head.height
        #expect(try await agree(nodes, atLeast: committed), "every node holds the same chain")

        // Node 3 stops; the others go on; it restarts on the same port and catches up.
        let port = transports[3].port
        await nodes[3].stop()
        await transports[3].close()
        for i in 20..<26 {
            _ = try await nodes[i % 3].submit(try TestChain.kv(&alice, "lot-\(i)", "passed"), timeout: TestChain.realTimePatience)
        }
        var again = transportConfiguration(3)
        again.port = port
        again.peers = endpoints(except: 3)
        let restarted = try await TCPTransport.start(again)
        nodes[3] = try await start(3, transport: restarted)
        let target = await nodes[0].head.height
        #expect(try await agree(nodes, atLeast: target), "the restarted node caught up over its new links")
        for node in nodes { await node.stop() }
        for t in transports.prefix(3) { await t.close() }
        await restarted.close()
    }
}
