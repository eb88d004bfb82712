import ArgumentParser
import Contracts
import Foundation
import LedgerCrypto

/// `forgechain contract`: the contract tools that run outside a node (compile, audit).
struct ContractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contract",
        abstract: "Compile and audit smart contracts (Vyper, Solidity, EVM bytecode).",
        subcommands: [Compile.self, Audit.self]
    )

    struct Compile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compile a .vy (vyper) or .sol (solc) file with the compiler installed on PATH or given by --compiler.",
            discussion: """
            Runs the compiler as a child process and reads its machine-readable output. Without --out, prints one \
            JSON object per contract (name, compilerVersion, abi, bytecode, runtimeBytecode, sourceMap). With --out \
            DIR, writes NAME.abi.json, NAME.bin, NAME.bin-runtime (hex) and the runtime source map \
            (NAME.srcmap-runtime.json for vyper, NAME.srcmap-runtime for solc) and prints each path. \
            Exits 2 when the compiler is missing or rejects the source.
            """
        )

        @Argument(help: "The source file (.vy or .sol).")
        var file: String

        @Option(help: "The compiler's executable (default: vyper or solc on PATH).")
        var compiler: String?

        @Option(help: "Write the outputs into this folder (created if missing).")
        var out: String?

        func run() throws {
            let contracts: [CompiledContract]
            do {
                contracts = try ContractCompiler.locate(forSourceAt: file, compilerPath: compiler).compile(sourceAt: file)
            } catch {
                printError("error \(error.numericCode): \(error.message)")
                throw ExitCode(2)
            }
            if let out {
                let folder = URL(fileURLWithPath: out)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                for contract in contracts {
                    var files: [(String, String)] = [
                        ("\(contract.name).abi.json", contract.abiJSON),
                        ("\(contract.name).bin", Hex.encode(contract.bytecode)),
                        ("\(contract.name).bin-runtime", Hex.encode(contract.runtimeBytecode)),
                    ]
                    if let map = contract.runtimeSourceMap {
                        files.append((contract.name + (map.hasPrefix("{") ? ".srcmap-runtime.json" : ".srcmap-runtime"), map))
                    }
                    for (name, text) in files {
                        let url = folder.appendingPathComponent(name)
                        try Data((text + "\n").utf8).write(to: url, options: .atomic)
                        print(url.path)
                    }
                }
                return
            }
            for contract in contracts {
                var object: [String: Any] = [
                    "name": contract.name, "compilerVersion": contract.compilerVersion,
                    "abi": (try? JSONSerialization.jsonObject(with: Data(contract.abiJSON.utf8))) ?? contract.abiJSON,
                    "bytecode": "0x" + Hex.encode(contract.bytecode), "runtimeBytecode": "0x" + Hex.encode(contract.runtimeBytecode),
                ]
                if let map = contract.runtimeSourceMap {
                    object["sourceMap"] = (try? JSONSerialization.jsonObject(with: Data(map.utf8))) ?? map
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            }
        }
    }

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit contract bytecode: reentrancy, unchecked calls, tx.origin, controlled call targets, SELFDESTRUCT, block values in branches, unbounded storage loops, invalid jumps.",
            discussion: """
            FILE is runtime bytecode in hex (0x optional), or a .vy/.sol source that is compiled first (its runtime \
            code is audited with the compiler's source map, so findings carry source lines). Prints a summary line \
            and one line per finding (severity, pc, opcode, line, ID, message), or the report as JSON with --json. \
            Exits 1 when the deployment policy refuses the code (default: any high finding; see --fail-on and \
            --allow), 2 on unreadable input or a compiler error, 0 otherwise.
            """
        )

        @Argument(help: "Hex runtime bytecode, or a .vy/.sol source to compile first.")
        var file: String

        @Flag(help: "Print the report as JSON (with the policy's decision).")
        var json = false

        @Option(help: "The lowest severity that refuses: high, medium, low, info or none.")
        var failOn = "high"

        @Option(help: "A finding ID (kind@pc) or kind the policy lets through; repeatable.")
        var allow: [String] = []

        @Option(help: "A vyper source_map_runtime JSON for hex input, to give findings source lines.")
        var sourceMap: String?

        @Option(help: "The compiler's executable for a source FILE (default: vyper or solc on PATH).")
        var compiler: String?

        func validate() throws {
            guard failOn == "none" || AuditSeverity(name: failOn) != nil else {
                throw ValidationError("--fail-on must be high, medium, low, info or none, not \(failOn)")
            }
        }

        func run() throws {
            let report: AuditReport
            do {
                report = try makeReport()
            } catch let error as ContractError {
                printError("error \(error.numericCode): \(error.message)")
                throw ExitCode(2)
            } catch {
                printError("error: \(error.localizedDescription)")
                throw ExitCode(2)
            }
            let policy = DeploymentPolicy(refuseAtOrAbove: AuditSeverity(name: failOn), allowed: Set(allow))
            let refusing = policy.refusingFindings(in: report)
            if json {
                struct Output: Encodable {
                    let file: String
                    let report: AuditReport
                    let refused: Bool
                    let refusingFindings: [String]
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                let data = try encoder.encode(Output(file: file, report: report, refused: !refusing.isEmpty, refusingFindings: refusing.map(\.id)))
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(report.text)
                if !refusing.isEmpty {
                    print("refused: \(refusing.count) finding(s) at or above \(failOn): \(refusing.map(\.id).joined(separator: ", "))")
                }
            }
            if !refusing.isEmpty { throw ExitCode(1) }
        }

        private func makeReport() throws -> AuditReport {
            let lowered = file.lowercased()
            if lowered.hasSuffix(".vy") || lowered.hasSuffix(".sol") {
                let contracts = try ContractCompiler.locate(forSourceAt: file, compilerPath: compiler).compile(sourceAt: file)
                // solc lists imported contracts too: audit the one named after the file, else the largest.
                let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                let contract = contracts.first { $0.name == stem } ?? contracts.max { $0.runtimeBytecode.count < $1.runtimeBytecode.count }!
                return try ContractAudit.analyse(bytecode: contract.runtimeBytecode, sourceMap: contract.auditSourceMap)
            }
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw ContractError(.auditBytecodeInvalid, "cannot read \(file): \(error.localizedDescription)", details: ["field": "file"])
            }
            let map = try sourceMap.map { path throws -> AuditSourceMap in
                try AuditSourceMap(vyperSourceMapJSON: try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            return try ContractAudit.analyse(hex: text, sourceMap: map)
        }
    }
}
