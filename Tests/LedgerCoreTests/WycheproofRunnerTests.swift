import Foundation
import Testing
@testable import LedgerCore

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
