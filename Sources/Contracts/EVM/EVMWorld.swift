import LedgerCrypto

extension EVMStateReader {
    /// No storage known beyond what ``storage(_:slot:)`` answers: `false`.
    public func hasStorage(_ address: EVMAddress) throws(ContractError) -> Bool { false }
    /// No host precompiles: `nil`.
    public func precompile(at address: EVMAddress) -> (any EVMHostPrecompile)? { nil }
}

/// A storage slot of one account.
struct EVMSlotKey: Hashable {
    var address: EVMAddress
    var slot: UInt256

    /// One mixed word instead of eight: the hasher is seeded per process, so the mix needs no strength of its own.
    func hash(into hasher: inout Hasher) {
        let a = address.word, s = slot
        var mix = s.w0 &* 0x9E37_79B9_7F4A_7C15
        mix ^= (s.w1 &* 0xC2B2_AE3D_27D4_EB4F) ^ (s.w2 &* 0x1656_67B1_9E37_79F9) ^ (s.w3 &* 0x27D4_EB2F_1656_67C5)
        mix ^= (a.w0 &* 0x85EB_CA77_C2B2_AE63) ^ (a.w1 &* 0xFF51_AFD7_ED55_8CCD) ^ (a.w2 &* 0xC4CE_B9FE_1A85_EC53)
        hasher.combine(mix)
    }

    static func == (lhs: EVMSlotKey, rhs: EVMSlotKey) -> Bool { lhs.slot == rhs.slot && lhs.address == rhs.address }
}

/// One storage slot as a run sees it.
struct EVMSlotState {
    /// The value at the start of the transaction (valid when `loaded`).
    var original: UInt256
    /// The value written by this run; `nil` when unwritten.
    var current: UInt256?
    /// EIP-2929 warm.
    var warm: Bool
    /// Whether `original` has been read from the host.
    var loaded: Bool
}

/// One account as a run sees it: the host's account with this run's changes on top.
struct EVMAccountRecord {
    /// `nil`: the account does not exist.
    var account: EVMAccount?
    /// The code, once loaded (or set by a creation).
    var code: [UInt8]?
    /// Code written by this run.
    var codeChanged = false
    /// Created during this transaction (EIP-6780: only such an account is deleted by SELFDESTRUCT).
    var createdInTransaction = false
    /// Storage wiped (created afresh): slots not written read zero.
    var storageCleared = false
    /// SELFDESTRUCT ran on an account created in this transaction: deleted at the end.
    var destructed = false
}

/// The undo log of a run: each entry restores what one change overwrote.
enum EVMJournalEntry {
    case account(EVMAddress, EVMAccountRecord?)
    case storage(EVMSlotKey, UInt256?)
    case transient(EVMSlotKey, UInt256?)
    case warmAccount(EVMAddress)
    case warmSlot(EVMSlotKey)
    case touched(EVMAddress)
    case refund(Int64)
}

/// The world one transaction sees: the host's state with a journaled overlay of changes, the EIP-2929 warm sets,
/// transient storage, logs and the refund counter. Single-threaded; lives for one run.
final class EVMWorld {
    let host: any EVMStateReader
    @exclusivity(unchecked) private(set) var records: [EVMAddress: EVMAccountRecord] = [:]
    private var originalAccounts: [EVMAddress: EVMAccount?] = [:]
    /// Every slot this run touched: its value at the start of the transaction, its current value when written,
    /// whether it is warm. One dictionary so SLOAD and SSTORE hash the key once.
    @exclusivity(unchecked) private var slots: [EVMSlotKey: EVMSlotState] = [:]
    @exclusivity(unchecked) private var transient: [EVMSlotKey: UInt256] = [:]
    @exclusivity(unchecked) private var warmAccounts: Set<EVMAddress> = []
    @exclusivity(unchecked) private var touchedAccounts: Set<EVMAddress> = []
    @exclusivity(unchecked) private var journal: [EVMJournalEntry] = []
    @exclusivity(unchecked) var logs: [EVMLog] = []
    @exclusivity(unchecked) private(set) var refund: Int64 = 0
    /// The jump-destination analyses of this run, by code hash.
    var codeCache: [UInt256: EVMCode] = [:]

    static let ripemd = EVMAddress(word: UInt256(3))

    init(host: any EVMStateReader) { self.host = host }

    struct Snapshot {
        let journalCount: Int
        let logCount: Int
    }

    var snapshot: Snapshot { Snapshot(journalCount: journal.count, logCount: logs.count) }

    func revert(to snapshot: Snapshot) {
        while journal.count > snapshot.journalCount {
            switch journal.removeLast() {
            case .account(let address, let previous): records[address] = previous
            case .storage(let key, let previous): slots[key]?.current = previous
            case .transient(let key, let previous): transient[key] = previous
            case .warmAccount(let address): warmAccounts.remove(address)
            case .warmSlot(let key): slots[key]?.warm = false
            case .touched(let address): touchedAccounts.remove(address)
            case .refund(let previous): refund = previous
            }
        }
        if logs.count > snapshot.logCount { logs.removeSubrange(snapshot.logCount...) }
    }

    // MARK: Accounts

    func record(_ address: EVMAddress) throws(ContractError) -> EVMAccountRecord {
        if let record = records[address] { return record }
        let account = try host.account(address)
        originalAccounts[address] = .some(account)
        let record = EVMAccountRecord(account: account)
        records[address] = record
        return record
    }

    func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount? { try record(address).account }

    func exists(_ address: EVMAddress) throws(ContractError) -> Bool { try record(address).account != nil }

    /// EIP-161 dead: absent or empty.
    func isDead(_ address: EVMAddress) throws(ContractError) -> Bool {
        guard let account = try record(address).account else { return true }
        return account.isEmpty
    }

    func balance(_ address: EVMAddress) throws(ContractError) -> UInt256 { try record(address).account?.balance ?? .zero }

    func nonce(_ address: EVMAddress) throws(ContractError) -> UInt64 { try record(address).account?.nonce ?? 0 }

    func codeHash(_ address: EVMAddress) throws(ContractError) -> UInt256 {
        try record(address).account?.codeHash ?? EVMAccount.emptyCodeHash
    }

    func code(_ address: EVMAddress) throws(ContractError) -> [UInt8] {
        var r = try record(address)
        if let code = r.code { return code }
        guard let account = r.account, account.codeHash != EVMAccount.emptyCodeHash else { return [] }
        let code = try host.code(address)
        r.code = code
        records[address] = r   // caching the host's code is not a change: no journal entry
        return code
    }

    /// The analysed code of `address`.
    func analysedCode(_ address: EVMAddress) throws(ContractError) -> EVMCode {
        let hash = try codeHash(address)
        if let cached = codeCache[hash] { return cached }
        let analysed = EVMCode(try code(address))
        codeCache[hash] = analysed
        return analysed
    }

    func analysed(_ bytes: [UInt8]) -> EVMCode {
        let hash = UInt256(bigEndian: Keccak256.hash(bytes).bytes)
        if let cached = codeCache[hash] { return cached }
        let analysed = EVMCode(bytes)
        codeCache[hash] = analysed
        return analysed
    }

    private func update(_ address: EVMAddress, _ body: (inout EVMAccountRecord) -> Void) throws(ContractError) {
        let previous = try record(address)
        journal.append(.account(address, previous))
        var next = previous
        body(&next)
        records[address] = next
    }

    func touch(_ address: EVMAddress) {
        guard !touchedAccounts.contains(address) else { return }
        touchedAccounts.insert(address)
        // A revert undoes a touch, except of 0x03: the historical consensus exception every client keeps.
        if address != Self.ripemd { journal.append(.touched(address)) }
    }

    func addBalance(_ address: EVMAddress, _ amount: UInt256) throws(ContractError) {
        touch(address)
        if amount.isZero { return }
        try update(address) { record in
            var account = record.account ?? EVMAccount()
            account.balance = account.balance &+ amount
            record.account = account
        }
    }

    func subtractBalance(_ address: EVMAddress, _ amount: UInt256) throws(ContractError) {
        touch(address)
        if amount.isZero { return }
        try update(address) { record in
            var account = record.account ?? EVMAccount()
            account.balance = account.balance &- amount
            record.account = account
        }
    }

    func setNonce(_ address: EVMAddress, _ nonce: UInt64) throws(ContractError) {
        try update(address) { record in
            var account = record.account ?? EVMAccount()
            account.nonce = nonce
            record.account = account
        }
    }

    /// Creates (or re-creates over a balance) the account at `address`: storage wiped, balance kept, nonce 1.
    func createAccount(_ address: EVMAddress) throws(ContractError) {
        touch(address)
        try update(address) { record in
            let balance = record.account?.balance ?? .zero
            record.account = EVMAccount(nonce: 1, balance: balance)
            record.code = []
            record.createdInTransaction = true
            record.storageCleared = true
        }
    }

    func setCode(_ address: EVMAddress, _ code: [UInt8]) throws(ContractError) {
        let hash = UInt256(bigEndian: Keccak256.hash(code).bytes)
        try update(address) { record in
            var account = record.account ?? EVMAccount()
            account.codeHash = hash
            record.account = account
            record.code = code
            record.codeChanged = true
        }
    }

    func markDestructed(_ address: EVMAddress) throws(ContractError) {
        try update(address) { record in
            record.destructed = true
            if var account = record.account { account.balance = .zero; record.account = account }
        }
    }

    // MARK: Storage

    /// Whether the account has non-zero storage now (EIP-7610's collision rule).
    func hasStorage(_ address: EVMAddress) throws(ContractError) -> Bool {
        for (key, state) in slots where key.address == address {
            if let current = state.current, !current.isZero { return true }
        }
        if let r = records[address], r.storageCleared { return false }
        return try host.hasStorage(address)
    }

    /// The index of `key`'s entry, with its original value loaded (zero for an account created in this transaction).
    @inline(__always)
    private func loadedSlot(_ key: EVMSlotKey) throws(ContractError) -> Dictionary<EVMSlotKey, EVMSlotState>.Index {
        if let index = slots.index(forKey: key), slots.values[index].loaded { return index }
        return try loadSlot(key)
    }

    @inline(never)
    private func loadSlot(_ key: EVMSlotKey) throws(ContractError) -> Dictionary<EVMSlotKey, EVMSlotState>.Index {
        var original = UInt256.zero
        if let r = records[key.address], r.createdInTransaction || r.storageCleared {
            original = .zero
        } else {
            original = try host.storage(key.address, slot: key.slot)
        }
        if let index = slots.index(forKey: key) {
            slots.values[index].original = original
            slots.values[index].loaded = true
            return index
        }
        slots[key] = EVMSlotState(original: original, current: nil, warm: false, loaded: true)
        return slots.index(forKey: key)!
    }

    /// SLOAD: the current value, and whether the slot was warm (it is warm afterwards).
    @inline(__always)
    func load(_ key: EVMSlotKey) throws(ContractError) -> (value: UInt256, wasWarm: Bool) {
        let index = try loadedSlot(key)
        let state = slots.values[index]
        if !state.warm {
            slots.values[index].warm = true
            journal.append(.warmSlot(key))
        }
        return (state.current ?? state.original, state.warm)
    }

    /// SSTORE's inputs: the current and original values, and whether the slot was warm (it is warm afterwards).
    @inline(__always)
    func storeInputs(_ key: EVMSlotKey) throws(ContractError) -> (current: UInt256, original: UInt256, wasWarm: Bool) {
        let index = try loadedSlot(key)
        let state = slots.values[index]
        if !state.warm {
            slots.values[index].warm = true
            journal.append(.warmSlot(key))
        }
        return (state.current ?? state.original, state.original, state.warm)
    }

    func originalStorageValue(_ key: EVMSlotKey) throws(ContractError) -> UInt256 {
        slots.values[try loadedSlot(key)].original
    }

    func storageValue(_ key: EVMSlotKey) throws(ContractError) -> UInt256 {
        let state = slots.values[try loadedSlot(key)]
        return state.current ?? state.original
    }

    /// Writes a slot already loaded by ``storeInputs(_:)``.
    func setStorage(_ key: EVMSlotKey, _ value: UInt256) {
        guard let index = slots.index(forKey: key) else {
            journal.append(.storage(key, nil))
            slots[key] = EVMSlotState(original: .zero, current: value, warm: false, loaded: false)
            return
        }
        journal.append(.storage(key, slots.values[index].current))
        slots.values[index].current = value
    }

    func transientValue(_ key: EVMSlotKey) -> UInt256 { transient[key] ?? .zero }

    func setTransient(_ key: EVMSlotKey, _ value: UInt256) {
        journal.append(.transient(key, transient[key]))
        transient[key] = value
    }

    // MARK: Warm sets, refunds

    /// Marks `address` warm; returns whether it was warm already.
    @discardableResult
    func warm(_ address: EVMAddress) -> Bool {
        if warmAccounts.contains(address) { return true }
        warmAccounts.insert(address)
        journal.append(.warmAccount(address))
        return false
    }

    @discardableResult
    func warm(_ key: EVMSlotKey) -> Bool {
        if let index = slots.index(forKey: key) {
            if slots.values[index].warm { return true }
            slots.values[index].warm = true
        } else {
            slots[key] = EVMSlotState(original: .zero, current: nil, warm: true, loaded: false)
        }
        journal.append(.warmSlot(key))
        return false
    }

    func addRefund(_ amount: Int64) {
        journal.append(.refund(refund))
        refund += amount
    }

    // MARK: The end of a transaction

    /// Deletes the destructed accounts and the touched empty ones (EIP-158, EIP-6780) and lists every change.
    func finalChanges() throws(ContractError) -> EVMStateChanges {
        for (key, state) in slots where state.current != nil && records[key.address] == nil { _ = try record(key.address) }
        var deleted: Set<EVMAddress> = []
        for (address, record) in records where record.destructed { deleted.insert(address) }
        for address in touchedAccounts {
            if let record = records[address], let account = record.account, account.isEmpty { deleted.insert(address) }
        }
        var written: [EVMAddress: [UInt256: UInt256]] = [:]
        for (key, state) in slots { if let value = state.current { written[key.address, default: [:]][key.slot] = value } }
        var changes = EVMStateChanges()
        for (address, record) in records {
            let original = originalAccounts[address] ?? nil
            if deleted.contains(address) {
                if original != nil || record.account != nil {
                    changes.accounts[address] = .init(account: nil, code: nil, storageCleared: true, storage: [:])
                }
                continue
            }
            let slots = written[address] ?? [:]
            if record.account != original || record.codeChanged || record.storageCleared || !slots.isEmpty {
                changes.accounts[address] = .init(account: record.account, code: record.codeChanged ? record.code : nil,
                                                  storageCleared: record.storageCleared, storage: slots)
            }
        }
        return changes
    }
}

/// Code with its jump-destination bitmap (push data is never a destination). Padded with 33 zero bytes so a
/// PUSH at the end reads zeros and running off the end reads STOP.
final class EVMCode: @unchecked Sendable {
    let count: Int
    let bytes: UnsafeMutablePointer<UInt8>
    let jumpdests: UnsafeMutablePointer<UInt8>
    let original: [UInt8]

    init(_ code: [UInt8]) {
        count = code.count
        original = code
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: code.count + 33)
        bytes.initialize(repeating: 0, count: code.count + 33)
        code.withUnsafeBufferPointer { if let base = $0.baseAddress { bytes.update(from: base, count: code.count) } }
        let jumpdests = UnsafeMutablePointer<UInt8>.allocate(capacity: code.count / 8 + 1)
        jumpdests.initialize(repeating: 0, count: code.count / 8 + 1)
        self.bytes = bytes
        self.jumpdests = jumpdests
        var pc = 0
        while pc < code.count {
            let op = code[pc]
            if op == 0x5B {
                jumpdests[pc >> 3] |= 1 << UInt8(pc & 7)
            } else if op >= 0x60 && op <= 0x7F {
                pc += Int(op) - 0x5F
            }
            pc += 1
        }
    }

    deinit {
        bytes.deallocate()
        jumpdests.deallocate()
    }

    @inline(__always)
    func isJumpdest(_ destination: Int) -> Bool {
        destination < count && jumpdests[destination >> 3] & (1 << UInt8(destination & 7)) != 0
    }
}
