import COpenSSL
import CSecp256k1

/// secp256k1 ECDSA over 32-byte prehashes, with public-key recovery, as the
/// EVM's `ecrecover` and Ethereum transaction signatures need it. Backed by
/// libsecp256k1 (about 7x faster than OpenSSL on this curve).
///
/// ```swift
/// let sig = try Secp256k1.sign(digest: HashAlgorithm.keccak256.hash(tx).bytes, with: key)
/// let signer = try Secp256k1.recover(digest: digest, signature: sig)
/// ```
/// All functions are safe to call concurrently.
public enum Secp256k1 {
    /// Signs a 32-byte digest (no further hashing) with RFC 6979
    /// deterministic nonces. The result is always low-S and carries the
    /// recovery id: 65 bytes `r ‖ s ‖ v`, `v` ∈ {0, 1}.
    /// - Parameters:
    ///   - digest: Required. Exactly 32 bytes (for example a Keccak-256 hash).
    ///   - key: Required. A ``SignatureScheme/secp256k1`` private key.
    /// - Throws: `LedgerError` `.schemeMismatch` (1307) for a key of another
    ///   scheme, `.digestLength` (1401) when `digest` is not 32 bytes,
    ///   `.cryptoBackend` (1404) if libsecp256k1 fails.
    /// - Note: Safe to call concurrently.
    public static func sign(digest: [UInt8], with key: PrivateKey) throws(LedgerError) -> Signature {
        guard key.scheme == .secp256k1 else {
            throw LedgerError(.schemeMismatch, "key scheme \(key.scheme.rawValue), expected secp256k1",
                              details: ["scheme": key.scheme.rawValue])
        }
        return try signRecoverable(digest: digest, secret: key.secretBytes)
    }

    /// Recovers the public key that produced a recoverable signature over a
    /// 32-byte digest. High-S signatures are accepted (as `ecrecover` does);
    /// check ``PublicKey/isValidSignature(_:forDigest:requireLowS:)-(_,[UInt8],_)`` for
    /// transaction rules.
    /// - Parameters:
    ///   - digest: Required. Exactly 32 bytes.
    ///   - signature: Required. A 65-byte ``SignatureScheme/secp256k1``
    ///     signature with `v` ∈ {0, 1}.
    /// - Returns: The signer's public key (compressed raw form).
    /// - Throws: `LedgerError` `.schemeMismatch` (1307),
    ///   `.digestLength` (1401) for a wrong digest length,
    ///   `.recoveryFailed` (1308) when the signature has no recovery id or no
    ///   public key recovers from it.
    /// - Note: Safe to call concurrently.
    public static func recover(digest: [UInt8], signature: Signature) throws(LedgerError) -> PublicKey {
        guard signature.scheme == .secp256k1 else {
            throw LedgerError(.schemeMismatch, "signature scheme \(signature.scheme.rawValue), expected secp256k1",
                              details: ["scheme": signature.scheme.rawValue])
        }
        try checkDigest(digest)
        let raw = signature.rawRepresentation
        guard raw.count == 65 else {
            throw LedgerError(.recoveryFailed, "signature length \(raw.count) has no recovery id, expected 65 for secp256k1 recovery",
                              details: ["length": String(raw.count)])
        }
        let ctx = Secp256k1Context.shared.pointer
        var rsig = secp256k1_ecdsa_recoverable_signature()
        var pub = secp256k1_pubkey()
        let ok = raw.withUnsafeBufferPointer { r -> Bool in
            guard secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rsig, r.baseAddress!, Int32(r[64])) == 1 else { return false }
            return digest.withUnsafeBufferPointer { secp256k1_ecdsa_recover(ctx, &pub, &rsig, $0.baseAddress!) } == 1
        }
        guard ok else {
            throw LedgerError(.recoveryFailed, "no public key recovers from signature \(Hex.encode(raw))")
        }
        return try PublicKey(secp256k1: pub)
    }

    /// `sign(digest:with:)` for a ``Digest`` (for example a Keccak-256 hash).
    /// - Throws: `LedgerError` `.schemeMismatch` (1307), `.cryptoBackend` (1404).
    /// - Note: Safe to call concurrently.
    public static func sign(digest: Digest, with key: PrivateKey) throws(LedgerError) -> Signature {
        try sign(digest: digest.bytes, with: key)
    }

    /// `recover(digest:signature:)` for a ``Digest``.
    /// - Throws: `LedgerError` `.schemeMismatch` (1307), `.recoveryFailed` (1308).
    /// - Note: Safe to call concurrently.
    public static func recover(digest: Digest, signature: Signature) throws(LedgerError) -> PublicKey {
        try recover(digest: digest.bytes, signature: signature)
    }

    // MARK: - Internals shared with PrivateKey and PublicKey

    static func checkDigest(_ digest: [UInt8]) throws(LedgerError) {
        guard digest.count == 32 else {
            throw LedgerError(.digestLength, "digest length \(digest.count), expected 32",
                              details: ["length": String(digest.count)])
        }
    }

    static func signRecoverable(digest: [UInt8], secret: [UInt8]) throws(LedgerError) -> Signature {
        try checkDigest(digest)
        let ctx = Secp256k1Context.shared.pointer
        var rsig = secp256k1_ecdsa_recoverable_signature()
        var out = [UInt8](repeating: 0, count: 65)
        var recid: Int32 = 0
        let ok = digest.withUnsafeBufferPointer { d in
            secret.withUnsafeBufferPointer { k in
                secp256k1_ecdsa_sign_recoverable(ctx, &rsig, d.baseAddress!, k.baseAddress!, nil, nil)
            }
        }
        guard ok == 1 else { throw LedgerError(.cryptoBackend, "secp256k1_ecdsa_sign_recoverable failed") }
        _ = out.withUnsafeMutableBufferPointer { secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, $0.baseAddress!, &recid, &rsig) }
        // recid 2/3 needs r ≥ p - n: probability about 2^-128.
        guard recid == 0 || recid == 1 else {
            throw LedgerError(.cryptoBackend, "secp256k1 produced recovery id \(recid)")
        }
        out[64] = UInt8(recid)
        // libsecp256k1 always signs low-S; the recovery id already matches.
        return Signature(uncheckedScheme: .secp256k1, raw: out)
    }

    static func isValidSecret(_ secret: [UInt8]) -> Bool {
        secret.count == 32 && secret.withUnsafeBufferPointer { secp256k1_ec_seckey_verify(Secp256k1Context.shared.pointer, $0.baseAddress!) } == 1
    }

    static func publicKey(secret: [UInt8]) throws(LedgerError) -> secp256k1_pubkey {
        var pub = secp256k1_pubkey()
        guard secret.withUnsafeBufferPointer({ secp256k1_ec_pubkey_create(Secp256k1Context.shared.pointer, &pub, $0.baseAddress!) }) == 1 else {
            throw LedgerError(.invalidPrivateKey, "secp256k1 private key scalar is 0 or not below n")
        }
        return pub
    }

    static func parsePublicKey(_ sec1: [UInt8]) throws(LedgerError) -> secp256k1_pubkey {
        var pub = secp256k1_pubkey()
        guard sec1.withUnsafeBufferPointer({ secp256k1_ec_pubkey_parse(Secp256k1Context.shared.pointer, &pub, $0.baseAddress!, $0.count) }) == 1 else {
            throw LedgerError(.invalidPublicKey, "public key \(Hex.encode(sec1)) is not a point on the secp256k1 curve",
                              details: ["scheme": "secp256k1"])
        }
        return pub
    }

    static func serialize(_ pub: secp256k1_pubkey, compressed: Bool) -> [UInt8] {
        var p = pub
        var out = [UInt8](repeating: 0, count: compressed ? 33 : 65)
        var len = out.count
        let flags = compressed ? Secp256k1Context.compressedFlag : Secp256k1Context.uncompressedFlag
        _ = out.withUnsafeMutableBufferPointer { secp256k1_ec_pubkey_serialize(Secp256k1Context.shared.pointer, $0.baseAddress!, &len, &p, flags) }
        return out
    }

    /// Verifies `r ‖ s` (first 64 bytes of `rs`) over a 32-byte digest.
    /// With `requireLowS` false a high-S signature is normalised first.
    static func verify(rs: UnsafeBufferPointer<UInt8>, digest: UnsafeBufferPointer<UInt8>, key: secp256k1_pubkey) -> Bool {
        let ctx = Secp256k1Context.shared.pointer
        var sig = secp256k1_ecdsa_signature()
        guard secp256k1_ecdsa_signature_parse_compact(ctx, &sig, rs.baseAddress!) == 1 else { return false }
        var normalised = secp256k1_ecdsa_signature()
        _ = secp256k1_ecdsa_signature_normalize(ctx, &normalised, &sig)
        var k = key
        return secp256k1_ecdsa_verify(ctx, &normalised, digest.baseAddress!, &k) == 1
    }
}

/// The one libsecp256k1 context of the process, created and randomised once.
///
/// `@unchecked Sendable`: libsecp256k1 documents a context as safe for
/// concurrent use by every function that takes it as `const` (signing,
/// verification, key creation, parsing, recovery). The only mutating call,
/// `secp256k1_context_randomize`, runs once in the initialiser before the
/// context is published through the `static let` (whose lazy initialisation
/// Swift makes thread-safe). The context is never destroyed.
final class Secp256k1Context: @unchecked Sendable {
    let pointer: OpaquePointer

    /// `SECP256K1_CONTEXT_NONE`, `SECP256K1_EC_COMPRESSED`, `SECP256K1_EC_UNCOMPRESSED`
    /// (composite macros that Swift does not import).
    static let contextNone: UInt32 = 1 << 0
    static let compressedFlag: UInt32 = (1 << 1) | (1 << 8)
    static let uncompressedFlag: UInt32 = 1 << 1

    static let shared = Secp256k1Context()

    private init() {
        guard let ctx = secp256k1_context_create(Secp256k1Context.contextNone) else {
            preconditionFailure("secp256k1_context_create failed")
        }
        var seed = [UInt8](repeating: 0, count: 32)
        if seed.withUnsafeMutableBufferPointer({ RAND_bytes($0.baseAddress, 32) }) == 1 {
            _ = seed.withUnsafeBufferPointer { secp256k1_context_randomize(ctx, $0.baseAddress) }
        }
        pointer = ctx
    }
}
