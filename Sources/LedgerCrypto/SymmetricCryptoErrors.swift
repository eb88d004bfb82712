// Ciphers, MACs, KDFs, randomness and RSA encryption (1350–1389).
extension LedgerError.Code {
    /// A key has a length the algorithm does not accept (symmetric cipher
    /// keys, HMAC keys where a minimum applies).
    public static let invalidKeyLength = Self(rawValue: 1350)
    /// A nonce or IV has a length the cipher mode does not accept (GCM: 0
    /// bytes; CBC: anything but the block size).
    public static let invalidNonceLength = Self(rawValue: 1351)
    /// An authentication tag has a length outside the accepted range
    /// (GCM: 12...16 bytes; HMAC truncation below the minimum).
    public static let invalidTagLength = Self(rawValue: 1352)
    /// AEAD decryption failed: the ciphertext, tag, nonce, associated data or
    /// key does not match. Nothing of the plaintext is released.
    public static let authenticationFailed = Self(rawValue: 1353)
    /// CBC decryption with PKCS#7 padding found padding bytes that are not a
    /// valid pad (or the key/IV is wrong).
    public static let badPadding = Self(rawValue: 1354)
    /// An input has a length the operation does not accept (CBC ciphertext
    /// not a multiple of the block size, RSA plaintext too long, RSA
    /// ciphertext not the modulus length, negative counts).
    public static let invalidInputLength = Self(rawValue: 1355)
    /// A key-derivation parameter is out of range (iterations, output length,
    /// scrypt N/r/p, memory limit).
    public static let invalidKDFParameters = Self(rawValue: 1356)
    /// An RSA key size is not supported (generation: 2048, 3072, 4096 bits;
    /// import: 2048...16384 bits).
    public static let rsaKeySize = Self(rawValue: 1357)
    /// RSA-OAEP decryption failed (wrong key, corrupted ciphertext, wrong
    /// label). Deliberately does not say which, to give no padding oracle.
    public static let rsaDecryptionFailed = Self(rawValue: 1358)
    /// An RSA key encoding (PKCS#8 DER, SPKI DER, PEM) is malformed, has
    /// trailing bytes, or holds a key of another type. (Signature keys use
    /// `.keyEncoding`, 1306.)
    public static let rsaKeyEncoding = Self(rawValue: 1359)
    /// An operation was asked of a cipher that does not have that mode (for
    /// example `seal` on a CBC cipher, `encrypt` on a GCM cipher).
    public static let cipherModeMismatch = Self(rawValue: 1360)
    /// A `SymmetricKey` was used after ``SymmetricKey/destroy()``.
    public static let keyDestroyed = Self(rawValue: 1361)
    /// A cipher or MAC name is not one this build knows.
    public static let unknownCipher = Self(rawValue: 1362)
}
