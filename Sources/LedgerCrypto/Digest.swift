/// A 32-byte digest: the output of every hash algorithm a chain can pick
/// (SHA-256, SHA3-256, SM3, Keccak-256), used for block hashes, transaction
/// IDs and Merkle nodes.
///
/// Stored inline as four 64-bit words (no heap allocation, alignment 8), so
/// arrays of digests are one flat buffer, comparing two digests is four word
/// compares, and a digest is safe to keep across `await` in any build (see
/// Architecture.md, "Values held across await").
///
/// ```swift
/// let id = HashAlgorithm.sha256.hash(Array("line-3".utf8))
/// print(id.hex, id[0])
/// ```
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 32 bytes as four words, in memory order: word `i` holds bytes `8i..<8i+8`
    /// exactly as they lie in memory (host byte order).
    @usableFromInline
    package var words: (UInt64, UInt64, UInt64, UInt64)

    /// The all-zero digest (the parent of a genesis block).
    public static let zero = Digest(repeating: 0)

    /// A digest whose 32 bytes are all `byte`.
    /// - Parameter byte: Required. Any value.
    ///
    /// Example: `Digest(repeating: 0xff)`
    @inlinable
    public init(repeating byte: UInt8) {
        let w = UInt64(byte) &* 0x0101_0101_0101_0101
        words = (w, w, w, w)
    }

    /// Copies exactly 32 bytes.
    /// - Parameter bytes: Required. Exactly 32 bytes.
    /// - Throws: `LedgerError` `.digestLength` (1401) for any other length.
    public init(bytes: some Collection<UInt8>) throws(LedgerError) {
        guard bytes.count == 32 else {
            throw LedgerError(.digestLength, "digest must be 32 bytes, got \(bytes.count)",
                              details: ["length": String(bytes.count)])
        }
        words = (0, 0, 0, 0)
        Swift.withUnsafeMutableBytes(of: &words) { out in
            for (i, b) in bytes.enumerated() { out[i] = b }
        }
    }

    /// Parses 64 hex characters (an optional `0x` prefix is allowed).
    /// - Throws: `LedgerError` `.invalidHex` (1402) or `.digestLength` (1401).
    public init(hex: String) throws(LedgerError) {
        try self.init(bytes: try Hex.decode(hex))
    }

    /// Copies 32 bytes from raw memory (any alignment). The caller guarantees the length.
    @inlinable
    public init(unsafeRaw pointer: UnsafeRawPointer) {
        words = pointer.loadUnaligned(as: (UInt64, UInt64, UInt64, UInt64).self)
    }

    /// Byte `index` of the 32.
    /// - Parameter index: Required. `0..<32`; anything else traps.
    @inlinable
    public subscript(index: Int) -> UInt8 {
        get {
            precondition(index >= 0 && index < 32, "digest byte index \(index) out of 0..<32")
            return Swift.withUnsafeBytes(of: words) { $0[index] }
        }
        set {
            precondition(index >= 0 && index < 32, "digest byte index \(index) out of 0..<32")
            Swift.withUnsafeMutableBytes(of: &words) { $0[index] = newValue }
        }
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
        try Swift.withUnsafeBytes(of: words) { try body($0) }
    }

    /// Calls `body` with the 32 bytes to write in place (hash engines finalise into it).
    @inlinable
    package mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeMutableBytes(of: &words) { try body($0) }
    }

    /// Writes the 32 bytes to raw memory (any alignment).
    @inlinable
    package func store(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: words, as: (UInt64, UInt64, UInt64, UInt64).self)
    }

    /// Word `index` (`0..<4`) read as a big-endian number: bytes `8·index` (most
    /// significant) to `8·index + 7`, so comparing these orders digests like their bytes.
    @inlinable @inline(__always)
    package func bigEndianWord(_ index: Int) -> UInt64 {
        switch index {
        case 0: UInt64(bigEndian: words.0)
        case 1: UInt64(bigEndian: words.1)
        case 2: UInt64(bigEndian: words.2)
        default: UInt64(bigEndian: words.3)
        }
    }

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
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}
