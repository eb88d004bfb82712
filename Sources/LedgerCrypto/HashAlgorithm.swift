import COpenSSL

/// A cryptographic hash with a 32-byte output. A chain picks one at genesis
/// (D-11, N-S-3); block hashes, transaction IDs and Merkle trees use it.
///
/// - `sha256`: SHA-256 (FIPS 180-4), the default. Runs on OpenSSL's
///   low-level API, which uses the CPU's SHA extensions where present.
/// - `sha3_256`: SHA3-256 (FIPS 202), through OpenSSL EVP.
/// - `sm3`: SM3 (GB/T 32905-2016), through OpenSSL EVP.
/// - `keccak256`: Keccak-256 with the original 0x01 padding, as Ethereum and
///   the EVM use it; not SHA3-256. Implemented in Swift.
///
/// Example:
/// ```swift
/// let id = HashAlgorithm.sha256.hash(Array("abc".utf8))
/// ```
/// Safe to call from any thread.
public enum HashAlgorithm: String, Sendable, Hashable, Codable, CaseIterable {
    /// SHA-256 (FIPS 180-4), the default.
    case sha256 = "sha256"
    /// SHA3-256 (FIPS 202).
    case sha3_256 = "sha3-256"
    /// SM3 (GB/T 32905).
    case sm3 = "sm3"
    /// Keccak-256 with the original padding, as Ethereum uses it.
    case keccak256 = "keccak256"

    /// The default hash of a chain: SHA-256 (D-11).
    public static let `default` = HashAlgorithm.sha256

    /// Output length in bytes (32 for every algorithm).
    public var digestLength: Int { 32 }

    /// Parses a name such as `sha256`, `sha3-256`, `sm3` or `keccak256`
    /// (case-insensitive; `sha3_256` and `sha-256` are accepted too).
    /// - Throws: `LedgerError` `.unknownHashAlgorithm` (1403).
    public init(name: String) throws(LedgerError) {
        switch String(name.lowercased().map { $0 == "_" ? "-" : $0 }) {
        case "sha256", "sha-256": self = .sha256
        case "sha3-256", "sha3": self = .sha3_256
        case "sm3": self = .sm3
        case "keccak256", "keccak-256", "keccak": self = .keccak256
        default:
            throw LedgerError(.unknownHashAlgorithm, "unknown hash algorithm '\(name)'",
                              details: ["name": name])
        }
    }

    /// Hashes a byte buffer in one call.
    @inlinable
    public func hash(_ bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// Hashes the bytes of any contiguous collection (`[UInt8]`, `Data`, an
    /// array slice, ...).
    public func hash<Bytes: Collection<UInt8>>(contentsOf bytes: Bytes) -> Digest {
        if let d = bytes.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0)) }) {
            return d
        }
        return hash(Array(bytes))
    }

    /// Hashes raw memory in one call.
    @inlinable
    public func hash(_ raw: UnsafeRawBufferPointer) -> Digest {
        switch self {
        case .sha256:
            return SHA256Fast.hash(raw)
        case .keccak256:
            return Keccak256.hash(raw)
        case .sha3_256, .sm3:
            return EVPDigest.oneShot(self, raw)
        }
    }

    /// A streaming hasher for this algorithm.
    public func makeHasher() -> StreamingHash { StreamingHash(self) }
}

/// SHA-256 over OpenSSL's low-level API on a stack context: the fastest
/// SHA-256 path in OpenSSL 3.0 (no algorithm fetch, no allocation).
@usableFromInline
package enum SHA256Fast {
    @inlinable @inline(__always)
    package static func hash(_ raw: UnsafeRawBufferPointer) -> Digest {
        var ctx = SHA256_CTX()
        SHA256_Init(&ctx)
        SHA256_Update(&ctx, raw.baseAddress, raw.count)
        var out = Digest.zero
        out.withUnsafeMutableBytes { o in
            _ = SHA256_Final(o.baseAddress!.assumingMemoryBound(to: UInt8.self), &ctx)
        }
        return out
    }

    /// Hashes `prefix ‖ a ‖ b` (the RFC 6962 interior-node form) without
    /// building an intermediate buffer.
    @inline(__always)
    package static func hash(prefix: UInt8, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        var block = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &block) { p in
            p[0] = prefix
            (p.baseAddress! + 1).copyMemory(from: a, byteCount: 32)
            (p.baseAddress! + 33).copyMemory(from: b, byteCount: 32)
            var ctx = SHA256_CTX()
            SHA256_Init(&ctx)
            SHA256_Update(&ctx, p.baseAddress, 65)
            _ = SHA256_Final(out.assumingMemoryBound(to: UInt8.self), &ctx)
        }
    }
}

/// An OpenSSL message digest fetched once and shared.
///
/// `@unchecked Sendable`: an `EVP_MD` is immutable after `EVP_MD_fetch` and
/// OpenSSL documents it as safe to use from many threads at once; it is never
/// freed (it lives as long as the process).
package final class EVPMessageDigest: @unchecked Sendable {
    package let md: OpaquePointer

    private init(name: StaticString) {
        guard let md = EVP_MD_fetch(nil, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self), nil) else {
            preconditionFailure("OpenSSL does not provide \(name)")
        }
        self.md = md
    }

    static let sha256 = EVPMessageDigest(name: "SHA256")
    static let sha3_256 = EVPMessageDigest(name: "SHA3-256")
    static let sm3 = EVPMessageDigest(name: "SM3")
    static let sha1 = EVPMessageDigest(name: "SHA1")
    static let sha512 = EVPMessageDigest(name: "SHA512")

    package static func forAlgorithm(_ algorithm: HashAlgorithm) -> EVPMessageDigest {
        switch algorithm {
        case .sha256: return .sha256
        case .sha3_256: return .sha3_256
        case .sm3: return .sm3
        case .keccak256: preconditionFailure("Keccak-256 is not an OpenSSL 3.0 digest")
        }
    }
}

@usableFromInline
package enum EVPDigest {
    /// Any OpenSSL digest by name (`SHA512`, `SHA3-384`, ...), for test
    /// vectors that name hashes outside ``HashAlgorithm``.
    package static func oneShot(named name: StaticString, _ message: [UInt8]) throws(LedgerError) -> [UInt8] {
        let cName = UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self)
        guard let md = EVP_MD_fetch(nil, cName, nil) else {
            throw LedgerError(.cryptoBackend, "OpenSSL does not provide digest \(name)")
        }
        defer { EVP_MD_free(md) }
        var out = [UInt8](repeating: 0, count: 64)
        var len: UInt32 = 0
        let ok = message.withUnsafeBytes { m in
            EVP_Digest(m.baseAddress, m.count, &out, &len, md, nil)
        }
        guard ok == 1 else { throw LedgerError(.cryptoBackend, "EVP_Digest(\(name)) failed") }
        return Array(out.prefix(Int(len)))
    }

    @usableFromInline
    static func oneShot(_ algorithm: HashAlgorithm, _ raw: UnsafeRawBufferPointer) -> Digest {
        let md = EVPMessageDigest.forAlgorithm(algorithm).md
        var out = Digest.zero
        var len: UInt32 = 0
        let ok = out.withUnsafeMutableBytes { o in
            EVP_Digest(raw.baseAddress, raw.count, o.baseAddress!.assumingMemoryBound(to: UInt8.self), &len, md, nil)
        }
        precondition(ok == 1 && len == 32, "EVP_Digest failed")
        return out
    }
}
