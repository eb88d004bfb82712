import COpenSSL

/// Hashes data that arrives in pieces.
///
/// ```swift
/// let h = HashAlgorithm.sm3.makeHasher()
/// h.update(header); h.update(body)
/// let digest = h.finalize()
/// ```
/// After ``finalize()`` the hasher is reset and can be reused. One instance
/// must not be used from two threads at once (it is not `Sendable`).
public final class StreamingHash {
    /// The algorithm this hasher computes.
    public let algorithm: HashAlgorithm

    private enum State {
        case sha256(SHA256_CTX)
        case evp(OpaquePointer)
        case keccak(Keccak256)
    }
    private var state: State

    /// Creates a hasher for `algorithm`.
    public init(_ algorithm: HashAlgorithm) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha256:
            var c = SHA256_CTX()
            SHA256_Init(&c)
            state = .sha256(c)
        case .keccak256:
            state = .keccak(Keccak256())
        case .sha3_256, .sm3:
            guard let ctx = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed: out of memory") }
            precondition(EVP_DigestInit_ex2(ctx, EVPMessageDigest.forAlgorithm(algorithm).md, nil) == 1)
            state = .evp(ctx)
        }
    }

    deinit {
        if case .evp(let ctx) = state { EVP_MD_CTX_free(ctx) }
    }

    /// Feeds more bytes.
    public func update(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        switch state {
        case .sha256(var c):
            SHA256_Update(&c, raw.baseAddress, raw.count)
            state = .sha256(c)
        case .evp(let ctx):
            precondition(EVP_DigestUpdate(ctx, raw.baseAddress, raw.count) == 1)
        case .keccak(var k):
            k.update(raw)
            state = .keccak(k)
        }
    }

    /// Feeds more bytes.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Feeds the bytes of any collection.
    public func update<Bytes: Collection<UInt8>>(contentsOf bytes: Bytes) {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            update(Array(bytes))
        }
    }

    /// Returns the digest of everything fed so far and resets the hasher.
    public func finalize() -> Digest {
        var out = Digest.zero
        switch state {
        case .sha256(var c):
            out.withUnsafeMutableBytes { o in
                _ = SHA256_Final(o.baseAddress!.assumingMemoryBound(to: UInt8.self), &c)
            }
            var fresh = SHA256_CTX()
            SHA256_Init(&fresh)
            state = .sha256(fresh)
        case .evp(let ctx):
            var len: UInt32 = 0
            let ok = out.withUnsafeMutableBytes { o in
                EVP_DigestFinal_ex(ctx, o.baseAddress!.assumingMemoryBound(to: UInt8.self), &len)
            }
            precondition(ok == 1 && len == 32)
            precondition(EVP_DigestInit_ex2(ctx, EVPMessageDigest.forAlgorithm(algorithm).md, nil) == 1)
        case .keccak(let k):
            state = .keccak(Keccak256())
            return k.finalize()
        }
        return out
    }
}
