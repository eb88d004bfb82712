import COpenSSL

/// Public-key encryption with elliptic curves (requirement N-S-1): encrypts
/// to a ``PublicKey`` so that only the holder of the matching
/// ``PrivateKey`` can decrypt.
///
/// The scheme follows the recipient's key:
///
/// **P-256** (``SignatureScheme/p256``): ECIES with an ephemeral key,
/// ECDH, HKDF-SHA256 and AES-256-GCM.
/// 1. Draw an ephemeral P-256 key pair `(e, E)`.
/// 2. `Z` = x-coordinate of `e · Q_recipient`, 32 bytes big-endian (ECDH,
///    OpenSSL `EVP_PKEY_derive`).
/// 3. `K` = HKDF-SHA256 (RFC 5869) with IKM = `Z`, salt = `E` as a 33-byte
///    compressed SEC1 point, info = the 25 ASCII bytes
///    `"ForgeChain ECIES P-256 v1"` ‖ `sharedInfo`, output 32 bytes.
/// 4. AES-256-GCM under `K` with a random 12-byte nonce, no associated
///    data, 16-byte tag.
///
/// Wire format (``p256Overhead`` = 61 bytes plus the plaintext length):
///
/// | offset | length | field |
/// |---|---|---|
/// | 0 | 33 | `E`, compressed SEC1 (`02`/`03` ‖ x) |
/// | 33 | 12 | GCM nonce |
/// | 45 | `len(plaintext)` | GCM ciphertext |
/// | 45 + `len(plaintext)` | 16 | GCM tag |
///
/// **SM2** (``SignatureScheme/sm2``): SM2 public-key encryption of
/// GB/T 32918.4-2016 with SM3 (through OpenSSL `EVP_PKEY_encrypt` on an SM2
/// key), serialised in the GM/T 0009-2012 DER form, the C1‖C3‖C2 order:
/// `SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3 (32 bytes SM3),
/// OCTET STRING C2 (as long as the plaintext) }`. `x1` and `y1` are minimal
/// DER INTEGERs, so the length varies by a few bytes (about 106–108 bytes
/// plus the plaintext for short messages). SM2 has no key-derivation
/// context parameter, so `sharedInfo` must be empty, and GB/T 32918.4 needs
/// at least one plaintext byte (its KDF output check is undefined for
/// `klen = 0`, and OpenSSL 3.0's `ossl_sm2_encrypt` fails on it).
///
/// Other schemes (secp256k1, Ed25519) are rejected with `.schemeMismatch`
/// (1307).
///
/// ```swift
/// let recipient = try PrivateKey.generate(.p256)
/// let box = try ECIES.encrypt(Array("batch 7 QA report".utf8), to: recipient.publicKey)
/// let plain = try ECIES.decrypt(box, with: recipient)
/// ```
///
/// Every call uses a fresh ephemeral key (P-256) or a fresh random `k`
/// (SM2), so encrypting the same plaintext twice gives different outputs.
/// Decryption never releases plaintext unless the ciphertext authenticates
/// (GCM tag for P-256, C3 hash for SM2), and malformed input of any length
/// throws a `LedgerError` rather than trapping.
///
/// Thread-safety: stateless; every function may be called concurrently,
/// also with the same keys (each call creates its own OpenSSL contexts).
public enum ECIES {
    /// The HKDF info label of the P-256 construction:
    /// `"ForgeChain ECIES P-256 v1"` (25 ASCII bytes), followed by `sharedInfo`.
    public static let p256InfoLabel: [UInt8] = Array("ForgeChain ECIES P-256 v1".utf8)

    /// The bytes a P-256 ciphertext adds to the plaintext: 33 (ephemeral
    /// key) + 12 (nonce) + 16 (tag) = 61.
    public static let p256Overhead = p256EphemeralKeyLength + p256NonceLength + p256TagLength

    /// The longest `sharedInfo` accepted for P-256: 999 bytes (OpenSSL's
    /// HKDF takes at most 1024 bytes of info, 25 of which are the label).
    public static let maximumSharedInfoLength = 1024 - p256InfoLabel.count

    static let p256EphemeralKeyLength = 33
    static let p256NonceLength = 12
    static let p256TagLength = 16

    /// Encrypts `plaintext` to `recipient`.
    ///
    /// - Parameters:
    ///   - plaintext: Required. For P-256 any length, including empty (the
    ///     output is `plaintext.count + 61` bytes). For SM2 at least 1 byte.
    ///   - recipient: Required. A ``SignatureScheme/p256`` or
    ///     ``SignatureScheme/sm2`` public key.
    ///   - sharedInfo: Optional, default empty. P-256 only: context bytes
    ///     bound into the key derivation (HKDF info), 0...999 bytes; decryption
    ///     must pass the same bytes. Must be empty for SM2.
    /// - Returns: The ciphertext in the format of the recipient's scheme
    ///   (see ``ECIES``).
    /// - Throws: `LedgerError`
    ///   - `.schemeMismatch` (1307) when `recipient` is neither P-256 nor SM2;
    ///   - `.eciesSharedInfoUnsupported` (1341) for a non-empty `sharedInfo` with SM2;
    ///   - `.invalidInputLength` (1355) for an SM2 empty plaintext or a P-256
    ///     `sharedInfo` longer than 999 bytes;
    ///   - `.cryptoBackend` (1404) if OpenSSL or the random source fails.
    /// - Note: Safe to call concurrently.
    public static func encrypt(_ plaintext: [UInt8], to recipient: PublicKey, sharedInfo: [UInt8] = []) throws(LedgerError) -> [UInt8] {
        switch recipient.scheme {
        case .p256:
            return try p256Encrypt(plaintext, to: recipient, sharedInfo: sharedInfo)
        case .sm2:
            try requireNoSharedInfo(sharedInfo)
            guard !plaintext.isEmpty else {
                throw LedgerError(.invalidInputLength, "SM2 encryption needs at least 1 plaintext byte (GB/T 32918.4), got 0",
                                  details: ["scheme": "sm2", "length": "0"])
            }
            guard let evp = recipient.backend.evp else { throw LedgerError(.cryptoBackend, "SM2 public key has no EVP key") }
            return try evp.sm2Encrypt(plaintext)
        case .secp256k1, .ed25519:
            throw unsupported(recipient.scheme)
        }
    }

    /// Decrypts a ciphertext produced by ``encrypt(_:to:sharedInfo:)`` for
    /// `key`'s public key (for SM2 also any GM/T 0009 DER ciphertext from
    /// another implementation).
    ///
    /// - Parameters:
    ///   - ciphertext: Required. Any bytes; malformed input throws.
    ///   - key: Required. The recipient's ``SignatureScheme/p256`` or
    ///     ``SignatureScheme/sm2`` private key.
    ///   - sharedInfo: Optional, default empty. P-256: the bytes given to
    ///     `encrypt`, 0...999 bytes. Must be empty for SM2.
    /// - Returns: The plaintext, released only after the ciphertext
    ///   authenticated.
    /// - Throws: `LedgerError`
    ///   - `.schemeMismatch` (1307) when `key` is neither P-256 nor SM2;
    ///   - `.eciesSharedInfoUnsupported` (1341) for a non-empty `sharedInfo` with SM2;
    ///   - P-256: `.invalidInputLength` (1355) when `ciphertext` is shorter than
    ///     61 bytes or `sharedInfo` longer than 999; `.invalidPublicKey` (1304)
    ///     when the first 33 bytes are not a compressed P-256 point;
    ///     `.authenticationFailed` (1353) when the tag does not verify
    ///     (tampered ephemeral key, nonce, ciphertext or tag, wrong key, or
    ///     other `sharedInfo`);
    ///   - SM2: `.eciesDecryptionFailed` (1340) for anything that does not
    ///     decrypt (malformed DER, C1 not on the curve, C3 mismatch from
    ///     tampering or a wrong key);
    ///   - `.cryptoBackend` (1404) if OpenSSL fails internally.
    /// - Note: Safe to call concurrently.
    public static func decrypt(_ ciphertext: [UInt8], with key: PrivateKey, sharedInfo: [UInt8] = []) throws(LedgerError) -> [UInt8] {
        switch key.scheme {
        case .p256:
            return try p256Decrypt(ciphertext, with: key, sharedInfo: sharedInfo)
        case .sm2:
            try requireNoSharedInfo(sharedInfo)
            guard let evp = key.backend.evp else { throw LedgerError(.cryptoBackend, "SM2 private key has no EVP key") }
            guard let plaintext = evp.sm2Decrypt(ciphertext) else {
                throw LedgerError(.eciesDecryptionFailed,
                                  "SM2 ciphertext of \(ciphertext.count) bytes does not decrypt: malformed GM/T 0009 DER, C1 not on the curve, or C3 mismatch (tampered or wrong key)",
                                  details: ["scheme": "sm2", "length": String(ciphertext.count)])
            }
            return plaintext
        case .secp256k1, .ed25519:
            throw unsupported(key.scheme)
        }
    }

    // MARK: - P-256

    private static func p256Encrypt(_ plaintext: [UInt8], to recipient: PublicKey, sharedInfo: [UInt8]) throws(LedgerError) -> [UInt8] {
        try checkSharedInfo(sharedInfo)
        guard let recipientEC = recipient.backend.ec else { throw LedgerError(.cryptoBackend, "P-256 public key has no EC key") }
        let ephemeral = try PrivateKey.generate(.p256)
        guard let ephemeralEC = ephemeral.backend.ec else { throw LedgerError(.cryptoBackend, "P-256 private key has no EC key") }
        let ephemeralPublic = ephemeral.publicKey.rawRepresentation   // 33 bytes compressed
        let key = try p256Key(privateEC: ephemeralEC, peerEC: recipientEC, ephemeralPublic: ephemeralPublic, sharedInfo: sharedInfo)
        let box = try SymmetricCipher.aes256GCM.seal(plaintext, using: key)
        key.destroy()
        var out = [UInt8]()
        out.reserveCapacity(p256Overhead + plaintext.count)
        out += ephemeralPublic
        out += box.nonce
        out += box.ciphertext
        out += box.tag
        return out
    }

    private static func p256Decrypt(_ ciphertext: [UInt8], with privateKey: PrivateKey, sharedInfo: [UInt8]) throws(LedgerError) -> [UInt8] {
        try checkSharedInfo(sharedInfo)
        guard ciphertext.count >= p256Overhead else {
            throw LedgerError(.invalidInputLength,
                              "ECIES P-256 ciphertext length \(ciphertext.count), expected at least \(p256Overhead) (ephemeral key 33 + nonce 12 + tag 16)",
                              details: ["scheme": "p256", "length": String(ciphertext.count)])
        }
        let ephemeralBytes = Array(ciphertext[0..<p256EphemeralKeyLength])
        let ephemeral: PublicKey
        do {
            guard ephemeralBytes[0] == 2 || ephemeralBytes[0] == 3 else { throw LedgerError(.invalidPublicKey, "") }
            ephemeral = try PublicKey(scheme: .p256, rawRepresentation: ephemeralBytes)
        } catch {
            throw LedgerError(.invalidPublicKey,
                              "ECIES P-256 ephemeral key \(Hex.encode(ephemeralBytes)) is not a compressed point on the P-256 curve",
                              details: ["scheme": "p256", "field": "ephemeralPublicKey"])
        }
        guard let ephemeralEC = ephemeral.backend.ec, let privateEC = privateKey.backend.ec else {
            throw LedgerError(.cryptoBackend, "P-256 key has no EC key")
        }
        let key = try p256Key(privateEC: privateEC, peerEC: ephemeralEC, ephemeralPublic: ephemeralBytes, sharedInfo: sharedInfo)
        defer { key.destroy() }
        let nonceEnd = p256EphemeralKeyLength + p256NonceLength
        let tagStart = ciphertext.count - p256TagLength
        let box = SymmetricCipher.SealedBox(nonce: Array(ciphertext[p256EphemeralKeyLength..<nonceEnd]),
                                            ciphertext: Array(ciphertext[nonceEnd..<tagStart]),
                                            tag: Array(ciphertext[tagStart...]))
        do {
            return try SymmetricCipher.aes256GCM.open(box, using: key)
        } catch where error.code == .authenticationFailed {
            throw LedgerError(.authenticationFailed,
                              "ECIES P-256 ciphertext does not authenticate: tampered ephemeral key, nonce, ciphertext or tag, wrong private key, or other sharedInfo",
                              details: ["scheme": "p256"])
        }
    }

    /// ECDH then HKDF-SHA256 → the 32-byte AES-256-GCM key.
    private static func p256Key(privateEC: ECKey, peerEC: ECKey, ephemeralPublic: [UInt8],
                                sharedInfo: [UInt8]) throws(LedgerError) -> SymmetricKey {
        let own = try EVPKey.wrapping(privateEC)
        let peer = try EVPKey.wrapping(peerEC)
        var shared = try own.deriveSharedSecret(with: peer)
        defer { shared.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) } }
        var keyBytes = try HKDF.deriveKey(inputKeyMaterial: shared, salt: ephemeralPublic, info: p256InfoLabel + sharedInfo,
                                          keyLength: 32, hash: .sha256)
        defer { keyBytes.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) } }
        return SymmetricKey(bytes: keyBytes)
    }

    // MARK: - Checks

    private static func checkSharedInfo(_ sharedInfo: [UInt8]) throws(LedgerError) {
        guard sharedInfo.count <= maximumSharedInfoLength else {
            throw LedgerError(.invalidInputLength,
                              "ECIES sharedInfo length \(sharedInfo.count), expected at most \(maximumSharedInfoLength)",
                              details: ["field": "sharedInfo", "length": String(sharedInfo.count)])
        }
    }

    private static func requireNoSharedInfo(_ sharedInfo: [UInt8]) throws(LedgerError) {
        guard sharedInfo.isEmpty else {
            throw LedgerError(.eciesSharedInfoUnsupported,
                              "SM2 encryption (GB/T 32918.4) takes no sharedInfo, got \(sharedInfo.count) bytes; pass an empty array",
                              details: ["scheme": "sm2", "length": String(sharedInfo.count)])
        }
    }

    private static func unsupported(_ scheme: SignatureScheme) -> LedgerError {
        LedgerError(.schemeMismatch, "ECIES supports p256 and sm2 keys, got \(scheme.rawValue)",
                    details: ["scheme": scheme.rawValue])
    }
}

// Asymmetric encryption (1340–1349).
extension LedgerError.Code {
    /// SM2 public-key decryption failed: the ciphertext is not valid
    /// GM/T 0009 DER, its point C1 is not on the curve, or the C3 hash does
    /// not match (tampered ciphertext or wrong private key). Deliberately
    /// does not say which. (P-256 ECIES reports `.authenticationFailed`,
    /// 1353, for a ciphertext that does not authenticate.)
    public static let eciesDecryptionFailed = Self(rawValue: 1340)
    /// A `sharedInfo` was given for a scheme that has no place for it (SM2
    /// encryption, GB/T 32918.4, takes none).
    public static let eciesSharedInfoUnsupported = Self(rawValue: 1341)
}
