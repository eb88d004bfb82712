import LedgerCrypto

/// The node-level settings of the ``EVM``: gas ceilings on top of the block's own, and the rule set.
///
/// ```swift
/// let evm = EVM(configuration: EVMConfiguration(maxTransactionGas: 10_000_000))
/// ```
public struct EVMConfiguration: Sendable, Equatable {
    /// The rule sets the interpreter knows.
    public enum Rules: String, Sendable, Equatable {
        /// Cancun (EIP-1153, EIP-4844, EIP-5656, EIP-6780, EIP-7516 and everything before).
        case cancun
    }

    /// The most gas one transaction may ask for on this node; `nil` for no limit beyond the block's.
    public var maxTransactionGas: UInt64?
    /// The most gas a block may carry on this node; `nil` for the block's own gas limit. A transaction whose gas
    /// limit is above `min(block.gasLimit, maxBlockGas)` is invalid.
    public var maxBlockGas: UInt64?
    /// The rule set. Only ``Rules/cancun``.
    public var rules: Rules

    /// - Parameters:
    ///   - maxTransactionGas: Optional, default `nil` (no node-level limit); when set, 21000 or more.
    ///   - maxBlockGas: Optional, default `nil` (the block's gas limit).
    ///   - rules: Optional, default ``Rules/cancun``.
    public init(maxTransactionGas: UInt64? = nil, maxBlockGas: UInt64? = nil, rules: Rules = .cancun) {
        self.maxTransactionGas = maxTransactionGas
        self.maxBlockGas = maxBlockGas
        self.rules = rules
    }
}

/// A message run directly on the interpreter, without a transaction around it (the legacy VMTests format): no
/// validity checks, no fees, no nonce.
public struct EVMMessage: Sendable, Equatable {
    /// The account the code runs as (ADDRESS, and whose storage it uses).
    public var address: EVMAddress
    /// CALLER.
    public var caller: EVMAddress
    /// ORIGIN.
    public var origin: EVMAddress
    /// The code to run (not read from `address`).
    public var code: [UInt8]
    /// Call data.
    public var data: [UInt8]
    /// Gas given to the frame.
    public var gas: UInt64
    /// GASPRICE.
    public var gasPrice: UInt256
    /// CALLVALUE (no balance moves).
    public var value: UInt256

    /// - Parameters:
    ///   - address: Required. The executing account.
    ///   - caller: Required. CALLER.
    ///   - origin: Optional, default `caller`.
    ///   - code: Required. The bytecode (any bytes; undefined opcodes halt).
    ///   - data: Optional, default empty.
    ///   - gas: Required. 0…2⁶³ − 1.
    ///   - gasPrice: Optional, default 0.
    ///   - value: Optional, default 0.
    public init(address: EVMAddress, caller: EVMAddress, origin: EVMAddress? = nil, code: [UInt8], data: [UInt8] = [],
                gas: UInt64, gasPrice: UInt256 = .zero, value: UInt256 = .zero) {
        self.address = address
        self.caller = caller
        self.origin = origin ?? caller
        self.code = code
        self.data = data
        self.gas = gas
        self.gasPrice = gasPrice
        self.value = value
    }
}

/// The outcome of ``EVM/execute(_:block:state:)``.
public struct EVMFrameResult: Sendable, Equatable {
    /// How the frame ended.
    public var status: EVMStatus
    /// Gas left (zero after a halt); refunds are not applied.
    public var gasLeft: UInt64
    /// The refund counter at the end (EIP-3529 rules; not capped).
    public var refund: Int64
    /// Return or revert data.
    public var output: [UInt8]
    /// Logs (empty unless the status is success).
    public var logs: [EVMLog]
    /// The state changes (empty unless the status is success), with touched empty accounts and accounts created
    /// and destructed in the run deleted, as at the end of a transaction.
    public var changes: EVMStateChanges
}

/// The Ethereum Virtual Machine, Cancun rules: a value type holding only configuration. Each run builds its
/// own state overlay over an ``EVMStateReader`` and returns what changed; nothing is shared between runs.
///
/// ```swift
/// let evm = EVM()
/// let result = try evm.transact(transaction, block: block, state: state)
/// apply(result.changes)
/// ```
public struct EVM: Sendable {
    /// The node-level settings.
    public var configuration: EVMConfiguration

    /// - Parameter configuration: Optional, default `EVMConfiguration()` (no node-level limits, Cancun).
    public init(configuration: EVMConfiguration = EVMConfiguration()) {
        self.configuration = configuration
    }

    /// Gas per blob (EIP-4844).
    public static let gasPerBlob: UInt64 = 131_072
    /// The most blobs a block may carry (EIP-4844, Cancun).
    public static let maxBlobsPerBlock = 6

    /// BLOBBASEFEE for a block's excess blob gas: `fake_exponential(1, excess, 3338477)` (EIP-4844).
    /// - Parameter excessBlobGas: Required. Any value.
    /// - Returns: The blob base fee in wei.
    public static func blobBaseFee(excessBlobGas: UInt64) -> UInt256 {
        let factor = UInt256.one, numerator = UInt256(excessBlobGas), denominator = UInt256(3_338_477)
        var i = UInt256.one
        var output = UInt256.zero
        var accumulator = factor &* denominator
        while !accumulator.isZero {
            output = output &+ accumulator
            accumulator = (accumulator &* numerator).dividedOrZero(by: denominator &* i)
            i = i &+ .one
        }
        return output.dividedOrZero(by: denominator)
    }

    /// The intrinsic gas of a transaction: 21000, 4 per zero and 16 per other byte of data, 32000 and 2 per word
    /// of init code for a creation (EIP-3860), 2400 per access-list address and 1900 per key (EIP-2930).
    /// - Parameter transaction: Required.
    /// - Returns: The gas, saturating at `UInt64.max`.
    public static func intrinsicGas(_ transaction: EVMTransaction) -> UInt64 {
        var gas: UInt64 = 21_000
        var zeros: UInt64 = 0
        for byte in transaction.data where byte == 0 { zeros += 1 }
        let nonZeros = UInt64(transaction.data.count) - zeros
        gas += zeros * 4 + nonZeros * 16
        if transaction.to == nil {
            gas += 32_000 + 2 * UInt64((transaction.data.count + 31) / 32)
        }
        for entry in transaction.accessList {
            gas += 2_400 + 1_900 * UInt64(entry.storageKeys.count)
        }
        return gas
    }

    /// Validates and runs a transaction: checks it, buys its gas, increments the sender's nonce, runs the call or
    /// the creation, refunds unused gas (refunds capped at a fifth of the gas used, EIP-3529), pays the priority fee
    /// to the coinbase and burns the base fee and the blob fee, then deletes touched empty accounts (EIP-158) and
    /// accounts created and destructed in the transaction (EIP-6780).
    /// - Parameters:
    ///   - transaction: Required. An authenticated transaction.
    ///   - block: Required. The block it runs in.
    ///   - state: Required. The state before the transaction; read only.
    /// - Returns: The status, gas used, output, logs and every state change (fees included) to apply.
    /// - Throws: ``ContractError`` for an invalid transaction, which changes nothing: `.evmNonceTooLow` (2010),
    ///   `.evmNonceTooHigh` (2011), `.evmNonceAtMaximum` (2012), `.evmInsufficientFunds` (2013),
    ///   `.evmIntrinsicGasTooLow` (2014), `.evmInitcodeTooLarge` (2015), `.evmFeeCapBelowBaseFee` (2016),
    ///   `.evmPriorityFeeAboveFeeCap` (2017), `.evmGasLimitAboveBlock` (2018), `.evmSenderHasCode` (2019),
    ///   `.evmBlobFeeCapTooLow` (2020), `.evmBlobTransactionWithoutBlobs` (2021),
    ///   `.evmBlobTransactionCreatesContract` (2022), `.evmBlobVersionedHashInvalid` (2023), `.evmTooManyBlobs`
    ///   (2024), `.evmGasLimitAboveNodeLimit` (2025), `.evmFeeFieldsInvalid` (2026); `.hostReadFailed` (2001) when
    ///   the state cannot be read.
    public func transact(_ transaction: EVMTransaction, block: EVMBlockEnvironment,
                         state: some EVMStateReader) throws(ContractError) -> EVMExecutionResult {
        let tx = transaction
        let world = EVMWorld(host: state)
        // Fees.
        let feeCap: UInt256
        let priorityCap: UInt256
        if let maxFee = tx.maxFeePerGas {
            guard let priority = tx.maxPriorityFeePerGas else {
                throw ContractError(.evmFeeFieldsInvalid, "maxFeePerGas without maxPriorityFeePerGas")
            }
            feeCap = maxFee
            priorityCap = priority
            if priorityCap > feeCap {
                throw ContractError(.evmPriorityFeeAboveFeeCap, "maxPriorityFeePerGas \(priorityCap) is above maxFeePerGas \(feeCap)",
                                    details: ["maxPriorityFeePerGas": priorityCap.description, "maxFeePerGas": feeCap.description])
            }
        } else if let price = tx.gasPrice {
            feeCap = price
            priorityCap = price
        } else {
            throw ContractError(.evmFeeFieldsInvalid, "the transaction has neither gasPrice nor maxFeePerGas")
        }
        if feeCap < block.baseFee {
            throw ContractError(.evmFeeCapBelowBaseFee, "fee cap \(feeCap) is below the block's base fee \(block.baseFee)",
                                details: ["feeCap": feeCap.description, "baseFee": block.baseFee.description])
        }
        // Blobs (EIP-4844).
        let isBlob = tx.maxFeePerBlobGas != nil
        let blobBaseFee = Self.blobBaseFee(excessBlobGas: block.excessBlobGas)
        var blobGas = UInt256.zero
        if isBlob {
            if tx.to == nil {
                throw ContractError(.evmBlobTransactionCreatesContract, "a blob transaction has no recipient")
            }
            if tx.blobVersionedHashes.isEmpty {
                throw ContractError(.evmBlobTransactionWithoutBlobs, "a blob transaction carries no blob hashes")
            }
            if tx.blobVersionedHashes.count > Self.maxBlobsPerBlock {
                throw ContractError(.evmTooManyBlobs, "\(tx.blobVersionedHashes.count) blobs, at most \(Self.maxBlobsPerBlock)",
                                    details: ["blobs": String(tx.blobVersionedHashes.count)])
            }
            for hash in tx.blobVersionedHashes where hash.w3 >> 56 != 0x01 {
                throw ContractError(.evmBlobVersionedHashInvalid, "blob versioned hash \(hash) does not start with 0x01",
                                    details: ["hash": hash.description])
            }
            if tx.maxFeePerBlobGas! < blobBaseFee {
                throw ContractError(.evmBlobFeeCapTooLow, "maxFeePerBlobGas \(tx.maxFeePerBlobGas!) is below the blob base fee \(blobBaseFee)",
                                    details: ["maxFeePerBlobGas": tx.maxFeePerBlobGas!.description, "blobBaseFee": blobBaseFee.description])
            }
            blobGas = UInt256(UInt64(tx.blobVersionedHashes.count) * Self.gasPerBlob)
        }
        // Gas limits.
        let blockLimit = min(block.gasLimit, configuration.maxBlockGas ?? .max)
        if tx.gasLimit > blockLimit {
            throw ContractError(.evmGasLimitAboveBlock, "gas limit \(tx.gasLimit) is above the block's \(blockLimit)",
                                details: ["gasLimit": String(tx.gasLimit), "limit": String(blockLimit)])
        }
        if let nodeLimit = configuration.maxTransactionGas, tx.gasLimit > nodeLimit {
            throw ContractError(.evmGasLimitAboveNodeLimit, "gas limit \(tx.gasLimit) is above this node's \(nodeLimit)",
                                details: ["gasLimit": String(tx.gasLimit), "limit": String(nodeLimit)])
        }
        // Sender.
        let sender = try world.account(tx.sender) ?? EVMAccount()
        if sender.codeHash != EVMAccount.emptyCodeHash {
            throw ContractError(.evmSenderHasCode, "sender \(tx.sender) has code (EIP-3607)", details: ["sender": tx.sender.description])
        }
        if sender.nonce == .max {
            throw ContractError(.evmNonceAtMaximum, "sender \(tx.sender) has nonce 2^64-1", details: ["sender": tx.sender.description])
        }
        if tx.nonce < sender.nonce {
            throw ContractError(.evmNonceTooLow, "nonce \(tx.nonce) is below the sender's \(sender.nonce)",
                                details: ["nonce": String(tx.nonce), "expected": String(sender.nonce)])
        }
        if tx.nonce > sender.nonce {
            throw ContractError(.evmNonceTooHigh, "nonce \(tx.nonce) is above the sender's \(sender.nonce)",
                                details: ["nonce": String(tx.nonce), "expected": String(sender.nonce)])
        }
        // Balance: gas limit × fee cap + value + blob gas × blob fee cap, without wrapping.
        let gasLimitWord = UInt256(tx.gasLimit)
        var needed = Self.checkedProduct(gasLimitWord, feeCap)
        needed = needed.flatMap { Self.checkedSum($0, tx.value) }
        if isBlob { needed = needed.flatMap { n in Self.checkedProduct(blobGas, tx.maxFeePerBlobGas!).flatMap { Self.checkedSum(n, $0) } } }
        guard let required = needed, sender.balance >= required else {
            throw ContractError(.evmInsufficientFunds, "sender \(tx.sender) balance \(sender.balance) does not cover gas, value and blob fees",
                                details: ["sender": tx.sender.description, "balance": sender.balance.description])
        }
        let intrinsic = Self.intrinsicGas(tx)
        if tx.gasLimit < intrinsic {
            throw ContractError(.evmIntrinsicGasTooLow, "gas limit \(tx.gasLimit) is below the intrinsic gas \(intrinsic)",
                                details: ["gasLimit": String(tx.gasLimit), "intrinsic": String(intrinsic)])
        }
        if tx.to == nil && tx.data.count > EVMRunner.maxInitcodeSize {
            throw ContractError(.evmInitcodeTooLarge, "init code of \(tx.data.count) bytes is above 49152 (EIP-3860)",
                                details: ["size": String(tx.data.count)])
        }

        // Valid: buy gas.
        let effectivePrice: UInt256
        if tx.maxFeePerGas != nil {
            let withTip = block.baseFee &+ priorityCap
            effectivePrice = withTip < feeCap ? withTip : feeCap
        } else {
            effectivePrice = feeCap
        }
        try world.subtractBalance(tx.sender, gasLimitWord &* effectivePrice &+ blobGas &* blobBaseFee)
        let context = EVMTransactionContext(origin: tx.sender, gasPrice: effectivePrice, blobHashes: tx.blobVersionedHashes,
                                            block: block, blobBaseFee: blobBaseFee)
        let runner = EVMRunner(world: world, context: context)
        // Warm sets (EIP-2929, EIP-3651, EIP-2930).
        world.warm(tx.sender)
        world.warm(block.coinbase)
        for address in EVMPrecompiles.addresses { world.warm(address) }
        for entry in tx.accessList {
            world.warm(entry.address)
            for key in entry.storageKeys { world.warm(EVMSlotKey(address: entry.address, slot: key)) }
        }
        let gas = Int64(clamping: tx.gasLimit - intrinsic)
        var result: EVMRunner.MessageResult
        if let to = tx.to {
            world.warm(to)
            try world.setNonce(tx.sender, sender.nonce + 1)
            result = try runner.runTopLevelCall(caller: tx.sender, to: to, value: tx.value, input: tx.data, gas: gas, isStatic: false)
        } else {
            let address = EVMRunner.createAddress(sender: tx.sender, nonce: sender.nonce)
            if let frame = try runner.startCreation(creator: tx.sender, creatorNonce: sender.nonce, address: address, value: tx.value,
                                                    initcode: tx.data, gas: gas, depth: 0) {
                result = try runner.run(root: frame)
            } else {
                result = EVMRunner.MessageResult(status: .halt("address collision"), output: [], gasLeft: 0)
            }
        }
        // Refunds and fees.
        var gasLeft = UInt64(max(result.gasLeft, 0))
        var gasUsed = tx.gasLimit - gasLeft
        let refund = UInt64(max(world.refund, 0))
        let applied = min(refund, gasUsed / 5)
        gasLeft += applied
        gasUsed -= applied
        try world.addBalance(tx.sender, UInt256(gasLeft) &* effectivePrice)
        let tip = effectivePrice &- block.baseFee
        try world.addBalance(block.coinbase, UInt256(gasUsed) &* tip)
        return EVMExecutionResult(status: result.status.publicStatus, gasUsed: gasUsed, output: result.output,
                                  logs: result.status == .success ? world.logs : [], createdAddress: result.createdAddress,
                                  changes: try world.finalChanges())
    }

    /// Runs `message` as one frame at depth 0 on the given code, with no transaction around it (the legacy
    /// VMTests format): no nonce, no fees, no value moved, no warm-up beyond the executing and calling accounts and
    /// the precompiles.
    /// - Parameters:
    ///   - message: Required. The frame's context and code.
    ///   - block: Required. The block environment.
    ///   - state: Required. The state; read only.
    /// - Returns: Status, gas left, refund counter, output, logs and changes.
    /// - Throws: ``ContractError`` `.evmInvalidMessage` (2027) for gas above 2⁶³ − 1; `.hostReadFailed` (2001).
    public func execute(_ message: EVMMessage, block: EVMBlockEnvironment,
                        state: some EVMStateReader) throws(ContractError) -> EVMFrameResult {
        guard message.gas <= UInt64(Int64.max) else {
            throw ContractError(.evmInvalidMessage, "gas \(message.gas) is above 2^63-1", details: ["gas": String(message.gas)])
        }
        let world = EVMWorld(host: state)
        let context = EVMTransactionContext(origin: message.origin, gasPrice: message.gasPrice, blobHashes: [], block: block,
                                            blobBaseFee: Self.blobBaseFee(excessBlobGas: block.excessBlobGas))
        let runner = EVMRunner(world: world, context: context)
        world.warm(message.address)
        world.warm(message.caller)
        world.warm(message.origin)
        for address in EVMPrecompiles.addresses { world.warm(address) }
        let frame = EVMFrame(code: world.analysed(message.code), stack: runner.takeStack(), gas: Int64(message.gas),
                             address: message.address, caller: message.caller, value: message.value, input: message.data,
                             isStatic: false, depth: 0, kind: .call, snapshot: world.snapshot)
        let result = try runner.run(root: frame)
        let success = result.status == .success
        return EVMFrameResult(status: result.status.publicStatus, gasLeft: UInt64(max(result.gasLeft, 0)), refund: world.refund,
                              output: result.output, logs: success ? world.logs : [],
                              changes: success ? try world.finalChanges() : EVMStateChanges())
    }

    /// A read-only call (like `eth_call`): runs `data` against the code at `to` with no transaction checks, no
    /// nonce and no fees. The returned changes are what the call would do; the caller discards them.
    /// - Parameters:
    ///   - from: Required. CALLER and ORIGIN.
    ///   - to: Required. The called account.
    ///   - data: Optional, default empty.
    ///   - value: Optional, default 0 (moved only if `from` holds it, else the call fails).
    ///   - gas: Optional, default 30,000,000; at most 2⁶³ − 1.
    ///   - block: Required. The block environment.
    ///   - state: Required. The state; read only.
    /// - Returns: Status, gas used (without refunds), output, logs and the changes.
    /// - Throws: ``ContractError`` `.evmInvalidMessage` (2027) for gas above 2⁶³ − 1; `.hostReadFailed` (2001).
    public func call(from: EVMAddress, to: EVMAddress, data: [UInt8] = [], value: UInt256 = .zero, gas: UInt64 = 30_000_000,
                     block: EVMBlockEnvironment, state: some EVMStateReader) throws(ContractError) -> EVMExecutionResult {
        guard gas <= UInt64(Int64.max) else {
            throw ContractError(.evmInvalidMessage, "gas \(gas) is above 2^63-1", details: ["gas": String(gas)])
        }
        let world = EVMWorld(host: state)
        let context = EVMTransactionContext(origin: from, gasPrice: .zero, blobHashes: [], block: block,
                                            blobBaseFee: Self.blobBaseFee(excessBlobGas: block.excessBlobGas))
        let runner = EVMRunner(world: world, context: context)
        world.warm(from)
        world.warm(to)
        world.warm(block.coinbase)
        for address in EVMPrecompiles.addresses { world.warm(address) }
        var result: EVMRunner.MessageResult
        if try world.balance(from) < value {
            result = EVMRunner.MessageResult(status: .halt("insufficient balance for the value"), output: [], gasLeft: 0)
        } else {
            result = try runner.runTopLevelCall(caller: from, to: to, value: value, input: data, gas: Int64(gas), isStatic: false)
        }
        let success = result.status == .success
        return EVMExecutionResult(status: result.status.publicStatus, gasUsed: gas - UInt64(max(result.gasLeft, 0)), output: result.output,
                                  logs: success ? world.logs : [], createdAddress: nil, changes: try world.finalChanges())
    }

    static func checkedProduct(_ a: UInt256, _ b: UInt256) -> UInt256? {
        let p = a.fullProduct(b)
        return (p.4 | p.5 | p.6 | p.7) == 0 ? UInt256(w0: p.0, w1: p.1, w2: p.2, w3: p.3) : nil
    }

    static func checkedSum(_ a: UInt256, _ b: UInt256) -> UInt256? {
        let s = a &+ b
        return s < a ? nil : s
    }
}

extension EVMFrameStatus {
    var publicStatus: EVMStatus {
        switch self {
        case .success: return .success
        case .revert: return .revert
        case .halt(let reason): return .halt(reason)
        }
    }
}

extension EVMRunner {
    /// The outermost call of a transaction or of a read-only call: value moved, then the callee's code (or a
    /// precompile) runs at depth 0.
    func runTopLevelCall(caller: EVMAddress, to: EVMAddress, value: UInt256, input: [UInt8], gas: Int64,
                         isStatic: Bool) throws(ContractError) -> MessageResult {
        let snapshot = world.snapshot
        try transfer(from: caller, to: to, value: value)
        let builtIn = EVMPrecompiles.isPrecompile(to)
        let host = builtIn ? nil : world.host.precompile(at: to)
        if builtIn || host != nil {
            let result = try runPrecompile(to, host: host, input: input, gas: gas)
            if result.status != .success { world.revert(to: snapshot) }
            return MessageResult(status: result.status, output: result.output, gasLeft: result.gasLeft)
        }
        let code = try world.analysedCode(to)
        if code.count == 0 { return MessageResult(status: .success, output: [], gasLeft: gas) }
        let frame = EVMFrame(code: code, stack: takeStack(), gas: gas, address: to, caller: caller, value: value, input: input,
                             isStatic: isStatic, depth: 0, kind: .call, snapshot: snapshot)
        return try run(root: frame)
    }
}
