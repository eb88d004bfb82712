import Foundation
import Testing
@testable import LedgerCore
import LedgerConformance

@Suite(.conformanceVectors) struct MACConformanceTests {
    @Test(arguments: ["hmac_sha256_test.json", "hmac_sm3_test.json"])
    func wycheproofHMACFilePassesWithNoFailures(file: String) throws {
        let outcome = try CryptoVectors.runWycheproof(file)
        #expect(outcome.failed == 0, "\(file): \(outcome.failures.prefix(10).joined(separator: "\n"))")
        #expect(outcome.passed == 116)
    }

    @Test func hmacFileRunWithTheWrongHashFailsItsValidTests() throws {
        // Guards against handlers that pass regardless of the algorithm.
        let url = ConformancePaths.url("crypto/wycheproof/testvectors_v1/hmac_sm3_test.json")
        var root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        root["algorithm"] = "HMACSHA256"
        let outcome = try WycheproofRunner.run(json: JSONSerialization.data(withJSONObject: root))
        #expect(outcome.failed == 44)
    }
}
