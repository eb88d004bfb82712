import ChainRuntime
import LedgerCore
import Testing

private typealias F = MempoolFixture

struct MempoolConfigurationTests {
    @Test func defaultsAreTheDocumentedOnes() throws {
        let c = MempoolConfiguration(chainID: 1)
        #expect(c.maxTransactions == 100_000)
        #expect(c.maxBytes == 256 << 20)
        #expect(c.maxPerSender == 10_000)
        #expect(c.maxNonceGap == 1_000)
        #expect(c.ttlMillis == 600_000)
        #expect(c.hashAlgorithm == .sha256)
        try c.validate()
    }

    @Test(arguments: ["maxTransactions", "maxBytes", "maxPerSender", "maxNonceGap", "ttlMillis", "maxTransactionBytes"])
    func validationNamesTheFieldOutOfRange(field: String) {
        var c = MempoolConfiguration(chainID: 1)
        switch field {
        case "maxTransactions": c.maxTransactions = 0
        case "maxBytes": c.maxBytes = 10
        case "maxPerSender": c.maxPerSender = c.maxTransactions + 1
        case "maxNonceGap": c.maxNonceGap = 2_000_000
        case "ttlMillis": c.ttlMillis = 5
        default: c.maxTransactionBytes = 1 << 30
        }
        do {
            try c.validate()
            Issue.record("validation accepted \(field) out of range")
        } catch {
            #expect(error.code == .invalidMempoolConfiguration)
            #expect(error.details["field"] == field)
            #expect(error.message.contains(field))
        }
        #expect(throws: ChainError.self) { _ = try Mempool(configuration: c) }
    }
}

struct MempoolAdmissionTests {
    @Test func admitsAValidTransactionAndCountsItsBytes() throws {
        var pool = F.pool()
        let tx = F.tx(0, 0)
        let id = try pool.add(tx)
        #expect(id == F.id(tx))
        #expect(pool.count == 1)
        #expect(pool.byteCount == tx.encoded.count)
        #expect(pool.contains(id))
        #expect(pool.transaction(id) == tx)
        #expect(pool.senderCount == 1)
        #expect(pool.stats(for: tx.sender) == MempoolSenderStats(pending: 1, ready: 1, bytes: tx.encoded.count,
                                                                 nextNonce: 0, lowestNonce: 0, highestNonce: 0))
    }

    @Test func rejectsATransactionForAnotherChain() {
        var pool = F.pool()
        #expect(chainErrorCode { try pool.add(F.tx(0, 0, chainID: 8)) } == .wrongChain)
        #expect(pool.count == 0)
    }

    @Test func rejectsATransactionLargerThanTheLimit() {
        var pool = F.pool { $0.maxTransactionBytes = 300 }
        #expect(chainErrorCode { try pool.add(F.tx(0, 0, body: [UInt8](repeating: 9, count: 400))) } == .transactionTooLarge)
        #expect(chainErrorCode { try pool.add(F.tx(0, 0, body: [UInt8](repeating: 9, count: 100))) } == nil)
    }

    @Test func rejectsADuplicateByID() throws {
        var pool = F.pool()
        let tx = F.tx(0, 0)
        try pool.add(tx)
        #expect(chainErrorCode { try pool.add(tx) } == .alreadyInMempool)
        #expect(pool.count == 1)
    }

    @Test func rejectsASecondTransactionWithAPendingNonce() throws {
        var pool = F.pool()
        try pool.add(F.tx(0, 0, body: [1]))
        #expect(chainErrorCode { try pool.add(F.tx(0, 0, body: [2])) } == .nonceAlreadyPooled)
    }

    @Test func rejectsAnExpiredTransactionAndCapsAFutureTimestampAtArrival() throws {
        var pool = F.pool { $0.ttlMillis = 10_000 }
        let old = F.tx(0, 0, at: F.t0)
        #expect(chainErrorCode { try pool.add(old, now: F.t0.adding(milliseconds: 10_000)) } == .transactionExpired)
        try pool.add(old, now: F.t0.adding(milliseconds: 9_999))
        // A timestamp far in the future does not make a transaction immortal.
        let future = F.tx(1, 0, at: F.t0.adding(milliseconds: 1_000_000))
        try pool.add(future, now: F.t0)
        #expect(pool.evictExpired(now: F.t0.adding(milliseconds: 10_000)) == [F.id(old), F.id(future)])
        #expect(pool.count == 0)
    }

    @Test func rejectsAUsedNonceAndANonceTooFarAhead() throws {
        var pool = F.pool { $0.maxNonceGap = 5 }
        let next: (PublicKey) -> UInt64 = { _ in 10 }
        #expect(chainErrorCode { try pool.add(F.tx(0, 9), now: F.t0, nextNonce: next) } == .nonceTooLow)
        do {
            try pool.add(F.tx(0, 16), now: F.t0, nextNonce: next)
            Issue.record("nonce 16 admitted")
        } catch {
            #expect(error.code == .nonceGap)
            #expect(error.details["expectedNonce"] == "10")
        }
        try pool.add(F.tx(0, 15), now: F.t0, nextNonce: next)   // exactly maxNonceGap ahead
        try pool.add(F.tx(0, 10), now: F.t0, nextNonce: next)
        #expect(pool.count == 2)
    }

    @Test func enforcesThePerSenderLimit() throws {
        var pool = F.pool { $0.maxPerSender = 3 }
        for n in 0..<3 { try pool.add(F.tx(0, UInt64(n))) }
        do {
            try pool.add(F.tx(0, 3))
            Issue.record("fourth transaction admitted")
        } catch {
            #expect(error.code == .senderLimitReached)
            #expect(error.details["limit"] == "3")
        }
        try pool.add(F.tx(1, 0))   // another sender is unaffected
    }

    @Test func reportsFullByCountNamingTheLimit() throws {
        var pool = F.pool { $0.maxTransactions = 2; $0.maxPerSender = 2 }
        try pool.add(F.tx(0, 0))
        try pool.add(F.tx(1, 0))
        do {
            try pool.add(F.tx(2, 0))
            Issue.record("third transaction admitted")
        } catch {
            #expect(error.code == .mempoolFull)
            #expect(error.details["limit"] == "maxTransactions")
            #expect(error.message.contains("maxTransactions"))
        }
    }

    @Test func reportsFullByBytesNamingTheLimit() throws {
        let body = [UInt8](repeating: 7, count: 300)
        let size = F.tx(0, 0, body: body).encoded.count
        var pool = F.pool { $0.maxBytes = 1024; $0.maxTransactionBytes = 1024 }
        try pool.add(F.tx(0, 0, body: body))
        try pool.add(F.tx(1, 0, body: body))
        #expect(pool.byteCount == 2 * size)
        do {
            try pool.add(F.tx(2, 0, body: body))
            Issue.record("transaction beyond maxBytes admitted")
        } catch {
            #expect(error.code == .mempoolFull)
            #expect(error.details["limit"] == "maxBytes")
        }
        try pool.add(F.tx(2, 0, body: [1]))   // a small one still fits
    }

    @Test func rejectsBadSignaturesWithTheLedgerCauseAndNeverProposesThem() throws {
        var pool = F.pool()
        var tampered = F.tx(0, 0)
        tampered.payload.body = [9, 9, 9]
        var unsigned = F.tx(1, 0)
        unsigned.signature = nil
        let highS = try withHighS(F.tx(2, 0))
        var forged = F.tx(3, 0)
        forged.sender = F.keys[4].publicKey
        let cases: [(Transaction, LedgerError.Code)] = [
            (tampered, .transactionSignatureInvalid), (unsigned, .missingSignature),
            (highS, .transactionSignatureInvalid), (forged, .transactionSignatureInvalid),
        ]
        for (tx, cause) in cases {
            do {
                try pool.add(tx)
                Issue.record("bad signature admitted")
            } catch {
                #expect(error.code == .invalidSignature)
                #expect(error.details["cause"] == String(cause.rawValue))
            }
        }
        #expect(pool.count == 0)
        #expect(pool.proposal(maxCount: 100, maxBytes: 1 << 20).isEmpty)
    }

    @Test func aRejectedTransactionLeavesThePoolUnchanged() throws {
        var pool = F.pool { $0.maxTransactions = 3; $0.maxPerSender = 3 }
        try pool.add(F.tx(0, 0))
        try pool.add(F.tx(0, 1))
        let before = (pool.count, pool.byteCount, pool.proposal(maxCount: 10, maxBytes: 1 << 20))
        for bad in [F.tx(0, 0), F.tx(0, 5_000), F.tx(1, 0, chainID: 1)] {
            #expect(chainErrorCode { try pool.add(bad) } != nil)
        }
        #expect(pool.count == before.0)
        #expect(pool.byteCount == before.1)
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20) == before.2)
    }

    @Test func batchAdmissionGivesTheSameResultsAsOneByOne() throws {
        var bad = F.tx(2, 0)
        bad.payload.body = [0]
        let txs = [F.tx(0, 0), F.tx(0, 1), F.tx(0, 1), bad, F.tx(1, 3), F.tx(1, 2_000), F.tx(3, 0, chainID: 9)]
            + (0..<60).map { F.tx(4, UInt64($0)) }
        var one = F.pool()
        var batch = F.pool()
        let expected = txs.map { tx in Result { () throws(ChainError) -> Digest in try one.add(tx) } }
        let got = batch.addBatch(txs, now: F.t0, parallelism: 2, nextNonce: { _ in 0 })
        #expect(got.count == expected.count)
        for (g, e) in zip(got, expected) {
            switch (g, e) {
            case (.success(let a), .success(let b)): #expect(a == b)
            case (.failure(let a), .failure(let b)): #expect(a.code == b.code)
            default: Issue.record("batch result \(g) differs from \(e)")
            }
        }
        #expect(batch.proposal(maxCount: 1_000, maxBytes: 1 << 30) == one.proposal(maxCount: 1_000, maxBytes: 1 << 30))
    }
}

struct MempoolOrderingTests {
    @Test func proposesEachSendersTransactionsInNonceOrderUpToTheFirstGap() throws {
        var pool = F.pool()
        for n: UInt64 in [3, 1, 0, 5] { try pool.add(F.tx(0, n)) }
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).map(\.nonce) == [0, 1])
        #expect(pool.stats(for: F.keys[0].publicKey)?.ready == 2)
        #expect(pool.stats(for: F.keys[0].publicKey)?.pending == 4)
        try pool.add(F.tx(0, 2))
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).map(\.nonce) == [0, 1, 2, 3])
    }

    @Test func aSenderWhoseNextNonceIsMissingIsNotReady() throws {
        var pool = F.pool()
        try pool.add(F.tx(0, 1))
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).isEmpty)
        try pool.add(F.tx(0, 0))
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).count == 2)
    }

    @Test func interleavesSendersRoundRobinInArrivalOrderOfTheirOldest() throws {
        var pool = F.pool()
        // Sender 2 arrives first with three, sender 0 second with two, sender 1 third with one.
        for n in 0..<3 { try pool.add(F.tx(2, UInt64(n))) }
        for n in 0..<2 { try pool.add(F.tx(0, UInt64(n))) }
        try pool.add(F.tx(1, 0))
        let order = pool.proposal(maxCount: 10, maxBytes: 1 << 20).map { tx in
            (F.keys.firstIndex { $0.publicKey == tx.sender }!, tx.nonce)
        }
        #expect(order.map(\.0) == [2, 0, 1, 2, 0, 2])
        #expect(order.map(\.1) == [0, 0, 0, 1, 1, 2])
        // A flooding sender cannot crowd others out of a small block.
        #expect(pool.proposal(maxCount: 3, maxBytes: 1 << 20).map(\.nonce) == [0, 0, 0])
    }

    @Test func respectsMaxCountAndMaxBytesSkippingOnlyWhatDoesNotFit() throws {
        var pool = F.pool()
        let big = F.tx(0, 0, body: [UInt8](repeating: 1, count: 500))
        let small = F.tx(1, 0)
        let small2 = F.tx(1, 1)
        try pool.add(big)
        try pool.add(small)
        try pool.add(small2)
        let limit = small.encoded.count + small2.encoded.count
        #expect(pool.proposal(maxCount: 10, maxBytes: limit) == [small, small2])
        #expect(pool.proposal(maxCount: 1, maxBytes: 1 << 20) == [big])
        #expect(pool.proposal(maxCount: 0, maxBytes: 1 << 20).isEmpty)
        #expect(pool.count == 3)   // proposing removes nothing
    }

    @Test func theSameOperationsGiveTheSameProposalWhateverTheKeyBytes() throws {
        func build(_ senders: [Int]) throws -> [Transaction] {
            var pool = F.pool()
            for round in 0..<4 { for s in senders { try pool.add(F.tx(s, UInt64(round))) } }
            return pool.proposal(maxCount: 100, maxBytes: 1 << 20)
        }
        let a = try build([0, 1, 2, 3, 4, 5])
        #expect(try build([0, 1, 2, 3, 4, 5]) == a)
        // Arrival order, not key bytes or hashing, decides.
        let b = try build([5, 4, 3, 2, 1, 0])
        #expect(b.prefix(6).map(\.sender) == [5, 4, 3, 2, 1, 0].map { F.keys[$0].publicKey })
    }
}

struct MempoolLifecycleTests {
    @Test func removingCommittedTransactionsAlsoDropsSupersededOnes() throws {
        var pool = F.pool()
        var ledger = FakeLedger()
        for n in 0..<4 { try pool.add(F.tx(0, UInt64(n)), now: F.t0, nextNonce: ledger.next) }
        try pool.add(F.tx(1, 0), now: F.t0, nextNonce: ledger.next)
        // Another node's block commits sender 0's nonces 0...2 with different bodies.
        let block = (0..<3).map { F.tx(0, UInt64($0), body: [42]) } + [F.tx(1, 0)]
        ledger.commit(block)
        let removed = pool.removeCommitted(block)
        #expect(removed.count == 4)
        #expect(pool.count == 1)
        #expect(pool.stats(for: F.keys[0].publicKey)?.nextNonce == 3)
        #expect(pool.stats(for: F.keys[1].publicKey) == nil)
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20) == [F.tx(0, 3)])
        #expect(chainErrorCode { try pool.add(F.tx(0, 2), now: F.t0, nextNonce: ledger.next) } == .nonceTooLow)
    }

    @Test func addingAfterTheLedgerMovedOnDropsStaleTransactions() throws {
        var pool = F.pool()
        for n in 0..<3 { try pool.add(F.tx(0, UInt64(n))) }
        try pool.add(F.tx(0, 3), now: F.t0, nextNonce: { _ in 2 })
        #expect(pool.count == 2)
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).map(\.nonce) == [2, 3])
    }

    @Test func evictionReturnsExpiredInDeadlineOrderAndLeavesLaterNoncesWaiting() throws {
        var pool = F.pool { $0.ttlMillis = 1_000 }
        let a = F.tx(0, 0, at: F.t0)
        let b = F.tx(0, 1, at: F.t0.adding(milliseconds: 500))
        let c = F.tx(1, 0, at: F.t0.adding(milliseconds: 100))
        for tx in [b, a, c] { try pool.add(tx, now: F.t0.adding(milliseconds: 600)) }
        #expect(pool.evictExpired(now: F.t0.adding(milliseconds: 999)).isEmpty)
        #expect(pool.evictExpired(now: F.t0.adding(milliseconds: 1_100)) == [F.id(a), F.id(c)])
        #expect(pool.count == 1)
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).isEmpty)   // nonce 0 is gone
        #expect(pool.evictExpired(now: F.t0.adding(milliseconds: 1_500)) == [F.id(b)])
        #expect(pool.count == 0 && pool.byteCount == 0 && pool.senderCount == 0)
    }

    @Test func reinsertionAfterARollbackBringsUndoneTransactionsBack() throws {
        var pool = F.pool()
        var ledger = FakeLedger()
        for n in 0..<5 { try pool.add(F.tx(0, UInt64(n)), now: F.t0, nextNonce: ledger.next) }
        let block = pool.proposal(maxCount: 3, maxBytes: 1 << 20)
        ledger.commit(block)
        pool.removeCommitted(block)
        #expect(pool.count == 2)
        // Rollback: the ledger forgets the block, the mempool takes it back.
        ledger.nonces[F.keys[0].publicKey] = 0
        let back = pool.reinsert(block, now: F.t0.adding(milliseconds: 10))
        #expect(back == block.map(F.id))
        #expect(pool.count == 5)
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).map(\.nonce) == [0, 1, 2, 3, 4])
        // Reinserting again changes nothing.
        #expect(pool.reinsert(block, now: F.t0).isEmpty)
    }

    @Test func reinsertionSkipsExpiredButStillWaitsForTheirNonce() throws {
        var pool = F.pool { $0.ttlMillis = 1_000 }
        let old = F.tx(0, 0, at: F.t0)
        let fresh = F.tx(0, 1, at: F.t0.adding(milliseconds: 5_000))
        let now = F.t0.adding(milliseconds: 5_100)
        #expect(pool.reinsert([old, fresh], now: now) == [F.id(fresh)])
        #expect(pool.stats(for: F.keys[0].publicKey)?.nextNonce == 0)
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20).isEmpty)
        let resent = F.tx(0, 0, at: now, body: [5])
        try pool.add(resent, now: now, nextNonce: { _ in 0 })
        #expect(pool.proposal(maxCount: 10, maxBytes: 1 << 20) == [resent, fresh])
    }

    @Test func reinsertionReplacesAPendingTransactionWithTheSameNonce() throws {
        var pool = F.pool()
        let committed = F.tx(0, 0, body: [1])
        let rival = F.tx(0, 0, body: [2])
        try pool.add(rival)
        pool.reinsert([committed], now: F.t0)
        #expect(pool.count == 1)
        #expect(pool.contains(F.id(committed)))
        #expect(!pool.contains(F.id(rival)))
    }

    @Test func errorCodesStayInTheMempoolBand() {
        let codes: [ChainError.Code] = [.mempoolFull, .senderLimitReached, .alreadyInMempool, .nonceTooLow, .nonceGap,
                                        .transactionExpired, .transactionTooLarge, .wrongChain, .invalidSignature,
                                        .nonceAlreadyPooled, .invalidMempoolConfiguration]
        #expect(Set(codes).count == codes.count)
        #expect(codes.allSatisfy { (4001...4049).contains($0.rawValue) })
        #expect(ChainError(.nonceGap, "x").description == "[4005] x")
    }
}
