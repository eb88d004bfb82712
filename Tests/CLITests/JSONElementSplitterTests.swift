import Foundation
import Testing
@testable import forgechain

/// `records verify` reads a receipts file one element at a time: the splitter finds the elements of any JSON
/// array (fed whole or byte by byte) and refuses malformed framing with a typed error, never a trap.
struct JSONElementSplitterTests {
    static func split(_ text: [UInt8], chunk: Int = .max) throws -> [String] {
        var splitter = JSONElementSplitter()
        var out = [String]()
        var start = 0
        while start < text.count {
            let end = min(text.count, start + max(1, min(chunk, text.count)))
            try splitter.feed(text[start..<end]) { out.append(String(decoding: $0, as: UTF8.self)) }
            start = end
        }
        try splitter.finish { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    static let sample = #"""
    [
      {"id": 1, "text": "a \"quoted\" ] and } inside", "list": [1, [2, {"x": "]"}]]},
      {"id": 2, "path": "C:\\dir\\", "empty": {}},
      "a string", 42, -3.5e2, true, null, [],
      {"unicode": "\u00e9\u4e2d"}
    ]
    """#

    @Test func splitsAnArrayIntoItsElementsWhetherFedWholeOrByteByByte() throws {
        let text = Array(Self.sample.utf8)
        let whole = try Self.split(text)
        #expect(whole.count == 9)
        #expect(whole[0].hasPrefix(#"{"id": 1"#) && whole[0].hasSuffix("]]}"))
        #expect(whole[1] == #"{"id": 2, "path": "C:\\dir\\", "empty": {}}"#)
        #expect(Array(whole[2...7]) == [#""a string""#, "42", "-3.5e2", "true", "null", "[]"])
        for chunk in [1, 2, 3, 7, 64] { #expect(try Self.split(text, chunk: chunk) == whole) }
        // Each element is the JSON of the element: it decodes to what the whole array holds.
        let array = try #require(try JSONSerialization.jsonObject(with: Data(text)) as? [Any])
        func canonical(_ value: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]), as: UTF8.self)
        }
        for (i, element) in whole.enumerated() {
            #expect(try canonical(JSONSerialization.jsonObject(with: Data(element.utf8), options: .fragmentsAllowed)) == canonical(array[i]))
        }
    }

    @Test func aSingleValueOrAnEmptyArrayIsReadToo() throws {
        #expect(try Self.split(Array(#"  {"a": [1, 2]}  "#.utf8)) == [#"{"a": [1, 2]}"#])
        #expect(try Self.split(Array("[ ]\n".utf8)).isEmpty)
        #expect(try Self.split(Array("17".utf8)) == ["17"])
    }

    @Test(arguments: [
        ("", 0), ("   ", 3), ("}", 0), ("[1,]", 3), ("[,1]", 1), ("[{]", 2), (#"{"a":1}}"#, 7), (#"[{"a":1}"#, 8), ("[1 2]", 3),
        (#""abc"#, 4), ("[\"a\nb\"]", 3), ("[1]]", 3), ("{\"a\": [}", 7), ("[{\"a\":1},]", 9),
    ])
    func malformedFramingIsATypedErrorWithTheOffset(input: String, offset: Int) {
        let error = #expect(throws: JSONElementSplitter.Failure.self) { try Self.split(Array(input.utf8)) }
        #expect(error?.offset == offset, "\(input.debugDescription): \(String(describing: error))")
    }

    @Test func nestingAndElementSizeAreBounded() {
        let deep = Array(("[" + String(repeating: "[", count: JSONElementSplitter.maximumDepth + 1)).utf8)
        #expect((#expect(throws: JSONElementSplitter.Failure.self) { try Self.split(deep) })?.reason.contains("nesting") == true)
        var splitter = JSONElementSplitter()
        let big = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        let error = #expect(throws: JSONElementSplitter.Failure.self) {
            try splitter.feed(Array("[\"".utf8)) { _ in }
            for _ in 0...(JSONElementSplitter.maximumElementBytes >> 20) { try splitter.feed(big) { _ in } }
        }
        #expect(error?.reason.contains("longer than") == true)
    }

    /// A seeded generator (SplitMix64), so a failing case replays.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func mutatedAndRandomInputNeverTrapsAndFailsOnlyWithTheTypedError() {
        var rng = Seeded(state: 13)
        let base = Array(Self.sample.utf8)
        let alphabet = Array(#"[]{}",:\ "#.utf8) + [0x0a, 0x00, 0x7f, 0xff, UInt8(ascii: "1"), UInt8(ascii: "a")]
        var failures = 0, successes = 0
        for round in 0..<3_000 {
            var input: [UInt8]
            if round % 5 == 0 {
                input = (0..<Int.random(in: 0...64, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            } else {
                input = base
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    let at = Int.random(in: 0..<input.count, using: &rng)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0: input[at] = alphabet.randomElement(using: &rng)!
                    case 1: input.remove(at: at)
                    default: input.insert(alphabet.randomElement(using: &rng)!, at: at)
                    }
                    if input.isEmpty { break }
                }
                if round % 7 == 0 { input = Array(input.prefix(Int.random(in: 0...input.count, using: &rng))) }
            }
            do {
                _ = try Self.split(input, chunk: Int.random(in: 1...32, using: &rng))
                successes += 1
            } catch is JSONElementSplitter.Failure {
                failures += 1
            } catch {
                Issue.record("round \(round): an error of another type: \(error)")
            }
        }
        #expect(failures > 1_000 && successes > 100, "\(failures) refused, \(successes) split")
    }

    @Test func aFileIsReadInChunksAndElementsCounted() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-split-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let items = (0..<2_000).map { #"{"n": \#($0), "s": "x\"]\#($0)"}"# }
        try Data(("[\n" + items.joined(separator: ",\n") + "\n]\n").utf8).write(to: URL(fileURLWithPath: path))
        var seen = [String]()
        let count = try JSONElementSplitter.forEachElement(inFile: path, chunkBytes: 100) { seen.append(String(decoding: $0, as: UTF8.self)) }
        #expect(count == 2_000 && seen == items)
    }
}
