import Testing
@testable import LedgerCore

struct RSATests {
    static let key: RSAPrivateKey = try! RSAPrivateKey(keySize: 2048)

    static func code(_ body: () throws -> Void) -> LedgerError.Code? {
        do { try body(); return nil } catch let error as LedgerError { return error.code } catch { return nil }
    }

    @Test func oaepRoundTripWith2048BitKeyAndLabels() throws {
        let key = Self.key
        #expect(key.keySize == 2048)
        #expect(key.publicKey.maximumPlaintextLength == 190)
        for length in [0, 1, 32, 190] {
            let pt = SecureRandom.bytes(count: length)
            let ct = try key.publicKey.encrypt(pt)
            #expect(ct.count == 256)
            #expect(try key.decrypt(ct) == pt)
        }
        let ct = try key.publicKey.encrypt([1, 2], label: Array("ctx".utf8))
        #expect(try key.decrypt(ct, label: Array("ctx".utf8)) == [1, 2])
        #expect(Self.code { _ = try key.decrypt(ct) } == .rsaDecryptionFailed)
        #expect(try key.publicKey.encrypt([1]) != (try key.publicKey.encrypt([1])))
    }

    @Test func wrongKeyAndTamperedCiphertextFailToDecrypt() throws {
        let other = try RSAPrivateKey(keySize: 2048)
        var ct = try Self.key.publicKey.encrypt(Array("secret".utf8))
        #expect(Self.code { _ = try other.decrypt(ct) } == .rsaDecryptionFailed)
        ct[100] ^= 1
        #expect(Self.code { _ = try Self.key.decrypt(ct) } == .rsaDecryptionFailed)
        #expect(Self.code { _ = try Self.key.decrypt(Array(ct.prefix(255))) } == .invalidInputLength)
        #expect(Self.code { _ = try Self.key.publicKey.encrypt([UInt8](repeating: 0, count: 191)) } == .invalidInputLength)
    }

    @Test func unsupportedKeySizesAreRejected() {
        for bits in [512, 1024, 2047, 2049, 8192] {
            #expect(Self.code { _ = try RSAPrivateKey(keySize: bits) } == .rsaKeySize)
        }
    }

    @Test func pkcs8SPKIAndPEMExportImportRoundTrip() throws {
        let der = try Self.key.pkcs8DER()
        let imported = try RSAPrivateKey(pkcs8DER: der)
        #expect(try imported.pkcs8DER() == der)
        let pem = try Self.key.pemRepresentation()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(try RSAPrivateKey(pemRepresentation: pem).pkcs8DER() == der)

        let spki = try Self.key.publicKey.spkiDER()
        let pub = try RSAPublicKey(spkiDER: spki)
        let pubPEM = try pub.pemRepresentation()
        #expect(try RSAPublicKey(pemRepresentation: pubPEM).spkiDER() == spki)
        // Encrypt with the imported public key, decrypt with the imported private key.
        #expect(try imported.decrypt(try pub.encrypt([4, 2])) == [4, 2])
    }

    @Test func malformedEncodingsAreTypedErrors() throws {
        let der = try Self.key.pkcs8DER()
        #expect(Self.code { _ = try RSAPrivateKey(pkcs8DER: der + [0]) } == .rsaKeyEncoding)
        #expect(Self.code { _ = try RSAPrivateKey(pkcs8DER: Array(der.prefix(100))) } == .rsaKeyEncoding)
        #expect(Self.code { _ = try RSAPrivateKey(pkcs8DER: []) } == .rsaKeyEncoding)
        #expect(Self.code { _ = try RSAPublicKey(spkiDER: der) } == .rsaKeyEncoding)
        #expect(Self.code { _ = try RSAPublicKey(pemRepresentation: "no pem here") } == .rsaKeyEncoding)
        #expect(Self.code { _ = try RSAPublicKey(pemRepresentation: "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----") } == .rsaKeyEncoding)
    }

    @Test func seededRandomBytesToDecodersAndDecryptNeverCrash() throws {
        var rng = SplitMix64(seed: 0x25A)
        let spki = try Self.key.publicKey.spkiDER()
        var accepted = 0
        for i in 0..<300 {
            var bytes = (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if i % 2 == 0 { // mutate a valid encoding
                bytes = spki
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if (try? RSAPublicKey(spkiDER: bytes)) != nil { accepted += 1 }
            _ = try? RSAPrivateKey(pkcs8DER: bytes)
            _ = try? Self.key.decrypt(bytes)
        }
        #expect(accepted < 150)
    }

    @Test func generates3072BitKeys() throws {
        let key = try RSAPrivateKey(keySize: 3072)
        #expect(key.keySize == 3072)
        #expect(try key.decrypt(try key.publicKey.encrypt([7])) == [7])
    }
}
