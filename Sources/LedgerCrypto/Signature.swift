/// A digital signature of one ``SignatureScheme`` in its fixed-length raw form.
///
/// | scheme | raw form |
/// |---|---|
/// | p256, sm2 | 64 bytes `r ‖ s`, each 32-byte big-endian, in `[1, n-1]` |
/// | secp256k1 | 65 bytes `r ‖ s ‖ v` with recovery id `v` ∈ {0, 1} (as signing produces); 64 bytes `r ‖ s` is also accepted for verification-only signatures, such as those decoded from DER |
/// | ed25519 | 64 bytes `R ‖ S` with `S < L` (RFC 8032 §5.1.7) |
///
/// High-S ECDSA signatures are representable (other implementations produce
/// them); ``PublicKey/verify(_:for:requireLowS:)`` rejects them by default.
///
/// ```swift
/// let sig = try Signature(scheme: .p256, derRepresentation: der)
/// ```
/// A value type; safe to use from any thread.
public struct Signature: Sendable, Hashable {
    /// The scheme that produced this signature.
    public let scheme: SignatureScheme
    /// The raw bytes (see the table above).
    public let rawRepresentation: [UInt8]

    /// Wraps raw signature bytes after length and range checks.
    /// - Parameters:
    ///   - scheme: Required. The scheme of the signature.
    ///   - rawRepresentation: Required. 64 bytes (`p256`, `sm2`, `ed25519`),
    ///     65 bytes (`secp256k1` with recovery id) or 64 bytes (`secp256k1`
    ///     without recovery id).
    /// - Throws: `LedgerError` `.malformedSignature` (1301) for a wrong
    ///   length, `r` or `s` outside `[1, n-1]` or `v` ∉ {0, 1};
    ///   `.nonCanonicalSignature` (1303) for an Ed25519 `S ≥ L`.
    /// - Note: Safe to call concurrently.
    public init(scheme: SignatureScheme, rawRepresentation: [UInt8]) throws(LedgerError) {
        let raw = rawRepresentation
        let allowed = scheme == .secp256k1 ? [65, 64] : [64]
        guard allowed.contains(raw.count) else {
            throw LedgerError(.malformedSignature,
                              "signature length \(raw.count), expected \(allowed.map(String.init).joined(separator: " or ")) for \(scheme.rawValue)",
                              details: ["scheme": scheme.rawValue, "length": String(raw.count)])
        }
        switch scheme {
        case .ed25519:
            // S is little-endian; compare big-endian against L.
            let sBigEndian = Array(raw[32..<64].reversed())
            guard CurveConstants.compare(sBigEndian, scheme.order) < 0 else {
                throw LedgerError(.nonCanonicalSignature, "Ed25519 signature S \(Hex.encode(raw[32..<64])) is not below L (RFC 8032)",
                                  details: ["scheme": scheme.rawValue])
            }
        case .p256, .sm2, .secp256k1:
            let n = scheme.order
            guard CurveConstants.isInRange(raw[0..<32], below: n) else {
                throw LedgerError(.malformedSignature, "signature r \(Hex.encode(raw[0..<32])) is not in [1, n-1] for \(scheme.rawValue)",
                                  details: ["scheme": scheme.rawValue, "field": "r"])
            }
            guard CurveConstants.isInRange(raw[32..<64], below: n) else {
                throw LedgerError(.malformedSignature, "signature s \(Hex.encode(raw[32..<64])) is not in [1, n-1] for \(scheme.rawValue)",
                                  details: ["scheme": scheme.rawValue, "field": "s"])
            }
            if raw.count == 65, raw[64] > 1 {
                throw LedgerError(.malformedSignature, "signature recovery id v \(raw[64]), expected 0 or 1 for secp256k1",
                                  details: ["scheme": scheme.rawValue, "field": "v"])
            }
        }
        self.scheme = scheme
        self.rawRepresentation = raw
    }

    /// Internal: wraps bytes that the library itself produced.
    package init(uncheckedScheme scheme: SignatureScheme, raw: [UInt8]) {
        self.scheme = scheme
        self.rawRepresentation = raw
    }

    /// Decodes an ECDSA-family signature from strict DER
    /// (`SEQUENCE { INTEGER r, INTEGER s }`, X9.62 / RFC 3279; GM/T 0009 for SM2).
    ///
    /// Rejects BER and anything not minimal: indefinite or long-form lengths
    /// where the short form fits, leading zero bytes in integers, negative
    /// integers, extra or trailing bytes. A secp256k1 signature decoded from
    /// DER has no recovery id (64-byte raw form).
    /// - Parameters:
    ///   - scheme: Required. `p256`, `sm2` or `secp256k1`.
    ///   - derRepresentation: Required. The DER bytes.
    /// - Throws: `LedgerError` `.schemeMismatch` (1307) for `ed25519`;
    ///   `.malformedSignature` (1301) for bad DER or `r`, `s` outside `[1, n-1]`.
    /// - Note: Safe to call concurrently.
    public init(scheme: SignatureScheme, derRepresentation: [UInt8]) throws(LedgerError) {
        guard scheme.isECDSAFamily else {
            throw LedgerError(.schemeMismatch, "scheme ed25519 has no DER signature form; expected p256, sm2 or secp256k1",
                              details: ["scheme": scheme.rawValue])
        }
        var raw = [UInt8]()
        raw.reserveCapacity(64)
        do {
            var outer = DERReader(derRepresentation)
            var seq = try outer.nested(tag: 0x30)
            try outer.requireEnd()
            for field in ["r", "s"] {
                let v = try seq.readUnsignedInteger()
                guard v.count <= 32 else {
                    throw LedgerError(.malformedSignature, "DER signature \(field) is \(v.count) bytes, more than 32 for \(scheme.rawValue)",
                                      details: ["scheme": scheme.rawValue, "field": field])
                }
                raw += [UInt8](repeating: 0, count: 32 - v.count) + v
            }
            try seq.requireEnd()
        } catch let e as DERError {
            throw LedgerError(.malformedSignature, "DER signature for \(scheme.rawValue): \(e.description)",
                              details: ["scheme": scheme.rawValue])
        } catch let e as LedgerError {
            throw e
        } catch {
            throw LedgerError(.malformedSignature, "DER signature for \(scheme.rawValue): \(error)")
        }
        try self.init(scheme: scheme, rawRepresentation: raw)
    }

    /// The strict DER encoding `SEQUENCE { INTEGER r, INTEGER s }` of an
    /// ECDSA-family signature (the recovery id of a secp256k1 signature is
    /// dropped); nil for Ed25519.
    public var derRepresentation: [UInt8]? {
        guard scheme.isECDSAFamily else { return nil }
        return DERWriter.sequence(DERWriter.unsignedInteger(rawRepresentation[0..<32]),
                                  DERWriter.unsignedInteger(rawRepresentation[32..<64]))
    }

    /// `r ‖ s` without a recovery id (64 bytes) for ECDSA-family schemes;
    /// the raw form for Ed25519.
    public var compactRepresentation: [UInt8] { Array(rawRepresentation.prefix(64)) }

    /// The recovery id `v` ∈ {0, 1} of a 65-byte secp256k1 signature; nil
    /// for other schemes and for signatures without one.
    public var recoveryID: UInt8? { rawRepresentation.count == 65 ? rawRepresentation[64] : nil }

    /// True when `s ≤ n/2` (ECDSA low-S rule, BIP 62 / EIP-2). Always true
    /// for Ed25519 and SM2, which have no such rule.
    public var isLowS: Bool {
        guard scheme == .p256 || scheme == .secp256k1 else { return true }
        return CurveConstants.compare(rawRepresentation[32..<64], scheme.halfOrder) <= 0
    }

    /// The same signature with `s` replaced by `n - s` when `s > n/2` (and,
    /// for a recoverable secp256k1 signature, `v` flipped). Returns `self`
    /// when already low-S or for Ed25519 and SM2.
    public var normalizedToLowS: Signature {
        guard !isLowS else { return self }
        var raw = rawRepresentation
        raw.replaceSubrange(32..<64, with: CurveConstants.subtract(scheme.order, rawRepresentation[32..<64]))
        if raw.count == 65 { raw[64] ^= 1 }
        return Signature(uncheckedScheme: scheme, raw: raw)
    }
}
