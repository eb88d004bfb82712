import COpenSSL

/// ECB over one OpenSSL context, for known-answer tests (SM4 GB/T 32907,
/// NIST TDES ECB files) and for the long-nonce GCM path. Not public: ECB
/// leaks plaintext patterns and is no mode for data.
enum CipherECB {
    /// Encrypts or decrypts whole blocks with no padding, `iterations` times
    /// in a row (the output of one pass is the input of the next), reusing
    /// one context.
    static func run(_ algorithm: EVPCipherAlgorithm, key: UnsafePointer<UInt8>, input: [UInt8],
                    encrypt: Bool, iterations: Int = 1) throws(LedgerError) -> [UInt8] {
        let context = try CipherContext()
        let ctx = context.ctx
        try opensslCheck(EVP_CipherInit_ex2(ctx, algorithm.cipher, key, nil, encrypt ? 1 : 0, nil), "EVP_CipherInit_ex2 (ECB)")
        EVP_CIPHER_CTX_set_padding(ctx, 0)
        let block = Int(EVP_CIPHER_get_block_size(algorithm.cipher))
        guard input.count % block == 0 else {
            throw LedgerError(.invalidInputLength, "ECB input length \(input.count) is not a multiple of the block size \(block)",
                              details: ["length": String(input.count)])
        }
        var a = input
        var b = [UInt8](repeating: 0, count: input.count + block)
        guard !input.isEmpty else { return [] }
        for _ in 0..<iterations {
            var outLength: Int32 = 0
            let ok = a.withUnsafeBufferPointer { src in
                b.withUnsafeMutableBufferPointer { dst in
                    EVP_CipherUpdate(ctx, dst.baseAddress, &outLength, src.baseAddress, Int32(src.count))
                }
            }
            try opensslCheck(ok, "EVP_CipherUpdate (ECB)")
            guard Int(outLength) == input.count else {
                throw LedgerError(.cryptoBackend, "ECB produced \(outLength) bytes for \(input.count)")
            }
            a.withUnsafeMutableBufferPointer { dst in
                b.withUnsafeBufferPointer { src in dst.baseAddress!.update(from: src.baseAddress!, count: input.count) }
            }
        }
        return a
    }
}

extension SymmetricCipher {
    /// ECB encryption or decryption with the block cipher of this cipher
    /// (AES of the same key size, SM4, 3DES, DES), no padding. Known-answer
    /// tests only; not part of the public API.
    /// - Parameters:
    ///   - input: Required. A multiple of ``blockSize`` bytes.
    ///   - key: Required. One of ``acceptedKeyLengths``.
    ///   - encrypt: `true` to encrypt, `false` to decrypt.
    ///   - iterations: Optional, default 1. Applies the block cipher that
    ///     many times in a row (GB/T 32907 App. A example 2 uses 1,000,000).
    /// - Throws: `.invalidKeyLength` (1350), `.invalidInputLength` (1355).
    package func ecb(_ input: [UInt8], key: SymmetricKey, encrypt: Bool, iterations: Int = 1) throws(LedgerError) -> [UInt8] {
        try withKey(key) { (k) throws(LedgerError) -> [UInt8] in
            try CipherECB.run(ecb, key: k, input: input, encrypt: encrypt, iterations: iterations)
        }
    }
}
