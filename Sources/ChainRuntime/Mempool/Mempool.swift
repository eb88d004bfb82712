import LedgerCore

/// Pending transactions waiting for a block (K-T-1, K-T-2): admitted only
/// after full validation, deduplicated by ID, ordered per sender by nonce,
/// bounded in count, bytes and per sender, and evicted when expired.
///
/// Admission (``add(_:now:nextNonce:refusal:)``) checks, cheapest first, and throws
/// the first failure:
/// 1. chain ID (`.wrongChain`, 4008);
/// 2. encoded size (`.transactionTooLarge`, 4007);
/// 3. duplicate ID (`.alreadyInMempool`, 4003);
/// 4. expiry: the earlier of the transaction's timestamp and `now`, plus
///    ``MempoolConfiguration/ttlMillis``, must lie after `now` (`.transactionExpired`, 4006);
/// 5. nonce: at least the sender's next nonce (`.nonceTooLow`, 4004), at most
///    ``MempoolConfiguration/maxNonceGap`` ahead (`.nonceGap`, 4005), and no
///    other pending transaction with that nonce (`.nonceAlreadyPooled`, 4010);
/// 6. limits: per sender (`.senderLimitReached`, 4002), then count and bytes
///    (`.mempoolFull`, 4001);
/// 7. signature, low-S required (`.invalidSignature`, 4009);
/// 8. signer: the `refusal` check (the node asks the executor of the payload kind, which may keep a list of
///    permitted signers, as AppAPI's records and access executors do; `.senderNotPermitted`, 4012).
///
/// A rejected transaction changes nothing (apart from dropping pending
/// transactions whose nonces `nextNonce` reports as already committed).
///
/// Every operation costs O(log n) or O(1) amortised in the pool size n (plus
/// O(k) in one sender's k pending transactions when a nonce arrives out of
/// order); the signature check (about 80 µs for P-256) dominates admission.
/// Outputs (``proposal(maxCount:maxBytes:)``, ``evictExpired(now:)``) never
/// depend on `Set`/`Dictionary` iteration order: the same operations give
/// the same results in every process.
///
/// ```swift
/// var pool = try Mempool(configuration: MempoolConfiguration(chainID: 7))
/// let id = try pool.add(tx, now: .now(), nextNonce: { store.nextNonce(for: $0) })
/// let block = pool.proposal(maxCount: 1_000, maxBytes: 4 << 20)
/// pool.removeCommitted(block)
/// ```
/// A value type with no locks: `Sendable`, not shared; the node owns one
/// inside its actor.
public struct Mempool: Sendable {
    /// The limits and chain parameters, validated.
    public let configuration: MempoolConfiguration

    struct Item: Sendable {
        var nonce: UInt64
        var id: Digest
        var seq: UInt64
        var size: Int
        var deadline: Timestamp
        var tx: Transaction
    }

    /// One sender's pending transactions, sorted by nonce, from `head`.
    struct SenderQueue: Sendable {
        var key: PublicKey
        /// The next nonce expected to be committed; the queue is ready when
        /// its first item has this nonce.
        var nextNonce: UInt64
        var items: [Item] = []
        var head = 0
        var bytes = 0

        var pending: Int { items.count - head }
        var isEmpty: Bool { head == items.count }

        /// Index of `nonce` in `items`, or where it would be inserted.
        func index(of nonce: UInt64) -> (index: Int, found: Bool) {
            var lo = head, hi = items.count
            if hi > lo, items[hi - 1].nonce < nonce { return (hi, false) }
            while lo < hi {
                let mid = (lo + hi) / 2
                if items[mid].nonce < nonce { lo = mid + 1 } else { hi = mid }
            }
            return (lo, lo < items.count && items[lo].nonce == nonce)
        }

        mutating func compactIfNeeded() {
            if head > 32 && head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
        }
    }

    struct Location: Sendable {
        var slot: Int
        var nonce: UInt64
        var seq: UInt64
    }

    struct ExpiryKey: Comparable, Sendable {
        var deadline: Timestamp
        var seq: UInt64
        var id: Digest
        static func < (a: ExpiryKey, b: ExpiryKey) -> Bool {
            (a.deadline, a.seq) < (b.deadline, b.seq)
        }
        static func == (a: ExpiryKey, b: ExpiryKey) -> Bool { a.seq == b.seq && a.deadline == b.deadline }
    }

    var entries: [Digest: Location] = [:]
    var slots: [PublicKey: Int] = [:]
    var queues: [SenderQueue?] = []
    var freeSlots: [Int] = []
    var expiry = MinHeap<ExpiryKey>()
    var nextSeq: UInt64 = 0

    /// The number of pending transactions.
    public private(set) var count = 0
    /// The sum of the pending transactions' canonical encodings, in bytes.
    public private(set) var byteCount = 0

    /// Creates an empty mempool.
    /// - Parameter configuration: Required; checked with ``MempoolConfiguration/validate()``.
    /// - Throws: `ChainError` `.invalidMempoolConfiguration` (4011).
    public init(configuration: MempoolConfiguration) throws(ChainError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// The number of senders with pending transactions.
    public var senderCount: Int { slots.count }

    /// Whether a transaction with this ID is pending.
    /// - Parameter id: Required. A transaction ID under the chain's hash algorithm.
    public func contains(_ id: Digest) -> Bool { entries[id] != nil }

    /// The pending transaction with this ID, or nil.
    /// - Parameter id: Required.
    public func transaction(_ id: Digest) -> Transaction? {
        guard let loc = entries[id], let q = queues[loc.slot] else { return nil }
        let (i, found) = q.index(of: loc.nonce)
        return found ? q.items[i].tx : nil
    }

    /// What is pending from one sender, or nil when nothing is.
    /// - Parameter sender: Required.
    /// - Note: O(k) in the sender's pending transactions.
    public func stats(for sender: PublicKey) -> MempoolSenderStats? {
        guard let slot = slots[sender], let q = queues[slot], !q.isEmpty else { return nil }
        var ready = 0
        var expected = q.nextNonce
        for i in q.head..<q.items.count {
            guard q.items[i].nonce == expected else { break }
            ready += 1
            expected &+= 1
        }
        return MempoolSenderStats(pending: q.pending, ready: ready, bytes: q.bytes, nextNonce: q.nextNonce,
                                  lowestNonce: q.items[q.head].nonce, highestNonce: q.items[q.items.count - 1].nonce)
    }

    // MARK: - Admission

    /// Validates a transaction fully and admits it (K-T-1, K-T-2). For
    /// transactions from clients and from peers alike.
    ///
    /// - Parameters:
    ///   - tx: Required. A signed transaction.
    ///   - now: Required. The local time; decides expiry.
    ///   - nextNonce: Required. The sender's next committed nonce from the
    ///     ledger state (0 for a new sender). Called once, synchronously.
    ///   - refusal: Optional, default none. Asked last, once the signature verified: why the chain does not accept
    ///     the transaction's signer (the node asks its executor's `admit`), or nil.
    /// - Returns: The transaction ID.
    /// - Throws: `ChainError` `.wrongChain` (4008), `.transactionTooLarge`
    ///   (4007), `.alreadyInMempool` (4003), `.transactionExpired` (4006),
    ///   `.nonceTooLow` (4004), `.nonceGap` (4005, with `expectedNonce`),
    ///   `.nonceAlreadyPooled` (4010), `.senderLimitReached` (4002),
    ///   `.mempoolFull` (4001, naming `maxTransactions` or `maxBytes`),
    ///   `.invalidSignature` (4009, the LedgerError code in `details["cause"]`),
    ///   `.senderNotPermitted` (4012, the code `refusal` returned in `details["cause"]`).
    ///   On any error the pending set is unchanged.
    /// - Note: O(log n) plus one signature verification. Mutating; the owner serialises calls.
    @discardableResult
    public mutating func add(_ tx: Transaction, now: Timestamp, nextNonce: (PublicKey) -> UInt64,
                             refusal: (Transaction) -> LedgerError? = { _ in nil }) throws(ChainError) -> Digest {
        let candidate = try precheck(tx, now: now)
        let algorithm = configuration.hashAlgorithm
        return try admit(tx, candidate, nextNonce: nextNonce, refusal: refusal) {
            do throws(LedgerError) { try tx.verifySignatureOnce(hashAlgorithm: algorithm); return nil } catch { return error }
        }
    }

    struct Candidate {
        var id: Digest
        var size: Int
        var deadline: Timestamp
    }

    func context(_ tx: Transaction, _ id: Digest?) -> [String: String] {
        var d = ["sender": Hex.encode(tx.sender.rawRepresentation), "nonce": String(tx.nonce)]
        if let id { d["transaction"] = id.hex }
        return d
    }

    /// Checks 1–4 (chain, size, duplicate, expiry); returns ID, size, deadline.
    func precheck(_ tx: Transaction, now: Timestamp, encoded: [UInt8]? = nil, id: Digest? = nil) throws(ChainError) -> Candidate {
        let config = configuration
        guard tx.chainID == config.chainID else {
            throw ChainError(.wrongChain, "transaction chain ID \(tx.chainID), expected \(config.chainID)",
                             details: context(tx, nil).merging(["chainID": String(tx.chainID), "expectedChainID": String(config.chainID)]) { a, _ in a })
        }
        let bytes = encoded ?? tx.encoded
        let limit = min(config.maxTransactionBytes, config.maxBytes)
        guard bytes.count <= limit else {
            throw ChainError(.transactionTooLarge, "transaction of \(bytes.count) bytes exceeds maxTransactionBytes \(limit)",
                             details: context(tx, nil).merging(["size": String(bytes.count), "limit": String(limit)]) { a, _ in a })
        }
        let id = id ?? config.hashAlgorithm.hash(bytes)
        guard entries[id] == nil else {
            throw ChainError(.alreadyInMempool, "transaction \(id.hex) is already pending", details: context(tx, id))
        }
        let deadline = deadline(of: tx, now: now)
        guard deadline > now else {
            throw ChainError(.transactionExpired,
                             "transaction timestamp \(tx.timestamp.rawValue) plus ttlMillis \(config.ttlMillis) is not after now \(now.rawValue)",
                             details: context(tx, id).merging(["timestamp": String(tx.timestamp.rawValue), "now": String(now.rawValue)]) { a, _ in a })
        }
        return Candidate(id: id, size: bytes.count, deadline: deadline)
    }

    func deadline(of tx: Transaction, now: Timestamp) -> Timestamp {
        min(tx.timestamp, now).adding(milliseconds: configuration.ttlMillis)
    }

    /// Checks 5–7 and inserts. `signatureError` runs last.
    mutating func admit(_ tx: Transaction, _ c: Candidate, nextNonce: (PublicKey) -> UInt64, refusal: (Transaction) -> LedgerError?,
                        signatureError: () -> LedgerError?) throws(ChainError) -> Digest {
        let config = configuration
        let committed = nextNonce(tx.sender)
        var slot = slots[tx.sender]
        if let s = slot {
            if committed > queues[s]!.nextNonce {
                _ = advance(slot: s, to: committed)
                slot = slots[tx.sender]
            }
        }
        let expected = slot.map { max(committed, queues[$0]!.nextNonce) } ?? committed
        guard tx.nonce >= expected else {
            throw ChainError(.nonceTooLow, "nonce \(tx.nonce) is already used, expected at least \(expected)",
                             details: context(tx, c.id).merging(["expectedNonce": String(expected)]) { a, _ in a })
        }
        guard tx.nonce - expected <= config.maxNonceGap else {
            throw ChainError(.nonceGap, "nonce \(tx.nonce) is more than maxNonceGap \(config.maxNonceGap) ahead of the next nonce \(expected)",
                             details: context(tx, c.id).merging(["expectedNonce": String(expected), "limit": String(config.maxNonceGap)]) { a, _ in a })
        }
        if let s = slot {
            let q = queues[s]!
            let (i, found) = q.index(of: tx.nonce)
            if found {
                throw ChainError(.nonceAlreadyPooled, "sender already has transaction \(q.items[i].id.hex) pending with nonce \(tx.nonce)",
                                 details: context(tx, c.id).merging(["pendingTransaction": q.items[i].id.hex]) { a, _ in a })
            }
            guard q.pending < config.maxPerSender else {
                throw ChainError(.senderLimitReached, "sender has \(q.pending) transactions pending, maxPerSender is \(config.maxPerSender)",
                                 details: context(tx, c.id).merging(["limit": String(config.maxPerSender)]) { a, _ in a })
            }
        }
        guard count < config.maxTransactions else {
            throw ChainError(.mempoolFull, "mempool is full: \(count) transactions pending, maxTransactions is \(config.maxTransactions)",
                             details: context(tx, c.id).merging(["limit": "maxTransactions", "value": String(config.maxTransactions)]) { a, _ in a })
        }
        guard byteCount + c.size <= config.maxBytes else {
            throw ChainError(.mempoolFull, "mempool is full: \(byteCount) bytes pending plus \(c.size) exceeds maxBytes \(config.maxBytes)",
                             details: context(tx, c.id).merging(["limit": "maxBytes", "value": String(config.maxBytes)]) { a, _ in a })
        }
        if let error = signatureError() {
            throw ChainError(.invalidSignature, "transaction signature rejected: \(error.message)",
                             details: context(tx, c.id).merging(["cause": String(error.numericCode)]) { a, _ in a })
        }
        if let error = refusal(tx) {
            throw ChainError(.senderNotPermitted, "the chain does not accept the transaction's signer: \(error.message)",
                             details: context(tx, c.id).merging(["cause": String(error.numericCode)]) { a, _ in a })
        }
        insert(tx, c, nextNonce: expected)
        return c.id
    }

    /// Inserts without checks; creates the sender's queue with `nextNonce`.
    mutating func insert(_ tx: Transaction, _ c: Candidate, nextNonce: UInt64) {
        let seq = nextSeq
        nextSeq += 1
        let s = slot(for: tx.sender, nextNonce: nextNonce)
        let item = Item(nonce: tx.nonce, id: c.id, seq: seq, size: c.size, deadline: c.deadline, tx: tx)
        let (i, _) = queues[s]!.index(of: tx.nonce)
        if i == queues[s]!.items.count { queues[s]!.items.append(item) } else { queues[s]!.items.insert(item, at: i) }
        queues[s]!.bytes += c.size
        entries[c.id] = Location(slot: s, nonce: tx.nonce, seq: seq)
        expiry.insert(ExpiryKey(deadline: c.deadline, seq: seq, id: c.id))
        count += 1
        byteCount += c.size
    }

    mutating func slot(for key: PublicKey, nextNonce: UInt64) -> Int {
        if let s = slots[key] { return s }
        let queue = SenderQueue(key: key, nextNonce: nextNonce)
        let s: Int
        if let free = freeSlots.popLast() { s = free; queues[s] = queue } else { s = queues.count; queues.append(queue) }
        slots[key] = s
        return s
    }

    /// Removes the item at `index` of queue `slot`; frees an empty queue.
    mutating func removeItem(slot s: Int, at index: Int) -> Digest {
        let item = queues[s]!.items[index]
        if index == queues[s]!.head {
            queues[s]!.head += 1
            queues[s]!.compactIfNeeded()
        } else {
            queues[s]!.items.remove(at: index)
        }
        queues[s]!.bytes -= item.size
        entries[item.id] = nil
        count -= 1
        byteCount -= item.size
        if queues[s]!.isEmpty { freeQueue(s) }
        return item.id
    }

    mutating func freeQueue(_ s: Int) {
        slots[queues[s]!.key] = nil
        queues[s] = nil
        freeSlots.append(s)
    }

    /// Raises the queue's next nonce and drops items below it, in nonce order.
    mutating func advance(slot s: Int, to nonce: UInt64) -> [Digest] {
        guard nonce > queues[s]!.nextNonce else { return [] }
        queues[s]!.nextNonce = nonce
        var removed: [Digest] = []
        // Index reads only: binding the queue to a local would keep a second
        // reference to its items and make every removal copy them.
        while queues[s] != nil, !queues[s]!.isEmpty, queues[s]!.items[queues[s]!.head].nonce < nonce {
            removed.append(removeItem(slot: s, at: queues[s]!.head))
        }
        compactExpiryIfNeeded()
        return removed
    }

    /// Rebuilds the expiry heap when removed entries make up most of it, so
    /// its size stays O(count).
    mutating func compactExpiryIfNeeded() {
        guard expiry.count > 2 * count + 1024 else { return }
        var keys: [ExpiryKey] = []
        keys.reserveCapacity(count)
        for q in queues {
            guard let q else { continue }
            for i in q.head..<q.items.count { keys.append(ExpiryKey(deadline: q.items[i].deadline, seq: q.items[i].seq, id: q.items[i].id)) }
        }
        expiry = MinHeap(keys)
    }

    // MARK: - Block production and commit

    /// The transactions a block built now should hold: only ready ones (each
    /// sender's transactions in nonce order from its next nonce, stopping at
    /// the first gap), with senders interleaved round-robin: one transaction
    /// from every ready sender, in the order their oldest pending ready
    /// transaction arrived, then a second from each, and so on.
    ///
    /// A transaction that would exceed `maxBytes` is skipped together with the
    /// rest of its sender's run; smaller ones from other senders still fill
    /// the block. The result is deterministic: the same sequence of operations
    /// gives the same proposal in every process.
    /// - Parameters:
    ///   - maxCount: Required. At most this many transactions; `0` gives `[]`.
    ///   - maxBytes: Required. At most this many bytes of canonical encodings.
    /// - Returns: Transactions in block order. Does not remove them.
    /// - Note: O(s + k log s) for s ready senders and k selected transactions. Read-only.
    public func proposal(maxCount: Int, maxBytes: Int) -> [Transaction] {
        proposalWithIDs(maxCount: maxCount, maxBytes: maxBytes).transactions
    }

    /// ``proposal(maxCount:maxBytes:)`` with each transaction's ID (computed at admission), in the same order.
    func proposalWithIDs(maxCount: Int, maxBytes: Int) -> (transactions: [Transaction], ids: [Digest]) {
        guard maxCount > 0, maxBytes > 0, count > 0 else { return ([], []) }
        struct Cursor: Comparable {
            var round: Int
            var seq: UInt64
            var slot: Int
            var index: Int
            static func < (a: Cursor, b: Cursor) -> Bool { (a.round, a.seq) < (b.round, b.seq) }
        }
        var start: [Cursor] = []
        for s in queues.indices {
            guard let q = queues[s], !q.isEmpty else { continue }
            let first = q.items[q.head]
            if first.nonce == q.nextNonce { start.append(Cursor(round: 0, seq: first.seq, slot: s, index: q.head)) }
        }
        var heap = MinHeap(start)
        var out: [Transaction] = []
        var ids: [Digest] = []
        out.reserveCapacity(min(maxCount, count))
        ids.reserveCapacity(min(maxCount, count))
        var bytes = 0
        while out.count < maxCount, let c = heap.popMin() {
            let item = queues[c.slot]!.items[c.index]
            guard bytes + item.size <= maxBytes else { continue }
            out.append(item.tx)
            ids.append(item.id)
            bytes += item.size
            let next = c.index + 1
            if next < queues[c.slot]!.items.count, queues[c.slot]!.items[next].nonce == item.nonce &+ 1 {
                heap.insert(Cursor(round: c.round + 1, seq: c.seq, slot: c.slot, index: next))
            }
        }
        return (out, ids)
    }

    /// Removes transactions that a committed block holds, and every pending
    /// transaction of the same senders whose nonce is now used (a different
    /// transaction with a committed nonce can never be committed).
    /// - Parameter txs: Required. The committed block's transactions, any order.
    /// - Returns: The IDs removed from the mempool.
    /// - Note: O(1) amortised per transaction; no hashing.
    @discardableResult
    public mutating func removeCommitted(_ txs: [Transaction]) -> [Digest] {
        var removed: [Digest] = []
        for tx in txs {
            guard let s = slots[tx.sender] else { continue }
            removed += advance(slot: s, to: tx.nonce &+ 1)
        }
        return removed
    }

    /// Removes every transaction whose deadline (the earlier of its timestamp
    /// and its arrival, plus ``MempoolConfiguration/ttlMillis``) is at or
    /// before `now`.
    /// - Parameter now: Required. The local time.
    /// - Returns: IDs evicted, in deadline order (ties by arrival).
    /// - Note: O(e log n) for e evicted. Later nonces of the same sender stay
    ///   pending behind the gap until they expire or the gap is filled.
    @discardableResult
    public mutating func evictExpired(now: Timestamp) -> [Digest] {
        var evicted: [Digest] = []
        while let top = expiry.min, top.deadline <= now {
            expiry.popMin()
            guard let loc = entries[top.id], loc.seq == top.seq else { continue }
            let (i, found) = queues[loc.slot]!.index(of: loc.nonce)
            guard found else { continue }
            evicted.append(removeItem(slot: loc.slot, at: i))
        }
        compactExpiryIfNeeded()
        return evicted
    }

    /// Puts back transactions a rollback undid, so they can be committed
    /// again. They were validated when first admitted, so neither the
    /// signature nor the limits are checked (the mempool may exceed its
    /// bounds until it drains); transactions for another chain, already
    /// pending, or expired are skipped. Each sender's next nonce is lowered to
    /// the lowest nonce among its undone transactions (expired ones
    /// included), and an undone transaction replaces a pending one that has
    /// the same sender and nonce.
    /// - Parameters:
    ///   - txs: Required. The undone transactions, any order.
    ///   - now: Required. The local time; decides expiry.
    /// - Returns: The IDs put back, in input order.
    @discardableResult
    public mutating func reinsert(_ txs: [Transaction], now: Timestamp) -> [Digest] {
        let chainID = configuration.chainID
        var lowest: [PublicKey: UInt64] = [:]
        for tx in txs where tx.chainID == chainID {
            lowest[tx.sender] = min(lowest[tx.sender] ?? .max, tx.nonce)
        }
        // Order-independent: each sender's queue is updated once.
        for (key, nonce) in lowest {
            if let s = slots[key], nonce < queues[s]!.nextNonce { queues[s]!.nextNonce = nonce }
        }
        var inserted: [Digest] = []
        for tx in txs where tx.chainID == chainID {
            let bytes = tx.encoded
            let id = configuration.hashAlgorithm.hash(bytes)
            let deadline = deadline(of: tx, now: now)
            guard entries[id] == nil, deadline > now else { continue }
            if let s = slots[tx.sender] {
                let (i, found) = queues[s]!.index(of: tx.nonce)
                if found { _ = removeItem(slot: s, at: i) }
            }
            insert(tx, Candidate(id: id, size: bytes.count, deadline: deadline), nextNonce: lowest[tx.sender]!)
            inserted.append(id)
        }
        return inserted
    }
}
