import COpenSSL

/// HMAC (RFC 2104, FIPS 198-1) over OpenSSL, with SHA-1, SHA-256, SHA-512,
/// SM3 and SHA3-256.
///
/// Example:
/// ```swift
/// let tag = HMAC.authenticationCode(for: message, key: keyBytes, algorithm: .sha256)
/// let ok = HMAC.isValidAuthenticationCode(tag, for: message, key: keyBytes)
/// ```
/// Thread-safety: stateless; every function is safe to call concurrently.
public enum HMAC {
    /// The hash function inside the HMAC.
    public enum Algorithm: String, Sendable, Hashable, Codable, CaseIterable {
        /// HMAC-SHA1: still sound as a MAC, but only for legacy interoperability (HOTP/TOTP).
        case sha1 = "sha1"
        /// HMAC-SHA-256.
        case sha256 = "sha256"
        /// HMAC-SHA-512.
        case sha512 = "sha512"
        /// HMAC-SM3 (GB/T 32905 hash).
        case sm3 = "sm3"
        /// HMAC-SHA3-256.
        case sha3_256 = "sha3-256"

        /// Parses `hmac-sha256`, `HMACSHA256`, `sha256`, `sm3`, `sha3-256`, ...
        /// - Throws: `LedgerError` `.unknownCipher` (1362).
        public init(name: String) throws(LedgerError) {
            var n = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
            for prefix in ["hmac-", "hmac"] where n.hasPrefix(prefix) { n.removeFirst(prefix.count); break }
            switch n {
            case "sha1", "sha-1": self = .sha1
            case "sha256", "sha-256": self = .sha256
            case "sha512", "sha-512": self = .sha512
            case "sm3": self = .sm3
            case "sha3-256", "sha3256": self = .sha3_256
            default:
                throw LedgerError(.unknownCipher, "unknown HMAC algorithm '\(name)'", details: ["name": name])
            }
        }

        /// The full tag length in bytes: 20, 32, 64, 32, 32.
        public var outputLength: Int {
            switch self {
            case .sha1: return 20
            case .sha512: return 64
            case .sha256, .sm3, .sha3_256: return 32
            }
        }

        var digest: EVPMessageDigest {
            switch self {
            case .sha1: return .sha1
            case .sha256: return .sha256
            case .sha512: return .sha512
            case .sm3: return .sm3
            case .sha3_256: return .sha3_256
            }
        }
    }

    /// The shortest truncated tag ``isValidAuthenticationCode(_:for:key:algorithm:minimumLength:)-(_,_,[UInt8],_,_)``
    /// ever accepts: 10 bytes (80 bits, RFC 2104 §5).
    public static let minimumTruncatedLength = 10

    /// Computes the full-length HMAC of `message`.
    /// - Parameters:
    ///   - message: Required. Any length, including empty.
    ///   - key: Required. Any length, including empty (keys longer than the
    ///     hash block are hashed first, per RFC 2104).
    ///   - algorithm: Optional, default `.sha256`.
    /// - Returns: ``Algorithm/outputLength`` bytes.
    public static func authenticationCode(for message: [UInt8], key: [UInt8], algorithm: Algorithm = .sha256) -> [UInt8] {
        CipherBytes.with(key) { k, kCount in
            CipherBytes.with(message) { m, mCount in compute(algorithm, k, kCount, m, mCount) }
        }
    }

    /// Computes the full-length HMAC of `message` with a ``SymmetricKey``.
    /// - Parameters: as for the `[UInt8]` key overload.
    /// - Throws: `LedgerError` `.keyDestroyed` (1361).
    public static func authenticationCode(for message: [UInt8], key: SymmetricKey, algorithm: Algorithm = .sha256) throws(LedgerError) -> [UInt8] {
        try key.storage.withBytes { raw in
            CipherBytes.with(message) { m, mCount in
                if raw.isEmpty { return CipherBytes.with([]) { k, _ in compute(algorithm, k, 0, m, mCount) } }
                return compute(algorithm, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count, m, mCount)
            }
        }
    }

    /// Verifies a tag in constant time (`CRYPTO_memcmp`; the time depends
    /// only on the tag length, never on where the bytes differ).
    ///
    /// - Parameters:
    ///   - code: Required. The received tag: the full ``Algorithm/outputLength``
    ///     bytes, or a truncated prefix when `minimumLength` allows it.
    ///   - message: Required. The message it should authenticate.
    ///   - key: Required. Any length.
    ///   - algorithm: Optional, default `.sha256`.
    ///   - minimumLength: Optional. The shortest truncated tag to accept, in
    ///     bytes; values below ``minimumTruncatedLength`` (10) are raised to
    ///     10. Default `nil`: only full-length tags are accepted.
    /// - Returns: `true` when `code` equals the first `code.count` bytes of
    ///   the HMAC and its length is allowed; `false` otherwise.
    public static func isValidAuthenticationCode(_ code: [UInt8], for message: [UInt8], key: [UInt8],
                                                 algorithm: Algorithm = .sha256, minimumLength: Int? = nil) -> Bool {
        let full = authenticationCode(for: message, key: key, algorithm: algorithm)
        return matches(code, full, minimumLength: minimumLength)
    }

    /// ``isValidAuthenticationCode(_:for:key:algorithm:minimumLength:)`` with
    /// a ``SymmetricKey``; a destroyed key verifies nothing (returns `false`).
    public static func isValidAuthenticationCode(_ code: [UInt8], for message: [UInt8], key: SymmetricKey,
                                                 algorithm: Algorithm = .sha256, minimumLength: Int? = nil) -> Bool {
        guard let full = try? authenticationCode(for: message, key: key, algorithm: algorithm) else { return false }
        return matches(code, full, minimumLength: minimumLength)
    }

    static func matches(_ code: [UInt8], _ full: [UInt8], minimumLength: Int?) -> Bool {
        let minimum = minimumLength.map { max($0, minimumTruncatedLength) } ?? full.count
        guard code.count >= minimum, code.count <= full.count else { return false }
        return CRYPTO_memcmp(code, full, code.count) == 0
    }

    private static func compute(_ algorithm: Algorithm, _ key: UnsafePointer<UInt8>, _ keyCount: Int,
                                _ message: UnsafePointer<UInt8>, _ messageCount: Int) -> [UInt8] {
        precondition(keyCount <= Int(Int32.max), "HMAC key longer than 2 GiB")
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        let result = out.withUnsafeMutableBufferPointer { o in
            COpenSSL.HMAC(algorithm.digest.md, key, Int32(keyCount), message, messageCount, o.baseAddress, &length)
        }
        precondition(result != nil && Int(length) == algorithm.outputLength, "OpenSSL HMAC failed")
        return Array(out.prefix(Int(length)))
    }
}
