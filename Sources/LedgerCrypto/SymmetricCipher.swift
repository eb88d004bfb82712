import COpenSSL

/// The symmetric ciphers of ForgeChain (N-S-1), over OpenSSL 3.
///
/// | cipher | key bytes | mode | notes |
/// |---|---|---|---|
/// | `aes128GCM`, `aes192GCM`, `aes256GCM` | 16, 24, 32 | AEAD | recommended |
/// | `sm4GCM` | 16 | AEAD | GB/T 32907 SM4; GCM in Swift over OpenSSL's SM4 (OpenSSL 3.0 has no SM4-GCM) |
/// | `aes128CBC`, `aes192CBC`, `aes256CBC` | 16, 24, 32 | CBC | unauthenticated |
/// | `sm4CBC` | 16 | CBC | unauthenticated |
/// | `tripleDESCBC` | 24 (three-key) or 16 (two-key) | CBC | **weak**, legacy only |
/// | `desCBC` | 8 | CBC | **weak** (56-bit key, brute-forceable), legacy only |
///
/// GCM ciphers use ``seal(_:using:nonce:authenticating:tagLength:)`` and
/// ``open(_:using:authenticating:)``; CBC ciphers use
/// ``encrypt(_:using:iv:padding:)`` and ``decrypt(_:using:iv:padding:)``.
/// Calling the other mode's method throws `.cipherModeMismatch` (1360).
///
/// DES and 3DES (``isWeak``) exist for interoperability with legacy
/// manufacturing equipment only: do not use them for new data. Single DES
/// runs through OpenSSL's `legacy` provider, loaded once into a private
/// library context. CBC gives confidentiality only; authenticate CBC
/// ciphertext with ``HMAC`` (encrypt-then-MAC) or prefer a GCM cipher.
///
/// Example:
/// ```swift
/// let key = SymmetricKey.generate(for: .aes256GCM)
/// let box = try SymmetricCipher.aes256GCM.seal(Array("reading 42".utf8), using: key)
/// let plain = try SymmetricCipher.aes256GCM.open(box, using: key)
/// ```
/// Thread-safety: every method is safe to call concurrently; each call uses
/// its own OpenSSL context.
public enum SymmetricCipher: String, Sendable, Hashable, Codable, CaseIterable {
    /// AES-128 in GCM mode (AEAD).
    case aes128GCM = "aes-128-gcm"
    /// AES-192 in GCM mode (AEAD).
    case aes192GCM = "aes-192-gcm"
    /// AES-256 in GCM mode (AEAD).
    case aes256GCM = "aes-256-gcm"
    /// SM4 (GB/T 32907) in GCM mode (AEAD).
    case sm4GCM = "sm4-gcm"
    /// AES-128 in CBC mode with PKCS#7 padding.
    case aes128CBC = "aes-128-cbc"
    /// AES-192 in CBC mode with PKCS#7 padding.
    case aes192CBC = "aes-192-cbc"
    /// AES-256 in CBC mode with PKCS#7 padding.
    case aes256CBC = "aes-256-cbc"
    /// SM4 in CBC mode with PKCS#7 padding.
    case sm4CBC = "sm4-cbc"
    /// Triple DES (TDEA, EDE) in CBC mode. Weak: legacy interoperability only.
    case tripleDESCBC = "des-ede3-cbc"
    /// Single DES in CBC mode. Weak: legacy interoperability only.
    case desCBC = "des-cbc"

    /// The mode of operation of a cipher.
    public enum Mode: String, Sendable, Hashable {
        /// Galois/Counter Mode: authenticated encryption with associated data.
        case gcm
        /// Cipher block chaining: confidentiality only.
        case cbc
    }

    /// Padding for CBC.
    public enum Padding: String, Sendable, Hashable {
        /// PKCS#7 (PKCS#5 for 8-byte blocks): always adds 1...blockSize bytes.
        case pkcs7
        /// No padding: the plaintext must be a multiple of the block size.
        case none
    }

    /// Parses a name such as `aes-256-gcm`, `SM4-CBC`, `des-ede3-cbc`
    /// (case-insensitive; `_` is read as `-`; `3des-cbc` is accepted).
    /// - Throws: `LedgerError` `.unknownCipher` (1362).
    public init(name: String) throws(LedgerError) {
        let n = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
        if let c = SymmetricCipher(rawValue: n) { self = c; return }
        if n == "3des-cbc" || n == "tdes-cbc" { self = .tripleDESCBC; return }
        throw LedgerError(.unknownCipher, "unknown cipher '\(name)'; known: \(Self.allCases.map(\.rawValue).joined(separator: ", "))",
                          details: ["name": name])
    }

    /// GCM or CBC.
    public var mode: Mode {
        switch self {
        case .aes128GCM, .aes192GCM, .aes256GCM, .sm4GCM: return .gcm
        default: return .cbc
        }
    }

    /// The key length ``SymmetricKey/generate(for:)`` produces, in bytes.
    public var keyLength: Int {
        switch self {
        case .aes128GCM, .sm4GCM, .aes128CBC, .sm4CBC: return 16
        case .aes192GCM, .aes192CBC, .tripleDESCBC: return 24
        case .aes256GCM, .aes256CBC: return 32
        case .desCBC: return 8
        }
    }

    /// Every key length accepted, in bytes (3DES also takes a 16-byte
    /// two-key key, used as K1‖K2‖K1).
    public var acceptedKeyLengths: [Int] {
        self == .tripleDESCBC ? [24, 16] : [keyLength]
    }

    /// The block size in bytes: 16 for AES and SM4, 8 for DES and 3DES. It
    /// is also the CBC IV length.
    public var blockSize: Int {
        switch self {
        case .tripleDESCBC, .desCBC: return 8
        default: return 16
        }
    }

    /// True for DES and 3DES: legacy interoperability only.
    public var isWeak: Bool { self == .tripleDESCBC || self == .desCBC }

    /// The default GCM nonce length: 12 bytes (96 bits, the fast path of GCM).
    public static let defaultNonceLength = 12
    /// The default and maximum GCM tag length: 16 bytes.
    public static let defaultTagLength = 16
    /// The GCM tag lengths accepted: 12...16 bytes (SP 800-38D without the
    /// 32- and 64-bit tags, which need special limits).
    public static let acceptedTagLengths = 12...16

    var evp: EVPCipherAlgorithm {
        switch self {
        case .aes128GCM: return .aes128GCM
        case .aes192GCM: return .aes192GCM
        case .aes256GCM: return .aes256GCM
        case .sm4GCM: return .sm4ECB   // no SM4-GCM in OpenSSL 3.0: see CipherGCMSoftware
        case .aes128CBC: return .aes128CBC
        case .aes192CBC: return .aes192CBC
        case .aes256CBC: return .aes256CBC
        case .sm4CBC: return .sm4CBC
        case .tripleDESCBC: return .tripleDESCBC
        case .desCBC: return .desCBC
        }
    }

    var ecb: EVPCipherAlgorithm {
        switch self {
        case .aes128GCM, .aes128CBC: return .aes128ECB
        case .aes192GCM, .aes192CBC: return .aes192ECB
        case .aes256GCM, .aes256CBC: return .aes256ECB
        case .sm4GCM, .sm4CBC: return .sm4ECB
        case .tripleDESCBC: return .tripleDESECB
        case .desCBC: return .desECB
        }
    }

    var displayName: String { rawValue.uppercased() }

    /// Checks the key length and calls `body` with the bytes OpenSSL gets
    /// (a two-key 3DES key expanded to K1‖K2‖K1).
    func withKey<R>(_ key: SymmetricKey, _ body: (UnsafePointer<UInt8>) throws(LedgerError) -> R) throws(LedgerError) -> R {
        guard acceptedKeyLengths.contains(key.byteCount) else {
            let expected = acceptedKeyLengths.map(String.init).joined(separator: " or ")
            throw LedgerError(.invalidKeyLength,
                              "key length \(key.byteCount), expected \(expected) for \(displayName)",
                              details: ["keyLength": String(key.byteCount), "cipher": rawValue])
        }
        return try key.storage.withBytes { (raw) throws(LedgerError) -> R in
            let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            if self == .tripleDESCBC && raw.count == 16 {
                var expanded = [UInt8](repeating: 0, count: 24)
                defer { expanded.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) } }
                expanded.withUnsafeMutableBytes { e in
                    e.copyMemory(from: raw)
                    (e.baseAddress! + 16).copyMemory(from: raw.baseAddress!, byteCount: 8)
                }
                return try expanded.withUnsafeBufferPointer { (e) throws(LedgerError) -> R in try body(e.baseAddress!) }
            }
            return try body(p)
        }
    }

    func requireMode(_ wanted: Mode, _ operation: String) throws(LedgerError) {
        guard mode == wanted else {
            throw LedgerError(.cipherModeMismatch,
                              "\(operation) needs a \(wanted.rawValue.uppercased()) cipher, got \(displayName)",
                              details: ["cipher": rawValue, "operation": operation])
        }
    }
}

/// Throws `.cryptoBackend` (1404) when an OpenSSL call did not return 1.
@inline(__always)
func opensslCheck(_ result: Int32, _ what: StaticString) throws(LedgerError) {
    guard result == 1 else {
        ERR_clear_error()
        throw LedgerError(.cryptoBackend, "OpenSSL \(what) failed")
    }
}
