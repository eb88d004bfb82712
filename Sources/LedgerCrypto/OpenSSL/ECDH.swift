import COpenSSL

extension EVPKey {
    /// Raw ECDH (`EVP_PKEY_derive`): the x-coordinate of `d · Q_peer`,
    /// left-padded to the field size (32 bytes for P-256 and SM2).
    ///
    /// `self` must hold a private key and `peer` a public key on the same
    /// curve. Each call builds its own `EVP_PKEY_CTX`, so concurrent calls
    /// on shared keys are safe.
    /// - Throws: `LedgerError` `.invalidPublicKey` (1304) when OpenSSL
    ///   refuses the peer key, `.cryptoBackend` (1404) for other failures.
    func deriveSharedSecret(with peer: EVPKey) throws(LedgerError) -> [UInt8] {
        guard let ctx = EVP_PKEY_CTX_new(pointer, nil) else { throw OpenSSLError.backend("EVP_PKEY_CTX_new (ECDH)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_derive_init(ctx) == 1 else { throw OpenSSLError.backend("EVP_PKEY_derive_init") }
        guard EVP_PKEY_derive_set_peer(ctx, peer.pointer) == 1 else {
            ERR_clear_error()
            throw LedgerError(.invalidPublicKey, "ECDH peer public key rejected by OpenSSL")
        }
        var length = 0
        guard EVP_PKEY_derive(ctx, nil, &length) == 1, length > 0 else { throw OpenSSLError.backend("EVP_PKEY_derive (size)") }
        var secret = [UInt8](repeating: 0, count: length)
        let ok = secret.withUnsafeMutableBufferPointer { EVP_PKEY_derive(ctx, $0.baseAddress, &length) }
        guard ok == 1 else {
            secret.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) }
            throw OpenSSLError.backend("EVP_PKEY_derive")
        }
        if length < secret.count { secret.removeSubrange(length...) }
        return secret
    }
}
