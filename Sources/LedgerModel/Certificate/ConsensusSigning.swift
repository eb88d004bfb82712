import LedgerCrypto

/// Signing and verification helpers shared by the engines' messages.
package enum ConsensusSigning {
    /// Signs `payload` with `key`; a signing failure (an OpenSSL fault, never
    /// expected) yields an all-zero-looking placeholder that will not verify,
    /// so an engine never traps on a backend fault.
    package static func sign(_ payload: [UInt8], with key: PrivateKey) -> Signature {
        if let s = try? key.signature(for: payload) { return s }
        return Signature(uncheckedScheme: key.scheme, raw: [UInt8](repeating: 1, count: key.scheme.signatureLength))
    }

    /// Whether `signature` by `signer` verifies over `payload` under `validators`.
    /// - Parameter cache: Optional. Remembers signatures that verified, so a message seen again (a
    ///   retransmission, or nested in a VIEW-CHANGE, NEW-VIEW or certificate) is not verified twice.
    package static func verify(_ signature: Signature, by signer: NodeID, over payload: [UInt8], in validators: ValidatorSet,
                       cache: VerifiedSignatureCache? = nil) -> Bool {
        guard let v = validators.validator(signer), v.publicKey.scheme == signature.scheme else { return false }
        guard let cache else { return v.publicKey.isValidSignature(signature, for: payload) }
        let key = VerifiedSignatureCache.key(v.publicKey, signature, payload)
        if cache.contains(key) { return true }
        guard v.publicKey.isValidSignature(signature, for: payload) else { return false }
        cache.insert(key)
        return true
    }

    package static func signatureItem(_ s: Signature) -> RLP.Item {
        .list([.string(s.scheme.rawValue), .bytes(s.rawRepresentation)])
    }

    package static func signature(_ item: RLP.Item, _ field: String) throws(LedgerError) -> Signature {
        let f = try item.list(field, count: 2)
        let name = try f[0].string(field + ".scheme")
        guard let scheme = SignatureScheme(rawValue: name) else {
            throw LedgerError(.malformedConsensusMessage, "field '\(field).scheme': unknown scheme '\(name)'", details: ["field": field + ".scheme"])
        }
        return try Signature(scheme: scheme, rawRepresentation: try f[1].bytes(field + ".bytes"))
    }

    package static func node(_ item: RLP.Item, _ field: String) throws(LedgerError) -> NodeID {
        let v = try item.uint64(field)
        guard v <= UInt32.max else {
            throw LedgerError(.malformedConsensusMessage, "field '\(field)': \(v) exceeds 32 bits", details: ["field": field])
        }
        return NodeID(UInt32(v))
    }

    package static func optionalBlock(_ item: RLP.Item, _ field: String) throws(LedgerError) -> Block? {
        let bytes = try item.bytes(field)
        return bytes.isEmpty ? nil : try Block(decoding: bytes)
    }
}
