import Contracts
import Foundation
import Testing

/// Every fixture in ../shared/conformance/evm (GeneralStateTests, BlockchainTests, legacy VMTests) against the
/// interpreter. The cases that fail must be exactly the skip list's entries: a regression fails this test, and
/// so does a listed case that starts to pass (the list must lose it).
@Suite(.conformanceVectors) struct EVMConformanceTests {
    /// One run shared by the tests of this suite.
    static let report: Result<EVMConformanceReport, ContractError> = Result { () throws(ContractError) in
        try EVMConformance.run(directory: ConformancePaths.url("evm"), skipList: [:])
    }

    @Test func theFailingCasesAreExactlyTheSkipList() throws {
        let report = try Self.report.get()
        let failing = Dictionary(report.failures.map { ($0.name, $0.reason) }, uniquingKeysWith: { first, _ in first })
        for (name, reason) in failing.sorted(by: { $0.key < $1.key }) where EVMConformanceSkipList.entries[name] == nil {
            Issue.record("\(name) fails and is not on the skip list: \(reason)")
        }
        for name in EVMConformanceSkipList.entries.keys.sorted() where failing[name] == nil {
            Issue.record("\(name) is on the skip list but no longer fails: remove it")
        }
        #expect(EVMConformanceSkipList.entries.values.allSatisfy { !$0.isEmpty })
    }

    @Test func everyFormatRanItsCases() throws {
        let report = try Self.report.get()
        // The developer set: 2,878 Cancun state entries, 255 Cancun blockchain tests, 395 VM tests.
        let state = (report.passed[.state] ?? 0) + report.failures.filter { $0.format == .state }.count
        let blockchain = (report.passed[.blockchain] ?? 0) + report.failures.filter { $0.format == .blockchain }.count
        let vm = (report.passed[.vm] ?? 0) + report.failures.filter { $0.format == .vm }.count
        #expect(state >= 2_800, "state cases run: \(state)")
        #expect(blockchain >= 250, "blockchain cases run: \(blockchain)")
        #expect(vm >= 390, "vm cases run: \(vm)")
        // Shanghai and Paris entries are skipped with a reason, never silently.
        #expect(report.skipped.allSatisfy { !$0.reason.isEmpty })
        // The trie, RLP and transaction vectors are not in these formats.
        #expect(report.filesIgnored.contains { $0.hasPrefix("ethereum-tests/TrieTests/") })
    }

    @Test func aMissingFolderIsATypedError() {
        #expect(throws: ContractError.self) {
            _ = try EVMConformance.run(directory: URL(fileURLWithPath: "/nonexistent/evm-fixtures-\(UUID().uuidString)"))
        }
    }

    @Test func anAlteredExpectationFails() throws {
        // A state test whose expected root is changed must fail, and a blockchain test whose post-state balance
        // is changed too: the runner checks what the fixtures say, not merely that execution finishes.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evm-altered-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = ConformancePaths.url("evm/ethereum-tests/GeneralStateTests/stExample/add11_yml.json")
        var text = try String(contentsOf: source, encoding: .utf8)
        let data = try Data(contentsOf: source)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let test = try #require(object["add11_yml"] as? [String: Any])
        let post = try #require((test["post"] as? [String: Any])?["Cancun"] as? [[String: Any]])
        let hash = try #require(post.first?["hash"] as? String)
        text = text.replacingOccurrences(of: hash, with: "0x" + String(repeating: "ab", count: 32))
        try text.write(to: folder.appendingPathComponent("add11_yml.json"), atomically: true, encoding: .utf8)
        let report = try EVMConformance.run(directory: folder, skipList: [:])
        #expect(report.failures.contains { $0.name.hasPrefix("state ") && $0.reason.contains("state root") }, "\(report.failures)")
    }

    @Test func theGasLeftIsComparedOnlyWhereFrontierAndCancunCostsAgree() throws {
        // `when` uses only instructions priced alike in both schedules: a wrong gas figure fails. `add0` stores
        // its result (SSTORE is priced differently), so its Frontier gas figure is not compared.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evm-gas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, gas) in [("vmIOandFlowOperations/when", "0x01866e"), ("vmArithmeticTest/add0", "0x013874")] {
            let source = ConformancePaths.url("evm/legacytests/Constantinople/VMTests/\(name).json")
            let text = try String(contentsOf: source, encoding: .utf8)
            #expect(text.contains("\"\(gas)\""), "\(name)")
            let altered = text.replacingOccurrences(of: "\"gas\" : \"\(gas)\"", with: "\"gas\" : \"0x01\"")
                .replacingOccurrences(of: "\"gas\": \"\(gas)\"", with: "\"gas\": \"0x01\"")
            #expect(altered != text, "\(name)")
            try altered.write(to: folder.appendingPathComponent("\(name.split(separator: "/").last!).json"), atomically: true, encoding: .utf8)
        }
        let report = try EVMConformance.run(directory: folder, skipList: [:])
        #expect(report.failures.map(\.name) == ["vm \(folder.lastPathComponent)/when"], "\(report.failures)")
        #expect(report.failures.first?.reason.contains("gas left") == true)
        #expect(report.passed[.vm] == 1)
    }
}
