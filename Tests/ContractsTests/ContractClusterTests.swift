import ChainRuntime
import Contracts
@testable import LedgerCore
import Testing

/// Contracts on a running chain: four PBFT nodes execute the same contract transactions to the same state.
@Suite(.timeLimit(.minutes(3))) struct ContractClusterTests {
    @Test func fourNodesDeployCallAndPauseAContractAlike() async throws {
        var configuration = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 16)
        configuration.clock = .simulated
        configuration.executors = [ContractExecutor()]
        let cluster = try await Cluster.start(configuration)
        var founder = SigningAccount(key: cluster.genesisKey, chainID: configuration.chainID, hashAlgorithm: configuration.hashAlgorithm)
        var user = cluster.account(1)
        func submit(_ account: inout SigningAccount, _ operation: ContractOperation, to node: Int = 0) async throws -> Receipt {
            let tx = try account.transaction(kind: ContractExecutor.kind, body: operation.encoded)
            return try await cluster.submit(tx, to: cluster.nodeIDs[node], timeout: .seconds(120))
        }

        let deployed = try await submit(&founder, .deploy(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)),
                                                          gasLimit: 200_000))
        #expect(deployed.status == Receipt.success, "\(String(decoding: deployed.output, as: UTF8.self))")
        let address = try #require(EVMAddress(bytes: deployed.output))
        // A user without any grant calls it through each node in turn.
        for n in 0..<4 {
            let call = try await submit(&user, .call(.name("counter"), data: [], gasLimit: 100_000), to: n)
            #expect(call.status == Receipt.success && UInt256(bigEndian: call.output) == UInt256(UInt64(n + 1)))
            #expect(call.logs.first?.emitter == address.bytes)
        }
        // The user may not pause it; the founder may; then every node refuses the call with the same code.
        #expect(try await submit(&user, .pause(name: "counter")).status == UInt64(ContractError.Code.contractPermissionDenied.rawValue))
        #expect(try await submit(&founder, .pause(name: "counter"), to: 2).status == Receipt.success)
        let refused = try await submit(&user, .call(.name("counter"), data: [], gasLimit: 100_000), to: 3)
        #expect(refused.status == UInt64(ContractError.Code.contractPaused.rawValue))

        // Every node holds the same contract state.
        let heads = await cluster.heads()
        let height = try #require(heads.values.map(\.height).max())
        try await cluster.waitForHeight(height)
        var roots = Set<Digest>()
        for id in cluster.nodeIDs {
            let store = try await cluster.node(id).ledger
            let reader = StoreStateReader(store: store)
            let state = try #require(try ContractRegistry.state(named: "counter", at: height.rawValue + 1, in: reader))
            #expect(state.status == .paused && state.version == 1 && state.address == address)
            roots.insert(try store.block(atHeight: height).header.stateRoot)
        }
        #expect(roots.count == 1)
        await cluster.shutdown()
    }
}

/// The ledger's committed state as a `StateReader`.
struct StoreStateReader: StateReader {
    let store: LedgerStore
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { try store.stateValue(forKey: key) }
}
