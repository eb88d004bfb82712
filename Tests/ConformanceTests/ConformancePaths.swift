import Foundation

/// Locates `../shared/conformance` relative to the package root.
enum ConformancePaths {
    static let root: URL = {
        let here = URL(fileURLWithPath: #filePath)   // Tests/ConformanceTests/ConformancePaths.swift
        let package = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/conformance")
    }()

    /// True when the conformance folder is present. In CI it must be.
    static var available: Bool { FileManager.default.fileExists(atPath: root.path) }

    static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }

    static func data(_ relative: String) throws -> Data { try Data(contentsOf: url(relative)) }
}
