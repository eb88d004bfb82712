import CSecp256k1

/// A signature-verification key of one ``SignatureScheme``.
///
/// The canonical raw form is the 33-byte compressed SEC1 point for the EC
/// schemes and the 32-byte RFC 8032 encoding for Ed25519. Equality and
/// hashing use only ``scheme`` and ``rawRepresentation``.
///
/// The parsed backend key (an OpenSSL `EC_KEY`/`EVP_PKEY` or a libsecp256k1
/// point) is built once in the initialiser and reused by every verification,
/// so keep a `PublicKey` around rather than re-creating it per signature.
///
/// ```swift
/// let key = try PublicKey(scheme: .p256, rawRepresentation: bytes)
/// try key.verify(signature, for: message)
/// ```
/// Immutable; safe to share and use from any number of threads at once.
public struct PublicKey: Sendable, Hashable {
    /// The scheme of the key.
    public let scheme: SignatureScheme
    /// 33-byte compressed SEC1 (EC schemes) or 32 bytes (Ed25519).
    public let rawRepresentation: [UInt8]
    let backend: PublicKeyBackend

    /// Parses and validates a raw public key.
    /// - Parameters:
    ///   - scheme: Required.
    ///   - rawRepresentation: Required. EC schemes: 33-byte compressed
    ///     (`02`/`03` ‖ x) or 65-byte uncompressed (`04` ‖ x ‖ y) SEC1; the
    ///     point must be on the curve, and is stored compressed. Hybrid
    ///     (`06`/`07`) and the point at infinity are rejected. Decompressing
    ///     a compressed P-256/SM2 point costs about 25 µs, so cache keys.
    ///     Ed25519: 32 bytes, stored as given; OpenSSL decodes the point only
    ///     when verifying, so a key that is not a curve point verifies nothing.
    /// - Throws: `LedgerError` `.invalidPublicKey` (1304).
    /// - Note: Safe to call concurrently. Keys parsed before are served from a
    ///   process-wide cache of the last 8,192 distinct keys, so decoding many
    ///   transactions of the same senders (a peer's relay, a block) parses
    ///   each sender once; a key that failed to parse is parsed (and fails) again.
    public init(scheme: SignatureScheme, rawRepresentation: [UInt8]) throws(LedgerError) {
        if let known = ParsedPublicKeys.shared.key(scheme, rawRepresentation) {
            self = known
            return
        }
        try self.init(parsing: scheme, rawRepresentation)
        ParsedPublicKeys.shared.insert(self, as: rawRepresentation)
    }

    private init(parsing scheme: SignatureScheme, _ rawRepresentation: [UInt8]) throws(LedgerError) {
        let raw = rawRepresentation
        switch scheme {
        case .ed25519:
            guard raw.count == 32 else {
                throw LedgerError(.invalidPublicKey, "public key length \(raw.count), expected 32 for ed25519",
                                  details: ["scheme": scheme.rawValue, "length": String(raw.count)])
            }
            self.init(scheme: scheme, canonical: raw, backend: PublicKeyBackend(evp: try EVPKey.ed25519(publicKey: raw)))
        case .p256, .sm2, .secp256k1:
            let validForm = (raw.count == 33 && (raw[0] == 2 || raw[0] == 3)) || (raw.count == 65 && raw[0] == 4)
            guard validForm else {
                throw LedgerError(.invalidPublicKey,
                                  "public key length \(raw.count) with prefix \(raw.first.map { String($0) } ?? "none"), expected 33 bytes (02/03) or 65 bytes (04) SEC1 for \(scheme.rawValue)",
                                  details: ["scheme": scheme.rawValue, "length": String(raw.count)])
            }
            if scheme == .secp256k1 {
                let point = try Secp256k1.parsePublicKey(raw)
                try self.init(secp256k1: point)
            } else {
                let ec = try ECKey.publicKey(scheme, sec1: raw)
                let canonical = try ec.publicPoint(compressed: true)
                let evp = scheme == .sm2 ? try EVPKey.wrapping(ec) : nil
                self.init(scheme: scheme, canonical: canonical, backend: PublicKeyBackend(ec: ec, evp: evp))
            }
        }
    }

    init(secp256k1 point: secp256k1_pubkey) throws(LedgerError) {
        self.init(scheme: .secp256k1, canonical: Secp256k1.serialize(point, compressed: true),
                  backend: PublicKeyBackend(secp256k1: point))
    }

    init(scheme: SignatureScheme, canonical: [UInt8], backend: PublicKeyBackend) {
        self.scheme = scheme
        self.rawRepresentation = canonical
        self.backend = backend
    }

    /// Equal when scheme and canonical raw bytes are equal (the parsed
    /// backend key is not compared).
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        lhs.scheme == rhs.scheme && lhs.rawRepresentation == rhs.rawRepresentation
    }

    /// Hashes scheme and canonical raw bytes, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(scheme)
        hasher.combine(rawRepresentation)
    }

    // MARK: - Encodings

    /// The 65-byte uncompressed SEC1 point `04 ‖ x ‖ y` for EC schemes; nil
    /// for Ed25519.
    public var uncompressedRepresentation: [UInt8]? {
        switch scheme {
        case .ed25519: return nil
        case .secp256k1: return backend.secp256k1.map { Secp256k1.serialize($0, compressed: false) }
        case .p256, .sm2: return try? backend.ec?.publicPoint(compressed: false)
        }
    }

    /// Parses a DER SubjectPublicKeyInfo (RFC 5280 §4.1; RFC 5480 for EC with
    /// `id-ecPublicKey` and the curve OID prime256v1, secp256k1 or SM2; RFC
    /// 8410 for Ed25519). The scheme is taken from the algorithm and curve.
    /// - Parameter derRepresentation: Required. Strict DER.
    /// - Throws: `LedgerError` `.keyEncoding` (1306) for malformed DER or an
    ///   unsupported algorithm/curve; `.invalidPublicKey` (1304) for a bad point.
    /// - Note: Safe to call concurrently.
    public init(derRepresentation: [UInt8]) throws(LedgerError) {
        let (scheme, point): (SignatureScheme, [UInt8])
        do {
            var outer = DERReader(derRepresentation)
            var spki = try outer.nested(tag: 0x30)
            try outer.requireEnd()
            var alg = try spki.nested(tag: 0x30)
            let algOID = KeyOID.tlv(try alg.read(tag: 0x06))
            if algOID == KeyOID.ed25519 {
                scheme = .ed25519
            } else if algOID == KeyOID.ecPublicKey || algOID == KeyOID.sm2 {
                if algOID == KeyOID.sm2, alg.isAtEnd {
                    scheme = .sm2
                } else {
                    let curve = KeyOID.tlv(try alg.read(tag: 0x06))
                    guard let s = KeyOID.scheme(curve: curve) else {
                        throw LedgerError(.keyEncoding, "SubjectPublicKeyInfo names unsupported curve OID \(Hex.encode(curve))")
                    }
                    scheme = s
                }
            } else {
                throw LedgerError(.keyEncoding, "SubjectPublicKeyInfo names unsupported algorithm OID \(Hex.encode(algOID))")
            }
            try alg.requireEnd()
            let bits = try spki.read(tag: 0x03)
            try spki.requireEnd()
            guard bits.first == 0 else {
                throw LedgerError(.keyEncoding, "SubjectPublicKeyInfo BIT STRING has unused bits or is empty")
            }
            point = Array(bits.dropFirst())
        } catch let e as DERError {
            throw LedgerError(.keyEncoding, "SubjectPublicKeyInfo: \(e.description)")
        } catch let e as LedgerError {
            throw e
        } catch {
            throw LedgerError(.keyEncoding, "SubjectPublicKeyInfo: \(error)")
        }
        try self.init(scheme: scheme, rawRepresentation: point)
    }

    /// Parses a PEM `PUBLIC KEY` block (RFC 7468) holding a SubjectPublicKeyInfo.
    /// - Parameter pemRepresentation: Required. Text containing
    ///   `-----BEGIN PUBLIC KEY-----` … `-----END PUBLIC KEY-----`.
    /// - Throws: `LedgerError` `.keyEncoding` (1306), `.invalidPublicKey` (1304).
    /// - Note: Safe to call concurrently.
    public init(pemRepresentation: String) throws(LedgerError) {
        try self.init(derRepresentation: PEM.decode(pemRepresentation, label: "PUBLIC KEY"))
    }

    /// The DER SubjectPublicKeyInfo, with the EC point uncompressed (the
    /// form OpenSSL and most tools write).
    public var derRepresentation: [UInt8] {
        let algorithm: [UInt8]
        let point: [UInt8]
        if let curve = KeyOID.curve(scheme) {
            algorithm = DERWriter.sequence(KeyOID.ecPublicKey, curve)
            point = uncompressedRepresentation ?? rawRepresentation
        } else {
            algorithm = DERWriter.sequence(KeyOID.ed25519)
            point = rawRepresentation
        }
        return DERWriter.sequence(algorithm, DERWriter.bitString(point))
    }

    /// The PEM `PUBLIC KEY` block of ``derRepresentation``.
    public var pemRepresentation: String { PEM.encode(derRepresentation, label: "PUBLIC KEY") }

    // MARK: - Verification

    /// True when `signature` is a valid signature of `message` by this key.
    ///
    /// The message is hashed as the scheme prescribes (SHA-256 for p256 and
    /// secp256k1, SM3 over `Z_A ‖ M` for SM2, none for Ed25519). Never throws
    /// or traps on malformed input.
    /// - Parameters:
    ///   - signature: Required. Must have this key's scheme.
    ///   - message: Required. Any length.
    ///   - requireLowS: Optional, default true. When true, p256 and secp256k1
    ///     signatures with `s > n/2` are rejected. No effect on SM2 and Ed25519.
    /// - Note: Safe to call concurrently; no allocation-heavy work per call
    ///   beyond hashing and OpenSSL's per-verification temporaries.
    public func isValidSignature(_ signature: Signature, for message: [UInt8], requireLowS: Bool = true) -> Bool {
        (try? verify(signature, for: message, requireLowS: requireLowS)) != nil
    }

    /// Verifies `signature` over `message`, throwing why it fails.
    /// - Parameters:
    ///   - signature: Required. Must have this key's scheme.
    ///   - message: Required. Any length.
    ///   - requireLowS: Optional, default true. Rejects high-S p256 and
    ///     secp256k1 signatures.
    /// - Throws: `LedgerError` `.schemeMismatch` (1307),
    ///   `.nonCanonicalSignature` (1303) for high-S when required,
    ///   `.signatureMismatch` (1302) when the signature does not verify.
    /// - Note: Safe to call concurrently.
    public func verify(_ signature: Signature, for message: [UInt8], requireLowS: Bool = true) throws(LedgerError) {
        switch scheme {
        case .p256, .secp256k1:
            try verify(signature, forDigest: HashAlgorithm.sha256.hash(message).bytes, requireLowS: requireLowS)
        case .sm2:
            try checkScheme(signature)
            guard let evp = backend.evp, let der = signature.derRepresentation,
                  evp.digestVerify(der, message, digestName: "SM3", sm2ID: PrivateKey.sm2DefaultID) else {
                throw mismatch()
            }
        case .ed25519:
            try checkScheme(signature)
            guard let evp = backend.evp, evp.digestVerify(signature.rawRepresentation, message, digestName: nil) else {
                throw mismatch()
            }
        }
    }

    /// True when `signature` is valid over a 32-byte prehash (p256 and
    /// secp256k1 only; false for other schemes).
    /// - Parameters:
    ///   - signature: Required. Must have this key's scheme.
    ///   - digest: Required. Exactly 32 bytes, already hashed by the caller.
    ///   - requireLowS: Optional, default true. Rejects high-S signatures.
    /// - Note: Safe to call concurrently.
    public func isValidSignature(_ signature: Signature, forDigest digest: [UInt8], requireLowS: Bool = true) -> Bool {
        (try? verify(signature, forDigest: digest, requireLowS: requireLowS)) != nil
    }

    /// Verifies an ECDSA signature over a 32-byte prehash (p256, secp256k1).
    /// - Parameters:
    ///   - signature: Required. Must have this key's scheme.
    ///   - digest: Required. Exactly 32 bytes.
    ///   - requireLowS: Optional, default true. Rejects high-S signatures.
    /// - Throws: `LedgerError` `.schemeMismatch` (1307) for SM2/Ed25519 keys
    ///   or a signature of another scheme, `.digestLength` (1401) for a
    ///   digest that is not 32 bytes, `.nonCanonicalSignature` (1303),
    ///   `.signatureMismatch` (1302).
    /// - Note: Safe to call concurrently.
    public func verify(_ signature: Signature, forDigest digest: [UInt8], requireLowS: Bool = true) throws(LedgerError) {
        guard scheme == .p256 || scheme == .secp256k1 else {
            throw LedgerError(.schemeMismatch, "scheme \(scheme.rawValue) has no prehashed verification; expected p256 or secp256k1",
                              details: ["scheme": scheme.rawValue])
        }
        try checkScheme(signature)
        try Secp256k1.checkDigest(digest)
        if requireLowS && !signature.isLowS {
            throw LedgerError(.nonCanonicalSignature, "signature s \(Hex.encode(signature.rawRepresentation[32..<64])) is above n/2 (high-S) for \(scheme.rawValue)",
                              details: ["scheme": scheme.rawValue, "field": "s"])
        }
        let ok = signature.rawRepresentation.withUnsafeBufferPointer { rs in
            digest.withUnsafeBufferPointer { d -> Bool in
                if let point = backend.secp256k1 {
                    return Secp256k1.verify(rs: rs, digest: d, key: point)
                }
                return backend.ec?.ecdsaVerify(rs: rs, digest: d) ?? false
            }
        }
        guard ok else { throw mismatch() }
    }

    /// `isValidSignature(_:forDigest:requireLowS:)` for a ``Digest``.
    /// - Parameters:
    ///   - signature: Required. Must have this key's scheme (p256 or secp256k1).
    ///   - digest: Required. The prehash.
    ///   - requireLowS: Optional, default true. Rejects high-S signatures.
    /// - Note: Safe to call concurrently.
    public func isValidSignature(_ signature: Signature, forDigest digest: Digest, requireLowS: Bool = true) -> Bool {
        isValidSignature(signature, forDigest: digest.bytes, requireLowS: requireLowS)
    }

    private func checkScheme(_ signature: Signature) throws(LedgerError) {
        guard signature.scheme == scheme else {
            throw LedgerError(.schemeMismatch, "signature scheme \(signature.scheme.rawValue), expected \(scheme.rawValue) for this key",
                              details: ["scheme": scheme.rawValue, "signatureScheme": signature.scheme.rawValue])
        }
    }

    private func mismatch() -> LedgerError {
        LedgerError(.signatureMismatch, "\(scheme.rawValue) signature does not verify under public key \(Hex.encode(rawRepresentation))",
                    details: ["scheme": scheme.rawValue, "publicKey": Hex.encode(rawRepresentation)])
    }
}

/// The keys ``PublicKey/init(scheme:rawRepresentation:)`` parsed, by scheme and
/// the raw bytes given (compressed and uncompressed forms are separate
/// entries of the same key). Decompressing a P-256 or SM2 point costs about a
/// quarter of a signature verification, and a cluster decodes every sender's
/// key once per relayed transaction and per block.
final class ParsedPublicKeys: Sendable {
    static let shared = ParsedPublicKeys(capacity: 8_192)

    private struct Entry: Hashable, Sendable {
        var scheme: SignatureScheme
        var raw: [UInt8]
    }

    private let memo: BoundedMemo<Entry, PublicKey>

    init(capacity: Int) { memo = BoundedMemo(capacity: capacity) }

    func key(_ scheme: SignatureScheme, _ raw: [UInt8]) -> PublicKey? { memo[Entry(scheme: scheme, raw: raw)] }

    func insert(_ key: PublicKey, as raw: [UInt8]) { memo.insert(key, for: Entry(scheme: key.scheme, raw: raw)) }

    var count: Int { memo.count }
}

/// The parsed backend form of a public key, built once per ``PublicKey``.
/// Immutable after init; its members are `Sendable` (see ``EVPKey``,
/// ``ECKey``; `secp256k1_pubkey` is a plain 64-byte value).
final class PublicKeyBackend: Sendable {
    let ec: ECKey?
    let evp: EVPKey?
    let secp256k1: secp256k1_pubkey?

    init(ec: ECKey? = nil, evp: EVPKey? = nil, secp256k1: secp256k1_pubkey? = nil) {
        self.ec = ec
        self.evp = evp
        self.secp256k1 = secp256k1
    }
}
