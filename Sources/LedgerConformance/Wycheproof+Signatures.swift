import LedgerCrypto

extension WycheproofHandlers {
    /// Handlers for the signature-verification schemas
    /// (`ecdsa_verify_schema_v1.json`, `ecdsa_p1363_verify_schema_v1.json`,
    /// `ecdsa_bitcoin_verify_schema.json`, `eddsa_verify_schema_v1.json`).
    ///
    /// Policy: ECDSA is verified with `requireLowS: false` (Wycheproof marks
    /// high-S signatures valid), except for the bitcoin schema
    /// (`ecdsa_*_bitcoin_test.json`), whose files mark high-S signatures
    /// invalid: it is verified with `requireLowS: true`, the rule this
    /// library's transactions and blocks enforce; DER signatures go through the strict
    /// decoder; P1363 signatures must be exactly 64 bytes. The curve comes
    /// from `publicKey.curve` (secp256r1, secp256k1) and the hash from `sha`:
    /// SHA-256 is the schemes' own; SHA-224/384/512 and SHA3-224/256/384/512
    /// files are run through the prehashed-digest API (the digest is
    /// truncated to, or left-padded to, the 256-bit order as ECDSA
    /// prescribes).
    static let signatures: [String: WycheproofRunner.Handler] = [
        "ecdsa_verify_schema_v1.json": { group, test in
            let (key, digest, sig) = try ecdsaInputs(group, test)
            let signature = try Signature(scheme: key.scheme, derRepresentation: sig)
            return key.isValidSignature(signature, forDigest: digest, requireLowS: false)
        },
        "ecdsa_bitcoin_verify_schema.json": { group, test in
            let (key, digest, sig) = try ecdsaInputs(group, test)
            let signature = try Signature(scheme: key.scheme, derRepresentation: sig)
            return key.isValidSignature(signature, forDigest: digest, requireLowS: true)
        },
        "ecdsa_p1363_verify_schema_v1.json": { group, test in
            let (key, digest, sig) = try ecdsaInputs(group, test)
            guard sig.count == 64 else { return false }
            let signature = try Signature(scheme: key.scheme, rawRepresentation: sig)
            return key.isValidSignature(signature, forDigest: digest, requireLowS: false)
        },
        "eddsa_verify_schema_v1.json": { group, test in
            guard let pk = group["publicKey"] as? [String: Any] else {
                throw LedgerError(.malformedTestVectors, "group has no publicKey")
            }
            let curve = (pk["curve"] as? String) ?? "edwards25519"
            guard curve == "edwards25519" else {
                throw LedgerError(.unsupportedTestVectors, "EdDSA curve '\(curve)' is not implemented")
            }
            let key = try PublicKey(scheme: .ed25519, rawRepresentation: WycheproofField.hex(pk, "pk"))
            let signature = try Signature(scheme: .ed25519, rawRepresentation: WycheproofField.hex(test, "sig"))
            return key.isValidSignature(signature, for: try WycheproofField.hex(test, "msg"))
        },
    ]

    private static func ecdsaInputs(_ group: [String: Any], _ test: [String: Any]) throws -> (PublicKey, [UInt8], [UInt8]) {
        guard let pk = group["publicKey"] as? [String: Any] else {
            throw LedgerError(.malformedTestVectors, "group has no publicKey")
        }
        let sha = (group["sha"] as? String) ?? ""
        let scheme: SignatureScheme
        switch try WycheproofField.string(pk, "curve") {
        case "secp256r1": scheme = .p256
        case "secp256k1": scheme = .secp256k1
        case let other:
            throw LedgerError(.unsupportedTestVectors, "ECDSA curve '\(other)' is not implemented")
        }
        let key = try PublicKey(scheme: scheme, rawRepresentation: WycheproofField.hex(pk, "uncompressed"))
        let digest = try ecdsaDigest(sha, try WycheproofField.hex(test, "msg"))
        return (key, digest, try WycheproofField.hex(test, "sig"))
    }

    /// The ECDSA message representative for a 256-bit curve: the hash,
    /// truncated to its leftmost 32 bytes or left-padded with zeros to 32.
    static func ecdsaDigest(_ sha: String, _ message: [UInt8]) throws -> [UInt8] {
        let names: [String: StaticString] = [
            "SHA-224": "SHA224", "SHA-256": "SHA256", "SHA-384": "SHA384", "SHA-512": "SHA512",
            "SHA3-224": "SHA3-224", "SHA3-256": "SHA3-256", "SHA3-384": "SHA3-384", "SHA3-512": "SHA3-512",
        ]
        guard let name = names[sha] else {
            throw LedgerError(.unsupportedTestVectors, "ECDSA hash '\(sha)' is not implemented")
        }
        let full = try EVPDigest.oneShot(named: name, message)
        return full.count >= 32 ? Array(full.prefix(32)) : [UInt8](repeating: 0, count: 32 - full.count) + full
    }
}
