extension WycheproofHandlers {
    /// Handlers for the signature-verification schemas
    /// (`ecdsa_verify_schema_v1.json`, `ecdsa_p1363_verify_schema_v1.json`,
    /// `eddsa_verify_schema_v1.json`).
    ///
    /// Policy: ECDSA is verified with `requireLowS: false` (Wycheproof marks
    /// high-S signatures valid); DER signatures go through the strict
    /// decoder; P1363 signatures must be exactly 64 bytes. The curve comes
    /// from `publicKey.curve` (secp256r1, secp256k1) and the hash from `sha`
    /// (only SHA-256 is supported, as the schemes prescribe).
    static let signatures: [String: WycheproofRunner.Handler] = [
        "ecdsa_verify_schema_v1.json": { group, test in
            let (key, msg, sig) = try ecdsaInputs(group, test)
            let signature = try Signature(scheme: key.scheme, derRepresentation: sig)
            return key.isValidSignature(signature, for: msg, requireLowS: false)
        },
        "ecdsa_p1363_verify_schema_v1.json": { group, test in
            let (key, msg, sig) = try ecdsaInputs(group, test)
            guard sig.count == 64 else { return false }
            let signature = try Signature(scheme: key.scheme, rawRepresentation: sig)
            return key.isValidSignature(signature, for: msg, requireLowS: false)
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
        guard sha == "SHA-256" else {
            throw LedgerError(.unsupportedTestVectors, "ECDSA hash '\(sha)' is not implemented; only SHA-256")
        }
        let scheme: SignatureScheme
        switch try WycheproofField.string(pk, "curve") {
        case "secp256r1": scheme = .p256
        case "secp256k1": scheme = .secp256k1
        case let other:
            throw LedgerError(.unsupportedTestVectors, "ECDSA curve '\(other)' is not implemented")
        }
        let key = try PublicKey(scheme: scheme, rawRepresentation: WycheproofField.hex(pk, "uncompressed"))
        return (key, try WycheproofField.hex(test, "msg"), try WycheproofField.hex(test, "sig"))
    }
}
