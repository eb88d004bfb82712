import Foundation

/// Reads JSON into ``FieldNode``s, with the line each value starts on.
///
/// A small strict scanner (RFC 8259): objects, arrays, strings with all
/// escapes, numbers kept as their text, `true`/`false` as text, `null`.
/// Duplicate keys and trailing garbage are errors. Nesting is limited to 32.
enum JSONFieldReader {
    static let maximumDepth = 32

    static func parse(_ data: Data) throws(AppError) -> FieldNode {
        var p = Parser(bytes: [UInt8](data))
        p.skipBOM()
        p.skipWhitespace()
        let node = try p.value(depth: 0)
        p.skipWhitespace()
        guard p.i == p.bytes.count else { throw p.error("unexpected content after the JSON value") }
        return node
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0
        var line = 1

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ message: String) -> AppError {
            AppError(.malformedJSON, "JSON line \(line): \(message)", details: ["line": String(line)])
        }

        mutating func skipBOM() {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        }

        mutating func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0D: i += 1
                case 0x0A: i += 1; line += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(AppError) -> FieldNode {
            guard depth <= JSONFieldReader.maximumDepth else { throw error("nesting deeper than \(JSONFieldReader.maximumDepth)") }
            guard i < bytes.count else { throw error("unexpected end of input") }
            let start = line
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var entries: [FieldNode.Entry] = []
                skipWhitespace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries, line: start) }
                while true {
                    skipWhitespace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                    let key = try string()
                    if entries.contains(where: { $0.name == key }) { throw error("duplicate key '\(key)'") }
                    skipWhitespace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after key '\(key)'") }
                    i += 1
                    skipWhitespace()
                    entries.append(.init(name: key, value: try value(depth: depth + 1)))
                    skipWhitespace()
                    guard i < bytes.count else { throw error("unexpected end of input in an object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries, line: start) }
                    throw error("expected ',' or '}' in an object")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [FieldNode] = []
                skipWhitespace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items, line: start) }
                while true {
                    skipWhitespace()
                    items.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard i < bytes.count else { throw error("unexpected end of input in an array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .list(items, line: start) }
                    throw error("expected ',' or ']' in an array")
                }
            case UInt8(ascii: "\""):
                return .scalar(try string(), line: start)
            case UInt8(ascii: "t"): try literal("true"); return .scalar("true", line: start)
            case UInt8(ascii: "f"): try literal("false"); return .scalar("false", line: start)
            case UInt8(ascii: "n"): try literal("null"); return .null(line: start)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                return .scalar(try number(), line: start)
            default:
                throw error("unexpected character '\(Character(Unicode.Scalar(bytes[i])))'")
            }
        }

        mutating func literal(_ word: String) throws(AppError) {
            let w = Array(word.utf8)
            guard bytes.count - i >= w.count, Array(bytes[i..<(i + w.count)]) == w else { throw error("invalid literal") }
            i += w.count
        }

        mutating func number() throws(AppError) -> String {
            let s = i
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            func digits(_ p: inout Parser) -> Int {
                let d = p.i
                while p.i < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.i]) { p.i += 1 }
                return p.i - d
            }
            let intStart = i
            guard i < bytes.count, digits(&self) > 0 else { throw error("invalid number") }
            if bytes[intStart] == UInt8(ascii: "0"), i - intStart > 1 { throw error("number with a leading zero") }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits(&self) > 0 else { throw error("invalid number") }
            }
            if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { throw error("invalid number exponent") }
            }
            return String(decoding: bytes[s..<i], as: UTF8.self)
        }

        mutating func string() throws(AppError) -> String {
            i += 1   // opening quote
            var out = [UInt8]()
            while true {
                guard i < bytes.count else { throw error("unterminated string") }
                let c = bytes[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw error("string is not valid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard i < bytes.count else { throw error("unterminated escape") }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard bytes.count - i >= 6, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                                throw error("unpaired surrogate")
                            }
                            i += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw error("unpaired surrogate")
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default:
                        throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
                    }
                case 0x00..<0x20:
                    throw error("control character in a string")
                default:
                    out.append(c)
                }
            }
        }

        mutating func hex4() throws(AppError) -> UInt32 {
            guard bytes.count - i >= 4 else { throw error("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                i += 1
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | d
            }
            return v
        }
    }
}
