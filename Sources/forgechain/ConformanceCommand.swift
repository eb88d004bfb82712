import ArgumentParser
import Foundation
import LedgerCore
import LedgerConformance

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run third-party conformance vectors against this build.",
        subcommands: [Wycheproof.self]
    )

    struct Wycheproof: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a Project Wycheproof test-vector file (testvectors_v1 JSON).",
            discussion: """
            Supported schemas: ECDSA P-256 and secp256k1 with SHA-256 (DER and P1363), \
            ECDSA bitcoin (DER, high-S signatures invalid, as this chain's transactions require), \
            Ed25519, AES-GCM, SM4-GCM, AES-CBC-PKCS5, HMAC-SHA256/SM3, PBKDF2. \
            'acceptable' tests pass whichever way the implementation decides. \
            Prints one line per failure and closes with 'N passed, N failed'; exits 1 on any failure.
            """
        )

        @Argument(help: "Path to the Wycheproof JSON file.")
        var file: String

        func run() throws {
            let outcome: WycheproofRunner.Outcome
            do {
                outcome = try WycheproofRunner.run(file: URL(fileURLWithPath: file))
            } catch let error as LedgerError {
                printError("error \(error.numericCode): \(error.message)")
                throw ExitCode(2)
            }
            for failure in outcome.failures { print("FAIL \(failure)") }
            print("\(outcome.algorithm) (\(outcome.schema)): acceptable accepted \(outcome.acceptableAccepted), rejected \(outcome.acceptableRejected)")
            print(outcome.summary)
            if outcome.failed > 0 { throw ExitCode(1) }
        }
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
