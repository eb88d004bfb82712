import Testing
@testable import LedgerCore
@testable import LedgerCrypto

struct CipherTests {
    static let gcmCiphers = SymmetricCipher.allCases.filter { $0.mode == .gcm }
    static let cbcCiphers = SymmetricCipher.allCases.filter { $0.mode == .cbc }

    static func code(_ body: () throws -> Void) -> LedgerError.Code? {
        do { try body(); return nil } catch let error as LedgerError { return error.code } catch { return nil }
    }

    @Test(arguments: gcmCiphers)
    func gcmSealThenOpenReturnsThePlaintextForManyLengths(cipher: SymmetricCipher) throws {
        let key = SymmetricKey.generate(for: cipher)
        #expect(key.byteCount == cipher.keyLength)
        for length in [0, 1, 15, 16, 17, 100, 1000] {
            let plaintext = SecureRandom.bytes(count: length)
            let box = try cipher.seal(plaintext, using: key, authenticating: [1, 2, 3])
            #expect(box.nonce.count == 12 && box.tag.count == 16 && box.ciphertext.count == length)
            if length > 8 { #expect(box.ciphertext != plaintext) }
            #expect(try cipher.open(box, using: key, authenticating: [1, 2, 3]) == plaintext)
            let combined = try SymmetricCipher.SealedBox(combined: box.combined)
            #expect(try cipher.open(combined, using: key, authenticating: [1, 2, 3]) == plaintext)
        }
    }

    @Test(arguments: gcmCiphers)
    func gcmTamperingWithCiphertextTagAadNonceOrKeyFailsAuthentication(cipher: SymmetricCipher) throws {
        let key = SymmetricKey.generate(for: cipher)
        let box = try cipher.seal(Array("sensor 7: 21.5 C".utf8), using: key, authenticating: Array("lot 42".utf8))
        var c = box; c.ciphertext[0] ^= 1
        var t = box; t.tag[15] ^= 0x80
        var n = box; n.nonce[0] ^= 1
        #expect(Self.code { _ = try cipher.open(c, using: key, authenticating: Array("lot 42".utf8)) } == .authenticationFailed)
        #expect(Self.code { _ = try cipher.open(t, using: key, authenticating: Array("lot 42".utf8)) } == .authenticationFailed)
        #expect(Self.code { _ = try cipher.open(n, using: key, authenticating: Array("lot 42".utf8)) } == .authenticationFailed)
        #expect(Self.code { _ = try cipher.open(box, using: key, authenticating: Array("lot 43".utf8)) } == .authenticationFailed)
        #expect(Self.code { _ = try cipher.open(box, using: SymmetricKey.generate(for: cipher)) } == .authenticationFailed)
    }

    @Test func gcmAcceptsTruncatedTagsOfTwelveToSixteenBytesOnly() throws {
        let key = SymmetricKey.generate(for: .aes128GCM)
        for tagLength in 12...16 {
            let box = try SymmetricCipher.aes128GCM.seal([9, 9], using: key, tagLength: tagLength)
            #expect(box.tag.count == tagLength)
            #expect(try SymmetricCipher.aes128GCM.open(box, using: key) == [9, 9])
        }
        #expect(Self.code { _ = try SymmetricCipher.aes128GCM.seal([], using: key, tagLength: 11) } == .invalidTagLength)
        var box = try SymmetricCipher.aes128GCM.seal([1], using: key)
        box.tag = Array(box.tag.prefix(8))
        #expect(Self.code { _ = try SymmetricCipher.aes128GCM.open(box, using: key) } == .invalidTagLength)
    }

    @Test func softwareGCMAgreesWithOpenSSLForEveryNonceLength() throws {
        // The Swift GCM (used for SM4 and nonces > 128 bytes) must equal OpenSSL's AES-GCM.
        var rng = SplitMix64(seed: 7)
        for nonceLength in [1, 8, 12, 13, 16, 64, 128] {
            let keyBytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let nonce = (0..<nonceLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let aad = (0..<(nonceLength % 20)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let pt = (0..<(nonceLength * 3 + 5)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let box = try SymmetricCipher.aes128GCM.seal(pt, using: SymmetricKey(bytes: keyBytes), nonce: nonce, authenticating: aad)
            let soft = try keyBytes.withUnsafeBufferPointer { k in
                try CipherGCMSoftware.crypt(.aes128ECB, key: k.baseAddress!, nonce: nonce, aad: aad, input: pt, encrypt: true)
            }
            #expect(soft.output == box.ciphertext, "nonce length \(nonceLength)")
            #expect(soft.tag == box.tag, "nonce length \(nonceLength)")
        }
    }

    @Test func longNoncesAboveOpenSSLsLimitRoundTrip() throws {
        let key = SymmetricKey.generate(for: .aes256GCM)
        let nonce = SecureRandom.bytes(count: 257)
        let box = try SymmetricCipher.aes256GCM.seal([1, 2, 3], using: key, nonce: nonce)
        #expect(try SymmetricCipher.aes256GCM.open(box, using: key) == [1, 2, 3])
        #expect(Self.code { _ = try SymmetricCipher.aes256GCM.seal([1], using: key, nonce: []) } == .invalidNonceLength)
    }

    @Test(arguments: cbcCiphers)
    func cbcEncryptThenDecryptReturnsThePlaintextWithAndWithoutPadding(cipher: SymmetricCipher) throws {
        let key = SymmetricKey.generate(for: cipher)
        for length in [0, 1, 7, 8, 15, 16, 17, 64, 1001] {
            let plaintext = SecureRandom.bytes(count: length)
            let box = try cipher.encrypt(plaintext, using: key)
            #expect(box.iv.count == cipher.blockSize)
            #expect(box.ciphertext.count == (length / cipher.blockSize + 1) * cipher.blockSize)
            #expect(try cipher.decrypt(box, using: key) == plaintext)
        }
        let blocks = SecureRandom.bytes(count: cipher.blockSize * 3)
        let raw = try cipher.encrypt(blocks, using: key, padding: .none)
        #expect(raw.ciphertext.count == blocks.count)
        #expect(try cipher.decrypt(raw, using: key, padding: .none) == blocks)
    }

    @Test func twoKeyTripleDESEqualsThreeKeyWithK3EqualToK1() throws {
        let k = SecureRandom.bytes(count: 16)
        let iv = SecureRandom.bytes(count: 8)
        let a = try SymmetricCipher.tripleDESCBC.encrypt([1, 2, 3], using: SymmetricKey(bytes: k), iv: iv)
        let b = try SymmetricCipher.tripleDESCBC.encrypt([1, 2, 3], using: SymmetricKey(bytes: k + k.prefix(8)), iv: iv)
        #expect(a == b)
        #expect(SymmetricCipher.tripleDESCBC.isWeak && SymmetricCipher.desCBC.isWeak && !SymmetricCipher.aes128GCM.isWeak)
    }

    @Test func singleDESMatchesTheClassicKnownAnswer() throws {
        // FIPS 81 / "Now is the time for all " with key 0123456789abcdef, CBC IV 1234567890abcdef.
        let key = SymmetricKey(bytes: try Hex.decode("0123456789abcdef"))
        let out = try SymmetricCipher.desCBC.encrypt(Array("Now is the time for all ".utf8), using: key,
                                                     iv: try Hex.decode("1234567890abcdef"), padding: .none)
        #expect(Hex.encode(out.ciphertext) == "e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6")
    }

    @Test func cbcRejectsBadPaddingAndWrongLengths() throws {
        let cipher = SymmetricCipher.aes128CBC
        let key = SymmetricKey.generate(for: cipher)
        let iv = [UInt8](repeating: 0, count: 16)
        // A block whose decryption ends in 0x00 is never valid PKCS#7.
        let bad = try cipher.encrypt([UInt8](repeating: 0, count: 16), using: key, iv: iv, padding: .none)
        #expect(Self.code { _ = try cipher.decrypt(bad.ciphertext, using: key, iv: iv) } == .badPadding)
        #expect(Self.code { _ = try cipher.decrypt([1, 2, 3], using: key, iv: iv) } == .invalidInputLength)
        #expect(Self.code { _ = try cipher.decrypt([], using: key, iv: iv) } == .invalidInputLength)
        #expect(Self.code { _ = try cipher.encrypt([1], using: key, iv: iv, padding: .none) } == .invalidInputLength)
        #expect(Self.code { _ = try cipher.encrypt([1], using: key, iv: [0]) } == .invalidNonceLength)
    }

    @Test(arguments: SymmetricCipher.allCases)
    func wrongKeyLengthsAreRejectedWithTheLengthInTheMessage(cipher: SymmetricCipher) throws {
        for length in [0, 1, 15, 17, 23, 31, 33, 64] where !cipher.acceptedKeyLengths.contains(length) {
            let key = SymmetricKey(bytes: [UInt8](repeating: 1, count: length))
            do {
                if cipher.mode == .gcm { _ = try cipher.seal([1], using: key) } else { _ = try cipher.encrypt([1], using: key) }
                Issue.record("\(cipher) accepted a \(length)-byte key")
            } catch {
                #expect(error.code == .invalidKeyLength)
                #expect(error.message.contains("key length \(length)"))
            }
        }
    }

    @Test func usingTheOtherModesMethodIsAModeMismatch() {
        let key = SymmetricKey.generate(for: .aes128GCM)
        #expect(Self.code { _ = try SymmetricCipher.aes128GCM.encrypt([1], using: key) } == .cipherModeMismatch)
        #expect(Self.code { _ = try SymmetricCipher.aes128CBC.seal([1], using: key) } == .cipherModeMismatch)
    }

    @Test func destroyedKeyIsZeroedAndRefusesUse() throws {
        let key = SymmetricKey.generate(for: .aes256GCM)
        let copy = key
        #expect(copy == key)
        key.destroy()
        #expect(copy.isDestroyed)
        #expect(Self.code { _ = try SymmetricCipher.aes256GCM.seal([1], using: copy) } == .keyDestroyed)
        let zeroed = key.storage.buffer.allSatisfy { $0 == 0 }
        #expect(zeroed)
    }

    @Test func cipherNamesParse() throws {
        #expect(try SymmetricCipher(name: "AES_256_GCM") == .aes256GCM)
        #expect(try SymmetricCipher(name: "3des-cbc") == .tripleDESCBC)
        #expect(Self.code { _ = try SymmetricCipher(name: "rc4") } == .unknownCipher)
    }

    @Test(arguments: SymmetricCipher.allCases)
    func seededRandomInputsToDecryptNeverCrash(cipher: SymmetricCipher) {
        var rng = SplitMix64(seed: 0xC1F3)
        let key = SymmetricKey.generate(for: cipher)
        var rejected = 0
        for _ in 0..<300 {
            let bytes = (0..<Int.random(in: 0...80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            do {
                if cipher.mode == .gcm {
                    _ = try cipher.open(try SymmetricCipher.SealedBox(combined: bytes), using: key)
                } else {
                    _ = try cipher.decrypt(Array(bytes.dropFirst(cipher.blockSize)), using: key,
                                           iv: Array(bytes.prefix(cipher.blockSize)))
                }
            } catch { rejected += 1 }
        }
        if cipher.mode == .gcm { #expect(rejected == 300) } else { #expect(rejected > 200) }
    }
}
