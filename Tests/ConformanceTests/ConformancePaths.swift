import Foundation
import Testing

/// Locates the third-party conformance folder: `FORGECHAIN_CONFORMANCE_DIR` when set, else
/// `../shared/conformance` relative to the package root.
enum ConformancePaths {
    static let root: URL = {
        if let override = ProcessInfo.processInfo.environment["FORGECHAIN_CONFORMANCE_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        let here = URL(fileURLWithPath: #filePath)   // Tests/ConformanceTests/ConformancePaths.swift
        let package = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/conformance")
    }()

    /// True when the conformance folder is present.
    static var available: Bool { FileManager.default.fileExists(atPath: root.path) }

    /// True in CI (the `CI` variable is set, as CI services do), where the folder must be present.
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" && $0 != "0" } ?? false }

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func data(_ relative: String) throws -> Data { try Data(contentsOf: url(relative)) }

    /// Why a suite cannot run without the folder.
    static var absence: String {
        "\(root.path) is absent (put the conformance folder beside the checkout or set FORGECHAIN_CONFORMANCE_DIR)"
    }

    /// Thrown in CI when the folder is missing.
    struct Missing: Error, CustomStringConvertible {
        var description: String { "conformance vectors are required in CI: \(ConformancePaths.absence)" }
    }
}

extension Trait where Self == ConditionTrait {
    /// For every test that reads the conformance folder. Present: the test runs. Absent on a developer's
    /// machine: the test is skipped and the run prints this reason. Absent in CI (`CI` set): the test fails
    /// with ``ConformancePaths/Missing`` instead of passing without checking anything.
    static var conformanceVectors: Self {
        .enabled("needs the conformance vectors: \(ConformancePaths.absence)") {
            if ConformancePaths.available { return true }
            if ConformancePaths.inCI { throw ConformancePaths.Missing() }
            return false
        }
    }
}
