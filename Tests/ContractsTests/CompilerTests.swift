import Contracts
import Foundation
import Testing

/// Where the tests find vyper: FORGECHAIN_VYPER, else PATH. In CI (the CI variable set) it must be there:
/// .ci/run installs it, and the tests fail rather than skip without it.
enum VyperForTests {
    static var compiler: ContractCompiler? {
        let environment = ProcessInfo.processInfo.environment
        return try? ContractCompiler.locate(.vyper, at: environment["FORGECHAIN_VYPER"], environment: environment)
    }

    static var inCI: Bool {
        ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" && $0 != "0" } ?? false
    }

    /// Run when vyper is present, and always in CI.
    static var shouldRun: Bool { inCI || compiler != nil }

    static let skipReason: Comment = "vyper is not on PATH (pip install vyper==0.4.3, or FORGECHAIN_VYPER=/path/to/vyper); CI installs it and never skips"

    static let sources = ["Traceability", "Audit/Reentrancy", "Audit/UncheckedCall", "Audit/TxOrigin", "Audit/DelegateToCaller",
                          "Audit/CallToCaller", "Audit/TimestampBranch", "Audit/BlockNumberBranch", "Audit/GuardedWithdraw", "Audit/NearSizeLimit"]
}

@Suite struct CompilerTests {
    @Test(.enabled(if: VyperForTests.shouldRun, VyperForTests.skipReason), arguments: VyperForTests.sources)
    func vyperCompilesEachFixtureToTheCommittedOutput(stem: String) throws {
        let compiler = try #require(VyperForTests.compiler, "CI must install vyper 0.4.3 (.ci/run)")
        #expect(try compiler.version().hasPrefix("0.4.3"))
        let contracts = try compiler.compile(sourceAt: ContractFixtures.url(stem + ".vy").path)
        let contract = try #require(contracts.first)
        #expect(contracts.count == 1)
        #expect(contract.name == String(stem.split(separator: "/").last!))
        #expect(contract.compilerVersion.hasPrefix("0.4.3"))
        #expect(contract.runtimeBytecode == (try ContractFixtures.runtime(stem)))
        #expect(contract.bytecode == (try ContractAudit.decodeHex(ContractFixtures.text(stem + ".bin"))))
        let abi = try JSONSerialization.jsonObject(with: Data(contract.abiJSON.utf8)) as? NSArray
        let committed = try JSONSerialization.jsonObject(with: Data(contentsOf: ContractFixtures.url(stem + ".abi.json"))) as? NSArray
        #expect(abi != nil && abi == committed)
        #expect((contract.auditSourceMap?.count ?? 0) > 0)
        if stem != "Audit/NearSizeLimit" { // its 500 KB source map is not committed
            let map = try #require(contract.runtimeSourceMap)
            let committedMap = try JSONSerialization.jsonObject(with: Data(contentsOf: ContractFixtures.url(stem + ".srcmap-runtime.json"))) as? NSDictionary
            #expect((try JSONSerialization.jsonObject(with: Data(map.utf8)) as? NSDictionary) == committedMap)
        }
    }

    @Test(.enabled(if: VyperForTests.shouldRun, VyperForTests.skipReason))
    func aSourceVyperRejectsFailsWithTheCompilersMessage() throws {
        let compiler = try #require(VyperForTests.compiler, "CI must install vyper 0.4.3 (.ci/run)")
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let source = folder.url.appendingPathComponent("Broken.vy")
        try Data("# pragma version ~=0.4.3\n@external\ndef f() -> uint256:\n    return undefined_name\n".utf8).write(to: source)
        let error = #expect(throws: ContractError.self) { try compiler.compile(sourceAt: source.path) }
        #expect(error?.code == .compilationFailed)
        #expect(error?.message.contains("undefined_name") == true)
        #expect(error?.details["exitStatus"].map { $0 != "0" } == true)
    }

    @Test func aMissingCompilerIsATypedErrorNamingIt() throws {
        let onPath = #expect(throws: ContractError.self) { try ContractCompiler.locate(.vyper, environment: ["PATH": "/nonexistent/bin"]) }
        #expect(onPath?.code == .compilerNotFound)
        #expect(onPath?.details["compiler"] == "vyper")
        let atPath = #expect(throws: ContractError.self) { try ContractCompiler.locate(.solidity, at: "/nonexistent/solc") }
        #expect(atPath?.code == .compilerNotFound)
        #expect(atPath?.details["path"] == "/nonexistent/solc")
        let byExtension = #expect(throws: ContractError.self) { try ContractCompiler.locate(forSourceAt: "contract.txt") }
        #expect(byExtension?.code == .compilerNotFound)
        #expect(try ContractCompiler.language(forSourceAt: "a/B.vy") == .vyper)
        #expect(try ContractCompiler.language(forSourceAt: "B.sol") == .solidity)
    }

    @Test func solcsCombinedJSONIsReadIntoContractsWithTheirSourceLines() throws {
        // solc is not installable here: a stand-in prints what solc 0.8 prints for --version and --combined-json
        // (an interface has empty bin and is skipped; abi is an array in 0.8, a string before).
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let source = folder.url.appendingPathComponent("Counter.sol")
        try Data("contract Counter {\n  uint n;\n  function inc() public { n += 1; }\n}\n".utf8).write(to: source)
        let output = #"{"contracts":{"SRC:Counter":{"abi":[{"inputs":[],"name":"inc","outputs":[],"stateMutability":"nonpayable","type":"function"}],"bin":"6080604052","bin-runtime":"60016000550000","srcmap-runtime":"0:60:0:-;;55:6;;;"},"SRC:IOther":{"abi":"[]","bin":"","bin-runtime":"","srcmap-runtime":""}},"version":"0.8.26+commit.8a97fa7a.Linux.g++"}"#
            .replacingOccurrences(of: "SRC", with: source.path)
        let solc = try folder.script("solc", """
            if [ "$1" = --version ]; then echo "solc, the solidity compiler commandline interface"; echo "Version: 0.8.26+commit.8a97fa7a.Linux.g++"; exit 0; fi
            [ "$1" = --combined-json ] && [ "$2" = abi,bin,bin-runtime,srcmap-runtime ] || exit 3
            cat <<'JSON'
            \(output)
            JSON
            """)
        let compiler = try ContractCompiler.locate(forSourceAt: source.path, compilerPath: solc.path)
        #expect(compiler.language == .solidity)
        let contracts = try compiler.compile(sourceAt: source.path)
        #expect(contracts.map(\.name) == ["Counter"])
        let counter = try #require(contracts.first)
        #expect(counter.compilerVersion == "0.8.26+commit.8a97fa7a.Linux.g++")
        #expect(counter.bytecode == [0x60, 0x80, 0x60, 0x40, 0x52])
        #expect(counter.runtimeBytecode == [0x60, 0x01, 0x60, 0x00, 0x55, 0x00, 0x00])
        #expect(counter.abiJSON.contains("\"name\":\"inc\""))
        // PUSH1 PUSH1 SSTORE STOP STOP at pcs 0, 2, 4, 5, 6: the SSTORE maps to offset 55, `n` on line 3.
        #expect(counter.auditSourceMap?.location(forPC: 4) == .init(line: 3, column: 26))
        #expect(counter.auditSourceMap?.location(forPC: 0)?.line == 1)
    }

    @Test func aCompilerPrintingSomethingElseIsBadOutputAndASlowOneIsStopped() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let source = folder.url.appendingPathComponent("Any.vy")
        try Data("# pragma version ~=0.4.3\n".utf8).write(to: source)
        let garbage = try folder.script("garbage-vyper", "if [ \"$1\" = --version ]; then echo 0.4.3; else echo not-json; echo 0xzz; fi")
        let error = #expect(throws: ContractError.self) {
            try ContractCompiler.locate(.vyper, at: garbage.path).compile(sourceAt: source.path)
        }
        #expect(error?.code == .compilerOutputInvalid)

        let slow = try folder.script("slow-vyper", "exec sleep 30")
        var compiler = try ContractCompiler.locate(.vyper, at: slow.path)
        compiler.timeoutSeconds = 0.5
        let timeout = #expect(throws: ContractError.self) { try compiler.compile(sourceAt: source.path) }
        #expect(timeout?.code == .compilerTimedOut)

        let missing = #expect(throws: ContractError.self) {
            try ContractCompiler.locate(.vyper, at: garbage.path).compile(sourceAt: folder.url.appendingPathComponent("None.vy").path)
        }
        #expect(missing?.code == .compilerIOFailed)
    }
}

/// A folder under the temporary directory, removed by ``remove()``.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-contracts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// An executable `/bin/sh` script: a stand-in compiler.
    func script(_ name: String, _ body: String) throws -> URL {
        let file = url.appendingPathComponent(name)
        try Data("#!/bin/sh\n\(body)\n".utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file.path)
        return file
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
