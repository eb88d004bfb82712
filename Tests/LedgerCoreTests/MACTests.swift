import Testing
@testable import LedgerCore

struct MACTests {
    @Test func hmacSHA256MatchesRFC4231TestCase2() throws {
        let tag = HMAC.authenticationCode(for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8))
        #expect(Hex.encode(tag) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func hmacSHA1AndSHA512MatchRFC2202AndRFC4231() {
        let key = Array("Jefe".utf8), msg = Array("what do ya want for nothing?".utf8)
        #expect(Hex.encode(HMAC.authenticationCode(for: msg, key: key, algorithm: .sha1)) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        #expect(Hex.encode(HMAC.authenticationCode(for: msg, key: key, algorithm: .sha512)).hasPrefix("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"))
    }

    @Test(arguments: HMAC.Algorithm.allCases)
    func verifyAcceptsTheTagAndRejectsAnyFlippedBit(algorithm: HMAC.Algorithm) throws {
        let key = SecureRandom.bytes(count: 32), msg = SecureRandom.bytes(count: 100)
        let tag = HMAC.authenticationCode(for: msg, key: key, algorithm: algorithm)
        #expect(tag.count == algorithm.outputLength)
        #expect(HMAC.isValidAuthenticationCode(tag, for: msg, key: key, algorithm: algorithm))
        for i in [0, tag.count / 2, tag.count - 1] {
            var bad = tag; bad[i] ^= 1
            #expect(!HMAC.isValidAuthenticationCode(bad, for: msg, key: key, algorithm: algorithm))
        }
        #expect(!HMAC.isValidAuthenticationCode(tag, for: msg + [0], key: key, algorithm: algorithm))
        let symmetric = SymmetricKey(bytes: key)
        #expect(try HMAC.authenticationCode(for: msg, key: symmetric, algorithm: algorithm) == tag)
        #expect(HMAC.isValidAuthenticationCode(tag, for: msg, key: symmetric, algorithm: algorithm))
    }

    @Test func truncatedTagsVerifyOnlyWhenAllowedAndAtLeastTenBytes() {
        let key = [UInt8](repeating: 7, count: 20), msg: [UInt8] = [1, 2, 3]
        let tag = HMAC.authenticationCode(for: msg, key: key)
        #expect(!HMAC.isValidAuthenticationCode(Array(tag.prefix(16)), for: msg, key: key))
        #expect(HMAC.isValidAuthenticationCode(Array(tag.prefix(16)), for: msg, key: key, minimumLength: 16))
        #expect(!HMAC.isValidAuthenticationCode(Array(tag.prefix(15)), for: msg, key: key, minimumLength: 16))
        #expect(!HMAC.isValidAuthenticationCode(Array(tag.prefix(4)), for: msg, key: key, minimumLength: 1))
        #expect(HMAC.isValidAuthenticationCode(Array(tag.prefix(10)), for: msg, key: key, minimumLength: 1))
        #expect(!HMAC.isValidAuthenticationCode([], for: msg, key: key, minimumLength: 0))
    }

    @Test func emptyKeyAndMessageWork() {
        // RFC 4231-style empty inputs: HMAC-SHA256("", "")
        #expect(Hex.encode(HMAC.authenticationCode(for: [], key: []))
                == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test func algorithmNamesParse() throws {
        #expect(try HMAC.Algorithm(name: "HMACSM3") == .sm3)
        #expect(try HMAC.Algorithm(name: "hmac-sha256") == .sha256)
        #expect(throws: LedgerError.self) { try HMAC.Algorithm(name: "md5") }
    }
}
