import COpenSSL

/// An RSA private key for RSA-OAEP encryption (N-S-1), with SHA-256 as the
/// OAEP hash and MGF1 hash (RFC 8017 §7.1).
///
/// Example:
/// ```swift
/// let key = try RSAPrivateKey(keySize: 3072)
/// let ct = try key.publicKey.encrypt(Array("secret".utf8))
/// let pt = try key.decrypt(ct)
/// ```
/// Thread-safety: `Sendable` and immutable; every method may be called
/// concurrently. Key generation takes from ~0.1 s (2048) to seconds (4096).
public struct RSAPrivateKey: Sendable {
    let handle: RSAKeyHandle

    /// Key sizes ``init(keySize:)`` generates: 2048, 3072, 4096 bits.
    public static let generatableKeySizes: Set<Int> = [2048, 3072, 4096]
    /// Key sizes accepted on import: 2048...16384 bits.
    public static let importableKeySizes = 2048...16384

    /// Generates a new key (public exponent 65537).
    /// - Parameter keySize: Optional, default 2048. One of 2048, 3072, 4096.
    /// - Throws: `LedgerError` `.rsaKeySize` (1357), `.cryptoBackend` (1404).
    public init(keySize: Int = 2048) throws(LedgerError) {
        guard Self.generatableKeySizes.contains(keySize) else {
            throw LedgerError(.rsaKeySize, "RSA key size \(keySize) bits, expected 2048, 3072 or 4096",
                              details: ["bits": String(keySize)])
        }
        handle = try RSAKeyHandle.generate(bits: keySize)
    }

    /// Imports an unencrypted PKCS#8 `PrivateKeyInfo` (DER).
    /// - Parameter pkcs8DER: Required. The complete DER, no trailing bytes.
    /// - Throws: `LedgerError` `.rsaKeyEncoding` (1359) for malformed DER or
    ///   a non-RSA key, `.rsaKeySize` (1357) outside 2048...16384 bits.
    public init(pkcs8DER: [UInt8]) throws(LedgerError) {
        let pkey = try RSAKeyHandle.decode(pkcs8DER, what: "PKCS#8 private key") { p, n in
            guard let info = d2i_PKCS8_PRIV_KEY_INFO(nil, p, n) else { return nil }
            defer { PKCS8_PRIV_KEY_INFO_free(info) }
            return EVP_PKCS82PKEY(info)
        }
        handle = try RSAKeyHandle.checked(pkey, what: "PKCS#8 private key")
        guard rsaKeyIsConsistent(handle) else {
            throw LedgerError(.rsaKeyEncoding, "PKCS#8 RSA private key fails its consistency check")
        }
    }

    /// Imports a `-----BEGIN PRIVATE KEY-----` PEM (unencrypted PKCS#8).
    /// - Parameter pem: Required. Text around the block is ignored.
    /// - Throws: as ``init(pkcs8DER:)``.
    public init(pemRepresentation pem: String) throws(LedgerError) {
        try self.init(pkcs8DER: try RSAPEM.decode(pem, label: "PRIVATE KEY"))
    }

    /// The key size in bits (2048, 3072, ...).
    public var keySize: Int { handle.bits }

    /// The public half.
    public var publicKey: RSAPublicKey { RSAPublicKey(handle: handle) }

    /// The unencrypted PKCS#8 `PrivateKeyInfo` DER. Secret: protect it.
    /// - Throws: `LedgerError` `.cryptoBackend` (1404).
    public func pkcs8DER() throws(LedgerError) -> [UInt8] {
        guard let info = EVP_PKEY2PKCS8(handle.pkey) else {
            throw LedgerError(.cryptoBackend, "EVP_PKEY2PKCS8 failed")
        }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        return try RSAKeyHandle.encode(handle.pkey) { i2d_PKCS8_PRIV_KEY_INFO(info, $0) }
    }

    /// The PKCS#8 DER as `-----BEGIN PRIVATE KEY-----` PEM (64-column base64).
    /// - Throws: `LedgerError` `.cryptoBackend` (1404).
    public func pemRepresentation() throws(LedgerError) -> String {
        RSAPEM.encode(try pkcs8DER(), label: "PRIVATE KEY")
    }

    /// Decrypts RSA-OAEP (SHA-256, MGF1-SHA-256) ciphertext.
    /// - Parameters:
    ///   - ciphertext: Required. Exactly the modulus length (``keySize``/8 bytes).
    ///   - label: Optional, default empty. Must equal the encryption label.
    /// - Returns: The plaintext.
    /// - Throws: `LedgerError` `.invalidInputLength` (1355) for a ciphertext
    ///   of the wrong length; `.rsaDecryptionFailed` (1358) for any
    ///   decryption failure (wrong key, tampering, wrong label), with no
    ///   detail on which; `.cryptoBackend` (1404).
    public func decrypt(_ ciphertext: [UInt8], label: [UInt8] = []) throws(LedgerError) -> [UInt8] {
        let k = handle.modulusBytes
        guard ciphertext.count == k else {
            throw LedgerError(.invalidInputLength, "RSA ciphertext length \(ciphertext.count), expected \(k) for a \(keySize)-bit key",
                              details: ["length": String(ciphertext.count)])
        }
        let ctx = try RSAOAEP.context(handle, label: label, encrypt: false)
        defer { EVP_PKEY_CTX_free(ctx) }
        var out = [UInt8](repeating: 0, count: k)
        var outLength = k
        let ok = ciphertext.withUnsafeBufferPointer { c in
            EVP_PKEY_decrypt(ctx, &out, &outLength, c.baseAddress, c.count)
        }
        guard ok == 1 else {
            ERR_clear_error()
            throw LedgerError(.rsaDecryptionFailed, "RSA-OAEP decryption failed (wrong key, wrong label or corrupted ciphertext)")
        }
        return Array(out.prefix(outLength))
    }
}

/// An RSA public key for RSA-OAEP encryption (SHA-256, MGF1-SHA-256).
///
/// Thread-safety: `Sendable` and immutable; every method may be called concurrently.
public struct RSAPublicKey: Sendable {
    let handle: RSAKeyHandle

    init(handle: RSAKeyHandle) { self.handle = handle }

    /// Imports a DER `SubjectPublicKeyInfo`.
    /// - Parameter spkiDER: Required. The complete DER, no trailing bytes.
    /// - Throws: `LedgerError` `.rsaKeyEncoding` (1359) for malformed DER or
    ///   a non-RSA key, `.rsaKeySize` (1357) outside 2048...16384 bits.
    public init(spkiDER: [UInt8]) throws(LedgerError) {
        let pkey = try RSAKeyHandle.decode(spkiDER, what: "SubjectPublicKeyInfo") { p, n in d2i_PUBKEY(nil, p, n) }
        handle = try RSAKeyHandle.checked(pkey, what: "SubjectPublicKeyInfo")
    }

    /// Imports a `-----BEGIN PUBLIC KEY-----` PEM.
    /// - Throws: as ``init(spkiDER:)``.
    public init(pemRepresentation pem: String) throws(LedgerError) {
        try self.init(spkiDER: try RSAPEM.decode(pem, label: "PUBLIC KEY"))
    }

    /// The key size in bits.
    public var keySize: Int { handle.bits }

    /// The largest plaintext ``encrypt(_:label:)`` takes: modulus bytes − 66.
    public var maximumPlaintextLength: Int { handle.modulusBytes - 2 * 32 - 2 }

    /// The DER `SubjectPublicKeyInfo`.
    /// - Throws: `LedgerError` `.cryptoBackend` (1404).
    public func spkiDER() throws(LedgerError) -> [UInt8] {
        try RSAKeyHandle.encode(handle.pkey) { i2d_PUBKEY(handle.pkey, $0) }
    }

    /// The SPKI DER as `-----BEGIN PUBLIC KEY-----` PEM.
    /// - Throws: `LedgerError` `.cryptoBackend` (1404).
    public func pemRepresentation() throws(LedgerError) -> String {
        RSAPEM.encode(try spkiDER(), label: "PUBLIC KEY")
    }

    /// Encrypts with RSA-OAEP (SHA-256, MGF1-SHA-256). Randomised: two
    /// encryptions of one plaintext differ.
    /// - Parameters:
    ///   - plaintext: Required. `0...maximumPlaintextLength` bytes (190 for 2048-bit keys).
    ///   - label: Optional, default empty. Bound to the ciphertext.
    /// - Returns: ``keySize``/8 bytes.
    /// - Throws: `LedgerError` `.invalidInputLength` (1355) for a plaintext
    ///   that is too long, `.cryptoBackend` (1404).
    public func encrypt(_ plaintext: [UInt8], label: [UInt8] = []) throws(LedgerError) -> [UInt8] {
        guard plaintext.count <= maximumPlaintextLength else {
            throw LedgerError(.invalidInputLength,
                              "RSA-OAEP plaintext length \(plaintext.count), expected at most \(maximumPlaintextLength) for a \(keySize)-bit key",
                              details: ["length": String(plaintext.count)])
        }
        let ctx = try RSAOAEP.context(handle, label: label, encrypt: true)
        defer { EVP_PKEY_CTX_free(ctx) }
        var outLength = handle.modulusBytes
        var out = [UInt8](repeating: 0, count: outLength)
        let ok = CipherBytes.with(plaintext) { p, n in EVP_PKEY_encrypt(ctx, &out, &outLength, p, n) }
        try opensslCheck(ok, "EVP_PKEY_encrypt (RSA-OAEP)")
        return Array(out.prefix(outLength))
    }
}

enum RSAOAEP {
    static func context(_ handle: RSAKeyHandle, label: [UInt8], encrypt: Bool) throws(LedgerError) -> OpaquePointer {
        guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, handle.pkey, nil) else {
            throw LedgerError(.cryptoBackend, "EVP_PKEY_CTX_new_from_pkey failed")
        }
        do {
            try opensslCheck(encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx), "EVP_PKEY_*crypt_init")
            try opensslCheck(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), "EVP_PKEY_CTX_set_rsa_padding")
            try opensslCheck(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVPMessageDigest.sha256.md), "EVP_PKEY_CTX_set_rsa_oaep_md")
            try opensslCheck(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVPMessageDigest.sha256.md), "EVP_PKEY_CTX_set_rsa_mgf1_md")
            try CipherBytes.with(label) { (p, n) throws(LedgerError) in
                try opensslCheck(forgechain_rsa_set_oaep_label(ctx, p, n), "set OAEP label")
            }
        } catch {
            EVP_PKEY_CTX_free(ctx)
            throw error
        }
        return ctx
    }
}

private func rsaKeyIsConsistent(_ handle: RSAKeyHandle) -> Bool {
    guard let ctx = EVP_PKEY_CTX_new_from_pkey(nil, handle.pkey, nil) else { return false }
    defer { EVP_PKEY_CTX_free(ctx) }
    let ok = EVP_PKEY_private_check(ctx) == 1 && EVP_PKEY_pairwise_check(ctx) == 1
    if !ok { ERR_clear_error() }
    return ok
}
