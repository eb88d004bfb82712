import COpenSSL

/// A signing key of one ``SignatureScheme``, with its public key.
///
/// ```swift
/// let key = try PrivateKey.generate(.p256)
/// let sig = try key.signature(for: Array("hello".utf8))
/// #expect(key.publicKey.isValidSignature(sig, for: Array("hello".utf8)))
/// ```
/// Immutable; safe to share and to sign from several threads at once.
/// `CustomStringConvertible` deliberately prints no secret material.
public struct PrivateKey: Sendable, CustomStringConvertible {
    /// The scheme of the key.
    public let scheme: SignatureScheme
    /// The matching public key (computed once at init).
    public let publicKey: PublicKey
    /// The 32-byte scalar (EC) or seed (Ed25519).
    let secretBytes: [UInt8]
    let backend: PrivateKeyBackend

    /// The SM2 distinguishing identifier of GM/T 0009-2012 used for `Z_A`.
    static let sm2DefaultID: StaticString = "1234567812345678"

    /// Generates a new key from OpenSSL's CSPRNG (`RAND_priv_bytes`).
    /// EC scalars are drawn uniformly from `[1, n-1]` by rejection sampling.
    /// - Parameter scheme: Required.
    /// - Throws: `LedgerError` `.cryptoBackend` (1404) if the random source fails.
    /// - Note: Safe to call concurrently.
    public static func generate(_ scheme: SignatureScheme) throws(LedgerError) -> PrivateKey {
        for _ in 0..<64 {
            var bytes = [UInt8](repeating: 0, count: 32)
            guard bytes.withUnsafeMutableBufferPointer({ RAND_priv_bytes($0.baseAddress, 32) }) == 1 else {
                throw OpenSSLError.backend("RAND_priv_bytes")
            }
            if scheme == .ed25519 || Self.isValidScalar(bytes, scheme) {
                return try PrivateKey(scheme: scheme, rawRepresentation: bytes)
            }
        }
        throw LedgerError(.cryptoBackend, "random source produced no valid \(scheme.rawValue) scalar in 64 draws")
    }

    /// Imports a raw private key.
    /// - Parameters:
    ///   - scheme: Required.
    ///   - rawRepresentation: Required. 32 bytes: a big-endian scalar in
    ///     `[1, n-1]` for p256 and secp256k1, `[1, n-2]` for SM2 (GB/T 32918
    ///     needs `1 + d` invertible), or any 32-byte seed for Ed25519.
    /// - Throws: `LedgerError` `.invalidPrivateKey` (1305).
    /// - Note: Safe to call concurrently.
    public init(scheme: SignatureScheme, rawRepresentation: [UInt8]) throws(LedgerError) {
        let raw = rawRepresentation
        guard raw.count == 32 else {
            throw LedgerError(.invalidPrivateKey, "private key length \(raw.count), expected 32 for \(scheme.rawValue)",
                              details: ["scheme": scheme.rawValue, "length": String(raw.count)])
        }
        guard scheme == .ed25519 || Self.isValidScalar(raw, scheme) else {
            let range = scheme == .sm2 ? "[1, n-2]" : "[1, n-1]"
            throw LedgerError(.invalidPrivateKey, "private key scalar is not in \(range) for \(scheme.rawValue)",
                              details: ["scheme": scheme.rawValue])
        }
        switch scheme {
        case .ed25519:
            let evp = try EVPKey.ed25519(seed: raw)
            let pub = try evp.rawEd25519PublicKey()
            publicKey = try PublicKey(scheme: .ed25519, rawRepresentation: pub)
            backend = PrivateKeyBackend(evp: evp)
        case .secp256k1:
            publicKey = try PublicKey(secp256k1: Secp256k1.publicKey(secret: raw))
            backend = PrivateKeyBackend()
        case .p256, .sm2:
            let ec = try ECKey.privateKey(scheme, scalar: raw)
            publicKey = try PublicKey(scheme: scheme, rawRepresentation: ec.publicPoint(compressed: true))
            backend = PrivateKeyBackend(ec: ec, evp: scheme == .sm2 ? try EVPKey.wrapping(ec) : nil)
        }
        self.scheme = scheme
        self.secretBytes = raw
    }

    private static func isValidScalar(_ raw: [UInt8], _ scheme: SignatureScheme) -> Bool {
        guard CurveConstants.isInRange(raw, below: scheme.order) else { return false }
        if scheme == .sm2 {
            // d = n - 1 makes 1 + d ≡ 0 (mod n), which has no inverse.
            return CurveConstants.compare(raw, CurveConstants.subtract(scheme.order, [UInt8](repeating: 0, count: 31) + [1])) != 0
        }
        return true
    }

    /// The 32-byte scalar (EC) or seed (Ed25519). Handle with care: this is
    /// the secret.
    public var rawRepresentation: [UInt8] { secretBytes }

    /// Never shows the secret.
    public var description: String { "PrivateKey(\(scheme.rawValue), public: \(Hex.encode(publicKey.rawRepresentation)))" }

    // MARK: - Signing

    /// Signs a message, hashing it as the scheme prescribes: SHA-256 for
    /// p256 and secp256k1, SM3 over `Z_A ‖ M` with the default user ID for
    /// SM2, nothing extra for Ed25519 (deterministic, RFC 8032).
    ///
    /// ECDSA signatures are always low-S; secp256k1 signatures are
    /// recoverable (65 bytes, RFC 6979 nonces). p256 and SM2 use random nonces.
    /// - Parameter message: Required. Any length.
    /// - Returns: A signature in raw form.
    /// - Throws: `LedgerError` `.cryptoBackend` (1404) if the backend fails.
    /// - Note: Safe to call concurrently.
    public func signature(for message: [UInt8]) throws(LedgerError) -> Signature {
        switch scheme {
        case .p256, .secp256k1:
            return try signature(forDigest: HashAlgorithm.sha256.hash(message).bytes)
        case .sm2:
            guard let evp = backend.evp else { throw LedgerError(.cryptoBackend, "SM2 key has no EVP key") }
            let der = try evp.digestSign(message, digestName: "SM3", sm2ID: Self.sm2DefaultID)
            return try Signature(scheme: .sm2, derRepresentation: der)
        case .ed25519:
            guard let evp = backend.evp else { throw LedgerError(.cryptoBackend, "Ed25519 key has no EVP key") }
            let sig = try evp.digestSign(message, digestName: nil)
            return try Signature(scheme: .ed25519, rawRepresentation: sig)
        }
    }

    /// Signs a 32-byte prehash with ECDSA (p256 or secp256k1). The result is
    /// low-S; for secp256k1 it is recoverable (same as ``Secp256k1/sign(digest:with:)-([UInt8],_)``).
    /// - Parameter digest: Required. Exactly 32 bytes, hashed by the caller.
    /// - Throws: `LedgerError` `.schemeMismatch` (1307) for SM2 and Ed25519,
    ///   `.digestLength` (1401) for a digest that is not 32 bytes,
    ///   `.cryptoBackend` (1404).
    /// - Note: Safe to call concurrently.
    public func signature(forDigest digest: [UInt8]) throws(LedgerError) -> Signature {
        switch scheme {
        case .secp256k1:
            return try Secp256k1.signRecoverable(digest: digest, secret: secretBytes)
        case .p256:
            try Secp256k1.checkDigest(digest)
            guard let ec = backend.ec else { throw LedgerError(.cryptoBackend, "P-256 key has no EC key") }
            let rs = try ec.ecdsaSign(digest: digest)
            return Signature(uncheckedScheme: .p256, raw: rs).normalizedToLowS
        case .sm2, .ed25519:
            throw LedgerError(.schemeMismatch, "scheme \(scheme.rawValue) has no prehashed signing; expected p256 or secp256k1",
                              details: ["scheme": scheme.rawValue])
        }
    }

    /// Signs a ``Digest`` with ECDSA; the same as `signature(forDigest:)` on `digest.bytes`.
    /// - Parameter digest: Required. A 32-byte digest, hashed by the caller.
    /// - Throws: `LedgerError` `.schemeMismatch` (1307), `.cryptoBackend` (1404).
    /// - Note: Safe to call concurrently.
    public func signature(forDigest digest: Digest) throws(LedgerError) -> Signature {
        try signature(forDigest: digest.bytes)
    }

    // MARK: - PKCS#8

    /// Parses a DER PKCS#8 `PrivateKeyInfo` (RFC 5208/5958): EC keys as
    /// `id-ecPublicKey` + curve OID (prime256v1, secp256k1, SM2) wrapping an
    /// RFC 5915 `ECPrivateKey`; Ed25519 as RFC 8410. An embedded public key,
    /// if present, must match the private key.
    /// - Parameter derRepresentation: Required. Strict DER.
    /// - Throws: `LedgerError` `.keyEncoding` (1306), `.invalidPrivateKey` (1305).
    /// - Note: Safe to call concurrently.
    public init(derRepresentation: [UInt8]) throws(LedgerError) {
        let scheme: SignatureScheme
        var secret: [UInt8]
        var embeddedPublic: [UInt8]?
        do {
            var outer = DERReader(derRepresentation)
            var info = try outer.nested(tag: 0x30)
            try outer.requireEnd()
            let version = try info.readUnsignedInteger()
            guard version.count <= 1, (version.first ?? 0) <= 1 else {
                throw LedgerError(.keyEncoding, "PKCS#8 version \(Hex.encode(version)) is not 0 or 1")
            }
            var alg = try info.nested(tag: 0x30)
            let algOID = KeyOID.tlv(try alg.read(tag: 0x06))
            let privateOctets = try info.read(tag: 0x04)
            if algOID == KeyOID.ed25519 {
                try alg.requireEnd()
                scheme = .ed25519
                var inner = DERReader(Array(privateOctets))
                secret = Array(try inner.read(tag: 0x04))
                try inner.requireEnd()
            } else if algOID == KeyOID.ecPublicKey {
                let curve = KeyOID.tlv(try alg.read(tag: 0x06))
                try alg.requireEnd()
                guard let s = KeyOID.scheme(curve: curve) else {
                    throw LedgerError(.keyEncoding, "PKCS#8 names unsupported curve OID \(Hex.encode(curve))")
                }
                scheme = s
                var innerOuter = DERReader(Array(privateOctets))
                var ecKey = try innerOuter.nested(tag: 0x30)
                try innerOuter.requireEnd()
                let ecVersion = try ecKey.readUnsignedInteger()
                guard Array(ecVersion) == [1] else {
                    throw LedgerError(.keyEncoding, "ECPrivateKey version \(Hex.encode(ecVersion)), expected 1")
                }
                let d = try ecKey.read(tag: 0x04)
                guard d.count <= 32, !d.isEmpty else {
                    throw LedgerError(.keyEncoding, "ECPrivateKey scalar is \(d.count) bytes, expected 32")
                }
                secret = [UInt8](repeating: 0, count: 32 - d.count) + d
                if ecKey.peekTag == 0xA0 {
                    var params = try ecKey.nested(tag: 0xA0)
                    guard KeyOID.tlv(try params.read(tag: 0x06)) == curve else {
                        throw LedgerError(.keyEncoding, "ECPrivateKey parameters name another curve than the PKCS#8 algorithm")
                    }
                    try params.requireEnd()
                }
                if ecKey.peekTag == 0xA1 {
                    var pub = try ecKey.nested(tag: 0xA1)
                    let bits = try pub.read(tag: 0x03)
                    try pub.requireEnd()
                    guard bits.first == 0 else { throw LedgerError(.keyEncoding, "ECPrivateKey public key BIT STRING has unused bits") }
                    embeddedPublic = Array(bits.dropFirst())
                }
                try ecKey.requireEnd()
            } else {
                throw LedgerError(.keyEncoding, "PKCS#8 names unsupported algorithm OID \(Hex.encode(algOID))")
            }
            // Optional [0] attributes and [1] publicKey (RFC 5958) are ignored.
            if info.peekTag == 0xA0 { _ = try info.read(tag: 0xA0) }
            if info.peekTag == 0x81 { _ = try info.read(tag: 0x81) }
            try info.requireEnd()
        } catch let e as DERError {
            throw LedgerError(.keyEncoding, "PKCS#8: \(e.description)")
        } catch let e as LedgerError {
            throw e
        } catch {
            throw LedgerError(.keyEncoding, "PKCS#8: \(error)")
        }
        guard secret.count == 32 else {
            throw LedgerError(.keyEncoding, "PKCS#8 \(scheme.rawValue) private key is \(secret.count) bytes, expected 32")
        }
        try self.init(scheme: scheme, rawRepresentation: secret)
        if let embeddedPublic {
            let embedded = try? PublicKey(scheme: scheme, rawRepresentation: embeddedPublic)
            guard embedded == publicKey else {
                throw LedgerError(.keyEncoding, "PKCS#8 embedded public key does not match the private key")
            }
        }
    }

    /// Parses a PEM `PRIVATE KEY` block (PKCS#8, RFC 7468).
    /// - Parameter pemRepresentation: Required. Text containing
    ///   `-----BEGIN PRIVATE KEY-----` … `-----END PRIVATE KEY-----`.
    /// - Throws: `LedgerError` `.keyEncoding` (1306), `.invalidPrivateKey` (1305).
    /// - Note: Safe to call concurrently.
    public init(pemRepresentation: String) throws(LedgerError) {
        try self.init(derRepresentation: PEM.decode(pemRepresentation, label: "PRIVATE KEY"))
    }

    /// The DER PKCS#8 `PrivateKeyInfo` (version 0), laid out as OpenSSL 3
    /// writes it: for EC an `ECPrivateKey` with the 32-byte scalar and the
    /// uncompressed public key; for Ed25519 the RFC 8410 form.
    public var derRepresentation: [UInt8] {
        let version = DERWriter.unsignedInteger([0])
        if let curve = KeyOID.curve(scheme) {
            let point = publicKey.uncompressedRepresentation ?? publicKey.rawRepresentation
            let ecPrivateKey = DERWriter.sequence(DERWriter.unsignedInteger([1]),
                                                  DERWriter.octetString(secretBytes),
                                                  DERWriter.tlv(0xA1, DERWriter.bitString(point)))
            return DERWriter.sequence(version, DERWriter.sequence(KeyOID.ecPublicKey, curve), DERWriter.octetString(ecPrivateKey))
        }
        return DERWriter.sequence(version, DERWriter.sequence(KeyOID.ed25519),
                                  DERWriter.octetString(DERWriter.octetString(secretBytes)))
    }

    /// The PEM `PRIVATE KEY` block of ``derRepresentation``.
    public var pemRepresentation: String { PEM.encode(derRepresentation, label: "PRIVATE KEY") }
}

/// The backend form of a private key, built once per ``PrivateKey``.
/// Immutable after init; its members are `Sendable` (see ``EVPKey``, ``ECKey``).
final class PrivateKeyBackend: Sendable {
    let ec: ECKey?
    let evp: EVPKey?

    init(ec: ECKey? = nil, evp: EVPKey? = nil) {
        self.ec = ec
        self.evp = evp
    }
}
