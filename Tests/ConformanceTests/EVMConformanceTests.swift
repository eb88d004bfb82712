import Contracts
import Foundation
import Testing

/// Every fixture in ../shared/conformance/evm (GeneralStateTests, BlockchainTests, legacy VMTests) against the
/// interpreter. The cases that fail must be exactly the skip list's entries: a regression fails this test, and
/// so does a listed case that starts to pass (the list must lose it). With `FORGECHAIN_CONFORMANCE_DIR` pointing
/// at another set in the same formats, the same rules hold for the cases that set contains.
@Suite(.conformanceVectors) struct EVMConformanceTests {
    /// One run shared by the tests of this suite.
    static let report: Result<EVMConformanceReport, ContractError> = Result { () throws(ContractError) in
        try EVMConformance.run(directory: ConformancePaths.url("evm"), skipList: EVMConformanceSkipList.entries)
    }

    @Test func theFailingCasesAreExactlyTheSkipList() throws {
        let report = try Self.report.get()
        // A case not on the list that fails is a failure; a listed case that fails is skipped with the list's
        // reason; a listed case that passes is an unexpected pass (the list must lose it).
        for failure in report.failures { Issue.record("\(failure.name) fails and is not on the skip list: \(failure.reason)") }
        for name in report.unexpectedPasses { Issue.record("\(name) is on the skip list but passes: remove it") }
        if ProcessInfo.processInfo.environment["FORGECHAIN_CONFORMANCE_DIR"] == nil {
            // In the developer set every listed case exists and fails as listed.
            let listedFailing = Set(report.skipped.filter { $0.reason.hasPrefix("skip list:") }.map(\.name))
            #expect(listedFailing == Set(EVMConformanceSkipList.entries.keys))
        }
        #expect(EVMConformanceSkipList.entries.values.allSatisfy { !$0.isEmpty })
    }

    @Test func everyFormatRanItsCases() throws {
        let report = try Self.report.get()
        func count(_ format: EVMConformanceReport.Format) -> (run: Int, skipped: Int) {
            ((report.passed[format] ?? 0) + report.failures.filter { $0.format == format }.count,
             report.skipped.filter { $0.format == format }.count)
        }
        let state = count(.state), blockchain = count(.blockchain), vm = count(.vm)
        #expect(state.run > 0 && blockchain.run > 0 && vm.run > 0, "\(report.summaryByFormat)")
        if ProcessInfo.processInfo.environment["FORGECHAIN_CONFORMANCE_DIR"] == nil {
            // The developer set (shared/conformance/evm/README.md): 2,924 state entries of which 2,878 Cancun,
            // 260 blockchain tests of which 255 Cancun, 395 VM tests (4 of them on the skip list).
            #expect(state.run + state.skipped == 2_924 && state.run == 2_878, "\(report.summaryByFormat)")
            #expect(blockchain.run + blockchain.skipped == 260 && blockchain.run == 255, "\(report.summaryByFormat)")
            #expect(vm.run + vm.skipped == 395, "\(report.summaryByFormat)")
        }
        // Shanghai and Paris entries, and listed cases, are skipped with a reason, never silently.
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
