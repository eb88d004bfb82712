import Foundation
import Testing

/// Keeps the documentation's Swift code compiled: every ```swift block of the README and of the DocC catalogs
/// (`Sources/*/*.docc/**/*.md`) must appear verbatim, line by line with indentation ignored, in one source file of
/// this test target, where it is compiled and run; the block's leading `import` lines may stand anywhere in that file. A block whose first line is `// Package.swift` is a manifest
/// fragment: each product it names must be a library product of the root `Package.swift`.
struct DocumentationCodeTests {
    /// The package root, from this file's path (`Tests/DocumentationTests/...`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Block: CustomStringConvertible {
        var file: String
        var line: Int
        var lines: [String]
        var description: String { "\(file):\(line)" }
    }

    /// The ```swift blocks of a Markdown text, with the line each starts on.
    static func swiftBlocks(in text: String, file: String) -> [Block] {
        var blocks = [Block]()
        var current: Block?
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if var block = current {
                if trimmed.hasPrefix("```") { blocks.append(block); current = nil } else { block.lines.append(String(line)); current = block }
            } else if trimmed == "```swift" {
                current = Block(file: file, line: number + 1, lines: [])
            }
        }
        return blocks
    }

    /// Lines without indentation or trailing spaces, blank lines dropped.
    static func normalised(_ lines: [String]) -> [String] {
        lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func markdownFiles() throws -> [URL] {
        var files = [root.appendingPathComponent("README.md")]
        let sources = root.appendingPathComponent("Sources")
        for module in try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted() {
            let catalog = sources.appendingPathComponent(module).appendingPathComponent("\(module).docc")
            guard let walker = FileManager.default.enumerator(atPath: catalog.path) else { continue }
            for case let path as String in walker where path.hasSuffix(".md") { files.append(catalog.appendingPathComponent(path)) }
        }
        return files
    }

    static func testSources() throws -> [String: [String]] {
        let folder = root.appendingPathComponent("Tests/DocumentationTests")
        var sources = [String: [String]]()
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".swift") {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            sources[name] = normalised(text.components(separatedBy: "\n"))
        }
        return sources
    }

    /// True when `haystack` holds `needle`'s `import` lines anywhere and the rest of it as one contiguous run.
    static func contains(_ haystack: [String], _ needle: [String]) -> Bool {
        let imports = needle.prefix { $0.hasPrefix("import ") }
        guard imports.allSatisfy(haystack.contains) else { return false }
        return containsRun(haystack, Array(needle.dropFirst(imports.count)))
    }

    static func containsRun(_ haystack: [String], _ needle: [String]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }

    @Test func everySwiftBlockOfTheREADMEAndTheCatalogsIsCompiledHere() throws {
        let sources = try Self.testSources()
        var checked = 0
        for file in try Self.markdownFiles() {
            let relative = String(file.path.dropFirst(Self.root.path.count + 1))
            for block in Self.swiftBlocks(in: try String(contentsOf: file, encoding: .utf8), file: relative) {
                let lines = Self.normalised(block.lines)
                if lines.first == "// Package.swift" { continue }
                checked += 1
                #expect(sources.values.contains { Self.contains($0, lines) },
                        "the ```swift block at \(block) is not in Tests/DocumentationTests: copy it there verbatim")
            }
        }
        // README (1) and the five articles hold at least one block each.
        #expect(checked >= 6, "only \(checked) blocks found: has a catalog moved?")
    }

    @Test func manifestFragmentsNameLibraryProductsOfThePackage() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let products = Set(Self.matches(of: #"\.library\(name: "([A-Za-z]+)""#, in: manifest))
        var fragments = 0
        for file in try Self.markdownFiles() {
            let relative = String(file.path.dropFirst(Self.root.path.count + 1))
            for block in Self.swiftBlocks(in: try String(contentsOf: file, encoding: .utf8), file: relative)
            where Self.normalised(block.lines).first == "// Package.swift" {
                fragments += 1
                let text = block.lines.joined(separator: "\n")
                let named = Self.matches(of: #"\.product\(name: "([A-Za-z]+)", package: "ForgeChain"\)"#, in: text)
                #expect(!named.isEmpty, "\(block) names no ForgeChain product")
                for name in named { #expect(products.contains(name), "\(block) names \(name), not a library product of Package.swift") }
            }
        }
        #expect(fragments >= 1)
    }

    /// The first capture group of every match.
    static func matches(of pattern: String, in text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: pattern)
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    @Test func theCheckerFindsABlockThatIsNotCompiled() {
        let markdown = "Text\n\n```swift\nlet x = 1\n    print(x)\n```\n\n```bash\nls\n```\n"
        let blocks = Self.swiftBlocks(in: markdown, file: "t.md")
        #expect(blocks.count == 1 && blocks[0].line == 3)
        let lines = Self.normalised(blocks[0].lines)
        #expect(Self.contains(["import X", "let x = 1", "print(x)", "}"], lines))
        #expect(!Self.contains(["let x = 1", "print(y)"], lines))
        #expect(Self.contains(["import A", "import Testing", "let x = 1"], ["import A", "let x = 1"]))
        #expect(!Self.contains(["let x = 1"], ["import A", "let x = 1"]))
    }
}
