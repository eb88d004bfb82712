import COpenSSL

/// Owns one OpenSSL `EVP_PKEY` and frees it in `deinit`.
///
/// `@unchecked Sendable`: the key is fully built before the initialiser
/// returns and never mutated afterwards. OpenSSL 3 allows one `EVP_PKEY` to
/// be used by several threads at once for read-only operations: each sign or
/// verify call here creates its own `EVP_MD_CTX`/`EVP_PKEY_CTX`, and the
/// provider-export cache inside the key is guarded by the key's own lock.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer

    init(owning pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// An Ed25519 key from a 32-byte seed.
    static func ed25519(seed: [UInt8]) throws(LedgerError) -> EVPKey {
        guard let p = seed.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) }) else {
            throw OpenSSLError.backend("EVP_PKEY_new_raw_private_key(ED25519)")
        }
        return EVPKey(owning: p)
    }

    /// An Ed25519 key from a 32-byte public key.
    static func ed25519(publicKey: [UInt8]) throws(LedgerError) -> EVPKey {
        guard let p = publicKey.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) }) else {
            throw LedgerError(.invalidPublicKey, "Ed25519 public key \(Hex.encode(publicKey)) rejected by OpenSSL")
        }
        return EVPKey(owning: p)
    }

    /// Wraps an EC key; an SM2-curve key becomes an `EVP_PKEY_SM2` key.
    static func wrapping(_ ec: ECKey) throws(LedgerError) -> EVPKey {
        guard let p = EVP_PKEY_new() else { throw OpenSSLError.backend("EVP_PKEY_new") }
        guard EVP_PKEY_set1_EC_KEY(p, ec.pointer) == 1 else {
            EVP_PKEY_free(p)
            throw OpenSSLError.backend("EVP_PKEY_set1_EC_KEY")
        }
        return EVPKey(owning: p)
    }

    /// The raw 32-byte Ed25519 public key.
    func rawEd25519PublicKey() throws(LedgerError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len = 32
        guard out.withUnsafeMutableBufferPointer({ EVP_PKEY_get_raw_public_key(pointer, $0.baseAddress, &len) }) == 1, len == 32 else {
            throw OpenSSLError.backend("EVP_PKEY_get_raw_public_key")
        }
        return out
    }

    /// One-shot `EVP_DigestSign`. `digestName` nil means no digest (Ed25519);
    /// `sm2ID` sets the SM2 distinguishing identifier.
    func digestSign(_ message: [UInt8], digestName: StaticString?, sm2ID: StaticString? = nil) throws(LedgerError) -> [UInt8] {
        guard let mctx = EVP_MD_CTX_new() else { throw OpenSSLError.backend("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(mctx) }
        var pctx: OpaquePointer?
        let initOK = withOptionalCString(digestName) { md in
            EVP_DigestSignInit_ex(mctx, &pctx, md, nil, nil, pointer, nil)
        }
        guard initOK == 1 else { throw OpenSSLError.backend("EVP_DigestSignInit_ex") }
        if let id = sm2ID {
            guard EVP_PKEY_CTX_set1_id(pctx, id.utf8Start, Int32(id.utf8CodeUnitCount)) == 1 else {
                throw OpenSSLError.backend("EVP_PKEY_CTX_set1_id")
            }
        }
        var sigLen = 0
        guard message.withUnsafeBufferPointer({ EVP_DigestSign(mctx, nil, &sigLen, $0.baseAddress, $0.count) }) == 1 else {
            throw OpenSSLError.backend("EVP_DigestSign (size)")
        }
        var sig = [UInt8](repeating: 0, count: sigLen)
        let ok = sig.withUnsafeMutableBufferPointer { s in
            message.withUnsafeBufferPointer { m in
                EVP_DigestSign(mctx, s.baseAddress, &sigLen, m.baseAddress, m.count)
            }
        }
        guard ok == 1 else { throw OpenSSLError.backend("EVP_DigestSign") }
        return Array(sig.prefix(sigLen))
    }

    /// One-shot `EVP_DigestVerify`; true only when OpenSSL returns 1.
    func digestVerify(_ signature: [UInt8], _ message: [UInt8], digestName: StaticString?, sm2ID: StaticString? = nil) -> Bool {
        guard let mctx = EVP_MD_CTX_new() else { return false }
        defer {
            EVP_MD_CTX_free(mctx)
            ERR_clear_error()
        }
        var pctx: OpaquePointer?
        let initOK = withOptionalCString(digestName) { md in
            EVP_DigestVerifyInit_ex(mctx, &pctx, md, nil, nil, pointer, nil)
        }
        guard initOK == 1 else { return false }
        if let id = sm2ID {
            guard EVP_PKEY_CTX_set1_id(pctx, id.utf8Start, Int32(id.utf8CodeUnitCount)) == 1 else { return false }
        }
        let ok = signature.withUnsafeBufferPointer { s in
            message.withUnsafeBufferPointer { m in
                EVP_DigestVerify(mctx, s.baseAddress, s.count, m.baseAddress, m.count)
            }
        }
        return ok == 1
    }

    private func withOptionalCString<R>(_ s: StaticString?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let s else { return body(nil) }
        return s.utf8Start.withMemoryRebound(to: CChar.self, capacity: s.utf8CodeUnitCount + 1) { body($0) }
    }
}

/// Owns one low-level OpenSSL `EC_KEY` (deprecated in 3.0 but present, and
/// the fastest ECDSA path: `ECDSA_do_verify` skips the EVP provider dispatch
/// that costs about 10% per P-256 verification).
///
/// `@unchecked Sendable`: the key is fully built in the initialiser and only
/// read afterwards; `ECDSA_do_sign`/`ECDSA_do_verify` take it as read-only
/// input (nonces come from OpenSSL's thread-safe DRBG), so concurrent use
/// from several threads is safe.
final class ECKey: @unchecked Sendable {
    let pointer: OpaquePointer
    let scheme: SignatureScheme

    private init(owning pointer: OpaquePointer, scheme: SignatureScheme) {
        self.pointer = pointer
        self.scheme = scheme
    }

    deinit { EC_KEY_free(pointer) }

    /// A new empty key on the scheme's curve. Copies a shared, pre-built
    /// group (about 1 µs) instead of building one by name (about 14 µs).
    private static func new(_ scheme: SignatureScheme) throws(LedgerError) -> ECKey {
        guard let group = ECGroup.shared(scheme)?.pointer, let p = EC_KEY_new() else {
            throw OpenSSLError.backend("EC_KEY_new(\(scheme.rawValue))")
        }
        let key = ECKey(owning: p, scheme: scheme)
        guard EC_KEY_set_group(p, group) == 1 else {
            throw OpenSSLError.backend("EC_KEY_set_group(\(scheme.rawValue))")
        }
        return key
    }

    /// Parses a SEC1 point (33-byte compressed or 65-byte uncompressed;
    /// the caller has checked length and prefix). OpenSSL checks that the
    /// point is on the curve.
    static func publicKey(_ scheme: SignatureScheme, sec1: [UInt8]) throws(LedgerError) -> ECKey {
        let key = try new(scheme)
        let ok = sec1.withUnsafeBufferPointer { EC_KEY_oct2key(key.pointer, $0.baseAddress, $0.count, nil) }
        ERR_clear_error()
        guard ok == 1 else {
            throw LedgerError(.invalidPublicKey, "public key \(Hex.encode(sec1)) is not a point on the \(scheme.rawValue) curve",
                              details: ["scheme": scheme.rawValue])
        }
        return key
    }

    /// A key pair from a 32-byte scalar already checked to be in `[1, n-1]`.
    static func privateKey(_ scheme: SignatureScheme, scalar: [UInt8]) throws(LedgerError) -> ECKey {
        let key = try new(scheme)
        guard let d = scalar.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, 32, nil) }) else {
            throw OpenSSLError.backend("BN_bin2bn")
        }
        defer { BN_clear_free(d) }
        BN_set_flags(d, BN_FLG_CONSTTIME)
        guard let group = EC_KEY_get0_group(key.pointer), let point = EC_POINT_new(group) else {
            throw OpenSSLError.backend("EC_POINT_new")
        }
        defer { EC_POINT_free(point) }
        guard EC_POINT_mul(group, point, d, nil, nil, nil) == 1,
              EC_KEY_set_private_key(key.pointer, d) == 1,
              EC_KEY_set_public_key(key.pointer, point) == 1 else {
            throw OpenSSLError.backend("EC_POINT_mul / EC_KEY_set_private_key")
        }
        return key
    }

    /// The public point in SEC1 form (33 bytes compressed or 65 uncompressed).
    func publicPoint(compressed: Bool) throws(LedgerError) -> [UInt8] {
        guard let group = EC_KEY_get0_group(pointer), let point = EC_KEY_get0_public_key(pointer) else {
            throw OpenSSLError.backend("EC_KEY_get0_public_key")
        }
        let form = compressed ? POINT_CONVERSION_COMPRESSED : POINT_CONVERSION_UNCOMPRESSED
        var out = [UInt8](repeating: 0, count: compressed ? 33 : 65)
        let n = out.withUnsafeMutableBufferPointer { EC_POINT_point2oct(group, point, form, $0.baseAddress, $0.count, nil) }
        guard n == out.count else { throw OpenSSLError.backend("EC_POINT_point2oct") }
        return out
    }

    /// ECDSA over a 32-byte digest; returns `r ‖ s` (64 bytes), `s` as
    /// OpenSSL produced it (not yet normalised).
    func ecdsaSign(digest: [UInt8]) throws(LedgerError) -> [UInt8] {
        guard let sig = digest.withUnsafeBufferPointer({ ECDSA_do_sign($0.baseAddress, Int32($0.count), pointer) }) else {
            throw OpenSSLError.backend("ECDSA_do_sign")
        }
        defer { ECDSA_SIG_free(sig) }
        var out = [UInt8](repeating: 0, count: 64)
        let ok = out.withUnsafeMutableBufferPointer { o -> Bool in
            guard let r = ECDSA_SIG_get0_r(sig), let s = ECDSA_SIG_get0_s(sig) else { return false }
            return BN_bn2binpad(r, o.baseAddress, 32) == 32 && BN_bn2binpad(s, o.baseAddress! + 32, 32) == 32
        }
        guard ok else { throw OpenSSLError.backend("BN_bn2binpad") }
        return out
    }

    /// ECDSA verification of `r ‖ s` (64 bytes) over a 32-byte digest.
    func ecdsaVerify(rs: UnsafeBufferPointer<UInt8>, digest: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let sig = ECDSA_SIG_new() else { return false }
        defer { ECDSA_SIG_free(sig) }
        guard let r = BN_bin2bn(rs.baseAddress, 32, nil) else { return false }
        guard let s = BN_bin2bn(rs.baseAddress! + 32, 32, nil) else {
            BN_free(r)
            return false
        }
        guard ECDSA_SIG_set0(sig, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            return false
        }
        let ok = ECDSA_do_verify(digest.baseAddress, Int32(digest.count), sig, pointer)
        if ok != 1 { ERR_clear_error() }
        return ok == 1
    }
}

/// One `EC_GROUP` per curve, built once and shared by every key.
///
/// `@unchecked Sendable`: the group is fully built in the initialiser and
/// only read afterwards (`EC_KEY_set_group` copies it); OpenSSL functions
/// take it as `const`, so reading it from many threads at once is safe. It
/// lives as long as the process and is never freed.
final class ECGroup: @unchecked Sendable {
    let pointer: OpaquePointer

    private init?(nid: Int32) {
        guard let g = EC_GROUP_new_by_curve_name(nid) else { return nil }
        pointer = g
    }

    private static let p256 = ECGroup(nid: NID_X9_62_prime256v1)
    private static let secp256k1 = ECGroup(nid: NID_secp256k1)
    private static let sm2 = ECGroup(nid: NID_sm2)

    static func shared(_ scheme: SignatureScheme) -> ECGroup? {
        switch scheme {
        case .p256: return p256
        case .secp256k1: return secp256k1
        case .sm2: return sm2
        case .ed25519: return nil
        }
    }
}

/// Maps OpenSSL internal failures to `LedgerError`.
enum OpenSSLError {
    static func backend(_ function: String) -> LedgerError {
        let code = ERR_get_error()
        ERR_clear_error()
        return LedgerError(.cryptoBackend, "OpenSSL \(function) failed (error 0x\(String(code, radix: 16)))",
                           details: ["function": function])
    }
}
