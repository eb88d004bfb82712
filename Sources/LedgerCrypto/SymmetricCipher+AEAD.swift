import COpenSSL

extension SymmetricCipher {
    /// The output of ``SymmetricCipher/seal(_:using:nonce:authenticating:tagLength:)``:
    /// nonce, ciphertext (as long as the plaintext) and authentication tag.
    public struct SealedBox: Sendable, Hashable {
        /// The nonce the message was sealed with (1 byte or more; 12 by default).
        public var nonce: [UInt8]
        /// The ciphertext, the same length as the plaintext.
        public var ciphertext: [UInt8]
        /// The authentication tag, 12...16 bytes (16 by default).
        public var tag: [UInt8]

        /// Wraps the three parts; lengths are checked by `open`.
        public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
            self.nonce = nonce
            self.ciphertext = ciphertext
            self.tag = tag
        }

        /// `nonce ‖ ciphertext ‖ tag`, the usual wire form.
        public var combined: [UInt8] { nonce + ciphertext + tag }

        /// Splits `nonce ‖ ciphertext ‖ tag`.
        /// - Parameters:
        ///   - combined: Required. At least `nonceLength + tagLength` bytes.
        ///   - nonceLength: Optional, default 12. `1...`.
        ///   - tagLength: Optional, default 16. `12...16`.
        /// - Throws: `LedgerError` `.invalidNonceLength` (1351),
        ///   `.invalidTagLength` (1352), `.invalidInputLength` (1355) when
        ///   `combined` is shorter than nonce and tag together.
        public init(combined: [UInt8], nonceLength: Int = SymmetricCipher.defaultNonceLength,
                    tagLength: Int = SymmetricCipher.defaultTagLength) throws(LedgerError) {
            guard nonceLength >= 1 else {
                throw LedgerError(.invalidNonceLength, "nonce length \(nonceLength), expected at least 1")
            }
            guard SymmetricCipher.acceptedTagLengths.contains(tagLength) else {
                throw LedgerError(.invalidTagLength, "tag length \(tagLength), expected 12...16")
            }
            guard combined.count >= nonceLength + tagLength else {
                throw LedgerError(.invalidInputLength,
                                  "sealed box length \(combined.count), expected at least \(nonceLength + tagLength) (nonce \(nonceLength) + tag \(tagLength))",
                                  details: ["length": String(combined.count)])
            }
            nonce = Array(combined[0..<nonceLength])
            ciphertext = Array(combined[nonceLength..<(combined.count - tagLength)])
            tag = Array(combined[(combined.count - tagLength)...])
        }
    }

    /// The largest nonce OpenSSL 3.0's GCM takes; longer ones run through
    /// the SP 800-38D code in ``CipherGCMSoftware``.
    static let openSSLMaxNonceLength = 128

    /// SM4-GCM (absent from OpenSSL 3.0) and over-long nonces run in
    /// ``CipherGCMSoftware``; everything else in OpenSSL's GCM.
    func usesSoftwareGCM(nonce: [UInt8]) -> Bool {
        self == .sm4GCM || nonce.count > Self.openSSLMaxNonceLength
    }

    /// Encrypts and authenticates `plaintext`, and authenticates `aad`.
    ///
    /// - Parameters:
    ///   - plaintext: Required. Any length, including empty.
    ///   - key: Required. ``keyLength`` bytes (16, 24 or 32 for AES; 16 for SM4).
    ///   - nonce: Optional. At least 1 byte; 12 bytes is the standard
    ///     length. Default `nil`: 12 random bytes from ``SecureRandom``.
    ///     Never reuse a nonce with the same key.
    ///   - aad: Optional, default empty. Associated data authenticated but
    ///     not encrypted.
    ///   - tagLength: Optional, default 16. `12...16` bytes.
    /// - Returns: nonce, ciphertext and tag.
    /// - Throws: `LedgerError` `.cipherModeMismatch` (1360) for a CBC cipher,
    ///   `.invalidKeyLength` (1350), `.invalidNonceLength` (1351),
    ///   `.invalidTagLength` (1352), `.keyDestroyed` (1361),
    ///   `.cryptoBackend` (1404).
    /// - Note: Safe to call concurrently.
    public func seal(_ plaintext: [UInt8], using key: SymmetricKey, nonce: [UInt8]? = nil,
                     authenticating aad: [UInt8] = [], tagLength: Int = SymmetricCipher.defaultTagLength) throws(LedgerError) -> SealedBox {
        try requireMode(.gcm, "seal")
        guard Self.acceptedTagLengths.contains(tagLength) else {
            throw LedgerError(.invalidTagLength, "tag length \(tagLength), expected 12...16 for \(displayName)",
                              details: ["tagLength": String(tagLength)])
        }
        let nonce = nonce ?? SecureRandom.bytes(count: Self.defaultNonceLength)
        try checkNonce(nonce)
        let (ciphertext, tag) = try withKey(key) { (k) throws(LedgerError) -> ([UInt8], [UInt8]) in
            if usesSoftwareGCM(nonce: nonce) {
                let r = try CipherGCMSoftware.crypt(ecb, key: k, nonce: nonce, aad: aad, input: plaintext, encrypt: true)
                return (r.output, Array(r.tag.prefix(tagLength)))
            }
            return try gcmSeal(key: k, nonce: nonce, aad: aad, plaintext: plaintext, tagLength: tagLength)
        }
        return SealedBox(nonce: nonce, ciphertext: ciphertext, tag: tag)
    }

    /// Verifies and decrypts a sealed box. No plaintext is returned unless
    /// the tag verifies.
    ///
    /// - Parameters:
    ///   - box: Required. Nonce of at least 1 byte, tag of 12...16 bytes.
    ///   - key: Required. The key it was sealed with.
    ///   - aad: Optional, default empty. The associated data it was sealed with.
    /// - Returns: The plaintext.
    /// - Throws: `LedgerError` `.authenticationFailed` (1353) when the tag
    ///   does not verify (any tampering, wrong key, nonce or aad);
    ///   `.cipherModeMismatch` (1360), `.invalidKeyLength` (1350),
    ///   `.invalidNonceLength` (1351), `.invalidTagLength` (1352),
    ///   `.keyDestroyed` (1361), `.cryptoBackend` (1404).
    /// - Note: Safe to call concurrently. The tag comparison is constant-time.
    public func open(_ box: SealedBox, using key: SymmetricKey, authenticating aad: [UInt8] = []) throws(LedgerError) -> [UInt8] {
        try requireMode(.gcm, "open")
        try checkNonce(box.nonce)
        guard Self.acceptedTagLengths.contains(box.tag.count) else {
            throw LedgerError(.invalidTagLength, "tag length \(box.tag.count), expected 12...16 for \(displayName)",
                              details: ["tagLength": String(box.tag.count)])
        }
        return try withKey(key) { (k) throws(LedgerError) -> [UInt8] in
            if usesSoftwareGCM(nonce: box.nonce) {
                var r = try CipherGCMSoftware.crypt(ecb, key: k, nonce: box.nonce, aad: aad, input: box.ciphertext, encrypt: false)
                let ok = r.tag.withUnsafeBytes { t in box.tag.withUnsafeBytes { CRYPTO_memcmp(t.baseAddress, $0.baseAddress, box.tag.count) } }
                guard ok == 0 else {
                    r.output.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) }
                    throw authenticationFailure()
                }
                return r.output
            }
            return try gcmOpen(key: k, box: box, aad: aad)
        }
    }

    private func authenticationFailure() -> LedgerError {
        LedgerError(.authenticationFailed, "\(displayName) authentication failed: ciphertext, tag, nonce, associated data or key do not match",
                    details: ["cipher": rawValue])
    }

    private func checkNonce(_ nonce: [UInt8]) throws(LedgerError) {
        guard !nonce.isEmpty else {
            throw LedgerError(.invalidNonceLength, "nonce length 0, expected at least 1 byte (12 recommended) for \(displayName)",
                              details: ["nonceLength": "0"])
        }
    }

    private func gcmInit(_ ctx: OpaquePointer, key: UnsafePointer<UInt8>, nonce: [UInt8], aad: [UInt8], encrypt: Bool) throws(LedgerError) {
        try opensslCheck(EVP_CipherInit_ex2(ctx, evp.cipher, nil, nil, encrypt ? 1 : 0, nil), "EVP_CipherInit_ex2 (GCM)")
        guard forgechain_cipher_set_ivlen(ctx, nonce.count) == 1 else {
            ERR_clear_error()
            throw LedgerError(.invalidNonceLength, "nonce length \(nonce.count) not accepted by \(displayName)",
                              details: ["nonceLength": String(nonce.count)])
        }
        try nonce.withUnsafeBufferPointer { (n) throws(LedgerError) in
            try opensslCheck(EVP_CipherInit_ex2(ctx, nil, key, n.baseAddress, -1, nil), "EVP_CipherInit_ex2 (GCM key)")
        }
        if !aad.isEmpty {
            var outLength: Int32 = 0
            try aad.withUnsafeBufferPointer { (a) throws(LedgerError) in
                try opensslCheck(EVP_CipherUpdate(ctx, nil, &outLength, a.baseAddress, Int32(a.count)), "EVP_CipherUpdate (AAD)")
            }
        }
    }

    /// Runs `input` through the context in chunks that fit an `Int32`.
    private func update(_ ctx: OpaquePointer, _ input: [UInt8]) throws(LedgerError) -> [UInt8] {
        guard !input.isEmpty else { return [] }
        var output = [UInt8](repeating: 0, count: input.count + 32)
        var written = 0
        try input.withUnsafeBufferPointer { (src) throws(LedgerError) in
            try output.withUnsafeMutableBufferPointer { (dst) throws(LedgerError) in
                var offset = 0
                while offset < src.count {
                    let n = min(src.count - offset, 1 << 30)
                    var outLength: Int32 = 0
                    try opensslCheck(EVP_CipherUpdate(ctx, dst.baseAddress! + written, &outLength, src.baseAddress! + offset, Int32(n)),
                                     "EVP_CipherUpdate")
                    written += Int(outLength)
                    offset += n
                }
            }
        }
        output.removeSubrange(written...)
        return output
    }

    private func gcmSeal(key: UnsafePointer<UInt8>, nonce: [UInt8], aad: [UInt8], plaintext: [UInt8],
                         tagLength: Int) throws(LedgerError) -> ([UInt8], [UInt8]) {
        let context = try CipherContext()
        try gcmInit(context.ctx, key: key, nonce: nonce, aad: aad, encrypt: true)
        var ciphertext = try update(context.ctx, plaintext)
        var tail = [UInt8](repeating: 0, count: 32)
        var outLength: Int32 = 0
        try opensslCheck(EVP_EncryptFinal_ex(context.ctx, &tail, &outLength), "EVP_EncryptFinal_ex (GCM)")
        ciphertext += tail.prefix(Int(outLength))
        var tag = [UInt8](repeating: 0, count: tagLength)
        try opensslCheck(forgechain_cipher_get_tag(context.ctx, &tag, tagLength), "get GCM tag")
        return (ciphertext, tag)
    }

    private func gcmOpen(key: UnsafePointer<UInt8>, box: SealedBox, aad: [UInt8]) throws(LedgerError) -> [UInt8] {
        let context = try CipherContext()
        try gcmInit(context.ctx, key: key, nonce: box.nonce, aad: aad, encrypt: false)
        var plaintext = try update(context.ctx, box.ciphertext)
        var tag = box.tag
        try opensslCheck(forgechain_cipher_set_tag(context.ctx, &tag, tag.count), "set GCM tag")
        var tail = [UInt8](repeating: 0, count: 32)
        var outLength: Int32 = 0
        guard EVP_DecryptFinal_ex(context.ctx, &tail, &outLength) == 1 else {
            ERR_clear_error()
            plaintext.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) }
            throw authenticationFailure()
        }
        return plaintext + tail.prefix(Int(outLength))
    }
}
