import COpenSSL

extension EVPKey {
    /// SM2 public-key encryption (GB/T 32918.4) with SM3, through
    /// `EVP_PKEY_encrypt` on an `EVP_PKEY_SM2` key. OpenSSL returns the
    /// GM/T 0009-2012 DER form `SEQUENCE { INTEGER x1, INTEGER y1,
    /// OCTET STRING C3, OCTET STRING C2 }`.
    /// - Throws: `LedgerError` `.cryptoBackend` (1404).
    func sm2Encrypt(_ plaintext: [UInt8]) throws(LedgerError) -> [UInt8] {
        guard let ctx = EVP_PKEY_CTX_new(pointer, nil) else { throw OpenSSLError.backend("EVP_PKEY_CTX_new (SM2 encrypt)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_encrypt_init(ctx) == 1 else { throw OpenSSLError.backend("EVP_PKEY_encrypt_init (SM2)") }
        var length = 0
        let sized = plaintext.withUnsafeBufferPointer { EVP_PKEY_encrypt(ctx, nil, &length, $0.baseAddress, $0.count) }
        guard sized == 1 else { throw OpenSSLError.backend("EVP_PKEY_encrypt (SM2 size)") }
        var out = [UInt8](repeating: 0, count: length)
        let ok = out.withUnsafeMutableBufferPointer { o in
            plaintext.withUnsafeBufferPointer { EVP_PKEY_encrypt(ctx, o.baseAddress, &length, $0.baseAddress, $0.count) }
        }
        guard ok == 1 else { throw OpenSSLError.backend("EVP_PKEY_encrypt (SM2)") }
        if length < out.count { out.removeSubrange(length...) }
        return out
    }

    /// True when `der` is exactly one strict-DER GM/T 0009 SM2 ciphertext:
    /// `SEQUENCE { INTEGER x1, INTEGER y1, OCTET STRING C3, OCTET STRING C2 }`
    /// with non-negative minimal integers of at most 32 bytes, a 32-byte C3
    /// (SM3) and a non-empty C2, and no trailing bytes. OpenSSL's
    /// `d2i_SM2_Ciphertext` alone ignores bytes after the SEQUENCE.
    static func isStrictSM2Ciphertext(_ der: [UInt8]) -> Bool {
        do {
            var outer = DERReader(der)
            var seq = try outer.nested(tag: 0x30)
            try outer.requireEnd()
            guard try seq.readUnsignedInteger().count <= 32, try seq.readUnsignedInteger().count <= 32,
                  try seq.read(tag: 0x04).count == 32, !(try seq.read(tag: 0x04).isEmpty) else { return false }
            try seq.requireEnd()
            return true
        } catch {
            return false
        }
    }

    /// SM2 decryption of the GM/T 0009 DER form. Returns nil on any failure
    /// (not strict DER, trailing bytes, C1 not on the curve, C3 mismatch);
    /// the OpenSSL error queue is cleared so that no reason leaks to the caller.
    func sm2Decrypt(_ ciphertext: [UInt8]) -> [UInt8]? {
        defer { ERR_clear_error() }
        guard Self.isStrictSM2Ciphertext(ciphertext), let ctx = EVP_PKEY_CTX_new(pointer, nil) else { return nil }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_decrypt_init(ctx) == 1 else { return nil }
        var length = 0
        let sized = ciphertext.withUnsafeBufferPointer { EVP_PKEY_decrypt(ctx, nil, &length, $0.baseAddress, $0.count) }
        guard sized == 1 else { return nil }
        // OpenSSL may report 0 for an empty message; keep one byte so the
        // buffer has an address.
        var out = [UInt8](repeating: 0, count: max(length, 1))
        let ok = out.withUnsafeMutableBufferPointer { o in
            ciphertext.withUnsafeBufferPointer { EVP_PKEY_decrypt(ctx, o.baseAddress, &length, $0.baseAddress, $0.count) }
        }
        guard ok == 1, length <= out.count else {
            out.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) }
            return nil
        }
        out.removeSubrange(length...)
        return out
    }
}
