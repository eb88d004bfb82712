import Foundation
import Synchronization

/// Runs Ethereum conformance fixtures against the interpreter: every JSON file under a folder, in the three
/// formats of ethereum/tests (GeneralStateTests, BlockchainTests, the legacy VMTests), recognised by their
/// content, not their path, so folders it has never seen work too. Files in other formats are listed as
/// ignored. Files run concurrently.
///
/// A case whose name is in the skip list and fails is reported as skipped with the list's reason; if it
/// passes it counts as passed and is named in ``EVMConformanceReport/unexpectedPasses``.
///
/// ```swift
/// let report = try EVMConformance.run(directory: URL(fileURLWithPath: "../shared/conformance/evm"))
/// print(report.summary)   // "N passed, N failed, N skipped"
/// ```
public enum EVMConformance {
    /// Runs every fixture under `directory`.
    /// - Parameters:
    ///   - directory: A folder (searched recursively for `*.json`) or a single fixture file.
    ///   - skipList: Optional, default ``EVMConformanceSkipList/entries``: case name → reason. Pass `[:]` to
    ///     see every failure as a failure.
    ///   - engine: Optional, default ``EVMConformanceEngine/interpreter``.
    /// - Returns: The report; cases are sorted by name.
    /// - Throws: ``ContractError`` `fixtureFolderMissing` (2100) when `directory` does not exist. A file that
    ///   cannot be parsed is not thrown: it is reported as a failed case named after the file.
    public static func run(directory: URL, skipList: [String: String] = EVMConformanceSkipList.entries,
                           engine: EVMConformanceEngine = .interpreter) throws(ContractError) -> EVMConformanceReport {
        let files = try fixtureFiles(under: directory)
        let root = directory.standardizedFileURL.path
        let results = Mutex([EVMConformanceReport](repeating: EVMConformanceReport(), count: files.count))
        DispatchQueue.concurrentPerform(iterations: files.count) { index in
            let file = files[index]
            var relative = file.standardizedFileURL.path
            if relative.hasPrefix(root + "/") { relative = String(relative.dropFirst(root.count + 1)) }
            let report = runFile(file, relative: relative, skipList: skipList, engine: engine)
            results.withLock { $0[index] = report }
        }
        var report = EVMConformanceReport()
        for part in results.withLock({ $0 }) { report.merge(part) }
        report.failures.sort { $0.name < $1.name }
        report.skipped.sort { $0.name < $1.name }
        report.unexpectedPasses.sort()
        report.filesIgnored.sort()
        return report
    }

    /// The `.json` files under `directory` (or `directory` itself when it is a file), sorted.
    static func fixtureFiles(under directory: URL) throws(ContractError) -> [URL] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isFolder) else {
            throw ContractError(.fixtureFolderMissing, "fixture folder \(directory.path) does not exist", details: ["path": directory.path])
        }
        guard isFolder.boolValue else { return [directory] }
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else {
            throw ContractError(.fixtureFolderMissing, "fixture folder \(directory.path) cannot be listed", details: ["path": directory.path])
        }
        var files = [URL]()
        for case let url as URL in walker where url.pathExtension == "json" && url.lastPathComponent != "MANIFEST.json" {
            files.append(url)
        }
        return files.sorted { $0.path < $1.path }
    }

    /// One case's outcome before the skip list applies.
    enum Outcome {
        case pass
        case fail(String)
        case skip(String)
    }

    /// Collects a file's outcomes, applying the skip list.
    struct Recorder {
        var report = EVMConformanceReport()
        let skipList: [String: String]

        mutating func record(_ format: EVMConformanceReport.Format, _ name: String, _ outcome: Outcome) {
            switch outcome {
            case .pass:
                report.passed[format, default: 0] += 1
                if skipList[name] != nil { report.unexpectedPasses.append(name) }
            case .fail(let reason):
                if let listed = skipList[name] {
                    report.skipped.append(.init(format: format, name: name, reason: "skip list: \(listed) (failed: \(reason))"))
                } else {
                    report.failures.append(.init(format: format, name: name, reason: reason))
                }
            case .skip(let reason):
                report.skipped.append(.init(format: format, name: name, reason: reason))
            }
        }
    }

    static func runFile(_ file: URL, relative: String, skipList: [String: String], engine: EVMConformanceEngine) -> EVMConformanceReport {
        var recorder = Recorder(skipList: skipList)
        recorder.report.filesRead = 1
        let folder = file.deletingLastPathComponent().lastPathComponent
        let tests: [String: Any]
        do {
            let data = try Data(contentsOf: file)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                recorder.report.filesIgnored.append(relative)
                return recorder.report
            }
            tests = object
        } catch {
            recorder.record(.state, "file \(relative)", .fail("unreadable: \(error.localizedDescription)"))
            return recorder.report
        }
        for (testName, value) in tests.sorted(by: { $0.key < $1.key }) {
            guard let test = value as? [String: Any] else { continue }
            let label = "\(folder)/\(testName)"
            if test["transaction"] != nil, test["post"] != nil {
                StateTestRunner.run(test, label: label, engine: engine, recorder: &recorder)
            } else if test["blocks"] != nil, test["pre"] != nil {
                BlockchainTestRunner.run(test, label: label, engine: engine, recorder: &recorder)
            } else if test["exec"] != nil, test["pre"] != nil {
                VMTestRunner.run(test, label: label, engine: engine, recorder: &recorder)
            } else {
                recorder.report.filesIgnored.append(relative)
                return recorder.report
            }
        }
        return recorder.report
    }

    /// A status for a failure message.
    static func describe(_ status: EVMStatus) -> String {
        switch status {
        case .success: "success"
        case .revert: "revert"
        case .halt(let reason): "halt(\(reason))"
        }
    }
}
