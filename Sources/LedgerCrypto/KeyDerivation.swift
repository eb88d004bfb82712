import COpenSSL

/// PBKDF2 (RFC 8018 §5.2) over OpenSSL's `PKCS5_PBKDF2_HMAC`.
///
/// Example:
/// ```swift
/// let key = try PBKDF2.deriveKey(password: Array("pw".utf8), salt: salt, iterations: 600_000, keyLength: 32)
/// ```
/// Thread-safety: stateless; safe to call concurrently. Runs on the calling
/// thread for as long as the iterations take (no timeout).
public enum PBKDF2 {
    /// The pseudo-random function.
    public enum PseudoRandomFunction: String, Sendable, Hashable, Codable, CaseIterable {
        /// HMAC-SHA1 (legacy interoperability only).
        case hmacSHA1 = "hmac-sha1"
        /// HMAC-SHA-256.
        case hmacSHA256 = "hmac-sha256"
        /// HMAC-SHA-512.
        case hmacSHA512 = "hmac-sha512"
        /// HMAC-SM3.
        case hmacSM3 = "hmac-sm3"

        var digest: EVPMessageDigest {
            switch self {
            case .hmacSHA1: return .sha1
            case .hmacSHA256: return .sha256
            case .hmacSHA512: return .sha512
            case .hmacSM3: return .sm3
            }
        }
    }

    /// Derives `keyLength` bytes.
    /// - Parameters:
    ///   - password: Required. Any bytes, including empty and embedded NULs.
    ///   - salt: Required. Any bytes (16 random bytes or more recommended).
    ///   - iterations: Required. `1...Int32.max`.
    ///   - keyLength: Required. `1...Int32.max` bytes.
    ///   - prf: Optional, default `.hmacSHA256`.
    /// - Throws: `LedgerError` `.invalidKDFParameters` (1356) for an
    ///   iteration count or length out of range, `.cryptoBackend` (1404).
    public static func deriveKey(password: [UInt8], salt: [UInt8], iterations: Int, keyLength: Int,
                                 prf: PseudoRandomFunction = .hmacSHA256) throws(LedgerError) -> [UInt8] {
        guard (1...Int(Int32.max)).contains(iterations) else {
            throw LedgerError(.invalidKDFParameters, "PBKDF2 iterations \(iterations), expected 1...\(Int32.max)",
                              details: ["iterations": String(iterations)])
        }
        guard (1...Int(Int32.max)).contains(keyLength) else {
            throw LedgerError(.invalidKDFParameters, "PBKDF2 keyLength \(keyLength), expected 1...\(Int32.max)",
                              details: ["keyLength": String(keyLength)])
        }
        guard password.count <= Int(Int32.max), salt.count <= Int(Int32.max) else {
            throw LedgerError(.invalidKDFParameters, "PBKDF2 password or salt longer than \(Int32.max) bytes")
        }
        var out = [UInt8](repeating: 0, count: keyLength)
        let ok = CipherBytes.with(password) { p, pCount in
            CipherBytes.with(salt) { s, sCount in
                p.withMemoryRebound(to: CChar.self, capacity: max(pCount, 1)) { pc in
                    PKCS5_PBKDF2_HMAC(pc, Int32(pCount), s, Int32(sCount), Int32(iterations), prf.digest.md, Int32(keyLength), &out)
                }
            }
        }
        try opensslCheck(ok, "PKCS5_PBKDF2_HMAC")
        return out
    }
}

/// scrypt (RFC 7914) over OpenSSL's `EVP_PBE_scrypt`.
///
/// Memory use is about `128 · r · (N + 2) + 128 · r · p` bytes; it must fit
/// `maxMemoryBytes`.
///
/// Example:
/// ```swift
/// let key = try Scrypt.deriveKey(password: pw, salt: salt, n: 1 << 15, r: 8, p: 1, keyLength: 32)
/// ```
/// Thread-safety: stateless; safe to call concurrently (each call allocates
/// its own memory). No timeout.
public enum Scrypt {
    /// The default memory limit: 256 MiB.
    public static let defaultMaxMemoryBytes: UInt64 = 256 << 20

    /// The memory scrypt needs for these parameters, in bytes (as OpenSSL
    /// counts it), or `nil` when it overflows 64 bits.
    public static func memoryRequired(n: UInt64, r: UInt64, p: UInt64) -> UInt64? {
        let (a, o1) = r.multipliedReportingOverflow(by: 128)
        let (v, o2) = a.multipliedReportingOverflow(by: n &+ 2)
        let (b, o3) = a.multipliedReportingOverflow(by: p)
        let (t, o4) = v.addingReportingOverflow(b)
        return o1 || o2 || o3 || o4 || n > UInt64.max - 2 ? nil : t
    }

    /// Derives `keyLength` bytes.
    /// - Parameters:
    ///   - password: Required. Any bytes, including empty.
    ///   - salt: Required. Any bytes, including empty.
    ///   - n: Required. CPU/memory cost: a power of two, `2...2^(16·r)` (and
    ///     below 2^63).
    ///   - r: Required. Block size, `1...`; `r · p < 2^30`.
    ///   - p: Required. Parallelism, `1...`; `r · p < 2^30`.
    ///   - keyLength: Required. `1...(2^32 − 1) · 32` bytes (and addressable).
    ///   - maxMemoryBytes: Optional, default ``defaultMaxMemoryBytes``
    ///     (256 MiB). The call fails rather than use more.
    /// - Throws: `LedgerError` `.invalidKDFParameters` (1356) naming the
    ///   parameter at fault (including a memory need above the limit),
    ///   `.cryptoBackend` (1404).
    public static func deriveKey(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64, keyLength: Int,
                                 maxMemoryBytes: UInt64 = defaultMaxMemoryBytes) throws(LedgerError) -> [UInt8] {
        func bad(_ message: String, _ field: String, _ value: String) -> LedgerError {
            LedgerError(.invalidKDFParameters, message, details: [field: value])
        }
        guard n > 1, n & (n - 1) == 0, n < (1 << 63) else {
            throw bad("scrypt N \(n), expected a power of two greater than 1", "N", String(n))
        }
        guard r >= 1 else { throw bad("scrypt r \(r), expected at least 1", "r", String(r)) }
        guard p >= 1 else { throw bad("scrypt p \(p), expected at least 1", "p", String(p)) }
        let (rp, overflow) = r.multipliedReportingOverflow(by: p)
        guard !overflow, rp < (1 << 30) else {
            throw bad("scrypt r·p = \(r)·\(p), expected below 2^30", "rp", "\(r)*\(p)")
        }
        // RFC 7914: N < 2^(128·r/8) = 2^(16·r).
        if r < 4 {
            guard n < (UInt64(1) << (16 * r)) else {
                throw bad("scrypt N \(n) too large for r \(r): expected N < 2^\(16 * r)", "N", String(n))
            }
        }
        guard keyLength >= 1, UInt64(keyLength) <= (UInt64(UInt32.max)) * 32 else {
            throw bad("scrypt keyLength \(keyLength), expected 1...\(UInt64(UInt32.max) * 32)", "keyLength", String(keyLength))
        }
        guard let needed = memoryRequired(n: n, r: r, p: p), needed <= maxMemoryBytes else {
            let shown = memoryRequired(n: n, r: r, p: p).map(String.init) ?? "more than 2^64"
            throw bad("scrypt needs \(shown) bytes for N \(n), r \(r), p \(p), above maxMemoryBytes \(maxMemoryBytes)",
                      "maxMemoryBytes", String(maxMemoryBytes))
        }
        var out = [UInt8](repeating: 0, count: keyLength)
        let ok = CipherBytes.with(password) { pw, pwCount in
            CipherBytes.with(salt) { s, sCount in
                pw.withMemoryRebound(to: CChar.self, capacity: max(pwCount, 1)) { pc in
                    // maxMemoryBytes >= needed > 0 here, so OpenSSL never sees 0 (its "32 MiB default").
                    EVP_PBE_scrypt(pc, pwCount, s, sCount, n, r, p, maxMemoryBytes, &out, keyLength)
                }
            }
        }
        try opensslCheck(ok, "EVP_PBE_scrypt")
        return out
    }
}

/// HKDF (RFC 5869) over OpenSSL's `EVP_KDF` "HKDF", with SHA-256, SHA-512,
/// SHA-1 or SM3.
///
/// Example:
/// ```swift
/// let k = try HKDF.deriveKey(inputKeyMaterial: shared, salt: salt, info: Array("forgechain v1".utf8), keyLength: 32)
/// ```
/// Thread-safety: stateless; safe to call concurrently.
public enum HKDF {
    /// The hash inside HKDF.
    public enum Hash: String, Sendable, Hashable, Codable, CaseIterable {
        /// SHA-1 (legacy interoperability only).
        case sha1 = "SHA1"
        /// SHA-256.
        case sha256 = "SHA256"
        /// SHA-512.
        case sha512 = "SHA512"
        /// SM3.
        case sm3 = "SM3"

        /// The hash output length in bytes.
        public var outputLength: Int {
            switch self {
            case .sha1: return 20
            case .sha256, .sm3: return 32
            case .sha512: return 64
            }
        }

        var cName: StaticString {
            switch self {
            case .sha1: return "SHA1"
            case .sha256: return "SHA256"
            case .sha512: return "SHA512"
            case .sm3: return "SM3"
            }
        }
    }

    /// Extract-then-expand (RFC 5869 §2).
    /// - Parameters:
    ///   - inputKeyMaterial: Required. Any bytes, including empty.
    ///   - salt: Optional, default empty (RFC 5869: a string of hash-length zeros).
    ///   - info: Optional, default empty. Context and application label.
    ///   - keyLength: Required. `1...255 · hash.outputLength` bytes.
    ///   - hash: Optional, default `.sha256`.
    /// - Throws: `LedgerError` `.invalidKDFParameters` (1356), `.cryptoBackend` (1404).
    public static func deriveKey(inputKeyMaterial: [UInt8], salt: [UInt8] = [], info: [UInt8] = [],
                                 keyLength: Int, hash: Hash = .sha256) throws(LedgerError) -> [UInt8] {
        try checkLength(keyLength, hash)
        return try run(mode: Int32(EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND), key: inputKeyMaterial, salt: salt, info: info,
                       length: keyLength, hash: hash)
    }

    /// HKDF-Extract (RFC 5869 §2.2): the pseudo-random key, `hash.outputLength` bytes.
    /// - Parameters: as ``deriveKey(inputKeyMaterial:salt:info:keyLength:hash:)``.
    /// - Throws: `LedgerError` `.cryptoBackend` (1404).
    public static func extract(inputKeyMaterial: [UInt8], salt: [UInt8] = [], hash: Hash = .sha256) throws(LedgerError) -> [UInt8] {
        try run(mode: Int32(EVP_KDF_HKDF_MODE_EXTRACT_ONLY), key: inputKeyMaterial, salt: salt, info: [],
                length: hash.outputLength, hash: hash)
    }

    /// HKDF-Expand (RFC 5869 §2.3).
    /// - Parameters:
    ///   - pseudoRandomKey: Required. At least `hash.outputLength` bytes.
    ///   - info: Optional, default empty.
    ///   - keyLength: Required. `1...255 · hash.outputLength`.
    ///   - hash: Optional, default `.sha256`.
    /// - Throws: `LedgerError` `.invalidKDFParameters` (1356), `.cryptoBackend` (1404).
    public static func expand(pseudoRandomKey: [UInt8], info: [UInt8] = [], keyLength: Int, hash: Hash = .sha256) throws(LedgerError) -> [UInt8] {
        try checkLength(keyLength, hash)
        guard pseudoRandomKey.count >= hash.outputLength else {
            throw LedgerError(.invalidKDFParameters,
                              "HKDF pseudoRandomKey length \(pseudoRandomKey.count), expected at least \(hash.outputLength)",
                              details: ["pseudoRandomKeyLength": String(pseudoRandomKey.count)])
        }
        return try run(mode: Int32(EVP_KDF_HKDF_MODE_EXPAND_ONLY), key: pseudoRandomKey, salt: [], info: info,
                       length: keyLength, hash: hash)
    }

    private static func checkLength(_ keyLength: Int, _ hash: Hash) throws(LedgerError) {
        guard (1...(255 * hash.outputLength)).contains(keyLength) else {
            throw LedgerError(.invalidKDFParameters, "HKDF keyLength \(keyLength), expected 1...\(255 * hash.outputLength) for \(hash.rawValue)",
                              details: ["keyLength": String(keyLength)])
        }
    }

    private static func run(mode: Int32, key: [UInt8], salt: [UInt8], info: [UInt8], length: Int, hash: Hash) throws(LedgerError) -> [UInt8] {
        guard info.count <= 1024 else {
            throw LedgerError(.invalidKDFParameters, "HKDF info length \(info.count), expected at most 1024 (OpenSSL limit)",
                              details: ["infoLength": String(info.count)])
        }
        var out = [UInt8](repeating: 0, count: length)
        let name = UnsafeRawPointer(hash.cName.utf8Start).assumingMemoryBound(to: CChar.self)
        let ok = CipherBytes.with(key) { k, kc in
            CipherBytes.with(salt) { s, sc in
                CipherBytes.with(info) { i, ic in
                    forgechain_hkdf(nil, name, mode, k, kc, s, sc, i, ic, &out, length)
                }
            }
        }
        try opensslCheck(ok, "EVP_KDF_derive (HKDF)")
        return out
    }
}
