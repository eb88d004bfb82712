import LedgerCrypto
import LedgerModel

/// Where the EVM's world lives in ForgeChain's key-value world state (one state tree, one state root: contract
/// state is proven like every other value).
///
/// | key | value |
/// |---|---|
/// | `evm/a/` ‖ address (20) | `rlp([nonce, balance, codeHash, incarnation, exists])` (a deleted account keeps its record, `exists` 0) |
/// | `evm/c/` ‖ codeHash (32) | the code |
/// | `evm/s/` ‖ address (20) ‖ incarnation (8, big-endian) ‖ slot (32) | the value, minimal big-endian (absent = 0) |
///
/// Clearing an account's storage (it was deleted, or created afresh where one stood) raises its incarnation
/// instead of deleting each slot: the old slots are unreachable at once, whatever their number.
enum ContractStateLayout {
    static let accountPrefix = Array("evm/a/".utf8)
    static let codePrefix = Array("evm/c/".utf8)
    static let storagePrefix = Array("evm/s/".utf8)

    static func accountKey(_ address: EVMAddress) -> [UInt8] { accountPrefix + address.bytes }
    static func codeKey(_ codeHash: UInt256) -> [UInt8] { codePrefix + codeHash.bigEndianBytes }
    static func storageKey(_ address: EVMAddress, incarnation: UInt64, slot: UInt256) -> [UInt8] {
        var key = storagePrefix + address.bytes
        for shift in stride(from: 56, through: 0, by: -8) { key.append(UInt8(truncatingIfNeeded: incarnation >> UInt64(shift))) }
        return key + slot.bigEndianBytes
    }

    /// An account record: the EVM's account (nil once deleted) and the incarnation its storage keys carry. A
    /// deleted account leaves its record with a raised incarnation, so an account created again at the same address
    /// (CREATE2) never sees the old storage.
    struct AccountRecord: Equatable {
        var account: EVMAccount?
        var incarnation: UInt64

        var encoded: [UInt8] {
            let account = self.account ?? EVMAccount()
            return RLP.encode(.list([.uint(account.nonce), .bytes(account.balance.minimalBigEndianBytes),
                                     .bytes(account.codeHash.bigEndianBytes), .uint(incarnation), .uint(self.account == nil ? 0 : 1)]))
        }

        init(account: EVMAccount?, incarnation: UInt64) {
            self.account = account
            self.incarnation = incarnation
        }

        init(decoding bytes: [UInt8], address: EVMAddress) throws(ContractError) {
            do throws(LedgerError) {
                let fields = try RLP.decode(bytes).list("account", count: 5)
                let balance = try fields[1].bytes("balance")
                let codeHash = try fields[2].bytes("codeHash")
                let exists = try fields[4].uint64("exists")
                guard balance.count <= 32, codeHash.count == 32, exists <= 1 else {
                    throw LedgerError(.malformedPayload, "a field out of range", details: ["field": "account"])
                }
                let account = EVMAccount(nonce: try fields[0].uint64("nonce"), balance: UInt256(bigEndian: balance),
                                         codeHash: UInt256(bigEndian: codeHash))
                self.init(account: exists == 1 ? account : nil, incarnation: try fields[3].uint64("incarnation"))
            } catch {
                throw ContractError(.contractStateCorrupt, "the stored account \(address) does not decode: \(error.message)",
                                    details: ["address": address.description])
            }
        }
    }
}

/// The EVM's view of the ledger's world state (``EVMStateReader`` over a `StateReader`) for one transaction, and
/// the translation of the EVM's changes back into ledger writes.
///
/// Code is checked against its account's code hash every time it is loaded (standard C-S-3): a stored code that
/// no longer hashes to what the account declares ends the run with `codeTampered` (2211) and changes nothing.
/// Loading the code of a registered contract that is not callable (paused, terminated, deleted, superseded) ends
/// the run with that status's error, so a contract cannot reach a paused one either.
final class LedgerEVMState: EVMStateReader {
    let state: any StateReader
    let height: UInt64
    private var records: [EVMAddress: ContractStateLayout.AccountRecord?] = [:]
    private var codes: [UInt256: [UInt8]] = [:]
    private var contracts: [EVMAddress: ContractState?] = [:]
    /// Addresses whose storage lives under another address's (an update that keeps the storage).
    private var storageOwners: [EVMAddress: EVMAddress] = [:]

    /// The host's precompiles by address (``ContractExecutor``'s, bound to `state` when called).
    let precompiles: [EVMAddress: any ContractPrecompile]

    init(state: any StateReader, height: UInt64, precompiles: [EVMAddress: any ContractPrecompile] = [:]) {
        self.state = state
        self.height = height
        self.precompiles = precompiles
    }

    func precompile(at address: EVMAddress) -> (any EVMHostPrecompile)? {
        guard !precompiles.isEmpty, let precompile = precompiles[address] else { return nil }
        return BoundPrecompile(precompile: precompile, state: state)
    }

    /// A ledger precompile with the state it reads.
    private struct BoundPrecompile: EVMHostPrecompile {
        let precompile: any ContractPrecompile
        let state: any StateReader

        func run(input: [UInt8], gas: UInt64) throws(ContractError) -> EVMPrecompileOutcome {
            do { return try precompile.run(input: input, gas: gas, state: state) } catch {
                // A store failure ends the run like any failed host read (the node, not the transaction, failed).
                throw ContractError(.hostReadFailed, "a precompile could not read the world state: \(error.message)",
                                    details: ["code": String(error.numericCode)])
            }
        }
    }

    func record(_ address: EVMAddress) throws(ContractError) -> ContractStateLayout.AccountRecord? {
        if let cached = records[address] { return cached }
        let bytes = try read(ContractStateLayout.accountKey(address), what: "account \(address)")
        let record = try bytes.map { (b: [UInt8]) throws(ContractError) in try ContractStateLayout.AccountRecord(decoding: b, address: address) }
        records[address] = .some(record)
        return record
    }

    func contract(_ address: EVMAddress) throws(ContractError) -> ContractState? {
        if let cached = contracts[address] { return cached }
        let contract = try ContractRegistry.state(of: address, in: state)
        contracts[address] = .some(contract)
        if let owner = contract?.storageOwner { storageOwners[address] = owner }
        return contract
    }

    /// Makes `address`'s storage that of `owner` (before the version at `address` is created).
    func mapStorage(of address: EVMAddress, to owner: EVMAddress) { storageOwners[address] = owner }

    /// Refuses a registered contract that may not run now.
    func checkCallable(_ address: EVMAddress) throws(ContractError) {
        guard let contract = try contract(address) else { return }
        let details = ["contract": contract.name, "address": address.description, "status": contract.status.description]
        switch contract.status {
        case .active: break
        case .paused: throw ContractError(.contractPaused, "contract '\(contract.name)' (\(address)) is paused", details: details)
        case .terminated: throw ContractError(.contractTerminated, "contract '\(contract.name)' (\(address)) is terminated", details: details)
        case .deleted: throw ContractError(.contractDeleted, "contract '\(contract.name)' (\(address)) was deleted", details: details)
        }
        if let from = contract.supersededFrom, height >= from {
            let current = try ContractRegistry.nameEntry(contract.name, in: state)?.address(at: height)
            throw ContractError(.contractSuperseded, "contract '\(contract.name)' version \(contract.version) (\(address)) was replaced by an update",
                                details: details.merging(["current": current?.description ?? ""]) { a, _ in a })
        }
    }

    func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount? { try record(address)?.account ?? nil }

    func code(_ address: EVMAddress) throws(ContractError) -> [UInt8] {
        try checkCallable(address)
        guard let account = try record(address)?.account ?? nil, account.codeHash != EVMAccount.emptyCodeHash else { return [] }
        if let code = codes[account.codeHash] { return code }
        guard let code = try read(ContractStateLayout.codeKey(account.codeHash), what: "code of \(address)") else {
            throw ContractError(.codeTampered, "the code of \(address) (hash \(account.codeHash)) is missing from the state",
                                details: ["address": address.description, "codeHash": account.codeHash.description])
        }
        let hash = UInt256(bigEndian: Keccak256.hash(code).bytes)
        guard hash == account.codeHash else {
            throw ContractError(.codeTampered, "the code of \(address) hashes to \(hash), its account declares \(account.codeHash)",
                                details: ["address": address.description, "codeHash": account.codeHash.description, "found": hash.description])
        }
        codes[account.codeHash] = code
        return code
    }

    func storage(_ address: EVMAddress, slot: UInt256) throws(ContractError) -> UInt256 {
        _ = try contract(address)   // learns whether the storage lives under an earlier version's address
        let owner = storageOwners[address] ?? address
        guard let record = try record(owner), record.account != nil else { return .zero }
        let key = ContractStateLayout.storageKey(owner, incarnation: record.incarnation, slot: slot)
        guard let bytes = try read(key, what: "storage of \(address)") else { return .zero }
        return UInt256(bigEndian: bytes)
    }

    /// Block hashes are not part of the world state: BLOCKHASH pushes zero on ForgeChain.
    func blockHash(_ number: UInt64) throws(ContractError) -> UInt256? { nil }

    private func read(_ key: [UInt8], what: String) throws(ContractError) -> [UInt8]? {
        do { return try state.value(forKey: key) } catch {
            throw ContractError(.hostReadFailed, "reading the \(what) failed: \(error.message)",
                                details: ["reason": error.message, "code": String(error.numericCode)])
        }
    }

    /// The code hash `address` has once `outcome`'s writes apply (the created contract's).
    func codeHashAfter(_ outcome: ExecutionOutcome, of address: EVMAddress) throws(ContractError) -> UInt256 {
        let key = ContractStateLayout.accountKey(address)
        for change in outcome.writes.changes.reversed() where change.key == key {
            guard let value = change.value else { break }
            return try ContractStateLayout.AccountRecord(decoding: value, address: address).account?.codeHash ?? EVMAccount.emptyCodeHash
        }
        return EVMAccount.emptyCodeHash
    }

    /// The ledger writes of `changes` (accounts, new code, storage), in a deterministic order.
    func writes(for changes: EVMStateChanges) throws(ContractError) -> StateChangeSet {
        var writes = StateChangeSet()
        for address in changes.accounts.keys.sorted() {
            guard let change = changes.accounts[address] else { continue }
            let previous = try record(address)
            var incarnation = previous?.incarnation ?? 0
            if change.storageCleared, previous != nil { incarnation += 1 }
            guard let account = change.account else {
                // Deleted: the record stays, without an account and with the next incarnation.
                if previous != nil {
                    writes.set(ContractStateLayout.accountKey(address),
                               to: ContractStateLayout.AccountRecord(account: nil, incarnation: incarnation + 1).encoded)
                }
                continue
            }
            writes.set(ContractStateLayout.accountKey(address), to: ContractStateLayout.AccountRecord(account: account, incarnation: incarnation).encoded)
            if let code = change.code, !code.isEmpty { writes.set(ContractStateLayout.codeKey(account.codeHash), to: code) }
            let owner = storageOwners[address]
            let ownerIncarnation = try owner.map { (o: EVMAddress) throws(ContractError) in try record(o)?.incarnation ?? 0 }
            for slot in change.storage.keys.sorted() {
                guard let value = change.storage[slot] else { continue }
                let key = ContractStateLayout.storageKey(owner ?? address, incarnation: ownerIncarnation ?? incarnation, slot: slot)
                if value.isZero { writes.delete(key) } else { writes.set(key, to: value.minimalBigEndianBytes) }
            }
        }
        return writes
    }
}
