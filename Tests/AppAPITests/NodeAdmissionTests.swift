@testable import AppAPI
@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import Net
import Testing

/// Node admission by the chain (N-D-1, N-D-4): the nodes of a consortium link only with peers the chain does not
/// suspend or revoke (the genesis validators are registered by the genesis, any other node needs an active
/// registration), checked at every handshake and again on open links.
@Suite(.serialized, .timeLimit(.minutes(3))) struct NodeAdmissionTests {
    struct Reader: StateReader {
        let store: LedgerStore
        func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { try store.stateValue(forKey: key) }
    }

    @Test func aSuspendedNodeIsCutOffByEveryPeerAndAnUnregisteredOneNeverLinks() async throws {
        let dir = try temporaryFolder("forgechain-admission")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = try (0..<4).map { i in try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(60 + i), count: 32)) }
        let genesisKey = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 59, count: 32))
        let genesis = try ChainGenesis.make(chainID: 53, key: genesisKey)
        let validators = try ValidatorSet(keys.enumerated().map { Validator(id: NodeID(UInt32($0.offset)), publicKey: $0.element.publicKey) })
        let schedule = ConsensusSchedule(initial: try ClusterEngines.networkConfig(.pbft, validators: validators, maximumTransactionsPerBlock: 500,
                                                                                    timeoutTicks: 100))
        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "admission CA", key: caKey, validFor: 86_400)
        func identity(_ i: Int) throws -> TCPTransport.TLS {
            let key = try PrivateKey.generate(.p256)
            return TCPTransport.TLS(authority: ca, certificate: try X509Certificate.issue(commonName: TCPTransport.TLS.commonName(of: NodeID(UInt32(i))),
                                                                                             publicKey: key.publicKey, issuer: ca, issuerKey: caKey,
                                                                                             validFor: 86_400), key: key)
        }
        var transports = [TCPTransport]()
        let identities = try (0..<5).map { try identity($0) }
        for i in 0..<5 {
            var c = TCPTransport.Configuration(node: NodeID(UInt32(i)), chainID: 53, genesisHash: genesis.headerHash)
            c.tls = identities[i]
            c.maximumReconnectDelay = .milliseconds(200)
            transports.append(try await TCPTransport.start(c))
        }
        // Node 4 is in every peer list but not a validator and not registered.
        for i in 0..<5 {
            transports[i].updatePeers(Dictionary(uniqueKeysWithValues: (0..<5).filter { $0 != i }.map {
                (NodeID(UInt32($0)), TCPTransport.Endpoint(host: "127.0.0.1", port: transports[$0].port))
            }))
        }
        var nodes = [Node<PBFTEngine>]()
        for i in 0..<4 {
            let configuration = NodeConfiguration(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, schedule: schedule,
                                                  storePath: "\(dir)/node\(i).sqlite")
            let node = try await Node<PBFTEngine>(configuration: configuration, transport: transports[i],
                                                  executors: [KeyValueExecutor(), AccessExecutor()])
            let reader = Reader(store: await node.ledger)
            let members = Set(validators.ids)
            transports[i].setAdmission { peer, certificate in
                NodeRegistration.refusal(for: peer, certificate: certificate, validators: members, state: reader)
            }
            await node.start()
            nodes.append(node)
        }
        func peers(_ i: Int) async -> [NodeID] { await transports[i].connectedPeers() }
        #expect(await eventually {
            for i in 0..<4 where await peers(i) != [0, 1, 2, 3].filter({ $0 != NodeID(UInt32(i)) }) { return false }
            return true
        }, "the validators link; node 4 is refused by every one")
        // Node 4 may hold a link for the moment of a handshake its peer then refuses.
        #expect(await eventually { await peers(4).isEmpty }, "node 4 holds no link")

        // The genesis key suspends node 3: every peer closes its link and refuses it; the other three go on.
        var founder = SigningAccount(key: genesisKey, chainID: 53)
        let suspend = try await nodes[0].submit(try founder.transaction(kind: AccessExecutor.kind,
                                                                       body: AccessOperation.body([.setNode(3, status: .suspended, certificateKeyHash: nil)])),
                                                timeout: .seconds(60))
        #expect(suspend.status == Receipt.success, "\(String(decoding: suspend.output, as: UTF8.self))")
        #expect(await eventually {
            for i in 0..<3 where await peers(i).contains(3) { return false }
            return true
        }, "node 3 cut off")
        var alice = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32)), chainID: 53)
        for i in 0..<3 { #expect(try await nodes[i].submit(try alice.set(key: Array("lot-\(i)".utf8), value: [1]), timeout: .seconds(60)).status == 0) }

        // Registered active again (with node 4 registered too): node 3 links and catches up; node 4 links.
        let restore = try await nodes[0].submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .setNode(3, status: .active, certificateKeyHash: nil),
            .setNode(4, status: .active, certificateKeyHash: HashAlgorithm.sha256.hash(identities[4].certificate.publicKeyDER)),
        ])), timeout: .seconds(60))
        #expect(restore.status == Receipt.success)
        #expect(await eventually { let p = await peers(0); return p.contains(3) && p.contains(4) }, "node 3 back, node 4 admitted")
        let head = await nodes[0].head.height
        #expect(await eventually { await nodes[3].head.height >= head }, "node 3 caught up")

        // A node operator without every factory may not change nodes; the registry decodes what it wrote.
        let entry = try #require(try NodeRegistration.registration(of: 4, state: Reader(store: await nodes[1].ledger)))
        #expect(entry.status == .active && entry.certificateKeyHash != nil)
        for node in nodes { await node.stop() }
        for t in transports { await t.close() }
    }
}
