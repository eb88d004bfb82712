import Foundation
import Testing
import LedgerCore

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
