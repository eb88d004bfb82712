import ChainRuntime
import LedgerCore
import Synchronization

/// Keys, signed transactions and a fake ledger of committed nonces.
struct MempoolFixture {
    static let chainID: UInt64 = 7
    static let t0 = Timestamp(millisecondsSince1970: 1_764_000_000_000)
    /// Generated once per process; P-256 (the chain default).
    static let keys: [PrivateKey] = (0..<6).map { _ in try! PrivateKey.generate(.p256) }

    struct TxKey: Hashable { var sender: Int; var nonce: UInt64; var time: Timestamp; var body: [UInt8]; var chainID: UInt64 }
    /// P-256 signatures use random nonces, so the same arguments are
    /// memoised to give the same (equal) transaction every time.
    static let signed = Mutex<[TxKey: Transaction]>([:])

    static func tx(_ sender: Int, _ nonce: UInt64, at time: Timestamp = t0, body: [UInt8] = [1, 2, 3],
                   chainID: UInt64 = chainID) -> Transaction {
        let key = TxKey(sender: sender, nonce: nonce, time: time, body: body, chainID: chainID)
        if let tx = signed.withLock({ $0[key] }) { return tx }
        let tx = sign(sender, nonce, at: time, body: body, chainID: chainID)
        return signed.withLock { cache in
            if let existing = cache[key] { return existing }
            cache[key] = tx
            return tx
        }
    }

    static func sign(_ sender: Int, _ nonce: UInt64, at time: Timestamp, body: [UInt8], chainID: UInt64) -> Transaction {
        var tx = Transaction(chainID: chainID, sender: keys[sender].publicKey, nonce: nonce, timestamp: time,
                             payload: TransactionPayload(kind: "kv", body: body))
        try! tx.sign(with: keys[sender], hashAlgorithm: .sha256)
        return tx
    }

    static func pool(_ adjust: (inout MempoolConfiguration) -> Void = { _ in }) -> Mempool {
        var config = MempoolConfiguration(chainID: chainID)
        adjust(&config)
        return try! Mempool(configuration: config)
    }

    static func id(_ tx: Transaction) -> Digest { tx.id(using: .sha256) }
}

/// The committed nonce per sender, as the ledger state would report it.
struct FakeLedger {
    var nonces: [PublicKey: UInt64] = [:]
    func next(_ key: PublicKey) -> UInt64 { nonces[key] ?? 0 }
    mutating func commit(_ txs: [Transaction]) {
        for tx in txs { nonces[tx.sender] = max(next(tx.sender), tx.nonce + 1) }
    }
}

extension Mempool {
    /// `add` against an empty ledger (every sender's next nonce is 0).
    @discardableResult
    mutating func add(_ tx: Transaction, now: Timestamp = MempoolFixture.t0) throws(ChainError) -> Digest {
        try add(tx, now: now, nextNonce: { _ in 0 })
    }
}

/// The error code `body` throws, or nil.
func chainErrorCode(_ body: () throws -> Void) -> ChainError.Code? {
    do { try body(); return nil } catch { return (error as? ChainError)?.code }
}

/// Replaces a P-256 signature's `s` by `n - s` (a valid but high-S signature).
func withHighS(_ tx: Transaction) throws -> Transaction {
    let order: [UInt8] = Array(try Digest(hex: "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").bytes)
    var raw = tx.signature!.rawRepresentation
    var borrow = 0
    var s = [UInt8](repeating: 0, count: 32)
    for i in stride(from: 31, through: 0, by: -1) {
        let d = Int(order[i]) - Int(raw[32 + i]) - borrow
        s[i] = UInt8((d + 256) % 256)
        borrow = d < 0 ? 1 : 0
    }
    raw.replaceSubrange(32..<64, with: s)
    var copy = tx
    copy.signature = try Signature(scheme: .p256, rawRepresentation: raw)
    return copy
}
