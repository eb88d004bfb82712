import Testing
import LedgerCore
import LedgerCoreTesting

struct BlockEncodingTests {
    @Test func transactionRoundTripsThroughItsEncoding() throws {
        let tx = try Workloads.signedTransactions(count: 1, senders: 1)[0]
        let decoded = try Transaction(decoding: tx.encoded)
        #expect(decoded == tx)
        #expect(decoded.id(using: .sha256) == tx.id(using: .sha256))
        try decoded.verifySignature(hashAlgorithm: .sha256)
    }

    @Test func blockRoundTripsThroughItsEncoding() throws {
        let f = try ChainFixture()
        let decoded = try Block(decoding: f.child.encoded)
        #expect(decoded == f.child)
        try f.validate(decoded)
    }

    @Test func transactionIDDependsOnTheHashAlgorithm() throws {
        let tx = try Workloads.signedTransactions(count: 1, senders: 1)[0]
        #expect(tx.id(using: .sha256) != tx.id(using: .sm3))
    }

    @Test func signingWithAnotherKeyIsRefused() throws {
        var tx = try Workloads.signedTransactions(count: 1, senders: 1)[0]
        let error = #expect(throws: LedgerError.self) { try tx.sign(with: try PrivateKey.generate(.p256), hashAlgorithm: .sha256) }
        #expect(error?.code == .senderKeyMismatch)
    }

    @Test func unknownVersionIsRejected() throws {
        let tx = try Workloads.signedTransactions(count: 1, senders: 1)[0]
        guard case .list(var fields) = try RLP.decode(tx.encoded) else { Issue.record("not a list"); return }
        fields[0] = .uint(9)
        let error = #expect(throws: LedgerError.self) { try Transaction(decoding: RLP.encode(.list(fields))) }
        #expect(error?.code == .unsupportedVersion)
    }

    @Test func oversizedPayloadIsRejected() throws {
        let tx = try Workloads.signedTransactions(count: 1, senders: 1)[0]
        guard case .list(var fields) = try RLP.decode(tx.encoded) else { Issue.record("not a list"); return }
        fields[7] = .bytes([UInt8](repeating: 0, count: Transaction.maximumPayloadBytes + 1))
        let error = #expect(throws: LedgerError.self) { try Transaction(decoding: RLP.encode(.list(fields))) }
        #expect(error?.code == .payloadTooLarge)
    }

    @Test func blockDecodingErrorNamesTheTransactionIndex() throws {
        let f = try ChainFixture(count: 3)
        guard case .list(var fields) = try RLP.decode(f.child.encoded),
              case .list(var txs) = fields[3], case .list(var tx) = txs[2] else { Issue.record("shape"); return }
        tx[3] = .bytes([0x02, 0x01])   // not a valid public key
        txs[2] = .list(tx)
        fields[3] = .list(txs)
        let error = #expect(throws: LedgerError.self) { try Block(decoding: RLP.encode(.list(fields))) }
        #expect(error?.details["transactionIndex"] == "2")
    }

    /// Seeded fuzzing of the transaction and block decoders: random bytes,
    /// and random mutations of valid encodings, decode or throw a
    /// LedgerError; never crash.
    @Test(arguments: [11, 12] as [UInt64])
    func decodersSurviveRandomAndMutatedInput(seed: UInt64) throws {
        let f = try ChainFixture(count: 3)
        let samples = [f.child.encoded, f.transactions[0].encoded]
        var rng = SplitMix64(seed: seed)
        var rejected = 0
        for round in 0..<3_000 {
            var input = samples[round % 2]
            if round % 3 == 0 {
                input = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            do {
                if round % 2 == 0 { _ = try Block(decoding: input) } else { _ = try Transaction(decoding: input) }
            } catch {
                rejected += 1
            }
        }
        // Random bytes are always rejected; most mutations are too (the
        // rest changed payload or signature bytes and still decode).
        #expect(rejected > 1_000)
    }
}
