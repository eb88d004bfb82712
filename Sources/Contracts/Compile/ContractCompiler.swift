import Foundation
import LedgerCrypto

/// Drives an installed `vyper` or `solc`: finds it on PATH (or at a given path), runs it as a child process
/// (no shell) and reads its machine-readable output. Compilation stays outside the library's execution path:
/// a node never compiles, the SDK and the `forgechain contract compile` command do.
///
/// vyper runs as `vyper -f abi,bytecode,bytecode_runtime,source_map_runtime FILE`; solc as
/// `solc --combined-json abi,bin,bin-runtime,srcmap-runtime FILE`.
///
/// ```swift
/// let compiler = try ContractCompiler.locate(forSourceAt: "Traceability.vy")
/// let traceability = try compiler.compile(sourceAt: "Traceability.vy")[0]
/// let report = try ContractAudit.analyse(bytecode: traceability.runtimeBytecode, sourceMap: traceability.auditSourceMap)
/// ```
public struct ContractCompiler: Sendable, Hashable {
    /// The source language, which decides the compiler.
    public enum Language: String, Sendable, Hashable, CaseIterable {
        /// `.vy`, compiled by `vyper`.
        case vyper
        /// `.sol`, compiled by `solc`.
        case solidity

        /// The executable's name on PATH.
        public var executableName: String { self == .vyper ? "vyper" : "solc" }
    }

    /// The language it compiles.
    public let language: Language
    /// The absolute path of the executable.
    public let executablePath: String
    /// How long one run may take before it is terminated, in seconds; default 120.
    public var timeoutSeconds: Double

    /// A compiler at a known path (not checked; ``locate(_:at:environment:)`` checks).
    /// - Parameters:
    ///   - language: Required.
    ///   - executablePath: Required. An executable file.
    ///   - timeoutSeconds: Optional, default 120, more than 0.
    public init(language: Language, executablePath: String, timeoutSeconds: Double = 120) {
        self.language = language
        self.executablePath = executablePath
        self.timeoutSeconds = timeoutSeconds
    }

    /// The language of a source file by its extension: `.vy` vyper, `.sol` solidity.
    /// - Parameter path: Required.
    /// - Throws: `ContractError` `.compilerNotFound` (2350) for any other extension.
    public static func language(forSourceAt path: String) throws(ContractError) -> Language {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "vy": return .vyper
        case "sol": return .solidity
        case let other:
            throw ContractError(.compilerNotFound, "no compiler for a .\(other) file (\(path)): expected .vy or .sol",
                                details: ["path": path, "compiler": "none"])
        }
    }

    /// Finds the compiler for `language`.
    /// - Parameters:
    ///   - language: Required.
    ///   - path: Optional, default `nil`: an executable's path (a bare name is looked up on PATH); `nil` looks up
    ///     `vyper` or `solc` on PATH.
    ///   - environment: Optional, default the process's; only `PATH` is read.
    /// - Throws: `ContractError` `.compilerNotFound` (2350) when no executable file is there.
    public static func locate(_ language: Language, at path: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws(ContractError) -> ContractCompiler {
        let name = path ?? language.executableName
        if name.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: name) else {
                throw ContractError(.compilerNotFound, "the \(language.executableName) compiler at \(name) is not an executable file",
                                    details: ["compiler": language.executableName, "path": name])
            }
            return ContractCompiler(language: language, executablePath: URL(fileURLWithPath: name).standardizedFileURL.path)
        }
        let directories = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in directories where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return ContractCompiler(language: language, executablePath: candidate)
            }
        }
        throw ContractError(.compilerNotFound, "\(name) is not on PATH; install it (pip install vyper==0.4.3 for vyper) or pass its path",
                            details: ["compiler": name, "path": environment["PATH"] ?? ""])
    }

    /// Finds the compiler for a source file by its extension.
    /// - Parameters:
    ///   - sourcePath: Required. A `.vy` or `.sol` file.
    ///   - compilerPath: Optional, default `nil` (look up on PATH).
    ///   - environment: Optional, default the process's.
    /// - Throws: `ContractError` `.compilerNotFound` (2350).
    public static func locate(forSourceAt sourcePath: String, compilerPath: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws(ContractError) -> ContractCompiler {
        try locate(try language(forSourceAt: sourcePath), at: compilerPath, environment: environment)
    }

    /// The compiler's version string (`0.4.3+commit.bff19ea2`).
    /// - Throws: `ContractError` `.compilerIOFailed` (2354), `.compilerTimedOut` (2353),
    ///   `.compilerOutputInvalid` (2352).
    public func version() throws(ContractError) -> String {
        let run = try CompilerProcess.run(executablePath, ["--version"], timeoutSeconds: timeoutSeconds)
        guard run.status == 0 else {
            throw ContractError(.compilerOutputInvalid, "\(executablePath) --version exited with status \(run.status): \(run.errorText)",
                                details: ["field": "version"])
        }
        let lines = run.output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        if language == .solidity, let line = lines.first(where: { $0.hasPrefix("Version:") }) {
            return line.dropFirst("Version:".count).trimmingCharacters(in: .whitespaces)
        }
        guard let first = lines.first(where: { !$0.isEmpty }) else {
            throw ContractError(.compilerOutputInvalid, "\(executablePath) --version printed nothing", details: ["field": "version"])
        }
        return first
    }

    /// Compiles a source file.
    /// - Parameter path: Required. A readable `.vy` or `.sol` file; imports resolve as the compiler resolves
    ///   them from that file.
    /// - Returns: The contracts in it (vyper: one; solc: every contract the file defines or imports).
    /// - Throws: `ContractError` `.compilerIOFailed` (2354) when the file cannot be read or the compiler not
    ///   started, `.compilationFailed` (2351) with the compiler's message, `.compilerTimedOut` (2353),
    ///   `.compilerOutputInvalid` (2352).
    /// - Note: Blocks the calling thread while the compiler runs; safe to call concurrently.
    public func compile(sourceAt path: String) throws(ContractError) -> [CompiledContract] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ContractError(.compilerIOFailed, "the source \(path) cannot be read", details: ["path": path, "reason": "not readable"])
        }
        let version = try version()
        switch language {
        case .vyper: return [try compileVyper(path, version: version)]
        case .solidity: return try compileSolidity(path, version: version)
        }
    }

    private func failure(_ run: CompilerProcess.Result, _ path: String) -> ContractError {
        let report = (run.errorText.isEmpty ? run.output : run.errorText).trimmingCharacters(in: .whitespacesAndNewlines)
        return ContractError(.compilationFailed, "\(language.executableName) could not compile \(path): \(String(report.prefix(4_000)))",
                             details: ["path": path, "exitStatus": String(run.status)])
    }

    private func compileVyper(_ path: String, version: String) throws(ContractError) -> CompiledContract {
        let run = try CompilerProcess.run(executablePath, ["-f", "abi,bytecode,bytecode_runtime,source_map_runtime", path],
                                          timeoutSeconds: timeoutSeconds)
        guard run.status == 0 else { throw failure(run, path) }
        let lines = run.output.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.isEmpty }
        guard lines.count == 4 else {
            throw ContractError(.compilerOutputInvalid, "vyper printed \(lines.count) lines for 4 outputs (abi, bytecode, runtime, source map)",
                                details: ["field": "lines"])
        }
        let abi = lines[0]
        guard (try? JSONSerialization.jsonObject(with: Data(abi.utf8))) is [Any] else {
            throw ContractError(.compilerOutputInvalid, "vyper's ABI output is not a JSON array", details: ["field": "abi"])
        }
        let name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return CompiledContract(name: name, abiJSON: abi, bytecode: try Self.hex(lines[1], field: "bytecode"),
                                runtimeBytecode: try Self.hex(lines[2], field: "bytecode_runtime"),
                                runtimeSourceMap: lines[3], auditSourceMap: try? AuditSourceMap(vyperSourceMapJSON: Data(lines[3].utf8)),
                                compilerVersion: version)
    }

    private func compileSolidity(_ path: String, version: String) throws(ContractError) -> [CompiledContract] {
        let run = try CompilerProcess.run(executablePath, ["--combined-json", "abi,bin,bin-runtime,srcmap-runtime", path],
                                          timeoutSeconds: timeoutSeconds)
        guard run.status == 0 else { throw failure(run, path) }
        guard let root = (try? JSONSerialization.jsonObject(with: Data(run.output.utf8))) as? [String: Any],
              let contracts = root["contracts"] as? [String: Any] else {
            throw ContractError(.compilerOutputInvalid, "solc's --combined-json output has no contracts object", details: ["field": "contracts"])
        }
        let source = try? String(contentsOfFile: path, encoding: .utf8)
        var result: [CompiledContract] = []
        for (key, value) in contracts.sorted(by: { $0.key < $1.key }) {
            guard let entry = value as? [String: Any], let bin = entry["bin"] as? String, let runtime = entry["bin-runtime"] as? String else {
                throw ContractError(.compilerOutputInvalid, "solc's entry \(key) has no bin or bin-runtime", details: ["field": key])
            }
            guard !bin.isEmpty else { continue } // an interface or abstract contract
            let abi: String
            if let text = entry["abi"] as? String {
                abi = text
            } else if let array = entry["abi"], let data = try? JSONSerialization.data(withJSONObject: array, options: [.sortedKeys]) {
                abi = String(decoding: data, as: UTF8.self)
            } else {
                throw ContractError(.compilerOutputInvalid, "solc's entry \(key) has no abi", details: ["field": key])
            }
            let runtimeCode = try Self.hex(runtime, field: key + ".bin-runtime")
            let sourceMap = entry["srcmap-runtime"] as? String
            let auditMap = sourceMap.flatMap { map in source.flatMap { try? AuditSourceMap(solcSourceMap: map, source: $0, bytecode: runtimeCode) } }
            let name = key.split(separator: ":").last.map(String.init) ?? key
            result.append(CompiledContract(name: name, abiJSON: abi, bytecode: try Self.hex(bin, field: key + ".bin"),
                                           runtimeBytecode: runtimeCode, runtimeSourceMap: sourceMap, auditSourceMap: auditMap,
                                           compilerVersion: version))
        }
        guard !result.isEmpty else {
            throw ContractError(.compilerOutputInvalid, "solc produced no deployable contract for \(path)", details: ["field": "contracts"])
        }
        return result
    }

    private static func hex(_ text: String, field: String) throws(ContractError) -> [UInt8] {
        var digits = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if digits.hasPrefix("0x") { digits.removeFirst(2) }
        do { return try Hex.decode(digits) } catch {
            throw ContractError(.compilerOutputInvalid, "the compiler's \(field) is not hex", details: ["field": field])
        }
    }
}

/// Runs an executable with arguments (no shell), its output in temporary files, within a time limit.
enum CompilerProcess {
    struct Result {
        let status: Int32
        let output: String
        let errorText: String
    }

    static func run(_ executable: String, _ arguments: [String], timeoutSeconds: Double) throws(ContractError) -> Result {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-compile-\(UUID().uuidString)")
        let outputURL = folder.appendingPathComponent("stdout"), errorURL = folder.appendingPathComponent("stderr")
        let process = Process()
        let finished = DispatchSemaphore(value: 0)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for url in [outputURL, errorURL] where !FileManager.default.createFile(atPath: url.path, contents: nil) {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: outputURL)
            process.standardError = try FileHandle(forWritingTo: errorURL)
            process.terminationHandler = { _ in finished.signal() }
            try process.run()
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw ContractError(.compilerIOFailed, "could not start \(executable): \(error.localizedDescription)",
                                details: ["path": executable, "reason": error.localizedDescription])
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        if finished.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            process.terminate()
            if finished.wait(timeout: .now() + 2) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                finished.wait()
            }
            throw ContractError(.compilerTimedOut, "\(executable) did not finish within \(timeoutSeconds) s and was terminated",
                                details: ["seconds": String(timeoutSeconds), "path": executable])
        }
        let output: String, errorText: String
        do {
            output = String(decoding: try Data(contentsOf: outputURL), as: UTF8.self)
            errorText = String(decoding: try Data(contentsOf: errorURL), as: UTF8.self)
        } catch {
            throw ContractError(.compilerIOFailed, "could not read \(executable)'s output: \(error.localizedDescription)",
                                details: ["path": executable, "reason": error.localizedDescription])
        }
        return Result(status: process.terminationStatus, output: output, errorText: errorText)
    }
}
