import LedgerCrypto

/// The RFC 6962 §2.1 hash functions for one `HashAlgorithm`:
/// leaf = `H(0x00 ‖ data)`, node = `H(0x01 ‖ left ‖ right)`, empty tree = `H("")`.
///
/// A plain value: thread-safe, cheap to copy.
///
/// Example: `let leaf = MerkleHasher(.sha256).hashLeaf(Array("tx".utf8))`
public struct MerkleHasher: Sendable, Hashable {
    /// The hash function.
    public let algorithm: HashAlgorithm

    /// - Parameter algorithm: Optional, default `HashAlgorithm.default` (SHA-256).
    public init(_ algorithm: HashAlgorithm = .default) { self.algorithm = algorithm }

    /// The root of the empty tree: `H("")`. Example: `MerkleHasher().emptyRoot`
    public var emptyRoot: Digest { algorithm.hash([UInt8]()) }

    /// The leaf hash `H(0x00 ‖ data)`.
    /// - Parameter data: Required. Any bytes, possibly empty.
    /// - Returns: The leaf's 32-byte hash.
    ///
    /// Example: `hasher.hashLeaf([0x01, 0x02])`
    public func hashLeaf(_ data: some Collection<UInt8>) -> Digest {
        if let d = data.withContiguousStorageIfAvailable({ hashLeaf(raw: UnsafeRawBufferPointer($0)) }) {
            return d
        }
        return Array(data).withUnsafeBytes { hashLeaf(raw: $0) }
    }

    /// The leaf hash `H(0x00 ‖ data)` of raw memory.
    /// - Parameter raw: Required. Any bytes, possibly empty.
    ///
    /// Example: `bytes.withUnsafeBytes { hasher.hashLeaf(raw: $0) }`
    public func hashLeaf(raw: UnsafeRawBufferPointer) -> Digest {
        let h = algorithm.makeHasher()
        var prefix: UInt8 = 0x00
        withUnsafeBytes(of: &prefix) { h.update($0) }
        h.update(raw)
        return h.finalize()
    }

    /// The interior-node hash `H(0x01 ‖ left ‖ right)`.
    /// - Parameters:
    ///   - left: Required. The left child's hash.
    ///   - right: Required. The right child's hash.
    ///
    /// Example: `hasher.hashChildren(a, b)`
    public func hashChildren(_ left: Digest, _ right: Digest) -> Digest {
        var out = Digest.zero
        left.withUnsafeBytes { lp in
            right.withUnsafeBytes { rp in
                out.withUnsafeMutableBytes { o in
                    if algorithm == .sha256 {
                        SHA256Fast.hash(prefix: 0x01, lp.baseAddress!, rp.baseAddress!, into: o.baseAddress!)
                    } else {
                        var message = [UInt8](repeating: 0x01, count: 65)
                        message.withUnsafeMutableBytes { m in
                            (m.baseAddress! + 1).copyMemory(from: lp.baseAddress!, byteCount: 32)
                            (m.baseAddress! + 33).copyMemory(from: rp.baseAddress!, byteCount: 32)
                            algorithm.hash(UnsafeRawBufferPointer(m)).store(to: o.baseAddress!)
                        }
                    }
                }
            }
        }
        return out
    }

    /// The interior-node hash `H(0x01 ‖ left ‖ right)` of children given as
    /// raw bytes of any length (as RFC 6962 test vectors give them).
    /// - Parameters:
    ///   - left: Required. Left child bytes (usually 32).
    ///   - right: Required. Right child bytes (usually 32).
    ///
    /// Example: `hasher.hashChildren(Array("N123".utf8), Array("N456".utf8))`
    public func hashChildren(_ left: [UInt8], _ right: [UInt8]) -> Digest {
        algorithm.hash([0x01] + left + right)
    }
}

/// Largest power of two strictly smaller than `n` (`n ≥ 2`): RFC 6962's split point.
@inline(__always)
func merkleSplit(_ n: Int) -> Int {
    1 << (Int.bitWidth - 1 - (n - 1).leadingZeroBitCount)
}
