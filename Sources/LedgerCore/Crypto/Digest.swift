/// A 32-byte digest: the output of every hash algorithm a chain can pick
/// (SHA-256, SHA3-256, SM3, Keccak-256), used for block hashes, transaction
/// IDs and Merkle nodes.
///
/// Stored inline (no heap allocation), so arrays of digests are one flat
/// buffer and comparing two digests is four word compares.
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 bytes, in order.
    public var storage: SIMD32<UInt8>

    /// The all-zero digest (the parent of a genesis block).
    public static let zero = Digest(storage: SIMD32<UInt8>(repeating: 0))

    /// Wraps 32 raw bytes.
    public init(storage: SIMD32<UInt8>) { self.storage = storage }

    /// Copies exactly 32 bytes.
    /// - Parameter bytes: Required. Exactly 32 bytes.
    /// - Throws: `LedgerError` `.digestLength` (1401) for any other length.
    public init(bytes: some Collection<UInt8>) throws(LedgerError) {
        guard bytes.count == 32 else {
            throw LedgerError(.digestLength, "digest must be 32 bytes, got \(bytes.count)",
                              details: ["length": String(bytes.count)])
        }
        var s = SIMD32<UInt8>()
        for (i, b) in bytes.enumerated() { s[i] = b }
        storage = s
    }

    /// Parses 64 hex characters (an optional `0x` prefix is allowed).
    /// - Throws: `LedgerError` `.invalidHex` (1402) or `.digestLength` (1401).
    public init(hex: String) throws(LedgerError) {
        try self.init(bytes: try Hex.decode(hex))
    }

    /// Copies 32 bytes from raw memory. The caller guarantees the length.
    @inlinable
    public init(unsafeRaw pointer: UnsafeRawPointer) {
        storage = pointer.loadUnaligned(as: SIMD32<UInt8>.self)
    }

    /// The 32 bytes as an array.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Lower-case hex, 64 characters, no prefix.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    /// Calls `body` with the 32 bytes.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var s = storage
        return try Swift.withUnsafeBytes(of: &s) { try body($0) }
    }

    /// The 32 bytes as four machine words (memory order), for hashing and comparing a word at a time.
    @inline(__always)
    private var words: (UInt64, UInt64, UInt64, UInt64) { unsafeBitCast(storage, to: (UInt64, UInt64, UInt64, UInt64).self) }

    /// Byte-wise lexicographic order.
    public static func < (lhs: Digest, rhs: Digest) -> Bool {
        let a = lhs.words, b = rhs.words
        // Big-endian words order like their bytes.
        if a.0 != b.0 { return UInt64(bigEndian: a.0) < UInt64(bigEndian: b.0) }
        if a.1 != b.1 { return UInt64(bigEndian: a.1) < UInt64(bigEndian: b.1) }
        if a.2 != b.2 { return UInt64(bigEndian: a.2) < UInt64(bigEndian: b.2) }
        return UInt64(bigEndian: a.3) < UInt64(bigEndian: b.3)
    }

    public static func == (lhs: Digest, rhs: Digest) -> Bool {
        let a = lhs.words, b = rhs.words
        return (a.0 ^ b.0) | (a.1 ^ b.1) | (a.2 ^ b.2) | (a.3 ^ b.3) == 0
    }

    /// Feeds the 32 bytes to the hasher as four words.
    public func hash(into hasher: inout Hasher) {
        let w = words
        hasher.combine(w.0)
        hasher.combine(w.1)
        hasher.combine(w.2)
        hasher.combine(w.3)
    }
}
