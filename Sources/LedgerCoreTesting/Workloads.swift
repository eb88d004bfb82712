import LedgerCore

/// Reproducible inputs for benchmarks, demos and tests: the same bytes as
/// the C programs in the project's baselines, so roots and digests can be
/// compared across implementations.
public enum Workloads {
    /// `count` 64-byte messages in one buffer; message i is eight
    /// little-endian words `w[j] = (i * 8 + j) * 0x9E3779B97F4A7C15`.
    public static func messages64(count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * 64)
        out.withUnsafeMutableBytes { p in
            for i in 0..<count {
                for j in 0..<8 {
                    let w = UInt64(i * 8 + j) &* 0x9E37_79B9_7F4A_7C15
                    p.storeBytes(of: w.littleEndian, toByteOffset: i * 64 + j * 8, as: UInt64.self)
                }
            }
        }
        return out
    }

    /// `count` 32-byte Merkle leaves; leaf i is four little-endian words
    /// `i, i * 0x9E3779B97F4A7C15, ~i, i ^ 0xA5A5A5A5A5A5A5A5`.
    public static func merkleLeaves(count: Int) -> [Digest] {
        (0..<count).map { n in
            let i = UInt64(n)
            var s = Digest.zero
            s.withUnsafeMutableBytes { p in
                p.storeBytes(of: i.littleEndian, toByteOffset: 0, as: UInt64.self)
                p.storeBytes(of: (i &* 0x9E37_79B9_7F4A_7C15).littleEndian, toByteOffset: 8, as: UInt64.self)
                p.storeBytes(of: (~i).littleEndian, toByteOffset: 16, as: UInt64.self)
                p.storeBytes(of: (i ^ 0xA5A5_A5A5_A5A5_A5A5).littleEndian, toByteOffset: 24, as: UInt64.self)
            }
            return s
        }
    }

    /// Signed transactions from `senders` distinct keys, with payloads of
    /// `payloadBytes` bytes.
    /// - Parameters:
    ///   - count: Required. Number of transactions.
    ///   - senders: Optional, default 100. Distinct sender keys.
    ///   - scheme: Optional, default P-256.
    ///   - payloadBytes: Optional, default 64. Random payload bytes per transaction, from `seed`.
    ///   - chainID: Optional, default 1.
    ///   - hashAlgorithm: Optional, default SHA-256. The algorithm the transactions are signed under.
    ///   - seed: Optional, default 1. Decides the payloads (keys are fresh each call).
    public static func signedTransactions(count: Int, senders: Int = 100, scheme: SignatureScheme = .p256,
                                          payloadBytes: Int = 64, chainID: UInt64 = 1,
                                          hashAlgorithm: HashAlgorithm = .sha256, seed: UInt64 = 1) throws -> [Transaction] {
        let keys = try (0..<max(1, senders)).map { _ in try PrivateKey.generate(scheme) }
        var rng = SplitMix64(seed: seed)
        var nonces = [UInt64](repeating: 0, count: keys.count)
        return try (0..<count).map { i in
            let k = i % keys.count
            let body = (0..<payloadBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var tx = Transaction(chainID: chainID, sender: keys[k].publicKey, nonce: nonces[k],
                                 timestamp: Timestamp(millisecondsSince1970: 1_764_000_000_000 + UInt64(i)),
                                 payload: TransactionPayload(kind: "kv", body: body))
            nonces[k] += 1
            try tx.sign(with: keys[k], hashAlgorithm: hashAlgorithm)
            return tx
        }
    }
}

extension Workloads {
    /// A block ready to append, with its receipts and state changes.
    public struct PreparedBlock: Sendable {
        /// The signed block.
        public var block: Block
        /// Its receipts, in transaction order.
        public var receipts: [Receipt]
        /// The state changes its transactions make.
        public var stateChanges: StateChangeSet
    }

    /// A chain of `blocks` blocks of `transactionsPerBlock` Ed25519-signed
    /// transactions, each block writing one state key per transaction, with
    /// correct state and receipt roots: what `LedgerStore.append` takes.
    /// - Parameters:
    ///   - blocks: Required, at least 1.
    ///   - transactionsPerBlock: Optional, default 1,000.
    ///   - hashAlgorithm: Optional, default SHA-256. The chain's hash algorithm.
    public static func ledgerChain(blocks: Int, transactionsPerBlock: Int = 1_000,
                                   hashAlgorithm: HashAlgorithm = .sha256) throws -> [PreparedBlock] {
        let producer = try PrivateKey.generate(.ed25519)
        let txs = try signedTransactions(count: blocks * transactionsPerBlock, senders: 100, scheme: .ed25519,
                                         payloadBytes: 64, hashAlgorithm: hashAlgorithm)
        let scratch = try LedgerStore.inMemory(configuration: .init(hashAlgorithm: hashAlgorithm))
        var out = [PreparedBlock]()
        var parent: BlockHeader?
        for b in 0..<blocks {
            let slice = Array(txs[(b * transactionsPerBlock)..<((b + 1) * transactionsPerBlock)])
            var changes = StateChangeSet()
            for (i, tx) in slice.enumerated() { changes.set(Array("batch/\((i + b * 37) % 5_000)".utf8), to: tx.payload.body) }
            let receipts = slice.map { Receipt(transactionID: $0.id(using: hashAlgorithm), status: 0, output: [1], costUnits: 21_000) }
            let block = try Block.make(parent: parent, transactions: slice, stateRoot: try scratch.stateRoot(applying: changes),
                                       receiptRoot: Receipt.root(of: receipts, using: hashAlgorithm), producerKey: producer,
                                       chainID: 1, hashAlgorithm: hashAlgorithm,
                                       timestamp: Timestamp(millisecondsSince1970: 1_764_000_000_000 + UInt64(b) * 1000))
            try scratch.append(block, receipts: receipts, stateChanges: changes)
            out.append(PreparedBlock(block: block, receipts: receipts, stateChanges: changes))
            parent = block.header
        }
        return out
    }
}
