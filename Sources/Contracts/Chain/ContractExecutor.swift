import LedgerCrypto
import LedgerModel

/// Runs contract transactions (payload kind `contract`, body ``ContractOperation``) on ForgeChain's world state:
/// deployment, calls, updates, the lifecycle (pause, resume, terminate, delete), permissions and manually
/// triggered events (standard C-M-1…5, C-X-1, C-S-2, C-S-3, C-E-2).
///
/// Every rule is checked here, where every node executes the block, so no front door can bypass it: the
/// permissions (``ContractRegistry/isPermitted(_:_:on:founder:in:)``), the contract's status (a paused,
/// terminated, deleted or superseded contract refuses calls, also calls from other contracts), the gas limit and
/// the code hash of every code loaded (C-S-3). A refused or failed transaction gets a failed receipt with the
/// error's code and writes nothing.
///
/// The EVM runs with no fees: gas bounds the work of a transaction (``maximumTransactionGas``), the gas price and
/// base fee are zero, and COINBASE is the zero address. NUMBER is the block height, TIMESTAMP its time in seconds,
/// CHAINID the chain's ID, BLOCKHASH zero (block hashes are not in the world state).
///
/// Receipts: a call's or deployment's output is the EVM's return data (the new address for a deployment), its
/// logs the EVM's logs (emitter = the contract's 20-byte address, topics as digests); lifecycle changes log
/// `ContractStateChanged(address,uint8,uint64)` with the emitter `contracts`.
///
/// ```swift
/// let node = try await Node(..., executors: [ContractExecutor()])
/// let body = ContractOperation.deploy(name: "traceability", initCode: bytecode, gasLimit: 3_000_000).encoded
/// ```
public struct ContractExecutor: TransactionExecutor {
    /// The payload kind: `"contract"`.
    public static let kind = "contract"
    /// The emitter of the executor's own (system) logs.
    public static let systemEmitter = Array("contracts".utf8)
    /// topic0 of a lifecycle change's log: keccak256(`ContractStateChanged(address,uint8,uint64)`); data = the
    /// address, the new status and the version, ABI-encoded.
    public static let stateChangedTopic = Keccak256.hash(Array("ContractStateChanged(address,uint8,uint64)".utf8))

    /// topic0 of a security alert's log: keccak256(`SecurityAlert(address,uint32)`); data = the contract's address
    /// and the error code, ABI-encoded. It is logged by the failed transaction that met the tampered code (read it
    /// with a `LogFilter` that includes failed transactions).
    public static let securityAlertTopic = Keccak256.hash(Array("SecurityAlert(address,uint32)".utf8))

    /// The most gas one transaction may ask for; default 30,000,000.
    public let maximumTransactionGas: UInt64
    /// The block gas limit: the EVM reports it (GASLIMIT), and the gas limits of one block's contract transactions
    /// add up to at most this (the proposer packs blocks so; every node refuses a block that does not, 1905); default
    /// 30,000,000.
    public let blockGasLimit: UInt64
    /// The audit every deployed or updated runtime code must pass (nil: none). Part of the chain's rules: every
    /// node must run with the same policy, or they disagree on which deployments succeed.
    public let deploymentPolicy: DeploymentPolicy?
    /// Called on this node for every security alert (tampered code met during execution), besides the alert's log.
    public let alerts: (@Sendable (ContractError) -> Void)?
    /// The node's precompiles by address (see ``ContractPrecompile``).
    let precompiles: [EVMAddress: any ContractPrecompile]

    /// - Parameters:
    ///   - maximumTransactionGas: Optional, default 30,000,000; 21,000…2⁶³.
    ///   - blockGasLimit: Optional, default 30,000,000; at least `maximumTransactionGas`.
    ///   - deploymentPolicy: Optional, default nil. When set, a deployment or update whose runtime code the audit
    ///     (`ContractAudit`) finds defects in that the policy refuses fails with its code (2362) and writes nothing.
    ///   - alerts: Optional, default nil. The node's delegate for security alerts (C-S-4): it must not block and
    ///     must not change chain state (it runs inside block execution).
    ///   - precompiles: Optional, default none. The node's own precompiled contracts (AppAPI's `RecordsPrecompile`
    ///     lets contracts read manufacturing records); part of the chain's rules like the policy. Of two at one
    ///     address the last counts; one at 0x01–0x0a is never reached.
    public init(maximumTransactionGas: UInt64 = 30_000_000, blockGasLimit: UInt64 = 30_000_000, deploymentPolicy: DeploymentPolicy? = nil,
                alerts: (@Sendable (ContractError) -> Void)? = nil, precompiles: [any ContractPrecompile] = []) {
        self.maximumTransactionGas = maximumTransactionGas
        self.blockGasLimit = max(blockGasLimit, maximumTransactionGas)
        self.deploymentPolicy = deploymentPolicy
        self.alerts = alerts
        var table = [EVMAddress: any ContractPrecompile]()
        for precompile in precompiles { table[precompile.address] = precompile }
        self.precompiles = table
    }

    public var payloadKinds: [String] { [Self.kind] }

    /// A deployment's, call's or update's gas limit; 0 for the other operations, a limit above
    /// ``maximumTransactionGas`` and a body that does not decode (they fail when they run).
    public func declaredCost(of transaction: Transaction) -> UInt64 {
        switch try? ContractOperation(decoding: transaction.payload.body) {   // a malformed body fails when it runs
        // A limit above the node's fails when it runs, costing nothing; declaring it would keep it out of every block.
        case .deploy(_, _, let gas), .call(_, _, let gas), .update(_, _, let gas, _): gas <= maximumTransactionGas ? gas : 0
        default: 0
        }
    }

    /// ``blockGasLimit``: the gas limits of one block's contract transactions add up to at most this.
    public var blockCostLimit: UInt64? { blockGasLimit }

    public func execute(_ transaction: Transaction, context: ExecutionContext, state: any StateReader) throws(LedgerError) -> ExecutionOutcome {
        do {
            return try run(ContractOperation(decoding: transaction.payload.body), sender: EVMAddress(publicKey: transaction.sender),
                           context: context, state: state)
        } catch where error.code == .hostReadFailed {
            // A store failure is a node failure, not a failed transaction: hand the store's error back.
            throw LedgerError(.init(rawValue: UInt32(error.details["code"] ?? "") ?? 1500), error.message, details: error.details)
        } catch where error.code == .codeTampered {
            alerts?(error)
            var outcome = ExecutionOutcome.failure(error)
            let address = EVMAddress(hex: error.details["address"] ?? "") ?? EVMAddress(word: .zero)
            outcome.logs = [ReceiptLog(emitter: Self.systemEmitter, topics: [Self.securityAlertTopic],
                                       data: address.word.bigEndianBytes + UInt256(UInt64(error.code.rawValue)).bigEndianBytes)]
            return outcome
        } catch {
            return .failure(error)
        }
    }

    func run(_ operation: ContractOperation, sender: EVMAddress, context: ExecutionContext, state: any StateReader) throws(ContractError) -> ExecutionOutcome {
        let height = context.height.rawValue
        let founder = context.genesisProducer.map { EVMAddress(publicKey: $0) }
        func require(_ action: ContractAction, _ scope: String) throws(ContractError) {
            guard try ContractRegistry.isPermitted(sender, action, on: scope, founder: founder, in: state) else {
                throw ContractError(.contractPermissionDenied, "\(sender) may not \(action.rawValue) \(scope == "*" ? "contracts" : "contract '\(scope)'")",
                                    details: ["action": action.rawValue, "contract": scope, "account": sender.description])
            }
        }
        func named(_ name: String) throws(ContractError) -> ContractState {
            guard let contract = try ContractRegistry.state(named: name, at: height, in: state) else {
                throw ContractError(.contractNotFound, "no contract is registered as '\(name)'", details: ["contract": name])
            }
            return contract
        }
        switch operation {
        case .deploy(let name, let initCode, let gasLimit):
            if try ContractRegistry.nameEntry(name, in: state) != nil {
                throw ContractError(.contractNameTaken, "a contract is already registered as '\(name)'", details: ["contract": name])
            }
            try require(.deploy, name)
            return try create(name: name, version: 1, initCode: initCode, gasLimit: gasLimit, sender: sender, storageOwner: nil,
                              context: context, state: state) { address, writes in
                writes.set(ContractRegistry.nameKey(name), to: ContractRegistry.NameEntry(current: address).encoded)
                for action in [ContractAction.update, .pause, .resume, .terminate, .delete, .emit] {
                    writes.set(ContractRegistry.permissionKey(sender, action, name), to: [1])
                }
            }

        case .update(let name, let initCode, let gasLimit, let policy):
            try require(.update, name)
            guard var entry = try ContractRegistry.nameEntry(name, in: state) else {
                throw ContractError(.contractNotFound, "no contract is registered as '\(name)'", details: ["contract": name])
            }
            var old = try named(name)
            guard old.status == .active || old.status == .paused else {
                throw ContractError(.contractStatusConflict, "contract '\(name)' is \(old.status): it cannot be updated",
                                    details: ["contract": name, "status": old.status.description])
            }
            guard entry.pending == nil || height >= entry.switchHeight else {
                throw ContractError(.contractStatusConflict, "contract '\(name)' already has an update waiting for height \(entry.switchHeight)",
                                    details: ["contract": name, "status": "updating"])
            }
            let owner = policy == .keep ? (old.storageOwner ?? old.address) : nil
            return try create(name: name, version: old.version + 1, initCode: initCode, gasLimit: gasLimit, sender: sender,
                              storageOwner: owner, context: context, state: state) { address, writes in
                // The name switches at the next block: calls of this block still reach the old version.
                entry = ContractRegistry.NameEntry(current: old.address, pending: address, switchHeight: height + 1)
                writes.set(ContractRegistry.nameKey(name), to: entry.encoded)
                old.supersededFrom = height + 1
                old.updatedHeight = height
                old.updatedAt = context.timestamp.millisecondsSince1970
                writes.set(ContractRegistry.metaKey(old.address), to: old.encoded)
            }

        case .call(let target, let data, let gasLimit):
            let address: EVMAddress
            switch target {
            case .name(let name): address = try named(name).address
            case .address(let a): address = a
            }
            let host = LedgerEVMState(state: state, height: height, precompiles: precompiles)
            try host.checkCallable(address)
            return try execute(EVMTransaction(sender: sender, to: address, data: data, gasLimit: try checkedGas(gasLimit),
                                              nonce: try host.account(sender)?.nonce ?? 0),
                               host: host, context: context)

        case .pause(let name), .resume(let name), .terminate(let name), .delete(let name):
            let (action, from, to): (ContractAction, Set<ContractStatus>, ContractStatus) = switch operation {
            case .pause: (.pause, [.active], .paused)
            case .resume: (.resume, [.paused], .active)
            case .terminate: (.terminate, [.active, .paused], .terminated)
            default: (.delete, [.active, .paused, .terminated], .deleted)
            }
            try require(action, name)
            var contract = try named(name)
            guard from.contains(contract.status) else {
                throw ContractError(.contractStatusConflict, "contract '\(name)' is \(contract.status): it cannot be \(to == .active ? "resumed" : to.description)",
                                    details: ["contract": name, "status": contract.status.description])
            }
            contract.status = to
            contract.updatedHeight = height
            contract.updatedAt = context.timestamp.millisecondsSince1970
            var writes = StateChangeSet()
            writes.set(ContractRegistry.metaKey(contract.address), to: contract.encoded)
            if to == .deleted {
                // The code leaves the account (the tombstone is the registry record, which keeps the code hash).
                let host = LedgerEVMState(state: state, height: height, precompiles: precompiles)
                if let record = try host.record(contract.address), var account = record.account {
                    account.codeHash = EVMAccount.emptyCodeHash
                    writes.set(ContractStateLayout.accountKey(contract.address),
                               to: ContractStateLayout.AccountRecord(account: account, incarnation: record.incarnation).encoded)
                }
            }
            return ExecutionOutcome(logs: [Self.stateChangedLog(contract)], writes: writes)

        case .grant(let account, let action, let scope), .revoke(let account, let action, let scope):
            try require(.grant, scope)
            var writes = StateChangeSet()
            if case .grant = operation { writes.set(ContractRegistry.permissionKey(account, action, scope), to: [1]) } else {
                writes.delete(ContractRegistry.permissionKey(account, action, scope))
            }
            return ExecutionOutcome(writes: writes)

        case .emit(let name, let signature, let data):
            try require(.emit, name)
            let contract = try named(name)
            guard contract.status == .active else {
                throw ContractError(.contractStatusConflict, "contract '\(name)' is \(contract.status): its events cannot be triggered",
                                    details: ["contract": name, "status": contract.status.description])
            }
            let key = ContractRegistry.eventKey(contract.address, signature)
            var writes = StateChangeSet()
            if try ContractRegistry.read(state, key) == nil {
                // The first trigger of an event by an authorised caller registers it (C-E-1); later triggers find it.
                writes.set(key, to: Array(signature.utf8))
            }
            let topic = Keccak256.hash(Array(signature.utf8))
            return ExecutionOutcome(logs: [ReceiptLog(emitter: contract.address.bytes, topics: [topic], data: data)], writes: writes)
        }
    }

    /// A read-only call (`eth_call`): runs `target` with `data` against `state` and returns the return data;
    /// nothing is written and no transaction is made (standard C-X-1, C-X-4: results without a transaction).
    /// - Parameters:
    ///   - target: Required. A registered name or an address.
    ///   - data: Required. ABI-encoded call data.
    ///   - from: Optional, default the zero address. The caller the contract sees (CALLER, ORIGIN).
    ///   - gasLimit: Optional, default 30,000,000 (at most ``maximumTransactionGas``).
    ///   - height: Required. The height the call is made at (the next block's, for a node's head): it decides which
    ///     version a name resolves to, and NUMBER.
    ///   - chainID: Required. CHAINID.
    ///   - state: Required. The world state to read (a node's committed state).
    /// - Returns: The return data.
    /// - Throws: ``ContractError``: `contractNotFound` (2201), the status errors (2202–2204, 2213), `contractReverted`
    ///   (2208, `details["reason"]` and `details["output"]`), `contractHalted` (2209), `codeTampered` (2211).
    public func view(_ target: ContractTarget, data: [UInt8], from: EVMAddress = EVMAddress(word: .zero), gasLimit: UInt64 = 30_000_000,
                     height: UInt64, chainID: UInt64, state: any StateReader) throws(ContractError) -> [UInt8] {
        let address: EVMAddress
        switch target {
        case .name(let name):
            guard let contract = try ContractRegistry.state(named: name, at: height, in: state) else {
                throw ContractError(.contractNotFound, "no contract is registered as '\(name)'", details: ["contract": name])
            }
            address = contract.address
        case .address(let a): address = a
        }
        let host = LedgerEVMState(state: state, height: height, precompiles: precompiles)
        try host.checkCallable(address)
        let block = EVMBlockEnvironment(coinbase: EVMAddress(word: .zero), number: height, timestamp: 0, gasLimit: blockGasLimit, chainID: chainID)
        let result = try evm.call(from: from, to: address, data: data, gas: try checkedGas(gasLimit), block: block, state: host)
        try Self.check(result)
        return result.output
    }

    /// The least gas limit with which `operation` (a deployment, call or update) succeeds against `state`, found
    /// by running it (nothing is written) with the node's limit and then bisecting: the 63/64 rule and refunds make
    /// the gas used a lower bound only. Other operations need no gas: 0.
    /// - Parameters:
    ///   - operation: Required. Its own gas limit is ignored.
    ///   - sender: Required. The key that will sign the transaction (its permissions and EVM nonce count).
    ///   - founder: Optional. The chain's genesis producer, for permission checks (nil: no founder).
    ///   - height: Required. The height of the block expected to hold the transaction.
    ///   - chainID: Required. The chain's ID.
    ///   - state: Required. The world state to run against (a node's committed state).
    /// - Returns: A gas limit, at most ``maximumTransactionGas``.
    /// - Throws: ``ContractError``: the operation's own error when it fails even with ``maximumTransactionGas``.
    public func estimateGas(_ operation: ContractOperation, sender: PublicKey, founder: PublicKey? = nil, height: UInt64, chainID: UInt64,
                            state: any StateReader) throws(ContractError) -> UInt64 {
        func with(_ gas: UInt64) -> ContractOperation? {
            switch operation {
            case .deploy(let name, let code, _): .deploy(name: name, initCode: code, gasLimit: gas)
            case .call(let target, let data, _): .call(target, data: data, gasLimit: gas)
            case .update(let name, let code, _, let storage): .update(name: name, initCode: code, gasLimit: gas, storage: storage)
            default: nil
            }
        }
        guard with(0) != nil else { return 0 }
        let context = ExecutionContext(chainID: chainID, height: Height(height), timestamp: Timestamp(millisecondsSince1970: 0),
                                       hashAlgorithm: .default, transactionIndex: 0, transactionID: Digest(repeating: 0), genesisProducer: founder)
        let address = EVMAddress(publicKey: sender)
        func succeeds(_ gas: UInt64) throws(ContractError) -> ExecutionOutcome? {
            do { return try run(with(gas)!, sender: address, context: context, state: state) } catch where
                error.code == .contractHalted || (error.code == .contractReverted && gas < maximumTransactionGas) {
                return nil
            }
        }
        guard let full = try succeeds(maximumTransactionGas) else {
            _ = try run(with(maximumTransactionGas)!, sender: address, context: context, state: state)
            return maximumTransactionGas
        }
        var low = max(full.costUnits, 21_000) - 1, high = maximumTransactionGas
        if try succeeds(full.costUnits) != nil { return full.costUnits }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if try succeeds(middle) != nil { high = middle } else { low = middle }
        }
        return high
    }

    private var evm: EVM { EVM(configuration: EVMConfiguration(maxTransactionGas: maximumTransactionGas, maxBlockGas: blockGasLimit)) }

    private static func check(_ result: EVMExecutionResult) throws(ContractError) {
        switch result.status {
        case .success: return
        case .revert:
            let reason: String? = switch try? ABI.decodeRevert(result.output) {   // undecodable data: no reason, the bytes stay in `output`
            case .error(let text): text
            case .panic(let panic): panic.description
            default: nil
            }
            throw ContractError(.contractReverted, "the contract reverted" + (reason.map { ": \($0)" } ?? ""),
                                details: ["reason": reason ?? "", "output": Hex.encode(result.output), "gasUsed": String(result.gasUsed)])
        case .halt(let why):
            throw ContractError(.contractHalted, "the contract halted: \(why)", details: ["reason": why, "gasUsed": String(result.gasUsed)])
        }
    }

    private func checkedGas(_ gasLimit: UInt64) throws(ContractError) -> UInt64 {
        guard gasLimit <= maximumTransactionGas else {
            throw ContractError(.contractGasLimitExceeded, "gas limit \(gasLimit) exceeds the node's per-transaction limit \(maximumTransactionGas)",
                                details: ["limit": String(maximumTransactionGas), "gasLimit": String(gasLimit)])
        }
        return gasLimit
    }

    /// Deploys a version and registers it; `register` adds the name and permission writes.
    private func create(name: String, version: UInt64, initCode: [UInt8], gasLimit: UInt64, sender: EVMAddress, storageOwner: EVMAddress?,
                        context: ExecutionContext, state: any StateReader,
                        register: (EVMAddress, inout StateChangeSet) -> Void) throws(ContractError) -> ExecutionOutcome {
        let host = LedgerEVMState(state: state, height: context.height.rawValue, precompiles: precompiles)
        let nonce = try host.account(sender)?.nonce ?? 0
        let address = EVMAddress.created(by: sender, nonce: nonce)
        if let storageOwner { host.mapStorage(of: address, to: storageOwner) }
        var outcome = try execute(EVMTransaction(sender: sender, to: nil, data: initCode, gasLimit: try checkedGas(gasLimit), nonce: nonce),
                                  host: host, context: context)
        let codeHash = try host.codeHashAfter(outcome, of: address)
        if let deploymentPolicy {
            let codeKey = ContractStateLayout.codeKey(codeHash)
            let runtime = outcome.writes.changes.last { $0.key == codeKey }?.value ?? []
            try deploymentPolicy.check(try ContractAudit.analyse(bytecode: runtime))
        }
        var contract = ContractState(name: name, address: address, version: version, status: .active, codeHash: codeHash, creator: sender,
                                     createdHeight: context.height.rawValue, createdAt: context.timestamp.millisecondsSince1970,
                                     storageOwner: storageOwner)
        contract.updatedHeight = contract.createdHeight
        outcome.writes.set(ContractRegistry.metaKey(address), to: contract.encoded)
        register(address, &outcome.writes)
        outcome.logs.append(Self.stateChangedLog(contract))
        outcome.output = address.bytes
        return outcome
    }

    private func execute(_ transaction: EVMTransaction, host: LedgerEVMState, context: ExecutionContext) throws(ContractError) -> ExecutionOutcome {
        let block = EVMBlockEnvironment(coinbase: EVMAddress(word: .zero), number: context.height.rawValue,
                                        timestamp: context.timestamp.millisecondsSince1970 / 1_000, gasLimit: blockGasLimit,
                                        chainID: context.chainID)
        let result = try evm.transact(transaction, block: block, state: host)
        try Self.check(result)
        var logs = [ReceiptLog]()
        for log in result.logs {
            var topics = [Digest]()
            for topic in log.topics { topics.append(Digest(word: topic)) }
            logs.append(ReceiptLog(emitter: log.address.bytes, topics: topics, data: log.data))
        }
        return ExecutionOutcome(output: result.output, logs: logs, costUnits: result.gasUsed, writes: try host.writes(for: result.changes))
    }

    static func stateChangedLog(_ contract: ContractState) -> ReceiptLog {
        ReceiptLog(emitter: systemEmitter, topics: [stateChangedTopic],
                   data: contract.address.word.bigEndianBytes + UInt256(UInt64(contract.status.rawValue)).bigEndianBytes
                       + UInt256(contract.version).bigEndianBytes)
    }
}

extension Digest {
    /// A 32-byte digest holding an EVM word (a log topic).
    init(word: UInt256) {
        self = word.bigEndianBytes.withUnsafeBytes { Digest(unsafeRaw: $0.baseAddress!) }
    }
}
