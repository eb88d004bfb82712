/// A digital-signature scheme a chain or an identity can use.
///
/// - `p256`: ECDSA on NIST P-256 (secp256r1) with SHA-256 (FIPS 186-4). The default.
/// - `ed25519`: pure Ed25519 (RFC 8032), no prehash, no context.
/// - `sm2`: SM2 signatures (GB/T 32918.2) with SM3 over `Z_A ‖ M`, where `Z_A`
///   uses the default user ID `1234567812345678` (GM/T 0009-2012).
/// - `secp256k1`: ECDSA on secp256k1 with SHA-256, recoverable (`r ‖ s ‖ v`),
///   as Ethereum uses it (over Keccak-256 prehashes via ``Secp256k1``).
///
/// Key, signature and public-key sizes:
///
/// | scheme | private key | public key (raw) | signature (raw) |
/// |---|---|---|---|
/// | p256 | 32-byte scalar | 33-byte compressed SEC1 | 64 bytes `r ‖ s` |
/// | ed25519 | 32-byte seed | 32 bytes | 64 bytes `R ‖ S` |
/// | sm2 | 32-byte scalar | 33-byte compressed SEC1 | 64 bytes `r ‖ s` |
/// | secp256k1 | 32-byte scalar | 33-byte compressed SEC1 | 65 bytes `r ‖ s ‖ v` |
///
/// ```swift
/// let key = try PrivateKey.generate(.default)
/// ```
/// A value type; safe to use from any thread.
public enum SignatureScheme: String, Sendable, Hashable, Codable, CaseIterable {
    /// ECDSA P-256 with SHA-256 (the default).
    case p256 = "p256"
    /// Pure Ed25519 (RFC 8032).
    case ed25519 = "ed25519"
    /// SM2 with SM3 and `Z_A` over the default user ID `1234567812345678`.
    case sm2 = "sm2"
    /// ECDSA secp256k1 with SHA-256, recoverable.
    case secp256k1 = "secp256k1"

    /// The default scheme of a chain: ``p256``.
    public static let `default` = SignatureScheme.p256

    /// True for the short-Weierstrass schemes whose signatures are a pair
    /// `(r, s)` of scalars (`p256`, `sm2`, `secp256k1`).
    public var isECDSAFamily: Bool { self != .ed25519 }

    /// Length in bytes of ``PublicKey/rawRepresentation`` (33 for EC schemes,
    /// 32 for Ed25519).
    public var publicKeyLength: Int { self == .ed25519 ? 32 : 33 }

    /// Length in bytes of ``Signature/rawRepresentation`` as produced by
    /// signing (65 for secp256k1, 64 otherwise).
    public var signatureLength: Int { self == .secp256k1 ? 65 : 64 }

    /// The group order `n` (EC schemes) or `L` (Ed25519), 32 bytes big-endian.
    var order: [UInt8] {
        switch self {
        case .p256: return CurveConstants.p256Order
        case .secp256k1: return CurveConstants.secp256k1Order
        case .sm2: return CurveConstants.sm2Order
        case .ed25519: return CurveConstants.ed25519Order
        }
    }

    /// `floor(n / 2)`, 32 bytes big-endian: the largest low-S value.
    var halfOrder: [UInt8] {
        switch self {
        case .p256: return CurveConstants.p256HalfOrder
        case .secp256k1: return CurveConstants.secp256k1HalfOrder
        case .sm2: return CurveConstants.sm2HalfOrder
        case .ed25519: return CurveConstants.ed25519HalfOrder
        }
    }
}

/// Group orders and 32-byte big-endian scalar arithmetic used by range checks.
enum CurveConstants {
    static let p256Order = bytes("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551")
    static let secp256k1Order = bytes("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
    static let sm2Order = bytes("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123")
    /// Ed25519 `L = 2^252 + 27742317777372353535851937790883648493`.
    static let ed25519Order = bytes("1000000000000000000000000000000014DEF9DEA2F79CD65812631A5CF5D3ED")

    static let p256HalfOrder = shiftRight(p256Order)
    static let secp256k1HalfOrder = shiftRight(secp256k1Order)
    static let sm2HalfOrder = shiftRight(sm2Order)
    static let ed25519HalfOrder = shiftRight(ed25519Order)

    private static func bytes(_ hex: StaticString) -> [UInt8] {
        // Constants above are valid hex; a failure here is a programming error.
        (try? Hex.decode(hex.description)) ?? []
    }

    private static func shiftRight(_ x: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: x.count)
        var carry: UInt8 = 0
        for i in 0..<x.count {
            out[i] = (x[i] >> 1) | carry
            carry = (x[i] & 1) << 7
        }
        return out
    }

    /// Big-endian comparison of two equal-length byte strings.
    static func compare(_ a: some Collection<UInt8>, _ b: [UInt8]) -> Int {
        precondition(a.count == b.count)
        var j = 0
        for x in a {
            if x != b[j] { return x < b[j] ? -1 : 1 }
            j += 1
        }
        return 0
    }

    /// True when the 32-byte big-endian value is in `[1, upperExclusive - 1]`.
    static func isInRange(_ x: some Collection<UInt8>, below upperExclusive: [UInt8]) -> Bool {
        x.contains { $0 != 0 } && compare(x, upperExclusive) < 0
    }

    /// `n - x` for 32-byte big-endian values with `0 < x < n`.
    static func subtract(_ n: [UInt8], _ x: some Collection<UInt8>) -> [UInt8] {
        let xs = Array(x)
        var out = [UInt8](repeating: 0, count: n.count)
        var borrow = 0
        for i in stride(from: n.count - 1, through: 0, by: -1) {
            var d = Int(n[i]) - Int(xs[i]) - borrow
            borrow = d < 0 ? 1 : 0
            if d < 0 { d += 256 }
            out[i] = UInt8(d)
        }
        return out
    }
}

// Keys and signatures (1300–1349).
extension LedgerError.Code {
    /// A signature has the wrong length, a scalar `r` or `s` outside
    /// `[1, n-1]`, an invalid recovery id, or its DER encoding is not strict DER.
    public static let malformedSignature = Self(rawValue: 1301)
    /// A well-formed signature does not verify for this message and key.
    public static let signatureMismatch = Self(rawValue: 1302)
    /// A signature is valid except that it is not in canonical form: high-S
    /// (`s > n/2`) ECDSA when low-S is required, or an Ed25519 `S ≥ L`.
    public static let nonCanonicalSignature = Self(rawValue: 1303)
    /// A public key has the wrong length or prefix, or its point is not on
    /// the curve.
    public static let invalidPublicKey = Self(rawValue: 1304)
    /// A private key has the wrong length or its scalar is 0 or `≥ n`.
    public static let invalidPrivateKey = Self(rawValue: 1305)
    /// A PKCS#8, SubjectPublicKeyInfo, DER or PEM key encoding is malformed
    /// or names an unsupported algorithm or curve.
    public static let keyEncoding = Self(rawValue: 1306)
    /// A key, signature or operation belongs to a different scheme than the
    /// one it is used with (for example a P-256 signature checked with an
    /// Ed25519 key, or prehashed signing with Ed25519).
    public static let schemeMismatch = Self(rawValue: 1307)
    /// secp256k1 public-key recovery failed (no recovery id, or no point for
    /// this signature and digest).
    public static let recoveryFailed = Self(rawValue: 1308)
}
