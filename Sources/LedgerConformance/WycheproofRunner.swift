import Foundation
import LedgerCrypto

/// Runs a Project Wycheproof test-vector file (the `testvectors_v1` JSON
/// format) against this library's crypto, for the families it implements.
///
/// Policy for `acceptable` tests: they pass whether the implementation
/// accepts or rejects them (Wycheproof leaves that choice to the
/// implementation); the count of each is reported in ``Outcome``.
///
/// ```swift
/// let outcome = try WycheproofRunner.run(file: url)
/// print("\(outcome.passed) passed, \(outcome.failed) failed")
/// ```
package enum WycheproofRunner {
    /// One test's verdict: does the implementation accept the input?
    /// A handler returns `true` when it accepts (signature verifies,
    /// decryption succeeds with the expected output, MAC and KDF outputs
    /// match), `false` when it rejects.
    package typealias Handler = @Sendable (_ group: [String: Any], _ test: [String: Any]) throws -> Bool

    /// The result of running one file.
    package struct Outcome: Sendable, Equatable {
        package var algorithm: String
        package var schema: String
        package var passed = 0
        package var failed = 0
        /// `acceptable` tests the implementation accepted / rejected.
        package var acceptableAccepted = 0
        package var acceptableRejected = 0
        /// One line per failed test: `tcId`, comment, expected and actual.
        package var failures: [String] = []

        /// The closing line test tooling reads: `N passed, N failed`.
        package var summary: String { "\(passed) passed, \(failed) failed" }
    }

    /// The schemas this build runs, with their handlers.
    package static var handlers: [String: Handler] {
        WycheproofHandlers.signatures.merging(WycheproofHandlers.symmetric) { a, _ in a }
    }

    /// Runs every test of a Wycheproof file.
    /// - Parameter file: Required. A Wycheproof `testvectors_v1` JSON file.
    /// - Throws: `LedgerError` `.unsupportedTestVectors` (1390) when the
    ///   file's schema, curve or hash is not one this build implements, `.malformedTestVectors`
    ///   (1391) when the file is not Wycheproof JSON.
    package static func run(file: URL) throws -> Outcome {
        let data: Data
        do { data = try Data(contentsOf: file) } catch {
            throw LedgerError(.malformedTestVectors, "cannot read \(file.path): \(error.localizedDescription)")
        }
        return try run(json: data)
    }

    /// Runs every test of a Wycheproof document held in memory.
    package static func run(json data: Data) throws -> Outcome {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let groups = root["testGroups"] as? [[String: Any]] else {
            throw LedgerError(.malformedTestVectors, "not a Wycheproof test-vector document (no testGroups)")
        }
        let schema = (root["schema"] as? String) ?? ""
        let algorithm = (root["algorithm"] as? String) ?? ""
        guard let handler = handlers[schema] else {
            throw LedgerError(.unsupportedTestVectors,
                              "schema '\(schema)' (\(algorithm)) is not implemented; supported: \(handlers.keys.sorted().joined(separator: ", "))",
                              details: ["schema": schema])
        }
        var outcome = Outcome(algorithm: algorithm, schema: schema)
        for var group in groups {
            // Several files share one schema (AES-GCM and SM4-GCM, HMAC-SHA256
            // and HMAC-SM3, ...): hand the file's algorithm to the handler.
            if group["algorithm"] == nil { group["algorithm"] = algorithm }
            for test in (group["tests"] as? [[String: Any]]) ?? [] {
                let id = (test["tcId"] as? Int) ?? -1
                let expected = (test["result"] as? String) ?? "invalid"
                let accepted: Bool
                do {
                    accepted = try handler(group, test)
                } catch let error as LedgerError where error.code == .unsupportedTestVectors {
                    throw error   // the file uses a variant this build does not implement
                } catch {
                    accepted = false
                }
                switch expected {
                case "valid" where accepted, "invalid" where !accepted:
                    outcome.passed += 1
                case "acceptable":
                    outcome.passed += 1
                    if accepted { outcome.acceptableAccepted += 1 } else { outcome.acceptableRejected += 1 }
                default:
                    outcome.failed += 1
                    outcome.failures.append("tcId \(id) (\((test["comment"] as? String) ?? "")): expected \(expected), implementation \(accepted ? "accepted" : "rejected")")
                }
            }
        }
        return outcome
    }
}

/// Small accessors for the untyped Wycheproof JSON, shared by the handlers.
enum WycheproofField {
    static func hex(_ object: [String: Any], _ key: String) throws -> [UInt8] {
        guard let s = object[key] as? String else {
            throw LedgerError(.malformedTestVectors, "missing hex field '\(key)'")
        }
        return try Hex.decode(s)
    }

    static func int(_ object: [String: Any], _ key: String) throws -> Int {
        guard let v = object[key] as? Int else {
            throw LedgerError(.malformedTestVectors, "missing integer field '\(key)'")
        }
        return v
    }

    static func string(_ object: [String: Any], _ key: String) throws -> String {
        guard let v = object[key] as? String else {
            throw LedgerError(.malformedTestVectors, "missing string field '\(key)'")
        }
        return v
    }
}

extension LedgerError.Code {
    /// A Wycheproof file's schema is not implemented by this build.
    public static let unsupportedTestVectors = Self(rawValue: 1390)
    /// A test-vector file is not in the expected format.
    public static let malformedTestVectors = Self(rawValue: 1391)
}
