import LedgerCrypto
import LedgerModel

/// The proof-of-work fields of a block header, carried in
/// `BlockHeader.consensusData` as RLP `[version, difficulty, nonce]`.
///
/// The seal is inside the hashed header fields, so changing the nonce
/// changes the header hash: mining is trying nonces until
/// `PoWDifficulty.meetsTarget(_:difficulty:)` holds for the header hash.
///
/// ```swift
/// header.consensusData = PoWSeal(difficulty: 16, nonce: 42).encoded
/// let seal = try PoWSeal(decoding: header.consensusData)
/// ```
/// A value type; safe to share between threads.
public struct PoWSeal: Hashable, Sendable {
    /// The encoding version written by this build.
    public static let encodingVersion: UInt64 = 1

    /// The difficulty the block claims (expected hash attempts); at least 1.
    public var difficulty: UInt64
    /// The miner's nonce; any value.
    public var nonce: UInt64

    /// - Parameters:
    ///   - difficulty: Required. At least 1.
    ///   - nonce: Required. Any value.
    public init(difficulty: UInt64, nonce: UInt64) {
        self.difficulty = difficulty
        self.nonce = nonce
    }

    /// The RLP encoding for `BlockHeader.consensusData`.
    public var encoded: [UInt8] {
        RLP.encode(.list([.uint(Self.encodingVersion), .uint(difficulty), .uint(nonce)]))
    }

    /// Decodes a seal from a header's consensus data.
    /// - Throws: `LedgerError` `.powMalformedSeal` (1801) when the bytes are
    ///   not `[1, difficulty >= 1, nonce]` in canonical RLP.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("consensusData", count: 3)
            let version = try f[0].uint64("consensusData.version")
            guard version == Self.encodingVersion else {
                throw LedgerError(.powMalformedSeal, "PoW seal version \(version), expected \(Self.encodingVersion)",
                                  details: ["field": "consensusData.version"])
            }
            difficulty = try f[1].uint64("consensusData.difficulty")
            nonce = try f[2].uint64("consensusData.nonce")
        } catch where error.code != .powMalformedSeal {
            throw LedgerError(.powMalformedSeal, "consensus data is not a PoW seal: \(error.message)",
                              details: error.details.merging(["cause": String(error.code.rawValue)]) { a, _ in a })
        }
        guard difficulty >= 1 else {
            throw LedgerError(.powMalformedSeal, "PoW seal difficulty 0, expected at least 1",
                              details: ["field": "consensusData.difficulty"])
        }
    }
}

/// Retargeting for proof of work. Pure functions, safe from any thread.
///
/// The target test itself is the shared `ProofOfWork.meets(hash:difficulty:)`
/// (the one certificates are verified with).
public enum PoWDifficulty {
    /// The retargeting rule: scales `difficulty` by expected over actual time
    /// for the last window (`retargetIntervalBlocks × targetBlockIntervalTicks`
    /// expected), clamped to `÷maximumRetargetFactor...×maximumRetargetFactor`
    /// and to `minimumDifficulty...2^62`.
    /// - Parameters:
    ///   - difficulty: Required. The current difficulty, at least 1 (0 counts as 1).
    ///   - actualTicks: Required. The time the last window took, in ticks (0 counts as 1).
    ///   - config: Required. Supplies the window, interval, factor and floor.
    /// - Returns: The difficulty of the next window; deterministic.
    ///
    /// ```swift
    /// let next = PoWDifficulty.retarget(64, actualTicks: 400, config: PoWConfig())  // 64 × 200 / 400 = 32
    /// ```
    public static func retarget(_ difficulty: UInt64, actualTicks: UInt64, config: PoWConfig) -> UInt64 {
        let expected = UInt128(config.retargetIntervalBlocks) * UInt128(config.targetBlockIntervalTicks)
        let actual = UInt128(max(1, actualTicks))
        let old = UInt128(max(1, difficulty))
        let factor = UInt128(max(2, config.maximumRetargetFactor))
        var next = old * expected / actual
        next = min(max(next, max(1, old / factor)), old * factor)
        next = min(max(next, UInt128(max(1, config.minimumDifficulty))), UInt128(1) << 62)
        return UInt64(next)
    }
}
