import Foundation
import Testing
@testable import forgechain

/// Receipt files are written one element at a time and appear whole or not at all.
struct JSONFileWriterTests {
    struct Item: Codable, Equatable { var id: Int; var name: String; var bytes: [UInt8] }

    func folder() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-json-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func anArrayWrittenElementByElementDecodesToTheSameElements() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let items = (0..<500).map { Item(id: $0, name: "receipt \($0) \"quoted\"\n", bytes: Array(repeating: UInt8($0 % 256), count: $0 % 17)) }
        let path = dir + "/receipts.json"
        try CLI.writeJSONArray(items, to: path)
        let back = try JSONDecoder().decode([Item].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(back == items)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["receipts.json"])
        // An empty batch is an empty array, and a single value is written as itself.
        try CLI.writeJSONArray([Item](), to: path)
        #expect(try JSONDecoder().decode([Item].self, from: Data(contentsOf: URL(fileURLWithPath: path))).isEmpty)
        try CLI.writeJSON(items[3], to: path)
        #expect(try JSONDecoder().decode(Item.self, from: Data(contentsOf: URL(fileURLWithPath: path))) == items[3])
    }

    @Test func aFileThatCannotBeWrittenLeavesNothingBehind() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: (any Error).self) { try CLI.writeJSONArray([Item(id: 1, name: "a", bytes: [])], to: dir + "/missing/receipts.json") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/missing"))
        // A directory at the path is refused, not replaced, and the partial file is gone.
        let taken = dir + "/taken"
        try FileManager.default.createDirectory(atPath: taken, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: taken + "/keep.txt", contents: Data("keep".utf8)))
        #expect(throws: (any Error).self) { try CLI.writeJSONArray([Item(id: 1, name: "a", bytes: [])], to: taken) }
        #expect(FileManager.default.fileExists(atPath: taken + "/keep.txt"))
        #expect(!FileManager.default.fileExists(atPath: taken + ".partial"))
    }
}
