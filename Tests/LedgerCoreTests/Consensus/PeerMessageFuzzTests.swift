import LedgerCore
import LedgerCoreTesting
import Testing

/// Every decoder a peer's bytes reach (the four engines' messages, blocks, transactions, receipts,
/// commit certificates, committed blocks) fed random bytes and, past the RLP layer, random
/// well-formed RLP shaped like their messages (`[type, fields…]` with integers, 32-byte strings and
/// nested lists): each input decodes or throws a `LedgerError`, never traps.
struct PeerMessageFuzzTests {
    /// One decoder, by name.
    static let decoders: [(String, @Sendable ([UInt8]) throws(LedgerError) -> Void)] = [
        ("PBFTMessage", { (b) throws(LedgerError) in _ = try PBFTMessage(decoding: b) }),
        ("RaftMessage", { (b) throws(LedgerError) in _ = try RaftMessage(decoding: b) }),
        ("PoWMessage", { (b) throws(LedgerError) in _ = try PoWMessage(decoding: b) }),
        ("PoSMessage", { (b) throws(LedgerError) in _ = try PoSMessage(decoding: b) }),
        ("PoWSeal", { (b) throws(LedgerError) in _ = try PoWSeal(decoding: b) }),
        ("Block", { (b) throws(LedgerError) in _ = try Block(decoding: b) }),
        ("Transaction", { (b) throws(LedgerError) in _ = try Transaction(decoding: b) }),
        ("Receipt", { (b) throws(LedgerError) in _ = try Receipt(decoding: b) }),
        ("CommitCertificate", { (b) throws(LedgerError) in _ = try CommitCertificate(decoding: b) }),
        ("CommittedBlock", { (b) throws(LedgerError) in _ = try CommittedBlock(decoding: b) }),
    ]

    @Test(arguments: [UInt64(1), 2, 3, 0x5eed_f00d])
    func peerBytesDecodeOrThrowNeverTrap(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for (name, decode) in Self.decoders {
            var codes = Set<UInt32>()
            for round in 0..<1_500 {
                let input: [UInt8]
                switch round % 3 {
                case 0: input = (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                case 1: input = FuzzInput.message(&rng)
                default:
                    var m = FuzzInput.message(&rng)
                    if !m.isEmpty { m[Int(rng.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: rng.next()) }
                    input = m
                }
                do throws(LedgerError) {
                    try decode(input)
                    codes.insert(0)
                } catch {
                    #expect(error.numericCode >= 1000 && error.numericCode < 2000, "\(name): code \(error.numericCode)")
                    codes.insert(error.numericCode)
                }
            }
            // The inputs reach several of the decoder's checks, not only the first one (a PoW seal is one
            // fixed-size field with one error of its own).
            #expect(codes.count >= (name == "PoWSeal" ? 1 : 3), "\(name): only codes \(codes.sorted())")
        }
    }
}
