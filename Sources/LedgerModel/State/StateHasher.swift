import LedgerCrypto

/// The hash functions of the world-state tree for one `HashAlgorithm`,
/// domain-separated by a prefix byte:
///
/// - leaf: `H(0x00 ‖ path ‖ H(value))`, where `path = H(key)`;
/// - internal node: `H(0x01 ‖ left ‖ right)`;
/// - empty subtree: `H(0x02)`.
///
/// Every input of a leaf or internal hash is exactly 65 bytes, and the
/// prefix byte differs, so a leaf can never be passed off as an internal
/// node or the reverse.
///
/// A plain value: thread-safe, cheap to copy.
///
/// Example: `let leaf = StateHasher(.sha256).leafHash(path: p, valueHash: v)`
public struct StateHasher: Sendable, Hashable {
    /// The hash function.
    public let algorithm: HashAlgorithm
    /// The digest of an empty subtree, `H(0x02)`.
    public let empty: Digest

    /// - Parameter algorithm: Optional, default `HashAlgorithm.default` (SHA-256).
    public init(_ algorithm: HashAlgorithm = .default) {
        self.algorithm = algorithm
        self.empty = algorithm.hash([0x02])
    }

    /// The 256-bit key path `H(key)`. Bit 0 is the most significant bit of
    /// byte 0; a 0 bit goes left.
    /// - Parameter key: Required. Any bytes.
    ///
    /// Example: `hasher.path(forKey: Array("lot/17".utf8))`
    public func path(forKey key: [UInt8]) -> Digest { algorithm.hash(key) }

    /// The value hash `H(value)` a leaf commits to.
    /// - Parameter value: Required. Any bytes, possibly empty.
    public func valueHash(_ value: [UInt8]) -> Digest { algorithm.hash(value) }

    /// The leaf hash `H(0x00 ‖ path ‖ valueHash)`.
    /// - Parameters:
    ///   - path: Required. `H(key)`.
    ///   - valueHash: Required. `H(value)`.
    public func leafHash(path: Digest, valueHash: Digest) -> Digest {
        hash65(0x00, path, valueHash)
    }

    /// The internal-node hash `H(0x01 ‖ left ‖ right)`; an empty child is ``empty``.
    /// - Parameters:
    ///   - left: Required. The left child's digest.
    ///   - right: Required. The right child's digest.
    public func internalHash(_ left: Digest, _ right: Digest) -> Digest {
        hash65(0x01, left, right)
    }

    private func hash65(_ prefix: UInt8, _ a: Digest, _ b: Digest) -> Digest {
        if algorithm == .sha256 {
            var out = Digest.zero
            a.withUnsafeBytes { lp in
                b.withUnsafeBytes { rp in
                    out.withUnsafeMutableBytes { o in
                        SHA256Fast.hash(prefix: prefix, lp.baseAddress!, rp.baseAddress!, into: o.baseAddress!)
                    }
                }
            }
            return out
        }
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &block) { p in
            p[0] = prefix
            a.withUnsafeBytes { (p.baseAddress! + 1).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            b.withUnsafeBytes { (p.baseAddress! + 33).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            return algorithm.hash(UnsafeRawBufferPointer(rebasing: p[0..<65]))
        }
    }
}

extension Digest {
    /// Bit `index` (`0..<256`, most significant bit of byte 0 first) of a key path.
    @inline(__always)
    func stateBit(_ index: Int) -> Int {
        Int(truncatingIfNeeded: bigEndianWord(index &>> 6) &>> UInt64(63 - (index & 63))) & 1
    }

    /// Whether the first `count` bits (`0...256`) of two key paths agree.
    func stateSharesPrefix(with other: Digest, bits count: Int) -> Bool {
        var left = count
        for i in 0..<4 where left > 0 {
            let differing = bigEndianWord(i) ^ other.bigEndianWord(i)
            if left < 64 { return differing &>> UInt64(64 - left) == 0 }
            if differing != 0 { return false }
            left -= 64
        }
        return true
    }
}
