import Testing
@testable import LedgerCore
@testable import LedgerCrypto

/// Calls `body` and returns the `LedgerError` code it threw (nil if none).
func thrownCode(_ body: () throws(LedgerError) -> Void) -> LedgerError.Code? {
    do {
        try body()
        return nil
    } catch {
        return error.code
    }
}

/// `n - s` for the `s` half of a raw signature, with `v` flipped if present.
func withHighS(_ sig: Signature) throws -> Signature {
    var raw = sig.rawRepresentation
    raw.replaceSubrange(32..<64, with: CurveConstants.subtract(sig.scheme.order, raw[32..<64]))
    if raw.count == 65 { raw[64] ^= 1 }
    return try Signature(scheme: sig.scheme, rawRepresentation: raw)
}

struct SignatureTests {
    static let message = Array("ForgeChain batch 42: torque 12.5 Nm".utf8)

    @Test(arguments: SignatureScheme.allCases)
    func signatureOfAMessageVerifiesUnderTheSignersPublicKey(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let sig = try key.signature(for: Self.message)
        #expect(sig.scheme == scheme)
        #expect(sig.rawRepresentation.count == scheme.signatureLength)
        #expect(key.publicKey.isValidSignature(sig, for: Self.message))
        try key.publicKey.verify(sig, for: Self.message)
        // Also through a public key re-imported from its raw bytes.
        let imported = try PublicKey(scheme: scheme, rawRepresentation: key.publicKey.rawRepresentation)
        #expect(imported == key.publicKey)
        #expect(imported.isValidSignature(sig, for: Self.message))
    }

    @Test(arguments: SignatureScheme.allCases)
    func aKeyParsedAgainComesFromTheCacheAndStillVerifies(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let raw = key.publicKey.rawRepresentation
        let first = try PublicKey(scheme: scheme, rawRepresentation: raw)
        let second = try PublicKey(scheme: scheme, rawRepresentation: raw)
        #expect(first.backend === second.backend)   // parsed once
        #expect(second == key.publicKey)
        let sig = try key.signature(for: Self.message)
        try second.verify(sig, for: Self.message)
        #expect(thrownCode { () throws(LedgerError) in try second.verify(sig, for: Self.message + [0]) } == .signatureMismatch)
        if let uncompressed = key.publicKey.uncompressedRepresentation {
            let long = try PublicKey(scheme: scheme, rawRepresentation: uncompressed)
            #expect(long == first)
            try long.verify(sig, for: Self.message)
        }
    }

    @Test func badKeysFailEveryTimeAndTheCacheIsBounded() throws {
        let notAPoint = [UInt8]([0x02] + [UInt8](repeating: 0xFF, count: 32))   // x ≥ p: no P-256 point
        for _ in 0..<2 {
            #expect(thrownCode { () throws(LedgerError) in _ = try PublicKey(scheme: .p256, rawRepresentation: notAPoint) } == .invalidPublicKey)
        }
        let cache = ParsedPublicKeys(capacity: 3)
        let keys = try (0..<7).map { _ in try PrivateKey.generate(.p256).publicKey }
        for k in keys { cache.insert(k, as: k.rawRepresentation) }
        #expect(cache.count <= 3)
        #expect(cache.key(.p256, keys[6].rawRepresentation) == keys[6])
        #expect(cache.key(.p256, keys[0].rawRepresentation) == nil)
    }

    @Test(arguments: SignatureScheme.allCases)
    func tamperedMessageFailsWithSignatureMismatch(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let sig = try key.signature(for: Self.message)
        var tampered = Self.message
        tampered[3] ^= 0x01
        #expect(thrownCode { () throws(LedgerError) in try key.publicKey.verify(sig, for: tampered) } == .signatureMismatch)
        #expect(!key.publicKey.isValidSignature(sig, for: tampered))
    }

    @Test(arguments: SignatureScheme.allCases)
    func tamperedSignatureFailsWithMismatchOrMalformed(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let sig = try key.signature(for: Self.message)
        for index in [0, 17, 31, 40, 63] {
            var raw = sig.rawRepresentation
            raw[index] ^= 0x04
            let code = thrownCode { () throws(LedgerError) in
                let bad = try Signature(scheme: scheme, rawRepresentation: raw)
                try key.publicKey.verify(bad, for: Self.message, requireLowS: false)
            }
            #expect(code == .signatureMismatch || code == .malformedSignature || code == .nonCanonicalSignature,
                    "byte \(index): \(String(describing: code))")
        }
    }

    @Test(arguments: SignatureScheme.allCases)
    func signatureFailsUnderAnotherKeyOfTheSameScheme(scheme: SignatureScheme) throws {
        let signer = try PrivateKey.generate(scheme)
        let other = try PrivateKey.generate(scheme)
        let sig = try signer.signature(for: Self.message)
        #expect(thrownCode { () throws(LedgerError) in try other.publicKey.verify(sig, for: Self.message) } == .signatureMismatch)
    }

    @Test func signatureOfAnotherSchemeIsRejectedWithSchemeMismatch() throws {
        let p256 = try PrivateKey.generate(.p256)
        let sm2 = try PrivateKey.generate(.sm2)
        let sig = try p256.signature(for: Self.message)
        #expect(thrownCode { () throws(LedgerError) in try sm2.publicKey.verify(sig, for: Self.message) } == .schemeMismatch)
        #expect(!sm2.publicKey.isValidSignature(sig, for: Self.message))
    }

    @Test(arguments: [SignatureScheme.p256, .secp256k1])
    func highSIsRejectedWhenLowSIsRequiredAndAcceptedOtherwise(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let sig = try key.signature(for: Self.message)
        #expect(sig.isLowS)
        let high = try withHighS(sig)
        #expect(!high.isLowS)
        #expect(thrownCode { () throws(LedgerError) in try key.publicKey.verify(high, for: Self.message) } == .nonCanonicalSignature)
        #expect(!key.publicKey.isValidSignature(high, for: Self.message))
        #expect(key.publicKey.isValidSignature(high, for: Self.message, requireLowS: false))
        #expect(high.normalizedToLowS == sig)
    }

    @Test func signingAlwaysProducesLowSAcrossManySignatures() throws {
        for scheme in [SignatureScheme.p256, .secp256k1] {
            let key = try PrivateKey.generate(scheme)
            for i in 0..<64 {
                let sig = try key.signature(for: Self.message + [UInt8(i)])
                #expect(sig.isLowS, "\(scheme) signature \(i) is high-S")
            }
        }
    }

    @Test func sm2SignaturesAreNotSubjectToTheLowSRule() throws {
        let key = try PrivateKey.generate(.sm2)
        let sig = try key.signature(for: Self.message)
        #expect(sig.isLowS)
        #expect(key.publicKey.isValidSignature(sig, for: Self.message, requireLowS: true))
    }

    @Test func ed25519SignatureWithSPlusLIsRejectedAsNonCanonical() throws {
        let key = try PrivateKey.generate(.ed25519)
        let sig = try key.signature(for: Self.message)
        // S (little-endian) + L stays below 2^256 because S < L < 2^253.
        var raw = sig.rawRepresentation
        let l = Array(CurveConstants.ed25519Order.reversed())
        var carry = 0
        for i in 0..<32 {
            let v = Int(raw[32 + i]) + Int(l[i]) + carry
            raw[32 + i] = UInt8(v & 0xff)
            carry = v >> 8
        }
        #expect(carry == 0)
        #expect(thrownCode { () throws(LedgerError) in _ = try Signature(scheme: .ed25519, rawRepresentation: raw) } == .nonCanonicalSignature)
    }

    @Test func ed25519SigningIsDeterministic() throws {
        let key = try PrivateKey.generate(.ed25519)
        #expect(try key.signature(for: Self.message) == key.signature(for: Self.message))
    }

    // MARK: - Prehashed ECDSA

    @Test(arguments: [SignatureScheme.p256, .secp256k1])
    func prehashedSignatureMatchesMessageSignatureOverItsSHA256(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let digest = HashAlgorithm.sha256.hash(Self.message).bytes
        let sig = try key.signature(forDigest: digest)
        #expect(key.publicKey.isValidSignature(sig, forDigest: digest))
        #expect(key.publicKey.isValidSignature(sig, for: Self.message))
        var other = digest
        other[0] ^= 1
        #expect(!key.publicKey.isValidSignature(sig, forDigest: other))
        #expect(thrownCode { () throws(LedgerError) in _ = try key.signature(forDigest: Array(digest.prefix(31))) } == .digestLength)
        #expect(thrownCode { () throws(LedgerError) in try key.publicKey.verify(sig, forDigest: digest + [0]) } == .digestLength)
    }

    @Test(arguments: [SignatureScheme.sm2, .ed25519])
    func prehashedSigningIsRefusedForSM2AndEd25519(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let digest = [UInt8](repeating: 7, count: 32)
        #expect(thrownCode { () throws(LedgerError) in _ = try key.signature(forDigest: digest) } == .schemeMismatch)
    }

    // MARK: - secp256k1 recovery

    @Test func secp256k1RecoveryReturnsTheSigner() throws {
        for i in 0..<16 {
            let key = try PrivateKey.generate(.secp256k1)
            let hash = HashAlgorithm.keccak256.hash([UInt8(i)] + Self.message)
            let digest = hash.bytes
            let sig = try Secp256k1.sign(digest: hash, with: key)
            #expect(try Secp256k1.recover(digest: hash, signature: sig) == key.publicKey)
            #expect(sig.rawRepresentation.count == 65)
            #expect(sig.recoveryID == 0 || sig.recoveryID == 1)
            #expect(try Secp256k1.recover(digest: digest, signature: sig) == key.publicKey)
            // The high-S twin with flipped v recovers the same key.
            #expect(try Secp256k1.recover(digest: digest, signature: withHighS(sig)) == key.publicKey)
            // The wrong v recovers somebody else (or nobody).
            var raw = sig.rawRepresentation
            raw[64] ^= 1
            let flipped = try Signature(scheme: .secp256k1, rawRepresentation: raw)
            #expect((try? Secp256k1.recover(digest: digest, signature: flipped)) != key.publicKey)
        }
    }

    @Test func secp256k1SignatureForMessageIsRecoverableOverItsSHA256() throws {
        let key = try PrivateKey.generate(.secp256k1)
        let sig = try key.signature(for: Self.message)
        let digest = HashAlgorithm.sha256.hash(Self.message).bytes
        #expect(try Secp256k1.recover(digest: digest, signature: sig) == key.publicKey)
    }

    @Test func secp256k1RFC6979SignatureMatchesKnownVector() throws {
        // Private key 1, SHA-256("Satoshi Nakamoto"): the widely published
        // RFC 6979 test (low-S form).
        let key = try PrivateKey(scheme: .secp256k1, rawRepresentation: [UInt8](repeating: 0, count: 31) + [1])
        #expect(Hex.encode(key.publicKey.rawRepresentation) == "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
        let sig = try key.signature(for: Array("Satoshi Nakamoto".utf8))
        #expect(Hex.encode(sig.rawRepresentation.prefix(64)) ==
                "934b1ea10a4b3c1757e2b0c017d0b6143ce3c9a7e6a4a49860d7a6ab210ee3d8"
                + "2442ce9d2b916064108014783e923ec36b49743e2ffa1c4496f01a512aafd9e5")
    }

    @Test func recoveryFailsForSignaturesWithoutRecoveryIDOrOfAnotherScheme() throws {
        let key = try PrivateKey.generate(.secp256k1)
        let digest = [UInt8](repeating: 9, count: 32)
        let sig = try Secp256k1.sign(digest: digest, with: key)
        let compact = try Signature(scheme: .secp256k1, rawRepresentation: sig.compactRepresentation)
        #expect(thrownCode { () throws(LedgerError) in _ = try Secp256k1.recover(digest: digest, signature: compact) } == .recoveryFailed)
        let p256 = try PrivateKey.generate(.p256).signature(forDigest: digest)
        #expect(thrownCode { () throws(LedgerError) in _ = try Secp256k1.recover(digest: digest, signature: p256) } == .schemeMismatch)
        #expect(thrownCode { () throws(LedgerError) in _ = try Secp256k1.sign(digest: digest, with: PrivateKey.generate(.p256)) } == .schemeMismatch)
        // A compact signature still verifies.
        #expect(key.publicKey.isValidSignature(compact, forDigest: digest))
    }

    // MARK: - Concurrency

    @Test func oneKeySignsFromManyTasksAtOnce() async throws {
        for scheme in SignatureScheme.allCases {
            let key = try PrivateKey.generate(scheme)
            let sigs = try await withThrowingTaskGroup(of: [Signature].self) { group in
                for t in 0..<4 {
                    group.addTask { try (0..<10).map { i in try key.signature(for: Self.message + [UInt8(t), UInt8(i)]) } }
                }
                return try await group.reduce(into: [Signature]()) { $0 += $1 }
            }
            #expect(sigs.count == 40)
            #expect(Set(sigs).count == 40, "\(scheme): signatures of distinct messages must differ")
        }
    }

    @Test func oneKeyVerifiesFromManyTasksAtOnce() async throws {
        for scheme in SignatureScheme.allCases {
            let key = try PrivateKey.generate(scheme)
            let pub = key.publicKey
            let sig = try key.signature(for: Self.message)
            let results = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        (0..<25).allSatisfy { _ in pub.isValidSignature(sig, for: Self.message) }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results == [true, true, true, true], "\(scheme)")
        }
    }
}
