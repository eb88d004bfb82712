import Contracts
import LedgerCrypto
import LedgerModel
import Synchronization
import Testing

/// A world state in memory: the executor's outcomes applied as a node applies them (writes only on success).
final class MemoryWorld: StateReader {
    var values: [[UInt8]: [UInt8]] = [:]
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { values[key] }
    func apply(_ outcome: ExecutionOutcome) {
        guard outcome.status == Receipt.success else { return }
        for change in outcome.writes.changes { values[change.key] = change.value }
    }
}

/// Hand-assembled contracts for the lifecycle tests.
enum TestContracts {
    /// Runtime: slot 0 += step; LOG1(topic 1, the new value); returns the new value.
    static func counterRuntime(step: UInt8) -> [UInt8] {
        [0x60, 0x00, 0x54, 0x60, step, 0x01, 0x80, 0x60, 0x00, 0x55, 0x80, 0x60, 0x00, 0x52,
         0x60, 0x01, 0x60, 0x20, 0x60, 0x00, 0xA1, 0x60, 0x20, 0x60, 0x00, 0xF3]
    }

    /// Init code that returns `runtime` as the contract's code.
    static func deployment(of runtime: [UInt8]) -> [UInt8] {
        let n = UInt8(runtime.count)
        return [0x60, n, 0x60, 12, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3] + runtime
    }

    /// Runtime that CALLs `target` with no data and returns the call's success flag.
    static func callerRuntime(target: EVMAddress) -> [UInt8] {
        [0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x73] + target.bytes
            + [0x5A, 0xF1, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xF3]
    }
}

struct ContractChain {
    var executor = ContractExecutor()
    let world = MemoryWorld()
    let founder: PrivateKey
    var height: UInt64 = 1

    init() throws { founder = try PrivateKey.generate(.secp256k1) }

    @discardableResult
    mutating func run(_ operation: ContractOperation, by key: PrivateKey? = nil, sameBlock: Bool = false) throws -> ExecutionOutcome {
        if !sameBlock { height += 1 }
        let sender = (key ?? founder).publicKey
        let tx = Transaction(chainID: 7, sender: sender, nonce: 0, timestamp: Timestamp(millisecondsSince1970: height * 1_000),
                             payload: TransactionPayload(kind: ContractExecutor.kind, body: operation.encoded))
        let context = ExecutionContext(chainID: 7, height: Height(height), timestamp: Timestamp(millisecondsSince1970: height * 1_000),
                                       hashAlgorithm: .sha256, transactionIndex: 0, transactionID: Digest(repeating: 0),
                                       genesisProducer: founder.publicKey)
        let outcome = try executor.execute(tx, context: context, state: world)
        world.apply(outcome)
        return outcome
    }

    func word(_ outcome: ExecutionOutcome) -> UInt256 { UInt256(bigEndian: outcome.output) }
}

@Suite struct ContractExecutorTests {
    @Test func aDeployedContractIsCalledByNameAndRecordsItsState() throws {
        var chain = try ContractChain()
        let deployed = try chain.run(.deploy(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)), gasLimit: 200_000))
        #expect(deployed.status == Receipt.success, "\(String(decoding: deployed.output, as: UTF8.self))")
        let address = try #require(EVMAddress(bytes: deployed.output))
        #expect(address == EVMAddress.created(by: EVMAddress(publicKey: chain.founder.publicKey), nonce: 0))
        let state = try #require(try ContractRegistry.state(of: address, in: chain.world))
        #expect(state.name == "counter" && state.version == 1 && state.status == .active)
        #expect(state.codeHash == UInt256(bigEndian: Keccak256.hash(TestContracts.counterRuntime(step: 1)).bytes))
        #expect(state.creator == EVMAddress(publicKey: chain.founder.publicKey) && state.createdHeight == 2)

        for expected in UInt64(1)...3 {
            let call = try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))
            #expect(call.status == Receipt.success && chain.word(call) == UInt256(expected))
            #expect(call.logs.count == 1 && call.logs[0].emitter == address.bytes && call.logs[0].data == UInt256(expected).bigEndianBytes)
        }
        // The same contract by address.
        #expect(chain.word(try chain.run(.call(.address(address), data: [], gasLimit: 100_000))) == UInt256(4))
    }

    @Test func pausedTerminatedAndDeletedContractsRefuseCallsAndNothingIsWritten() throws {
        var chain = try ContractChain()
        try chain.run(.deploy(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)), gasLimit: 200_000))
        try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))
        #expect(try chain.run(.pause(name: "counter")).status == Receipt.success)
        let before = chain.world.values
        let paused = try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))
        #expect(paused.status == UInt64(ContractError.Code.contractPaused.rawValue))
        #expect(chain.world.values == before)
        #expect(try chain.run(.pause(name: "counter")).status == UInt64(ContractError.Code.contractStatusConflict.rawValue))
        #expect(try chain.run(.resume(name: "counter")).status == Receipt.success)
        #expect(chain.word(try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))) == UInt256(2))
        #expect(try chain.run(.terminate(name: "counter")).status == Receipt.success)
        #expect(try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000)).status == UInt64(ContractError.Code.contractTerminated.rawValue))
        #expect(try chain.run(.resume(name: "counter")).status == UInt64(ContractError.Code.contractStatusConflict.rawValue))
        #expect(try chain.run(.delete(name: "counter")).status == Receipt.success)
        #expect(try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000)).status == UInt64(ContractError.Code.contractDeleted.rawValue))
        let tombstone = try #require(try ContractRegistry.state(named: "counter", at: chain.height, in: chain.world))
        #expect(tombstone.status == .deleted && tombstone.codeHash != EVMAccount.emptyCodeHash)
        #expect(try chain.run(.delete(name: "counter")).status == UInt64(ContractError.Code.contractStatusConflict.rawValue))
    }

    @Test func aContractCannotReachAPausedOne() throws {
        var chain = try ContractChain()
        let target = try #require(EVMAddress(bytes: try chain.run(.deploy(name: "counter",
            initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)), gasLimit: 200_000)).output))
        try chain.run(.deploy(name: "caller", initCode: TestContracts.deployment(of: TestContracts.callerRuntime(target: target)), gasLimit: 200_000))
        #expect(chain.word(try chain.run(.call(.name("caller"), data: [], gasLimit: 200_000))) == UInt256(1))
        try chain.run(.pause(name: "counter"))
        let refused = try chain.run(.call(.name("caller"), data: [], gasLimit: 200_000))
        #expect(refused.status == UInt64(ContractError.Code.contractPaused.rawValue))
    }

    @Test func anUpdateSwitchesAtTheNextBlockAndKeepsOrMigratesStorage() throws {
        var chain = try ContractChain()
        try chain.run(.deploy(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)), gasLimit: 200_000))
        try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))   // 1
        let update = try chain.run(.update(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 10)),
                                           gasLimit: 200_000, storage: .keep))
        #expect(update.status == Receipt.success)
        let v2 = try #require(EVMAddress(bytes: update.output))
        // A call in the same block as the update still runs version 1.
        #expect(chain.word(try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000), sameBlock: true)) == UInt256(2))
        // From the next block, version 2, on the kept storage.
        #expect(chain.word(try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))) == UInt256(12))
        let state = try #require(try ContractRegistry.state(named: "counter", at: chain.height, in: chain.world))
        #expect(state.address == v2 && state.version == 2)
        // The old version's address is refused once superseded.
        let old = try #require(try ContractRegistry.state(named: "counter", at: 0, in: chain.world))
        #expect(try chain.run(.call(.address(old.address), data: [], gasLimit: 100_000)).status == UInt64(ContractError.Code.contractSuperseded.rawValue))

        try chain.run(.update(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 5)), gasLimit: 200_000, storage: .migrate))
        #expect(chain.word(try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))) == UInt256(5), "fresh storage")
    }

    @Test func permissionsAreDecidedOnChain() throws {
        var chain = try ContractChain()
        let stranger = try PrivateKey.generate(.secp256k1)
        let strangerAddress = EVMAddress(publicKey: stranger.publicKey)
        let code = TestContracts.deployment(of: TestContracts.counterRuntime(step: 1))
        let before = chain.world.values
        #expect(try chain.run(.deploy(name: "mine", initCode: code, gasLimit: 200_000), by: stranger).status
                == UInt64(ContractError.Code.contractPermissionDenied.rawValue))
        #expect(chain.world.values == before)
        #expect(try chain.run(.grant(account: strangerAddress, action: .deploy, scope: "*"), by: stranger).status
                == UInt64(ContractError.Code.contractPermissionDenied.rawValue))
        #expect(try chain.run(.grant(account: strangerAddress, action: .deploy, scope: "*")).status == Receipt.success)
        #expect(try chain.run(.deploy(name: "mine", initCode: code, gasLimit: 200_000), by: stranger).status == Receipt.success)
        // The deployer manages its own contract; another account may not until granted.
        try chain.run(.deploy(name: "founders", initCode: code, gasLimit: 200_000))
        #expect(try chain.run(.pause(name: "founders"), by: stranger).status == UInt64(ContractError.Code.contractPermissionDenied.rawValue))
        #expect(try chain.run(.pause(name: "mine"), by: stranger).status == Receipt.success)
        #expect(try chain.run(.grant(account: strangerAddress, action: .pause, scope: "founders")).status == Receipt.success)
        #expect(try chain.run(.pause(name: "founders"), by: stranger).status == Receipt.success)
        #expect(try chain.run(.revoke(account: strangerAddress, action: .deploy, scope: "*")).status == Receipt.success)
        #expect(try chain.run(.deploy(name: "again", initCode: code, gasLimit: 200_000), by: stranger).status
                == UInt64(ContractError.Code.contractPermissionDenied.rawValue))
        // Names are unique.
        #expect(try chain.run(.deploy(name: "mine", initCode: code, gasLimit: 200_000)).status == UInt64(ContractError.Code.contractNameTaken.rawValue))
    }

    @Test func tamperedCodeIsRefusedOnLoad() throws {
        let alerts = AlertBox()
        var chain = try ContractChain()
        chain.executor = ContractExecutor(alerts: { error in alerts.add(error) })
        try chain.run(.deploy(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)), gasLimit: 200_000))
        let codeKey = try #require(chain.world.values.keys.first { $0.starts(with: Array("evm/c/".utf8)) })
        chain.world.values[codeKey]![1] ^= 0x01
        let before = chain.world.values
        let refused = try chain.run(.call(.name("counter"), data: [], gasLimit: 100_000))
        #expect(refused.status == UInt64(ContractError.Code.codeTampered.rawValue))
        #expect(chain.world.values == before)
        // The failed transaction carries the alert for the event feed.
        #expect(alerts.codes == [ContractError.Code.codeTampered.rawValue], "the node's delegate hears of it")
        #expect(refused.logs.map(\.topics) == [[ContractExecutor.securityAlertTopic]] && refused.logs[0].emitter == ContractExecutor.systemEmitter)
    }

    @Test func manualEventsNeedThePermissionAndAreLogged() throws {
        var chain = try ContractChain()
        let stranger = try PrivateKey.generate(.secp256k1)
        let address = try #require(EVMAddress(bytes: try chain.run(.deploy(name: "counter",
            initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)), gasLimit: 200_000)).output))
        let emitted = try chain.run(.emit(name: "counter", signature: "Inspected(string,uint256)", data: [1, 2, 3]))
        #expect(emitted.status == Receipt.success && emitted.logs.count == 1)
        #expect(emitted.logs[0].emitter == address.bytes && emitted.logs[0].topics == [Keccak256.hash(Array("Inspected(string,uint256)".utf8))])
        #expect(try chain.run(.emit(name: "counter", signature: "Inspected(string,uint256)", data: []), by: stranger).status
                == UInt64(ContractError.Code.contractPermissionDenied.rawValue))
    }

    @Test func theGasEstimateIsTheLeastLimitThatSucceeds() throws {
        var chain = try ContractChain()
        let code = TestContracts.deployment(of: TestContracts.counterRuntime(step: 1))
        let deployGas = try chain.executor.estimateGas(.deploy(name: "counter", initCode: code, gasLimit: 0), sender: chain.founder.publicKey,
                                                       founder: chain.founder.publicKey, height: chain.height + 1, chainID: 7, state: chain.world)
        #expect(deployGas > 53_000, "creation costs at least 53,000")
        #expect(chain.world.values.isEmpty, "an estimate writes nothing")
        #expect(try chain.run(.deploy(name: "counter", initCode: code, gasLimit: deployGas - 1)).status != Receipt.success)
        #expect(try chain.run(.deploy(name: "counter", initCode: code, gasLimit: deployGas)).status == Receipt.success)
        let callGas = try chain.executor.estimateGas(.call(.name("counter"), data: [], gasLimit: 0), sender: chain.founder.publicKey,
                                                     height: chain.height + 1, chainID: 7, state: chain.world)
        #expect(try chain.run(.call(.name("counter"), data: [], gasLimit: callGas - 1)).status == UInt64(ContractError.Code.contractHalted.rawValue))
        #expect(try chain.run(.call(.name("counter"), data: [], gasLimit: callGas)).status == Receipt.success)
        #expect(try chain.executor.estimateGas(.pause(name: "counter"), sender: chain.founder.publicKey, height: 9, chainID: 7, state: chain.world) == 0)
        #expect(throws: ContractError.self) {
            try chain.executor.estimateGas(.call(.name("nothing"), data: [], gasLimit: 0), sender: chain.founder.publicKey, height: 9, chainID: 7, state: chain.world)
        }
    }

    @Test func aDeploymentPolicyRefusesCodeTheAuditFlags() throws {
        var chain = try ContractChain()
        chain.executor = ContractExecutor(deploymentPolicy: .refuseMediumAndAbove)
        // CALLER SELFDESTRUCT: a medium finding.
        let before = chain.world.values
        let refused = try chain.run(.deploy(name: "bomb", initCode: TestContracts.deployment(of: [0x33, 0xFF]), gasLimit: 200_000))
        #expect(refused.status == UInt64(ContractError.Code.deploymentRefusedByAudit.rawValue))
        #expect(chain.world.values == before)
        #expect(try chain.run(.deploy(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)),
                                      gasLimit: 200_000)).status == Receipt.success)
        chain.executor = ContractExecutor(deploymentPolicy: .refuseHigh)
        #expect(try chain.run(.deploy(name: "bomb", initCode: TestContracts.deployment(of: [0x33, 0xFF]), gasLimit: 200_000)).status == Receipt.success)
    }

    @Test func gasBeyondTheNodeLimitAndMalformedBodiesAreRefused() throws {
        var chain = try ContractChain()
        #expect(try chain.run(.deploy(name: "big", initCode: [0x00], gasLimit: 30_000_001)).status
                == UInt64(ContractError.Code.contractGasLimitExceeded.rawValue))
        for body: [UInt8] in [[], [0xC0], RLP.encode(.list([.string("fly")])), RLP.encode(.list([.string("deploy"), .string("9bad"), .bytes([]), .uint(1)])),
                              RLP.encode(.list([.string("call"), .list([.string("address"), .bytes([1, 2])]), .bytes([]), .uint(1)]))] {
            #expect(throws: ContractError.self) { try ContractOperation(decoding: body) }
        }
        for operation: ContractOperation in [.deploy(name: "a", initCode: [1], gasLimit: 5), .call(.name("a.b-c_d"), data: [9], gasLimit: 1),
                                             .update(name: "a", initCode: [], gasLimit: 1, storage: .migrate), .pause(name: "x"),
                                             .grant(account: EVMAddress(word: UInt256(7)), action: .emit, scope: "*"),
                                             .emit(name: "a", signature: "E(uint256)", data: [])] {
            #expect(try ContractOperation(decoding: operation.encoded) == operation)
        }
    }
}

final class AlertBox: Sendable {
    private let errors = Mutex<[ContractError]>([])
    func add(_ error: ContractError) { errors.withLock { $0.append(error) } }
    var codes: [UInt32] { errors.withLock { $0.map(\.code.rawValue) } }

    @Test func blocksArePackedByTheGasLimitsTransactionsDeclare() throws {
        let executor = ContractExecutor(maximumTransactionGas: 100_000, blockGasLimit: 250_000)
        #expect(executor.blockCostLimit == 250_000)
        let key = try PrivateKey.generate(.secp256k1)
        func declared(_ operation: ContractOperation) -> UInt64 {
            executor.declaredCost(of: Transaction(chainID: 7, sender: key.publicKey, nonce: 0, timestamp: Timestamp(millisecondsSince1970: 1),
                                                  payload: TransactionPayload(kind: ContractExecutor.kind, body: operation.encoded)))
        }
        #expect(declared(.deploy(name: "c", initCode: [0x00], gasLimit: 90_000)) == 90_000)
        #expect(declared(.call(.name("c"), data: [], gasLimit: 60_000)) == 60_000)
        #expect(declared(.update(name: "c", initCode: [0x00], gasLimit: 70_000, storage: .keep)) == 70_000)
        #expect(declared(.pause(name: "c")) == 0)
        // Above the node's per-transaction limit it fails when it runs, so it must not be kept out of every block.
        #expect(declared(.call(.name("c"), data: [], gasLimit: 100_001)) == 0)
        #expect(executor.declaredCost(of: Transaction(chainID: 7, sender: key.publicKey, nonce: 0, timestamp: Timestamp(millisecondsSince1970: 1),
                                                      payload: TransactionPayload(kind: ContractExecutor.kind, body: [0xFF]))) == 0)
    }
}
