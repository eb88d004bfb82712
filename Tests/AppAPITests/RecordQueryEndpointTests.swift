@testable import AppAPI
@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import Net
import Testing

/// Record queries from a ``ForgeChainClient`` over real sockets and mutual TLS: nodes of a cluster keep a record
/// index (``RecordQueryEndpoint``) and answer requests signed by keys the chain lists, checking the account's rights
/// on the node; the answers are the platform's typed values, and refusals carry the platform's codes.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RecordQueryEndpointTests {
    struct Network {
        let cluster: Cluster
        let chainID: UInt64
        let anchor: TrustAnchor
        let endpoints: [RecordQueryEndpoint]
        let servers: [NodeControlServer]
        let alice: PrivateKey
        let bob: PrivateKey
        let ca: X509Certificate
        let caKey: PrivateKey

        func identity(_ name: String) throws -> TCPTransport.TLS {
            let key = try PrivateKey.generate(.p256)
            return TCPTransport.TLS(authority: ca, certificate: try X509Certificate.issue(commonName: name, publicKey: key.publicKey, issuer: ca,
                                                                                             issuerKey: caKey, validFor: 86_400), key: key)
        }

        func client() async throws -> ForgeChainClient {
            var c = ForgeChainClient.Configuration(nodes: servers.enumerated().map { .init(id: NodeID(UInt32($0)), host: "127.0.0.1", port: $1.port) },
                                                   outboxPath: try RecordQueryEndpointTests.temporaryDirectory("query-client") + "/outbox.sqlite")
            c.tls = try identity("forgechain-client-plant-7")
            c.requestTimeout = .seconds(20)
            return try await ForgeChainClient.open(c)
        }

        func stop() async {
            for s in servers { await s.close() }
            for e in endpoints { e.close() }
            await cluster.shutdown()
        }
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fc-\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func create(_ record: ManufacturingRecord, uploader: String) -> RecordOperation {
        RecordOperation(kind: .create, recordID: record.recordID, version: 1, recordBytes: record.canonicalEncoding, digest: record.digest(),
                        uploader: uploader)
    }

    /// Four PBFT nodes; `alice` (operator, F-KM-02) uploaded P-1 and P-2; `bob` is a viewer of F-SH-01 only; nodes 0
    /// and 1 serve record queries on a TLS client endpoint.
    static func start(seed: UInt64) async throws -> Network {
        var c = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: seed)
        c.clock = .simulated
        c.executors = [RecordsExecutor(), AccessExecutor()]
        let cluster = try await Cluster.start(c)
        var founder = SigningAccount(key: cluster.genesisKey, chainID: c.chainID, hashAlgorithm: c.hashAlgorithm)
        var alice = cluster.account(1)
        let bob = cluster.account(2)
        let registered = try await cluster.submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .putAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true),
            .addKey(user: "alice", key: alice.key.publicKey),
            .putAccount(user: "bob", roles: [.viewer], scope: .factories(["F-SH-01"]), enabled: true),
            .addKey(user: "bob", key: bob.key.publicKey)])), timeout: .seconds(120))
        #expect(registered.status == Receipt.success)
        let uploaded = try await cluster.submit(try alice.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body([
            create(RecordsFixture.production(1), uploader: "alice"), create(RecordsFixture.production(2), uploader: "alice")])),
                                                timeout: .seconds(120))
        #expect(uploaded.status == Receipt.success, "\(String(decoding: uploaded.output, as: UTF8.self))")
        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "record query tests CA", key: caKey, validFor: 86_400)
        var endpoints = [RecordQueryEndpoint](), servers = [NodeControlServer]()
        for i in 0..<2 {
            let node = try await cluster.node(NodeID(UInt32(i)))
            let endpoint = try await RecordQueryEndpoint.start(node: node, indexPath: cluster.directory + "/records-index-\(i).sqlite",
                                                               chainID: c.chainID)
            endpoints.append(endpoint)
            let key = try PrivateKey.generate(.p256)
            let tls = TCPTransport.TLS(authority: ca, certificate: try X509Certificate.issue(commonName: "forgechain-node-\(i)", publicKey: key.publicKey,
                                                                                             issuer: ca, issuerKey: caKey, validFor: 86_400), key: key)
            servers.append(try await NodeControlServer.start(node: node, port: 0, tls: tls, operations: endpoint.operations))
        }
        return Network(cluster: cluster, chainID: c.chainID,
                       anchor: TrustAnchor(chainID: c.chainID, hashAlgorithm: c.hashAlgorithm, validators: cluster.schedule.initial.validators!),
                       endpoints: endpoints, servers: servers, alice: alice.key, bob: bob.key, ca: ca, caKey: caKey)
    }

    @Test func aClientQueriesRecordsCommittedOnTheNodesWithProofsAndIsRefusedWithoutPermission() async throws {
        let network = try await Self.start(seed: 71)
        let client = try await network.client()

        let page = try await client.queryRecords(RecordQuery(factoryUID: "F-KM-02", includeProofs: true), signedBy: network.alice, chainID: network.chainID)
        #expect(page.records.map(\.recordID) == [RecordsFixture.production(1).recordID, RecordsFixture.production(2).recordID])
        #expect(page.records.allSatisfy { $0.uploader == "alice" && $0.version == 1 })
        #expect(page.behind == 0 && page.headHeight >= 2)
        for r in page.records { try #require(r.proof).verify(against: network.anchor, record: r.record) }
        // Both nodes answer (round robin), with the same records.
        let second = try await client.queryRecords(RecordQuery(batchNumber: "B-17"), signedBy: network.alice, chainID: network.chainID)
        #expect(second.records.map(\.recordID) == page.records.map(\.recordID))
        #expect(Set(await client.requestsPerNode.keys).count == 2)

        let one = try await client.record(RecordsFixture.production(2).recordID, signedBy: network.alice, chainID: network.chainID)
        #expect(one.record == RecordsFixture.production(2))
        try #require(one.proof).verify(against: network.anchor, record: one.record)

        // Bob's account has no right to F-KM-02: refused with the platform's code, and its records look absent.
        let denied = await #expect(throws: AppError.self) {
            _ = try await client.queryRecords(RecordQuery(factoryUID: "F-KM-02"), signedBy: network.bob, chainID: network.chainID)
        }
        #expect(denied?.code == .permissionDenied && denied?.details["user"] == "bob", "\(String(describing: denied))")
        let bobsPage = try await client.queryRecords(RecordQuery(), signedBy: network.bob, chainID: network.chainID)
        #expect(bobsPage.records.isEmpty)
        let hidden = await #expect(throws: AppError.self) {
            _ = try await client.record(RecordsFixture.production(1).recordID, signedBy: network.bob, chainID: network.chainID)
        }
        #expect(hidden?.code == .recordNotFound)

        // A key the chain does not list, a signature for another chain, a stale request.
        let stranger = await #expect(throws: AppError.self) {
            _ = try await client.queryRecords(RecordQuery(), signedBy: try PrivateKey.generate(.ed25519), chainID: network.chainID)
        }
        #expect(stranger?.code == .signerNotRegistered)
        let otherChain = await #expect(throws: AppError.self) {
            _ = try await client.queryRecords(RecordQuery(), signedBy: network.alice, chainID: network.chainID + 1)
        }
        #expect(otherChain?.code == .requestSignatureInvalid)
        let stale = try SignedRequest(op: "records.query", body: "{}", key: network.alice, chainID: network.chainID,
                                      time: Timestamp.now().rawValue - 600_000)
        let expired = await #expect(throws: AppError.self) {
            _ = try ControlWire.value(RecordPage.self, from: try await client.exchange(try ControlWire.encode(stale)))
        }
        #expect(expired?.code == .requestExpired)
        // The signature covers the body: a changed query is refused.
        var forged = try SignedRequest(op: "records.query", body: #"{"factoryUID":"F-SH-01"}"#, key: network.bob, chainID: network.chainID)
        forged.body = #"{"factoryUID":"F-KM-02"}"#
        let tampered = await #expect(throws: AppError.self) {
            _ = try ControlWire.value(RecordPage.self, from: try await client.exchange(try ControlWire.encode(forged)))
        }
        #expect(tampered?.code == .requestSignatureInvalid)

        // A node that stops answering: the query fails over to the other.
        await network.servers[0].close()
        for _ in 0..<3 {
            let failedOver = try await client.queryRecords(RecordQuery(), signedBy: network.alice, chainID: network.chainID)
            #expect(failedOver.records.count == 2)
        }

        // A client without a certificate of the consortium gets no answer at all.
        var plain = ForgeChainClient.Configuration(nodes: [.init(id: 1, host: "127.0.0.1", port: network.servers[1].port)],
                                                   outboxPath: try RecordQueryEndpointTests.temporaryDirectory("plain-client") + "/outbox.sqlite")
        plain.requestTimeout = .seconds(5)
        let outsider = try await ForgeChainClient.open(plain)
        let unreachable = await #expect(throws: ChainError.self) {
            _ = try await outsider.queryRecords(RecordQuery(), signedBy: network.alice, chainID: network.chainID)
        }
        #expect(unreachable?.code == .controlSocketFailed)
        await outsider.close()
        await client.close()
        await network.stop()
    }

    @Test func garbageRequestsToTheAddedOperationsAreAnsweredWithATypedCodeAndHarmNothing() async throws {
        let network = try await Self.start(seed: 72)
        let socket = try Self.temporaryDirectory("fuzz") + "/node.sock"
        let node = try await network.cluster.node(0)
        let f = try await RecordsFixture.open()
        var operations = network.endpoints[0].operations
        operations.merge(PlatformControl.operations(for: f.platform)) { a, _ in a }
        let server = try await NodeControlServer.start(node: node, path: socket, operations: operations)
        let control = NodeControlClient(path: socket)
        let everything = String(decoding: try ControlWire.encode(RecordQuery()), as: UTF8.self)
        let valid = try ControlWire.encode(try SignedRequest(op: "records.query", body: everything, key: network.alice, chainID: network.chainID))
        var rng = SplitMix64(seed: 0xF0_2219)
        func random(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        var inputs = [Data]()
        for op in operations.keys.sorted() {
            inputs.append(Data(#"{"op":"\#(op)"}"#.utf8))
            inputs.append(Data(#"{"op":"\#(op)","token":7,"query":[],"records":["zz"],"user":null,"body":{}}"#.utf8))
            inputs.append(Data(#"{"op":"\#(op)","records":[],"token":"x","user":"u","password":"p","roles":["god"],"scope":"*"}"#.utf8))
            for _ in 0..<8 { inputs.append(Data(#"{"op":"\#(op)","#.utf8) + Data(random(Int(rng.next() % 64)).filter { $0 != 0x0A })) }
        }
        for _ in 0..<64 {
            var bytes = Array(valid)
            for _ in 0..<1 + Int(rng.next() % 4) { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            inputs.append(Data(bytes.filter { $0 != 0x0A }))
        }
        for input in inputs {
            let answer = try await control.exchange(input, timeout: .seconds(30))
            let object = try #require(try JSONSerialization.jsonObject(with: answer) as? [String: Any], "\(String(decoding: input, as: UTF8.self))")
            if object["ok"] as? Bool == true { continue }   // a mutation that left the request valid
            let code = object["code"] as? Int ?? 0
            #expect(code == 4200 || (5000..<6000).contains(code),
                    "\(String(decoding: input, as: UTF8.self)) → \(object)")
            #expect(object["message"] is String)
        }
        // Unharmed: the node and the platform still answer, with the same records.
        let page = try ControlWire.value(RecordPage.self, from: try await control.exchange(valid))
        #expect(page.records.count == 2)
        let client = try await network.client()
        let again = try await client.queryRecords(RecordQuery(), signedBy: network.alice, chainID: network.chainID)
        #expect(again.records.count == 2)
        let status = try await control.request(["op": "status"])
        #expect(status["ok"] as? Bool == true)
        #expect(try await f.platform.identity.login(user: "root", password: RecordsFixture.password, oneTimeCode: nil).token.isEmpty == false)
        await client.close()
        await server.close()
        await f.close()
        await network.stop()
    }
}
