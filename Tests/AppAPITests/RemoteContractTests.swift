@testable import AppAPI
@testable import ChainRuntime
import Contracts
import Foundation
@testable import LedgerCore
import Net
import Testing

/// Contracts called from a program over the network: a ``ForgeChainClient`` (mutual TLS) reaches nodes that answer
/// through ``ContractEndpoint``; the contract (BatchCheck.vy) reads records through the records precompile on every node.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RemoteContractTests {
    @Test func aProgramDeploysCallsAndReadsAContractThroughTheClient() async throws {
        var c = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 83)
        c.clock = .simulated
        c.executors = [RecordsExecutor(), AccessExecutor(), ContractExecutor(precompiles: [RecordsPrecompile()])]
        let cluster = try await Cluster.start(c)
        var founder = SigningAccount(key: cluster.genesisKey, chainID: c.chainID, hashAlgorithm: c.hashAlgorithm)
        var alice = cluster.account(1)
        let registered = try await cluster.submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .putAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true),
            .addKey(user: "alice", key: alice.key.publicKey)])), timeout: .seconds(120))
        #expect(registered.status == Receipt.success)
        let record = RecordsFixture.production(1)
        let uploaded = try await cluster.submit(try alice.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body([
            RecordQueryEndpointTests.create(record, uploader: "alice")])), timeout: .seconds(120))
        #expect(uploaded.status == Receipt.success)

        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "remote contract tests CA", key: caKey, validFor: 86_400)
        func identity(_ name: String) throws -> TCPTransport.TLS {
            let key = try PrivateKey.generate(.p256)
            return TCPTransport.TLS(authority: ca, certificate: try X509Certificate.issue(commonName: name, publicKey: key.publicKey, issuer: ca,
                                                                                             issuerKey: caKey, validFor: 86_400), key: key)
        }
        var servers = [NodeControlServer]()
        for i in 0..<2 {
            let node = try await cluster.node(NodeID(UInt32(i)))
            let endpoint = ContractEndpoint(node: node, executor: ContractExecutor(precompiles: [RecordsPrecompile()]), chainID: c.chainID)
            servers.append(try await NodeControlServer.start(node: node, port: 0, tls: try identity("forgechain-node-\(i)"), operations: endpoint.operations))
        }
        var configuration = ForgeChainClient.Configuration(
            nodes: servers.enumerated().map { .init(id: NodeID(UInt32($0)), host: "127.0.0.1", port: $1.port) },
            outboxPath: try RecordQueryEndpointTests.temporaryDirectory("contract-client") + "/outbox.sqlite")
        configuration.tls = try identity("forgechain-client-plant-7")
        configuration.requestTimeout = .seconds(20)
        let client = try await ForgeChainClient.open(configuration)
        do {
            try await exercise(client: client, cluster: cluster, chainID: c.chainID, record: record)
        } catch {
            Issue.record(error)
        }
        await client.close()
        for s in servers { await s.close() }
        await cluster.shutdown()
    }

    func exercise(client: ForgeChainClient, cluster: Cluster, chainID: UInt64, record: ManufacturingRecord) async throws {

        // The founder's next nonce comes from a node (it signed the registration: 1).
        var account = try await RemoteContract.account(cluster.genesisKey, client: client, chainID: chainID)
        #expect(account.nextNonce == 1)
        let (interface, initCode) = try RecordsPrecompileTests.batchCheck()
        let (contract, deployed) = try await RemoteContract.deploy(name: "batch-check", initCode: initCode, interface: interface,
                                                                   account: &account, client: client, timeout: .seconds(120))
        let address = try #require(EVMAddress(bytes: deployed.output))
        let state = try await contract.state()
        #expect(state.address == address && state.status == .active && state.version == 1)
        #expect(state.creator == EVMAddress(publicKey: cluster.genesisKey.publicKey) && state.createdHeight == deployed.height)

        // Read-only calls answered by a node, through the records precompile.
        #expect(try await contract.view(UInt64.self, "latest_version", .string(record.recordID)) == 1)
        #expect(try await contract.view("factory_of", .string(record.recordID)) == [.string("F-KM-02")])
        let missing = await #expect(throws: ContractError.self) { _ = try await contract.view("latest_version", .string("P-404")) }
        #expect(missing?.code == .contractReverted && missing?.details["reason"] == "record not on chain", "\(String(describing: missing))")

        // A transaction awaited for its receipt (its event decoded), and one sent and fetched later.
        let gas = try await contract.estimateGas("check_batch", .string(record.recordID), .bytes(record.canonicalEncoding), .string("B-17"),
                                                 sender: cluster.genesisKey.publicKey)
        #expect(gas > 21_000 && gas < 1_000_000)
        let checked = try await contract.call("check_batch", .string(record.recordID), .bytes(record.canonicalEncoding), .string("B-17"),
                                              account: &account, timeout: .seconds(120))
        #expect(try interface.decodeOutput(of: "check_batch", from: checked.output) == [.bool(true)])
        #expect(contract.events(in: checked).map(\.values) == [[.string(record.recordID), .uint(1), .bool(true)]])
        let id = try await contract.send("check_batch", .string(record.recordID), .bytes(record.canonicalEncoding), .string("B-18"),
                                         account: &account)
        _ = try await client.waitUntilSettled([id], timeout: .seconds(120))
        let later = try #require(try await contract.receipt(of: id))
        #expect(later.height > checked.height && contract.events(in: later).map(\.values) == [[.string(record.recordID), .uint(1), .bool(false)]])
        #expect(try await contract.view(UInt64.self, "checked", .string(record.recordID)) == 1)

        // A call that would revert is refused before anything is sent (the estimate runs it), with the contract's reason.
        let refused = await #expect(throws: ContractError.self) {
            _ = try await contract.send("check_batch", .string(record.recordID), .bytes(RecordsFixture.production(2).canonicalEncoding),
                                        .string("B-17"), account: &account)
        }
        #expect(refused?.code == .contractReverted && refused?.details["reason"]?.contains("not the latest version") == true)
        // With a gas limit given, it is sent, and its failed receipt comes back as the executor's error.
        let failed = await #expect(throws: ContractError.self) {
            _ = try await contract.call("check_batch", .string(record.recordID), .bytes(RecordsFixture.production(2).canonicalEncoding),
                                        .string("B-17"), gasLimit: 500_000, account: &account, timeout: .seconds(120))
        }
        #expect(failed?.code == .contractReverted)

        // The contract's logs, paged and resumed from a checkpoint.
        let page = try await contract.logs(LogFilter(emitters: [address.bytes]))
        #expect(page.events.count == 2 && page.events[0].checkpoint < page.events[1].checkpoint)
        let resumed = try await contract.logs(LogFilter(emitters: [address.bytes]), after: page.events[0].checkpoint)
        #expect(resumed.events == [page.events[1]])
    }
}
