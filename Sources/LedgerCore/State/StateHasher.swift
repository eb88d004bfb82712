/// The hash functions of the world-state tree for one ``HashAlgorithm``,
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

    /// - Parameter algorithm: Optional, default ``HashAlgorithm/default`` (SHA-256).
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
        var l = a.storage, r = b.storage
        if algorithm == .sha256 {
            var out = SIMD32<UInt8>()
            withUnsafeBytes(of: &l) { lp in
                withUnsafeBytes(of: &r) { rp in
                    withUnsafeMutableBytes(of: &out) { o in
                        SHA256Fast.hash(prefix: prefix, lp.baseAddress!, rp.baseAddress!, into: o.baseAddress!)
                    }
                }
            }
            return Digest(storage: out)
        }
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &block) { p in
            p[0] = prefix
            withUnsafeBytes(of: &l) { (p.baseAddress! + 1).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            withUnsafeBytes(of: &r) { (p.baseAddress! + 33).copyMemory(from: $0.baseAddress!, byteCount: 32) }
            return algorithm.hash(UnsafeRawBufferPointer(rebasing: p[0..<65]))
        }
    }
}

extension Digest {
    /// Bit `index` (`0..<256`, most significant bit of byte 0 first) of a key path.
    @inline(__always)
    func stateBit(_ index: Int) -> Int {
        Int(storage[index &>> 3] &>> UInt8(7 - (index & 7))) & 1
    }

    /// Whether the first `count` bits (`0...256`) of two key paths agree.
    func stateSharesPrefix(with other: Digest, bits count: Int) -> Bool {
        let whole = count / 8
        for i in 0..<whole where storage[i] != other.storage[i] { return false }
        let rest = count % 8
        guard rest > 0 else { return true }
        let mask = UInt8(0xff) << UInt8(8 - rest)
        return storage[whole] & mask == other.storage[whole] & mask
    }
}
