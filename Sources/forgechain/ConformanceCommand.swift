import ArgumentParser
import Contracts
import Foundation
import LedgerCore
import LedgerConformance

struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Run third-party conformance vectors against this build.",
        subcommands: [Wycheproof.self, EVMFixtures.self]
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

extension ConformanceCommand {
    struct EVMFixtures: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "evm",
            abstract: "Run Ethereum conformance fixtures (state, blockchain and legacy VM tests) against the EVM.",
            discussion: """
            Reads every .json file under DIR (or DIR itself when it is a file) and runs the ethereum/tests \
            GeneralStateTests (Cancun entries: state root and logs hash), BlockchainTests (Cancun network: \
            full post-state) and legacy VMTests it finds, recognised by their content. Other JSON files are \
            ignored. Cases on the built-in skip list that fail are reported as skipped with the list's reason. \
            Prints one line per failed case, then 'N passed, N failed, N skipped'; exits 1 on any failure, \
            2 when DIR does not exist.
            """
        )

        @Argument(help: "A fixture folder (searched recursively) or one fixture file.")
        var directory: String

        @Flag(help: "Run without the built-in skip list (every failing case counts as failed).")
        var noSkipList = false

        @Flag(help: "Also print each skipped case with its reason.")
        var showSkipped = false

        func run() throws {
            let report: EVMConformanceReport
            do {
                report = try EVMConformance.run(directory: URL(fileURLWithPath: directory),
                                                skipList: noSkipList ? [:] : EVMConformanceSkipList.entries)
            } catch {
                printError("error \(error.numericCode): \(error.message)")
                throw ExitCode(2)
            }
            for failure in report.failures { print("FAIL \(failure.name): \(failure.reason)") }
            if showSkipped { for skipped in report.skipped { print("SKIP \(skipped.name): \(skipped.reason)") } }
            for name in report.unexpectedPasses { print("PASS (on the skip list) \(name)") }
            for line in report.summaryByFormat { print(line) }
            print("\(report.filesRead) files, \(report.filesIgnored.count) in other formats ignored")
            print(report.summary)
            if !report.failures.isEmpty { throw ExitCode(1) }
        }
    }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
