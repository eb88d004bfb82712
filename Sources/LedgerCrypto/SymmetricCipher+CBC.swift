import COpenSSL

extension SymmetricCipher {
    /// The output of ``SymmetricCipher/encrypt(_:using:iv:padding:)``: the IV
    /// and the ciphertext.
    public struct CBCBox: Sendable, Hashable {
        /// The IV, ``SymmetricCipher/blockSize`` bytes.
        public var iv: [UInt8]
        /// The ciphertext, a multiple of the block size.
        public var ciphertext: [UInt8]

        /// Wraps the two parts; lengths are checked by `decrypt`.
        public init(iv: [UInt8], ciphertext: [UInt8]) {
            self.iv = iv
            self.ciphertext = ciphertext
        }

        /// `iv ‖ ciphertext`, the usual wire form.
        public var combined: [UInt8] { iv + ciphertext }
    }

    /// Encrypts `plaintext` in CBC mode. Confidentiality only: authenticate
    /// the result (``HMAC`` over `iv ‖ ciphertext`) or use a GCM cipher.
    ///
    /// - Parameters:
    ///   - plaintext: Required. Any length with `.pkcs7`; a multiple of
    ///     ``blockSize`` with `.none`.
    ///   - key: Required. One of ``acceptedKeyLengths``.
    ///   - iv: Optional. Exactly ``blockSize`` bytes, unpredictable for each
    ///     message. Default `nil`: random bytes from ``SecureRandom``.
    ///   - padding: Optional, default `.pkcs7`.
    /// - Returns: The IV used and the ciphertext.
    /// - Throws: `LedgerError` `.cipherModeMismatch` (1360) for a GCM cipher,
    ///   `.invalidKeyLength` (1350), `.invalidNonceLength` (1351) for the IV,
    ///   `.invalidInputLength` (1355) for an unpadded plaintext that is not
    ///   whole blocks, `.keyDestroyed` (1361), `.cryptoBackend` (1404).
    /// - Note: Safe to call concurrently.
    public func encrypt(_ plaintext: [UInt8], using key: SymmetricKey, iv: [UInt8]? = nil,
                        padding: Padding = .pkcs7) throws(LedgerError) -> CBCBox {
        try requireMode(.cbc, "encrypt")
        let iv = iv ?? SecureRandom.bytes(count: blockSize)
        try checkIV(iv)
        if padding == .none, plaintext.count % blockSize != 0 {
            throw LedgerError(.invalidInputLength,
                              "plaintext length \(plaintext.count) is not a multiple of the \(displayName) block size \(blockSize) (no padding)",
                              details: ["length": String(plaintext.count)])
        }
        let ciphertext = try withKey(key) { (k) throws(LedgerError) -> [UInt8] in
            try cbc(key: k, iv: iv, input: plaintext, padding: padding, encrypt: true)
        }
        return CBCBox(iv: iv, ciphertext: ciphertext)
    }

    /// Decrypts CBC ciphertext.
    ///
    /// - Parameters:
    ///   - ciphertext: Required. A non-zero multiple of ``blockSize`` with
    ///     `.pkcs7`; a multiple (possibly 0) with `.none`.
    ///   - key: Required. One of ``acceptedKeyLengths``.
    ///   - iv: Required. Exactly ``blockSize`` bytes.
    ///   - padding: Optional, default `.pkcs7`.
    /// - Returns: The plaintext, padding removed.
    /// - Throws: `LedgerError` `.badPadding` (1354) when the PKCS#7 padding
    ///   is invalid (often a wrong key or IV), `.invalidInputLength` (1355),
    ///   `.cipherModeMismatch` (1360), `.invalidKeyLength` (1350),
    ///   `.invalidNonceLength` (1351), `.keyDestroyed` (1361),
    ///   `.cryptoBackend` (1404).
    /// - Note: Safe to call concurrently. Unauthenticated CBC with padding
    ///   errors reported to a remote party is a padding oracle: authenticate
    ///   before decrypting.
    public func decrypt(_ ciphertext: [UInt8], using key: SymmetricKey, iv: [UInt8],
                        padding: Padding = .pkcs7) throws(LedgerError) -> [UInt8] {
        try requireMode(.cbc, "decrypt")
        try checkIV(iv)
        guard ciphertext.count % blockSize == 0, padding == .none || !ciphertext.isEmpty else {
            throw LedgerError(.invalidInputLength,
                              "ciphertext length \(ciphertext.count), expected a \(padding == .pkcs7 ? "non-zero " : "")multiple of the \(displayName) block size \(blockSize)",
                              details: ["length": String(ciphertext.count)])
        }
        return try withKey(key) { (k) throws(LedgerError) -> [UInt8] in
            try cbc(key: k, iv: iv, input: ciphertext, padding: padding, encrypt: false)
        }
    }

    /// Decrypts a ``CBCBox``; same rules as ``decrypt(_:using:iv:padding:)``.
    public func decrypt(_ box: CBCBox, using key: SymmetricKey, padding: Padding = .pkcs7) throws(LedgerError) -> [UInt8] {
        try decrypt(box.ciphertext, using: key, iv: box.iv, padding: padding)
    }

    private func checkIV(_ iv: [UInt8]) throws(LedgerError) {
        guard iv.count == blockSize else {
            throw LedgerError(.invalidNonceLength, "IV length \(iv.count), expected \(blockSize) for \(displayName)",
                              details: ["ivLength": String(iv.count)])
        }
    }

    private func cbc(key: UnsafePointer<UInt8>, iv: [UInt8], input: [UInt8], padding: Padding, encrypt: Bool) throws(LedgerError) -> [UInt8] {
        guard input.count <= Int(Int32.max) - 64 else {
            throw LedgerError(.invalidInputLength, "CBC input length \(input.count) exceeds the one-call limit \(Int(Int32.max) - 64)")
        }
        let context = try CipherContext()
        let ctx = context.ctx
        try iv.withUnsafeBufferPointer { (v) throws(LedgerError) in
            try opensslCheck(EVP_CipherInit_ex2(ctx, evp.cipher, key, v.baseAddress, encrypt ? 1 : 0, nil), "EVP_CipherInit_ex2 (CBC)")
        }
        EVP_CIPHER_CTX_set_padding(ctx, padding == .pkcs7 ? 1 : 0)
        var output = [UInt8](repeating: 0, count: input.count + 2 * blockSize)
        var written: Int32 = 0
        try CipherBytes.with(input) { (src, count) throws(LedgerError) in
            try output.withUnsafeMutableBufferPointer { (dst) throws(LedgerError) in
                try opensslCheck(EVP_CipherUpdate(ctx, dst.baseAddress, &written, src, Int32(count)), "EVP_CipherUpdate (CBC)")
            }
        }
        var tail: Int32 = 0
        let ok = output.withUnsafeMutableBufferPointer { dst in
            EVP_CipherFinal_ex(ctx, dst.baseAddress! + Int(written), &tail)
        }
        guard ok == 1 else {
            ERR_clear_error()
            output.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) }
            throw LedgerError(.badPadding, "\(displayName) PKCS#7 padding is invalid (wrong key, wrong IV or corrupted ciphertext)",
                              details: ["cipher": rawValue])
        }
        output.removeSubrange(Int(written + tail)...)
        return output
    }
}
