import Foundation
import Testing
@testable import LedgerCore

@Suite(.conformanceVectors) struct KDFConformanceTests {
    @Test(arguments: ["pbkdf2_hmacsha1_test.json", "pbkdf2_hmacsha256_test.json"])
    func wycheproofPBKDF2FilePassesWithNoFailures(file: String) throws {
        let clock = ContinuousClock().now
        let outcome = try CryptoVectors.runWycheproof(file)
        print("\(file): \(outcome.passed) passed in \(ContinuousClock().now - clock)")
        #expect(outcome.failed == 0, "\(file): \(outcome.failures.prefix(10).joined(separator: "\n"))")
        #expect(outcome.passed >= 40)
    }

    static func bytes(_ v: [String: Any], _ name: String) throws -> [UInt8] {
        if let hex = v[name + "_hex"] as? String { return try Hex.decode(hex) }
        return Array(try #require(v[name + "_ascii"] as? String).utf8)
    }

    @Test func pbkdf2SHA1MatchesRFC6070IncludingSixteenMillionIterations() throws {
        let root = try CryptoVectors.json("standards/kdf-vectors.json")
        let vectors = try #require(root["pbkdf2_hmac_sha1_rfc6070"] as? [[String: Any]])
        #expect(vectors.count == 6)
        for v in vectors {
            let iterations = v["iterations"] as! Int
            let clock = ContinuousClock().now
            let dk = try PBKDF2.deriveKey(password: try Self.bytes(v, "password"), salt: try Self.bytes(v, "salt"),
                                          iterations: iterations, keyLength: v["dklen"] as! Int, prf: .hmacSHA1)
            if iterations > 1_000_000 { print("PBKDF2-SHA1 c=\(iterations): \(ContinuousClock().now - clock)") }
            #expect(dk == (try Hex.decode(v["dk"] as! String)), "c = \(iterations)")
        }
    }

    @Test func pbkdf2SHA256MatchesRFC7914Section11() throws {
        let root = try CryptoVectors.json("standards/kdf-vectors.json")
        let vectors = try #require(root["pbkdf2_hmac_sha256_rfc7914_section11"] as? [[String: Any]])
        #expect(vectors.count == 2)
        for v in vectors {
            let dk = try PBKDF2.deriveKey(password: try Self.bytes(v, "password"), salt: try Self.bytes(v, "salt"),
                                          iterations: v["iterations"] as! Int, keyLength: v["dklen"] as! Int, prf: .hmacSHA256)
            #expect(dk == (try Hex.decode(v["dk"] as! String)))
        }
    }

    /// The RFC 7914 §8–10 internals (Salsa20/8, BlockMix, ROMix) are inside
    /// OpenSSL's scrypt and not reachable through its API: skipped; the four
    /// end-to-end §12 vectors exercise them.
    @Test func scryptMatchesRFC7914Section12IncludingTheOneGiBCase() throws {
        let root = try CryptoVectors.json("standards/kdf-vectors.json")
        let section = try #require(root["scrypt_rfc7914_section12"] as? [String: Any])
        let vectors = try #require(section["vectors"] as? [[String: Any]])
        #expect(vectors.count == 4)
        for v in vectors {
            let n = UInt64(v["N"] as! Int), r = UInt64(v["r"] as! Int), p = UInt64(v["p"] as! Int)
            let clock = ContinuousClock().now
            let dk = try Scrypt.deriveKey(password: try Self.bytes(v, "password"), salt: try Self.bytes(v, "salt"),
                                          n: n, r: r, p: p, keyLength: v["dklen"] as! Int, maxMemoryBytes: 2 << 30)
            if n >= 1 << 20 { print("scrypt N=\(n): \(ContinuousClock().now - clock)") }
            #expect(dk == (try Hex.decode(v["dk"] as! String)), "N = \(n)")
        }
    }
}
