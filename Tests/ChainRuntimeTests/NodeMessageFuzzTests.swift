@testable import ChainRuntime
import LedgerCore
import LedgerCoreTesting
import Testing

/// The node's own message decoder (status, sync, transactions, consensus envelopes), the first
/// thing a peer's bytes reach: random bytes, random message-shaped RLP and mutations of valid
/// messages decode or throw a `LedgerError`, never trap.
struct NodeMessageFuzzTests {
    @Test(arguments: [UInt64(1), 2, 3, 0x5eed_f00d])
    func peerBytesDecodeOrThrowNeverTrap(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let valid: [[UInt8]] = [
            NodeMessage.status(height: 42, head: HashAlgorithm.sha256.hash([1])).encoded,
            NodeMessage.syncRequest(from: 7, count: 16).encoded,
            NodeMessage.consensus([1, 2, 3]).encoded,
            NodeMessage.transactions([]).encoded,
        ]
        for v in valid { _ = try NodeMessage(decoding: v) }
        var codes = Set<UInt32>()
        for round in 0..<4_000 {
            var input: [UInt8]
            switch round % 3 {
            case 0: input = (0..<Int(rng.next() % 120)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: input = FuzzInput.message(&rng)
            default:
                input = valid[Int(rng.next() % UInt64(valid.count))]
                input[Int(rng.next() % UInt64(input.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            do throws(LedgerError) { _ = try NodeMessage(decoding: input) } catch {
                #expect(error.numericCode >= 1000 && error.numericCode < 2000, "code \(error.numericCode)")
                codes.insert(error.numericCode)
            }
        }
        #expect(codes.count >= 3, "only codes \(codes.sorted())")
    }
}
