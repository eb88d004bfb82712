import Testing
@testable import LedgerCore
@testable import LedgerCrypto

struct ECIESTests {
    static let p256Key: PrivateKey = try! PrivateKey.generate(.p256)
    static let sm2Key: PrivateKey = try! PrivateKey.generate(.sm2)

    static func code(_ body: () throws -> Void) -> LedgerError.Code? {
        do { try body(); return nil } catch let error as LedgerError { return error.code } catch { return nil }
    }

    static func pseudoRandomBytes(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    // MARK: - P-256

    @Test func p256RoundTripsEmptyOneByteAndLongPlaintextsWithTheDocumentedLength() throws {
        var rng = SplitMix64(seed: 0xEC1E5)
        for length in [0, 1, 15, 16, 17, 1000, 70_000] {
            let plaintext = Self.pseudoRandomBytes(length, &rng)
            let box = try ECIES.encrypt(plaintext, to: Self.p256Key.publicKey)
            #expect(box.count == length + 61)
            #expect(ECIES.p256Overhead == 61)
            #expect(box[0] == 2 || box[0] == 3, "starts with a compressed ephemeral point")
            #expect(try ECIES.decrypt(box, with: Self.p256Key) == plaintext)
        }
    }

    @Test func p256EncryptionIsRandomisedPerCall() throws {
        let plaintext = Array("same plaintext".utf8)
        let a = try ECIES.encrypt(plaintext, to: Self.p256Key.publicKey)
        let b = try ECIES.encrypt(plaintext, to: Self.p256Key.publicKey)
        #expect(a[0..<33] != b[0..<33], "fresh ephemeral key")
        #expect(a[33..<45] != b[33..<45], "fresh nonce")
        #expect(a != b)
        #expect(try ECIES.decrypt(a, with: Self.p256Key) == plaintext)
        #expect(try ECIES.decrypt(b, with: Self.p256Key) == plaintext)
    }

    /// Recomputes the documented construction step by step from the public
    /// pieces (ephemeral key recovered via the same ECDH from the recipient's
    /// side) and checks that a box built by hand decrypts: pins the format,
    /// the HKDF salt/info and the region order.
    @Test func p256FormatMatchesTheDocumentedConstruction() throws {
        let recipient = Self.p256Key
        let ephemeral = try PrivateKey.generate(.p256)
        let shared = try EVPKey.wrapping(ephemeral.backend.ec!).deriveSharedSecret(with: EVPKey.wrapping(recipient.publicKey.backend.ec!))
        #expect(shared.count == 32)
        // ECDH is symmetric.
        let sharedBack = try EVPKey.wrapping(recipient.backend.ec!).deriveSharedSecret(with: EVPKey.wrapping(ephemeral.publicKey.backend.ec!))
        #expect(shared == sharedBack)
        let info = Array("ForgeChain ECIES P-256 v1".utf8) + Array("lot-42".utf8)
        #expect(ECIES.p256InfoLabel.count == 25)
        let key = try HKDF.deriveKey(inputKeyMaterial: shared, salt: ephemeral.publicKey.rawRepresentation, info: info, keyLength: 32)
        let nonce = [UInt8](repeating: 7, count: 12)
        let sealed = try SymmetricCipher.aes256GCM.seal(Array("hand-built".utf8), using: SymmetricKey(bytes: key), nonce: nonce)
        let box = ephemeral.publicKey.rawRepresentation + nonce + sealed.ciphertext + sealed.tag
        #expect(try ECIES.decrypt(box, with: recipient, sharedInfo: Array("lot-42".utf8)) == Array("hand-built".utf8))
        #expect(Self.code { _ = try ECIES.decrypt(box, with: recipient) } == .authenticationFailed)
    }

    @Test func p256WrongPrivateKeyFailsAuthentication() throws {
        let box = try ECIES.encrypt(Array("for p256Key only".utf8), to: Self.p256Key.publicKey)
        let other = try PrivateKey.generate(.p256)
        #expect(Self.code { _ = try ECIES.decrypt(box, with: other) } == .authenticationFailed)
    }

    @Test func p256EveryTamperedRegionFailsWithItsCode() throws {
        let plaintext = Array("torque spec 35 Nm".utf8)
        let box = try ECIES.encrypt(plaintext, to: Self.p256Key.publicKey)
        let regions: [(String, Range<Int>)] = [("nonce", 33..<45), ("ciphertext", 45..<(box.count - 16)),
                                               ("tag", (box.count - 16)..<box.count)]
        for (name, range) in regions {
            for index in range {
                var bad = box
                bad[index] ^= 0x01
                #expect(Self.code { _ = try ECIES.decrypt(bad, with: Self.p256Key) } == .authenticationFailed,
                        "\(name) byte \(index)")
            }
        }
        // Ephemeral key, prefix: 02 <-> 03 is the negated point, whose ECDH x is
        // the same; the HKDF salt (the encoded key) still differs, so it fails.
        var negated = box
        negated[0] ^= 0x01
        #expect(Self.code { _ = try ECIES.decrypt(negated, with: Self.p256Key) } == .authenticationFailed)
        // Ephemeral key, other prefixes are not compressed points.
        for prefix: UInt8 in [0, 1, 4, 6, 7, 0xFF] {
            var bad = box
            bad[0] = prefix
            #expect(Self.code { _ = try ECIES.decrypt(bad, with: Self.p256Key) } == .invalidPublicKey, "prefix \(prefix)")
        }
        // Ephemeral key, x-coordinate: about half of all x values are on the
        // curve. Both outcomes must be typed: off-curve → invalidPublicKey,
        // another valid point → authenticationFailed. Walk until both occurred.
        var seen: Set<UInt32> = []
        for delta in 1...64 where seen.count < 2 {
            var bad = box
            bad[32] = bad[32] &+ UInt8(delta)
            let onCurve = (try? PublicKey(scheme: .p256, rawRepresentation: Array(bad[0..<33]))) != nil
            let code = Self.code { _ = try ECIES.decrypt(bad, with: Self.p256Key) }
            #expect(code == (onCurve ? .authenticationFailed : .invalidPublicKey), "x delta \(delta)")
            if let code { seen.insert(code.rawValue) }
        }
        #expect(seen == [1353, 1304])
        #expect(try ECIES.decrypt(box, with: Self.p256Key) == plaintext, "untouched box still decrypts")
    }

    @Test func p256TruncatedAndExtendedCiphertextsFail() throws {
        let box = try ECIES.encrypt(Array("x".utf8), to: Self.p256Key.publicKey)
        for length in 0..<61 {
            #expect(Self.code { _ = try ECIES.decrypt(Array(box.prefix(length)), with: Self.p256Key) } == .invalidInputLength,
                    "length \(length)")
        }
        #expect(Self.code { _ = try ECIES.decrypt(Array(box.dropLast()), with: Self.p256Key) } == .authenticationFailed)
        #expect(Self.code { _ = try ECIES.decrypt(box + [0], with: Self.p256Key) } == .authenticationFailed)
    }

    @Test func p256SharedInfoMustMatch() throws {
        let info = Array("shipment 2024-0117".utf8)
        let box = try ECIES.encrypt([1, 2, 3], to: Self.p256Key.publicKey, sharedInfo: info)
        #expect(try ECIES.decrypt(box, with: Self.p256Key, sharedInfo: info) == [1, 2, 3])
        #expect(Self.code { _ = try ECIES.decrypt(box, with: Self.p256Key) } == .authenticationFailed)
        #expect(Self.code { _ = try ECIES.decrypt(box, with: Self.p256Key, sharedInfo: info + [0]) } == .authenticationFailed)
        let plain = try ECIES.encrypt([1, 2, 3], to: Self.p256Key.publicKey)
        #expect(Self.code { _ = try ECIES.decrypt(plain, with: Self.p256Key, sharedInfo: info) } == .authenticationFailed)
        // Length limit: 999 bytes is fine, 1000 is a typed error on both sides.
        let longest = [UInt8](repeating: 0xAB, count: ECIES.maximumSharedInfoLength)
        #expect(ECIES.maximumSharedInfoLength == 999)
        let longBox = try ECIES.encrypt([9], to: Self.p256Key.publicKey, sharedInfo: longest)
        #expect(try ECIES.decrypt(longBox, with: Self.p256Key, sharedInfo: longest) == [9])
        #expect(Self.code { _ = try ECIES.encrypt([9], to: Self.p256Key.publicKey, sharedInfo: longest + [0]) } == .invalidInputLength)
        #expect(Self.code { _ = try ECIES.decrypt(longBox, with: Self.p256Key, sharedInfo: longest + [0]) } == .invalidInputLength)
    }

    // MARK: - SM2

    @Test func sm2RoundTripsOneByteAndLongPlaintextsInGMT0009DERForm() throws {
        var rng = SplitMix64(seed: 0x5312)
        for length in [1, 2, 31, 32, 33, 1000, 5000] {
            let plaintext = Self.pseudoRandomBytes(length, &rng)
            let box = try ECIES.encrypt(plaintext, to: Self.sm2Key.publicKey)
            #expect(box.first == 0x30, "DER SEQUENCE")
            // SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3 (32), OCTET STRING C2 }
            var outer = DERReader(box)
            var seq = try outer.nested(tag: 0x30)
            try outer.requireEnd()
            let x = try seq.readUnsignedInteger()
            let y = try seq.readUnsignedInteger()
            let c3 = try seq.read(tag: 0x04)
            let c2 = try seq.read(tag: 0x04)
            try seq.requireEnd()
            #expect(x.count <= 32 && y.count <= 32)
            #expect(c3.count == 32)
            #expect(c2.count == length)
            let c1 = [4] + [UInt8](repeating: 0, count: 32 - x.count) + x + [UInt8](repeating: 0, count: 32 - y.count) + y
            #expect((try? PublicKey(scheme: .sm2, rawRepresentation: c1)) != nil, "C1 is a point on the SM2 curve")
            #expect(try ECIES.decrypt(box, with: Self.sm2Key) == plaintext)
        }
    }

    @Test func sm2RejectsEmptyPlaintextAndAnySharedInfo() throws {
        #expect(Self.code { _ = try ECIES.encrypt([], to: Self.sm2Key.publicKey) } == .invalidInputLength)
        #expect(Self.code { _ = try ECIES.encrypt([1], to: Self.sm2Key.publicKey, sharedInfo: [0]) } == .eciesSharedInfoUnsupported)
        let box = try ECIES.encrypt([1], to: Self.sm2Key.publicKey)
        #expect(Self.code { _ = try ECIES.decrypt(box, with: Self.sm2Key, sharedInfo: [0]) } == .eciesSharedInfoUnsupported)
        #expect(LedgerError.Code.eciesSharedInfoUnsupported.rawValue == 1341)
        #expect(LedgerError.Code.eciesDecryptionFailed.rawValue == 1340)
    }

    @Test func sm2WrongKeyAndEveryTamperedByteFailToDecrypt() throws {
        let plaintext = Array("SM2 encrypted calibration record".utf8)
        let box = try ECIES.encrypt(plaintext, to: Self.sm2Key.publicKey)
        let other = try PrivateKey.generate(.sm2)
        #expect(Self.code { _ = try ECIES.decrypt(box, with: other) } == .eciesDecryptionFailed)
        // Every byte (DER headers, C1 x and y, C3, C2), two different flips.
        for index in box.indices {
            for mask: UInt8 in [0x01, 0x80] {
                var bad = box
                bad[index] ^= mask
                #expect(Self.code { _ = try ECIES.decrypt(bad, with: Self.sm2Key) } == .eciesDecryptionFailed,
                        "byte \(index) ^ \(mask)")
            }
        }
        for length in 0..<box.count {
            #expect(Self.code { _ = try ECIES.decrypt(Array(box.prefix(length)), with: Self.sm2Key) } == .eciesDecryptionFailed,
                    "prefix \(length)")
        }
        #expect(Self.code { _ = try ECIES.decrypt(box + [0], with: Self.sm2Key) } == .eciesDecryptionFailed)
    }

    @Test func concurrentEncryptAndDecryptWithSharedKeysAgree() async throws {
        let keys = [Self.p256Key, Self.sm2Key]
        let ok = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<32 {
                group.addTask {
                    let key = keys[i % 2]
                    let plaintext = [UInt8](repeating: UInt8(i), count: 1 + i * 7)
                    guard let box = try? ECIES.encrypt(plaintext, to: key.publicKey) else { return false }
                    return (try? ECIES.decrypt(box, with: key)) == plaintext
                }
            }
            var all = true
            for await result in group { all = all && result }
            return all
        }
        #expect(ok)
    }

    // MARK: - Schemes and garbage

    @Test func otherSchemesAreRejectedWithSchemeMismatch() throws {
        for scheme in [SignatureScheme.secp256k1, .ed25519] {
            let key = try PrivateKey.generate(scheme)
            #expect(Self.code { _ = try ECIES.encrypt([1], to: key.publicKey) } == .schemeMismatch)
            #expect(Self.code { _ = try ECIES.decrypt([UInt8](repeating: 2, count: 100), with: key) } == .schemeMismatch)
        }
        // A P-256 box given to an SM2 key (and the reverse) does not decrypt.
        let p256Box = try ECIES.encrypt([1, 2], to: Self.p256Key.publicKey)
        #expect(Self.code { _ = try ECIES.decrypt(p256Box, with: Self.sm2Key) } == .eciesDecryptionFailed)
        let sm2Box = try ECIES.encrypt([1, 2], to: Self.sm2Key.publicKey)
        #expect(Self.code { _ = try ECIES.decrypt(sm2Box, with: Self.p256Key) } != nil)
    }

    @Test func seededRandomInputsToDecryptThrowLedgerErrors() throws {
        var rng = SplitMix64(seed: 0xEC1E5_F022)
        let p256Box = try ECIES.encrypt(Array("seed".utf8), to: Self.p256Key.publicKey)
        let sm2Box = try ECIES.encrypt(Array("seed".utf8), to: Self.sm2Key.publicKey)
        var thrown = 0
        for i in 0..<400 {
            var bytes: [UInt8]
            switch i % 4 {
            case 0: bytes = Self.pseudoRandomBytes(Int.random(in: 0...300, using: &rng), &rng)
            case 1: // random bytes behind a valid ephemeral key / DER header
                bytes = Array(p256Box.prefix(33)) + Self.pseudoRandomBytes(Int.random(in: 0...200, using: &rng), &rng)
            case 2:
                bytes = sm2Box   // one byte changed (never to itself)
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            default:
                bytes = [0x30, UInt8.random(in: 0...0x84, using: &rng)] + Self.pseudoRandomBytes(Int.random(in: 0...150, using: &rng), &rng)
            }
            for key in [Self.p256Key, Self.sm2Key] {
                do {
                    _ = try ECIES.decrypt(bytes, with: key)
                    Issue.record("random input \(i) decrypted under \(key.scheme.rawValue)")
                } catch {
                    thrown += 1   // typed throws: always a LedgerError
                }
            }
        }
        #expect(thrown == 800)
    }
}
