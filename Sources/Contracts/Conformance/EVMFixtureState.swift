import LedgerCrypto

/// A whole world state in memory: the `pre` of a fixture, changed by the runs the fixture makes, with its
/// Ethereum state root. It serves the interpreter's reads (``EVMStateReader``) and takes its
/// ``EVMStateChanges``.
///
/// ```swift
/// var state = EVMFixtureState()
/// state.setAccount(address, EVMAccount(balance: 1_000), code: [0x00], storage: [:])
/// let result = try evm.transact(transaction, block: block, state: state)
/// state.apply(result.changes)
/// let root = state.stateRoot
/// ```
public struct EVMFixtureState: EVMStateReader, Sendable, Equatable {
    /// How BLOCKHASH is answered.
    public enum BlockHashes: Sendable, Equatable {
        /// The ethereum/tests convention for state and VM tests: the hash of block `n` is keccak256 of `n`
        /// written in decimal ASCII.
        case decimalKeccak
        /// Known hashes by number (a chain's ancestors); unknown numbers have none.
        case table([UInt64: UInt256])
    }

    /// The accounts by address.
    public private(set) var accounts: [EVMAddress: EVMAccount] = [:]
    /// The code of accounts that have some.
    public private(set) var codes: [EVMAddress: [UInt8]] = [:]
    /// The non-zero storage slots of each account.
    public private(set) var storage: [EVMAddress: [UInt256: UInt256]] = [:]
    /// The BLOCKHASH rule.
    public var blockHashes: BlockHashes

    /// An empty state.
    /// - Parameter blockHashes: Optional, default ``BlockHashes/decimalKeccak``.
    public init(blockHashes: BlockHashes = .decimalKeccak) { self.blockHashes = blockHashes }

    /// Puts an account in place, replacing any account at `address` with its code and storage.
    /// - Parameters:
    ///   - address: The account's address.
    ///   - account: Nonce and balance; its code hash is recomputed from `code`.
    ///   - code: The code (empty for none).
    ///   - storage: Slot → value; zero values are dropped.
    public mutating func setAccount(_ address: EVMAddress, _ account: EVMAccount, code: [UInt8], storage: [UInt256: UInt256]) {
        var account = account
        account.codeHash = code.isEmpty ? EVMAccount.emptyCodeHash : UInt256(bigEndian: Keccak256.hash(code).bytes)
        accounts[address] = account
        codes[address] = code.isEmpty ? nil : code
        let slots = storage.filter { !$0.value.isZero }
        self.storage[address] = slots.isEmpty ? nil : slots
    }

    /// Sets one storage slot of an existing account (zero removes it); outside the interpreter, as system
    /// updates such as EIP-4788's beacon-root writes do.
    /// - Parameters:
    ///   - address: The account.
    ///   - slot: Any 256-bit slot.
    ///   - value: The new value; zero removes the slot.
    public mutating func setStorage(_ address: EVMAddress, slot: UInt256, value: UInt256) {
        var slots = storage[address] ?? [:]
        slots[slot] = value.isZero ? nil : value
        storage[address] = slots.isEmpty ? nil : slots
    }

    /// Adds `amount` to the balance of `address`, creating the account when it does not exist (EIP-4895
    /// withdrawals); the sum wraps modulo 2²⁵⁶.
    /// - Parameters:
    ///   - address: The credited account.
    ///   - amount: Wei to add.
    public mutating func credit(_ address: EVMAddress, _ amount: UInt256) {
        var account = accounts[address] ?? EVMAccount()
        account.balance = account.balance &+ amount
        accounts[address] = account
    }

    /// Applies what a run changed.
    /// - Parameter changes: From ``EVMExecutionResult/changes`` (or a frame's result).
    public mutating func apply(_ changes: EVMStateChanges) {
        for (address, change) in changes.accounts {
            guard let account = change.account else {
                accounts[address] = nil
                codes[address] = nil
                storage[address] = nil
                continue
            }
            accounts[address] = account
            if let code = change.code { codes[address] = code.isEmpty ? nil : code }
            var slots = change.storageCleared ? [:] : (storage[address] ?? [:])
            for (slot, value) in change.storage { slots[slot] = value.isZero ? nil : value }
            storage[address] = slots.isEmpty ? nil : slots
        }
    }

    /// The Ethereum state root (``EthereumStateRoot``) of the accounts as they stand.
    public var stateRoot: UInt256 {
        EthereumStateRoot.root(accounts.map { (address: $0.key, account: $0.value, storage: storage[$0.key] ?? [:]) })
    }

    public func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount? { accounts[address] }

    public func code(_ address: EVMAddress) throws(ContractError) -> [UInt8] { codes[address] ?? [] }

    public func storage(_ address: EVMAddress, slot: UInt256) throws(ContractError) -> UInt256 { storage[address]?[slot] ?? .zero }

    public func hasStorage(_ address: EVMAddress) throws(ContractError) -> Bool { storage[address] != nil }

    public func blockHash(_ number: UInt64) throws(ContractError) -> UInt256? {
        switch blockHashes {
        case .decimalKeccak: UInt256(bigEndian: Keccak256.hash(Array(String(number).utf8)).bytes)
        case .table(let table): table[number]
        }
    }
}
