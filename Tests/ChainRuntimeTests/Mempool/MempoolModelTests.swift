import ChainRuntime
import LedgerCore
import Testing

private typealias F = MempoolFixture

/// Seeded random operation sequences (add, propose, commit, expire,
/// rollback) run against the mempool and against a model that states the
/// rules with linear scans; every result and every proposal must agree.
struct MempoolModelTests {
    struct Pending {
        var tx: Transaction
        var id: Digest
        var sender: Int
        var seq: Int
        var deadline: Timestamp
        var size: Int
    }

    /// The rules, written plainly.
    struct Model {
        var config: MempoolConfiguration
        var pending: [Pending] = []
        var nonces = [UInt64](repeating: 0, count: F.keys.count)
        var seq = 0

        func code(adding tx: Transaction, sender: Int, validSignature: Bool, now: Timestamp) -> ChainError.Code? {
            let id = F.id(tx)
            let size = tx.encoded.count
            if tx.chainID != config.chainID { return .wrongChain }
            if size > config.maxTransactionBytes { return .transactionTooLarge }
            if pending.contains(where: { $0.id == id }) { return .alreadyInMempool }
            if min(tx.timestamp, now).adding(milliseconds: config.ttlMillis) <= now { return .transactionExpired }
            if tx.nonce < nonces[sender] { return .nonceTooLow }
            if tx.nonce - nonces[sender] > config.maxNonceGap { return .nonceGap }
            let mine = pending.filter { $0.sender == sender }
            if mine.contains(where: { $0.tx.nonce == tx.nonce }) { return .nonceAlreadyPooled }
            if mine.count >= config.maxPerSender { return .senderLimitReached }
            if pending.count >= config.maxTransactions { return .mempoolFull }
            if pending.reduce(0, { $0 + $1.size }) + size > config.maxBytes { return .mempoolFull }
            if !validSignature { return .invalidSignature }
            return nil
        }

        mutating func insert(_ tx: Transaction, sender: Int, now: Timestamp) {
            pending.append(Pending(tx: tx, id: F.id(tx), sender: sender, seq: seq,
                                   deadline: min(tx.timestamp, now).adding(milliseconds: config.ttlMillis), size: tx.encoded.count))
            seq += 1
        }

        func proposal(maxCount: Int, maxBytes: Int) -> [Transaction] {
            // Each sender's ready run, senders ordered by their first ready item's arrival.
            var runs: [[Pending]] = []
            for s in F.keys.indices {
                var run: [Pending] = []
                var next = nonces[s]
                while let p = pending.first(where: { $0.sender == s && $0.tx.nonce == next }) {
                    run.append(p)
                    next += 1
                }
                if !run.isEmpty { runs.append(run) }
            }
            runs.sort { $0[0].seq < $1[0].seq }
            var out: [Transaction] = []
            var bytes = 0
            var dropped = Set<Int>()
            var round = 0
            while out.count < maxCount {
                var any = false
                for (r, run) in runs.enumerated() where round < run.count && !dropped.contains(r) && out.count < maxCount {
                    any = true
                    if bytes + run[round].size > maxBytes { dropped.insert(r); continue }
                    out.append(run[round].tx)
                    bytes += run[round].size
                }
                if !any { break }
                round += 1
            }
            return out
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func randomOperationSequencesAgreeWithTheModel(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var config = MempoolConfiguration(chainID: F.chainID)
        config.maxTransactions = 24
        config.maxPerSender = 8
        config.maxNonceGap = 3
        config.ttlMillis = 2_000
        config.maxBytes = 24 * 160
        var pool = try Mempool(configuration: config)
        var model = Model(config: config)
        var blocks: [[Transaction]] = []
        var now = F.t0
        var seen = (admitted: 0, rejected: 0, proposed: 0, evicted: 0, reinserted: 0)
        for step in 0..<400 {
            let context = "seed \(seed) step \(step)"
            now = now.adding(milliseconds: UInt64.random(in: 0...60, using: &rng))
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<60:
                let sender = Int.random(in: 0..<F.keys.count, using: &rng)
                let nonce = model.nonces[sender] &+ UInt64.random(in: 0...4, using: &rng) &- (UInt64.random(in: 0..<10, using: &rng) == 0 ? 1 : 0)
                let age = UInt64.random(in: 0..<10, using: &rng) == 0 ? 3_000 : UInt64.random(in: 0...500, using: &rng)
                let time = Timestamp(millisecondsSince1970: now.rawValue - age)
                let body = [UInt8(Int.random(in: 0..<3, using: &rng))]
                var tx = F.tx(sender, nonce, at: time, body: body, chainID: UInt64.random(in: 0..<30, using: &rng) == 0 ? 99 : F.chainID)
                let valid = UInt64.random(in: 0..<8, using: &rng) != 0
                if !valid { tx.payload.body.append(0xEE) }
                let expected = model.code(adding: tx, sender: sender, validSignature: valid, now: now)
                let got = chainErrorCode { try pool.add(tx, now: now, nextNonce: { key in model.nonces[F.keys.firstIndex { $0.publicKey == key }!] }) }
                #expect(got == expected, "\(context): add")
                if expected == nil { model.insert(tx, sender: sender, now: now); seen.admitted += 1 } else { seen.rejected += 1 }
            case 60..<75:
                let maxCount = Int.random(in: 0...12, using: &rng)
                let maxBytes = Int.random(in: 100...2_000, using: &rng)
                let proposed = pool.proposal(maxCount: maxCount, maxBytes: maxBytes)
                #expect(proposed == model.proposal(maxCount: maxCount, maxBytes: maxBytes), "\(context): proposal")
                seen.proposed += proposed.count
                if Bool.random(using: &rng), !proposed.isEmpty {   // commit it
                    for tx in proposed {
                        let s = F.keys.firstIndex { $0.publicKey == tx.sender }!
                        model.nonces[s] = tx.nonce + 1
                    }
                    model.pending.removeAll { $0.tx.nonce < model.nonces[$0.sender] }
                    pool.removeCommitted(proposed)
                    blocks.append(proposed)
                }
            case 75..<85:
                let evicted = pool.evictExpired(now: now)
                let expired = model.pending.filter { $0.deadline <= now }.sorted { ($0.deadline, $0.seq) < ($1.deadline, $1.seq) }
                #expect(evicted == expired.map(\.id), "\(context): evict")
                model.pending.removeAll { $0.deadline <= now }
                seen.evicted += evicted.count
            default:
                guard let block = blocks.popLast() else { continue }
                // Rollback of the newest block: the ledger forgets it, the pool takes it back.
                for tx in block {
                    let s = F.keys.firstIndex { $0.publicKey == tx.sender }!
                    model.nonces[s] = min(model.nonces[s], tx.nonce)
                }
                let back = pool.reinsert(block, now: now)
                var expectedBack: [Digest] = []
                for tx in block {
                    let s = F.keys.firstIndex { $0.publicKey == tx.sender }!
                    let id = F.id(tx)
                    guard !model.pending.contains(where: { $0.id == id }),
                          min(tx.timestamp, now).adding(milliseconds: config.ttlMillis) > now else { continue }
                    model.pending.removeAll { $0.sender == s && $0.tx.nonce == tx.nonce }
                    model.insert(tx, sender: s, now: now)
                    expectedBack.append(id)
                }
                #expect(back == expectedBack, "\(context): reinsert")
                seen.reinserted += back.count
            }
            #expect(pool.count == model.pending.count, "\(context): count")
            #expect(pool.byteCount == model.pending.reduce(0) { $0 + $1.size }, "\(context): bytes")
            #expect(model.pending.allSatisfy { pool.contains($0.id) }, "\(context): contents")
        }
        // The sequence exercised every path.
        #expect(seen.admitted > 20 && seen.rejected > 20 && seen.proposed > 20 && seen.evicted > 0 && seen.reinserted > 0, "\(seen)")
    }
}
