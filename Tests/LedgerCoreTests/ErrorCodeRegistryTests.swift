import Foundation
import Testing

/// Keeps the error-code registry honest: every declared code is unique and
/// documented in Documentation/ErrorCodes.md (regenerate it with
/// `python3 Scripts/error-codes.py`).
struct ErrorCodeRegistryTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every declared code with its name, file and module (the folder under Sources/).
    static func declaredCodes() throws -> [(code: Int, name: String, file: String, module: String)] {
        let pattern = try NSRegularExpression(pattern: #"public static let (\w+) = Self\(rawValue: (\d+)\)"#)
        var out: [(Int, String, String, String)] = []
        let sources = packageRoot.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let name = String(text[Range(m.range(at: 1), in: text)!])
                let code = Int(text[Range(m.range(at: 2), in: text)!])!
                let module = file.pathComponents[file.pathComponents.firstIndex(of: "Sources")! + 1]
                out.append((code, name, file.lastPathComponent, module))
            }
        }
        return out
    }

    @Test func everyErrorCodeIsDeclaredOnce() throws {
        let codes = try Self.declaredCodes()
        #expect(codes.count >= 50)
        let byCode = Dictionary(grouping: codes, by: \.code).filter { $0.value.count > 1 }
        #expect(byCode.isEmpty, "codes declared twice: \(byCode)")
        // A name may recur in another module's error type (LedgerError.Code
        // and AppError.Code are distinct types), never twice in one module.
        let byName = Dictionary(grouping: codes, by: { "\($0.module).\($0.name)" }).filter { $0.value.count > 1 }
        #expect(byName.isEmpty, "names declared twice in one module: \(byName)")
    }

    @Test func everyErrorCodeIsDocumented() throws {
        let doc = try String(contentsOf: Self.packageRoot.appendingPathComponent("Documentation/ErrorCodes.md"), encoding: .utf8)
        for c in try Self.declaredCodes() {
            #expect(doc.contains("| \(c.code) | `\(c.name)` |"), "\(c.code) \(c.name) (\(c.file)) missing: run python3 Scripts/error-codes.py")
        }
    }
}
