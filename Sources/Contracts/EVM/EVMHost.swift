/// An account as the EVM sees it.
public struct EVMAccount: Hashable, Sendable {
    /// Transactions sent (for an externally owned account) or contracts created (for a contract).
    public var nonce: UInt64
    /// The balance in the chain's smallest unit.
    public var balance: UInt256
    /// keccak256 of the account's code (``EVMAccount/emptyCodeHash`` when it has none).
    public var codeHash: UInt256

    /// keccak256 of no bytes: the code hash of an account without code.
    public static let emptyCodeHash = UInt256(hex: "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")!

    /// - Parameters:
    ///   - nonce: Optional, default 0.
    ///   - balance: Optional, default 0.
    ///   - codeHash: Optional, default ``emptyCodeHash``.
    public init(nonce: UInt64 = 0, balance: UInt256 = .zero, codeHash: UInt256 = EVMAccount.emptyCodeHash) {
        self.nonce = nonce
        self.balance = balance
        self.codeHash = codeHash
    }

    /// EIP-161 empty: no nonce, no balance, no code.
    public var isEmpty: Bool { nonce == 0 && balance.isZero && codeHash == Self.emptyCodeHash }
}

/// The state the EVM reads: the only way the interpreter reaches the world
/// (the ledger's world state in a node, a fixture's `pre` in the conformance
/// runner, an in-memory map in tests). The EVM never writes through it: a
/// run returns its changes as ``EVMStateChanges`` and the caller applies them.
///
/// Reads must be repeatable within one run: the same question gets the same
/// answer. A failed read throws ``ContractError`` (code `hostReadFailed`,
/// 2001), which ends the run with nothing changed.
public protocol EVMStateReader {
    /// The account at `address`, or `nil` when none exists.
    func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount?
    /// The code of the account at `address` (empty when it has none or does not exist).
    func code(_ address: EVMAddress) throws(ContractError) -> [UInt8]
    /// The value at `slot` of the storage of `address` (zero when unset).
    func storage(_ address: EVMAddress, slot: UInt256) throws(ContractError) -> UInt256
    /// The hash of block `number`, for BLOCKHASH; `nil` when unknown (the opcode then pushes zero).
    func blockHash(_ number: UInt64) throws(ContractError) -> UInt256?
    /// Whether the account at `address` has any non-zero storage slot: a creation at such an address is a
    /// collision (EIP-7610). The default implementation answers `false`; a host that can hold storage without
    /// code or nonce should implement it.
    func hasStorage(_ address: EVMAddress) throws(ContractError) -> Bool
    /// The host's own precompiled contract at `address`, if it defines one there (addresses 0x01–0x0a are the
    /// EVM's and never asked). A call to such an address runs the precompile instead of code. The default
    /// implementation answers `nil`: no host precompiles.
    func precompile(at address: EVMAddress) -> (any EVMHostPrecompile)?
}

/// A precompiled contract the host defines (the ledger's records precompile, for example): a call to its address
/// runs ``run(input:gas:)`` instead of code, in a frame like any other call (value, static context and the caller's
/// snapshot apply as for the EVM's own precompiles).
///
/// ```swift
/// struct Echo: EVMHostPrecompile {
///     func run(input: [UInt8], gas: UInt64) throws(ContractError) -> EVMPrecompileOutcome {
///         gas < 100 ? .failure : .success(output: input, gasUsed: 100)
///     }
/// }
/// ```
public protocol EVMHostPrecompile {
    /// Runs the precompile.
    /// - Parameters:
    ///   - input: Required. The call data.
    ///   - gas: Required. The gas the call passed; the outcome's `gasUsed` must not exceed it.
    /// - Returns: What the call did (a `gasUsed` above `gas` is taken as ``EVMPrecompileOutcome/failure``).
    /// - Throws: ``ContractError`` `.hostReadFailed` (2001) when the host cannot read its state: the run ends with
    ///   nothing changed, as for any failed host read.
    func run(input: [UInt8], gas: UInt64) throws(ContractError) -> EVMPrecompileOutcome
}

/// What a host precompile did.
public enum EVMPrecompileOutcome: Sendable, Equatable {
    /// Success: `output` is the return data; the call is charged `gasUsed`.
    case success(output: [UInt8], gasUsed: UInt64)
    /// The call reverts with `output` as revert data (an `Error(string)` for a clear reason), charged `gasUsed`;
    /// the caller's changes since the call are undone.
    case revert(output: [UInt8], gasUsed: UInt64)
    /// Exceptional failure: all the gas passed is consumed (as for out-of-gas).
    case failure
}

/// What one run changed, per account: apply it to the state that served the
/// reads. Accounts not named are unchanged.
public struct EVMStateChanges: Sendable, Equatable {
    /// One account's change.
    public struct Account: Sendable, Equatable {
        /// The account after the run, or `nil` when it was deleted (EIP-158 touched-empty, or SELFDESTRUCT of a
        /// contract created in the same transaction, EIP-6780).
        public var account: EVMAccount?
        /// The code, when the run created the account's code (else `nil`: unchanged).
        public var code: [UInt8]?
        /// When `true`, every storage slot of the account was cleared before ``storage`` applies (the account
        /// was deleted or created afresh).
        public var storageCleared: Bool
        /// Slots written, with their final values (zero means the slot is removed).
        public var storage: [UInt256: UInt256]

        public init(account: EVMAccount?, code: [UInt8]? = nil, storageCleared: Bool = false, storage: [UInt256: UInt256] = [:]) {
            self.account = account
            self.code = code
            self.storageCleared = storageCleared
            self.storage = storage
        }
    }

    /// The changed accounts.
    public var accounts: [EVMAddress: Account]

    public init(accounts: [EVMAddress: Account] = [:]) { self.accounts = accounts }
}

/// The block a transaction runs in (the values of COINBASE, NUMBER, TIMESTAMP, ...).
public struct EVMBlockEnvironment: Sendable, Equatable {
    /// COINBASE: the address that receives the priority fees.
    public var coinbase: EVMAddress
    /// NUMBER.
    public var number: UInt64
    /// TIMESTAMP, seconds since 1970.
    public var timestamp: UInt64
    /// GASLIMIT: the block's gas limit.
    public var gasLimit: UInt64
    /// BASEFEE (EIP-1559); zero on a chain without fees.
    public var baseFee: UInt256
    /// PREVRANDAO (opcode 0x44 after the merge).
    public var prevRandao: UInt256
    /// CHAINID (EIP-1344).
    public var chainID: UInt64
    /// The block's excess blob gas (EIP-4844); BLOBBASEFEE derives from it.
    public var excessBlobGas: UInt64

    public init(coinbase: EVMAddress, number: UInt64, timestamp: UInt64, gasLimit: UInt64, baseFee: UInt256 = .zero,
                prevRandao: UInt256 = .zero, chainID: UInt64, excessBlobGas: UInt64 = 0) {
        self.coinbase = coinbase
        self.number = number
        self.timestamp = timestamp
        self.gasLimit = gasLimit
        self.baseFee = baseFee
        self.prevRandao = prevRandao
        self.chainID = chainID
        self.excessBlobGas = excessBlobGas
    }
}

/// A transaction as the EVM runs it: already authenticated (the sender is known).
public struct EVMTransaction: Sendable, Equatable {
    /// An EIP-2930 access-list entry.
    public struct AccessListEntry: Sendable, Equatable {
        public var address: EVMAddress
        public var storageKeys: [UInt256]
        public init(address: EVMAddress, storageKeys: [UInt256]) {
            self.address = address
            self.storageKeys = storageKeys
        }
    }

    /// The sender (recovered from the signature, or authenticated by the node).
    public var sender: EVMAddress
    /// The callee, or `nil` to create a contract from ``data``.
    public var to: EVMAddress?
    /// Value transferred.
    public var value: UInt256
    /// Call data, or the init code of a creation.
    public var data: [UInt8]
    /// Gas limit.
    public var gasLimit: UInt64
    /// The sender's nonce; a mismatch makes the transaction invalid.
    public var nonce: UInt64
    /// The legacy gas price; `nil` for an EIP-1559 transaction.
    public var gasPrice: UInt256?
    /// EIP-1559 fee cap.
    public var maxFeePerGas: UInt256?
    /// EIP-1559 priority fee cap.
    public var maxPriorityFeePerGas: UInt256?
    /// EIP-2930 access list.
    public var accessList: [AccessListEntry]
    /// EIP-4844 blob versioned hashes (BLOBHASH).
    public var blobVersionedHashes: [UInt256]
    /// EIP-4844 blob fee cap.
    public var maxFeePerBlobGas: UInt256?

    public init(sender: EVMAddress, to: EVMAddress?, value: UInt256 = .zero, data: [UInt8] = [], gasLimit: UInt64, nonce: UInt64,
                gasPrice: UInt256? = .zero, maxFeePerGas: UInt256? = nil, maxPriorityFeePerGas: UInt256? = nil,
                accessList: [AccessListEntry] = [], blobVersionedHashes: [UInt256] = [], maxFeePerBlobGas: UInt256? = nil) {
        self.sender = sender
        self.to = to
        self.value = value
        self.data = data
        self.gasLimit = gasLimit
        self.nonce = nonce
        self.gasPrice = gasPrice
        self.maxFeePerGas = maxFeePerGas
        self.maxPriorityFeePerGas = maxPriorityFeePerGas
        self.accessList = accessList
        self.blobVersionedHashes = blobVersionedHashes
        self.maxFeePerBlobGas = maxFeePerBlobGas
    }
}

/// A log emitted by LOG0…LOG4.
public struct EVMLog: Sendable, Hashable {
    /// The contract that emitted it.
    public var address: EVMAddress
    /// Zero to four topics.
    public var topics: [UInt256]
    /// The data.
    public var data: [UInt8]
    public init(address: EVMAddress, topics: [UInt256], data: [UInt8]) {
        self.address = address
        self.topics = topics
        self.data = data
    }
}

/// How a run ended.
public enum EVMStatus: Sendable, Equatable {
    /// STOP, RETURN, or the end of the code.
    case success
    /// REVERT: state rolled back, unused gas returned, ``EVMExecutionResult/output`` holds the revert data.
    case revert
    /// An exceptional halt (out of gas, stack underflow or overflow, invalid jump, invalid opcode, a state
    /// change in a static call, ...): state rolled back and all gas consumed. The reason names it.
    case halt(String)
}

/// The outcome of a valid transaction (an invalid one throws and has none).
public struct EVMExecutionResult: Sendable, Equatable {
    /// How the outermost frame ended.
    public var status: EVMStatus
    /// Gas charged to the sender, after refunds.
    public var gasUsed: UInt64
    /// Return data, or revert data.
    public var output: [UInt8]
    /// Logs, in order (empty unless ``status`` is `.success`).
    public var logs: [EVMLog]
    /// The address of the created contract (creations that succeed).
    public var createdAddress: EVMAddress?
    /// Every state change, fees included: apply it whatever the status.
    public var changes: EVMStateChanges

    public init(status: EVMStatus, gasUsed: UInt64, output: [UInt8], logs: [EVMLog], createdAddress: EVMAddress?, changes: EVMStateChanges) {
        self.status = status
        self.gasUsed = gasUsed
        self.output = output
        self.logs = logs
        self.createdAddress = createdAddress
        self.changes = changes
    }
}
