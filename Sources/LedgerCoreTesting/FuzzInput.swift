import LedgerCore

/// Inputs for fuzzing decoders that take a peer's bytes: random well-formed RLP shaped like the chain's
/// messages, which gets past the RLP reader into each decoder's own checks (random bytes rarely do).
///
/// ```swift
/// var rng = SplitMix64(seed: 1)
/// for _ in 0..<1_000 { _ = try? PBFTMessage(decoding: FuzzInput.message(&rng)) }
/// ```
public enum FuzzInput {
    /// A random RLP item: integers (small and type-like, or any 64-bit value), 32- and 64-byte strings,
    /// short and empty strings, and lists nested up to `depth` levels.
    /// - Parameters:
    ///   - rng: Required. The seeded generator (same seed, same items).
    ///   - depth: Required. `0...`; 0 gives no lists.
    public static func item(_ rng: inout SplitMix64, depth: Int) -> RLP.Item {
        switch rng.next() % (depth > 0 ? 8 : 6) {
        case 0: return .uint(rng.next() % 12)
        case 1: return .uint(rng.next())
        case 2: return .bytes((0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case 3: return .bytes((0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case 4: return .bytes((0..<Int(rng.next() % 6)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case 5: return .bytes([])
        default: return .list((0..<Int(rng.next() % 6)).map { _ in item(&rng, depth: depth - 1) })
        }
    }

    /// The encoding of a message-shaped list: a type tag 0...9, then 0...8 random fields nested up to 3 levels.
    /// - Parameter rng: Required. The seeded generator.
    public static func message(_ rng: inout SplitMix64) -> [UInt8] {
        let fields = (0..<Int(rng.next() % 9)).map { _ in item(&rng, depth: 3) }
        return RLP.encode(.list([.uint(rng.next() % 10)] + fields))
    }
}
