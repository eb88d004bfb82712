import Foundation
import Testing
@testable import LedgerCore
@testable import LedgerCrypto
@testable import LedgerConformance

struct WycheproofRunnerTests {
    @Test func unknownSchemaIsATypedError() {
        let doc = #"{"algorithm":"XYZ","schema":"xyz_schema.json","testGroups":[]}"#
        let error = #expect(throws: LedgerError.self) { try WycheproofRunner.run(json: Data(doc.utf8)) }
        #expect(error?.code == .unsupportedTestVectors)
    }

    @Test func nonWycheproofJSONIsATypedError() {
        let error = #expect(throws: LedgerError.self) { try WycheproofRunner.run(json: Data("[1,2]".utf8)) }
        #expect(error?.code == .malformedTestVectors)
    }

    /// An HMAC-SHA256 document with one right and one wrong tag, both
    /// marked valid: the runner must count one pass and one failure, and the
    /// closing line must say so.
    @Test func countsVerdictsAndPrintsTheClosingLine() throws {
        let key = [UInt8](repeating: 0x0b, count: 20)
        let msg = Array("Hi There".utf8)
        let tag = HMAC.authenticationCode(for: msg, key: key, algorithm: .sha256)
        let wrong = tag.map { $0 ^ 1 }
        let doc: [String: Any] = [
            "algorithm": "HMACSHA256", "schema": "mac_test_schema_v1.json",
            "testGroups": [[
                "keySize": 160, "tagSize": 256,
                "tests": [
                    ["tcId": 1, "comment": "good", "key": Hex.encode(key), "msg": Hex.encode(msg), "tag": Hex.encode(tag), "result": "valid", "flags": []],
                    ["tcId": 2, "comment": "bad", "key": Hex.encode(key), "msg": Hex.encode(msg), "tag": Hex.encode(wrong), "result": "valid", "flags": []],
                ],
            ]],
        ]
        let outcome = try WycheproofRunner.run(json: JSONSerialization.data(withJSONObject: doc))
        #expect(outcome.passed == 1)
        #expect(outcome.failed == 1)
        #expect(outcome.summary == "1 passed, 1 failed")
        #expect(outcome.failures.first?.contains("tcId 2") == true)
    }
}

struct WycheproofECDSAHashVariantTests {
    /// A P1363 document whose group names SHA-512: the runner must hash with
    /// SHA-512 truncated to 256 bits, so our signature over that digest is
    /// accepted, and the same signature fails when the group claims SHA-256.
    @Test func ecdsaGroupsUseTheHashTheyName() throws {
        let key = try PrivateKey.generate(.p256)
        let msg = Array("wycheproof".utf8)
        let sha512 = try WycheproofHandlers.ecdsaDigest("SHA-512", msg)
        #expect(sha512.count == 32)
        let sig = try key.signature(forDigest: sha512)
        func doc(_ sha: String) throws -> Data {
            let d: [String: Any] = [
                "algorithm": "ECDSA", "schema": "ecdsa_p1363_verify_schema_v1.json",
                "testGroups": [[
                    "sha": sha,
                    "publicKey": ["curve": "secp256r1", "uncompressed": Hex.encode(key.publicKey.uncompressedRepresentation!)],
                    "tests": [["tcId": 1, "comment": "", "msg": Hex.encode(msg), "sig": Hex.encode(sig.rawRepresentation),
                               "result": "valid", "flags": []]],
                ]],
            ]
            return try JSONSerialization.data(withJSONObject: d)
        }
        #expect(try WycheproofRunner.run(json: doc("SHA-512")).summary == "1 passed, 0 failed")
        #expect(try WycheproofRunner.run(json: doc("SHA-256")).summary == "0 passed, 1 failed")
        let error = #expect(throws: LedgerError.self) { try WycheproofRunner.run(json: doc("MD5")) }
        #expect(error?.code == .unsupportedTestVectors)
    }
}

struct WycheproofBitcoinSchemaTests {
    /// One secp256k1 key, a low-S signature and its high-S twin (`s' = n - s`), both over the same message.
    static func document(schema: String, twinResult: String) throws -> Data {
        let key = try PrivateKey.generate(.secp256k1)
        let msg = Array("bitcoin schema".utf8)
        let sig = try key.signature(forDigest: try WycheproofHandlers.ecdsaDigest("SHA-256", msg))
        var raw = Array(sig.rawRepresentation.prefix(64))
        raw.replaceSubrange(32..<64, with: CurveConstants.subtract(SignatureScheme.secp256k1.order, raw[32..<64]))
        let twin = try Signature(scheme: .secp256k1, rawRepresentation: raw)
        #expect(sig.isLowS && !twin.isLowS)
        let doc: [String: Any] = [
            "algorithm": "ECDSA", "schema": schema,
            "testGroups": [[
                "type": "EcdsaBitcoinVerify", "sha": "SHA-256",
                "publicKey": ["curve": "secp256k1", "uncompressed": Hex.encode(try #require(key.publicKey.uncompressedRepresentation))],
                "tests": [
                    ["tcId": 1, "comment": "low-S", "msg": Hex.encode(msg), "sig": Hex.encode(try #require(sig.derRepresentation)), "result": "valid", "flags": []],
                    ["tcId": 2, "comment": "high-S", "msg": Hex.encode(msg), "sig": Hex.encode(try #require(twin.derRepresentation)), "result": twinResult, "flags": []],
                ],
            ]],
        ]
        return try JSONSerialization.data(withJSONObject: doc)
    }

    @Test func theBitcoinSchemaRejectsHighSSignaturesThePlainSchemaAccepts() throws {
        let bitcoin = try WycheproofRunner.run(json: Self.document(schema: "ecdsa_bitcoin_verify_schema.json", twinResult: "invalid"))
        #expect(bitcoin.summary == "2 passed, 0 failed", "\(bitcoin.failures)")
        #expect(bitcoin.schema == "ecdsa_bitcoin_verify_schema.json")
        let plain = try WycheproofRunner.run(json: Self.document(schema: "ecdsa_verify_schema_v1.json", twinResult: "valid"))
        #expect(plain.summary == "2 passed, 0 failed", "\(plain.failures)")
        // Marked valid under the bitcoin schema, the high-S twin is a failure: the low-S rule is applied.
        let strict = try WycheproofRunner.run(json: Self.document(schema: "ecdsa_bitcoin_verify_schema.json", twinResult: "valid"))
        #expect(strict.summary == "1 passed, 1 failed" && strict.failures.first?.hasPrefix("tcId 2 (high-S)") == true, "\(strict.failures)")
    }
}
