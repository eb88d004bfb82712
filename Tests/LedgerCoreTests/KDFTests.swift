import Testing
@testable import LedgerCore

struct KDFTests {
    static func code(_ body: () throws -> Void) -> LedgerError.Code? {
        do { try body(); return nil } catch let error as LedgerError { return error.code } catch { return nil }
    }

    @Test func pbkdf2IsDeterministicAndDependsOnEveryInput() throws {
        let a = try PBKDF2.deriveKey(password: [1], salt: [2], iterations: 10, keyLength: 32)
        #expect(a == (try PBKDF2.deriveKey(password: [1], salt: [2], iterations: 10, keyLength: 32)))
        #expect(a != (try PBKDF2.deriveKey(password: [1], salt: [3], iterations: 10, keyLength: 32)))
        #expect(a != (try PBKDF2.deriveKey(password: [1], salt: [2], iterations: 11, keyLength: 32)))
        #expect(a != (try PBKDF2.deriveKey(password: [1], salt: [2], iterations: 10, keyLength: 32, prf: .hmacSM3)))
        #expect(try PBKDF2.deriveKey(password: [], salt: [], iterations: 1, keyLength: 5).count == 5)
    }

    @Test func pbkdf2RejectsZeroIterationsAndLengths() {
        #expect(Self.code { _ = try PBKDF2.deriveKey(password: [1], salt: [2], iterations: 0, keyLength: 32) } == .invalidKDFParameters)
        #expect(Self.code { _ = try PBKDF2.deriveKey(password: [1], salt: [2], iterations: 1, keyLength: 0) } == .invalidKDFParameters)
        #expect(Self.code { _ = try PBKDF2.deriveKey(password: [1], salt: [2], iterations: -5, keyLength: 1) } == .invalidKDFParameters)
    }

    @Test func scryptMatchesRFC7914FirstVector() throws {
        let dk = try Scrypt.deriveKey(password: [], salt: [], n: 16, r: 1, p: 1, keyLength: 64)
        #expect(Hex.encode(dk) == "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906")
    }

    @Test func scryptValidatesItsParameters() {
        func c(_ n: UInt64, _ r: UInt64, _ p: UInt64, _ len: Int = 32, _ mem: UInt64 = Scrypt.defaultMaxMemoryBytes) -> LedgerError.Code? {
            Self.code { _ = try Scrypt.deriveKey(password: [1], salt: [2], n: n, r: r, p: p, keyLength: len, maxMemoryBytes: mem) }
        }
        #expect(c(0, 8, 1) == .invalidKDFParameters)
        #expect(c(1, 8, 1) == .invalidKDFParameters)
        #expect(c(1000, 8, 1) == .invalidKDFParameters)      // not a power of two
        #expect(c(16, 0, 1) == .invalidKDFParameters)
        #expect(c(16, 1, 0) == .invalidKDFParameters)
        #expect(c(1 << 16, 1, 1) == .invalidKDFParameters)   // N >= 2^(16 r)
        #expect(c(16, 1 << 15, 1 << 15) == .invalidKDFParameters) // r p >= 2^30
        #expect(c(16, 1, 1, 0) == .invalidKDFParameters)
        #expect(c(1 << 20, 8, 1) == .invalidKDFParameters)   // 1 GiB > 256 MiB default
        #expect(c(16, 1, 1) == nil)
    }

    @Test func hkdfMatchesRFC5869TestCase1() throws {
        let ikm = [UInt8](repeating: 0x0b, count: 22)
        let salt = try Hex.decode("000102030405060708090a0b0c")
        let info = try Hex.decode("f0f1f2f3f4f5f6f7f8f9")
        let prk = try HKDF.extract(inputKeyMaterial: ikm, salt: salt)
        #expect(Hex.encode(prk) == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        let okm = try HKDF.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, keyLength: 42)
        #expect(Hex.encode(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
        #expect(try HKDF.expand(pseudoRandomKey: prk, info: info, keyLength: 42) == okm)
    }

    @Test func hkdfWithSM3DiffersAndLengthIsBounded() throws {
        let a = try HKDF.deriveKey(inputKeyMaterial: [1, 2, 3], keyLength: 32, hash: .sm3)
        #expect(a != (try HKDF.deriveKey(inputKeyMaterial: [1, 2, 3], keyLength: 32)))
        #expect(try HKDF.deriveKey(inputKeyMaterial: [1], keyLength: 255 * 32).count == 255 * 32)
        #expect(Self.code { _ = try HKDF.deriveKey(inputKeyMaterial: [1], keyLength: 255 * 32 + 1) } == .invalidKDFParameters)
        #expect(Self.code { _ = try HKDF.deriveKey(inputKeyMaterial: [1], keyLength: 0) } == .invalidKDFParameters)
        #expect(Self.code { _ = try HKDF.expand(pseudoRandomKey: [1], keyLength: 8) } == .invalidKDFParameters)
    }
}
