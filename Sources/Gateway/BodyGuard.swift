import Foundation

/// Checks a request body before any decoder sees it: nesting depth of JSON and XML, and no document type or entity
/// declarations in XML (billion laughs, external entities). Linear in the body, no allocation per byte.
enum BodyGuard {
    /// Refuses JSON nested deeper than `maximumDepth` arrays/objects (strings are skipped, escapes honoured).
    static func checkJSON(_ body: Data, maximumDepth: Int) throws(GatewayError) {
        var depth = 0, inString = false, escaped = false
        for byte in body {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maximumDepth {
                    throw GatewayError(.bodyTooDeep, "the JSON body nests deeper than \(maximumDepth) levels", details: ["limit": String(maximumDepth)])
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
    }

    /// Refuses XML with `<!DOCTYPE` or `<!ENTITY` anywhere, and elements nested deeper than `maximumDepth`.
    static func checkXML(_ body: Data, maximumDepth: Int) throws(GatewayError) {
        let bytes = [UInt8](body)
        var depth = 0, i = 0
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "<"), i + 1 < bytes.count else { i += 1; continue }
            let next = bytes[i + 1]
            if next == UInt8(ascii: "!") {
                // A comment or CDATA section is skipped whole; any other declaration is refused.
                if bytes[(i + 2)...].starts(with: Array("--".utf8)) {
                    i = find(Array("-->".utf8), in: bytes, from: i + 4) ?? bytes.count
                    continue
                }
                if bytes[(i + 2)...].starts(with: Array("[CDATA[".utf8)) {
                    i = find(Array("]]>".utf8), in: bytes, from: i + 9) ?? bytes.count
                    continue
                }
                throw GatewayError(.xmlEntitiesRefused, "XML bodies may not declare a document type or entities", details: ["field": "body"])
            }
            if next == UInt8(ascii: "?") { i += 2; continue }
            // Find the tag's end, skipping quoted attribute values.
            var j = i + 1, quote: UInt8? = nil
            while j < bytes.count {
                let b = bytes[j]
                if let q = quote { if b == q { quote = nil } } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") { quote = b } else if b == UInt8(ascii: ">") { break }
                j += 1
            }
            if next == UInt8(ascii: "/") {
                depth -= 1
            } else if j < bytes.count, bytes[j - 1] != UInt8(ascii: "/") {
                depth += 1
                if depth > maximumDepth {
                    throw GatewayError(.bodyTooDeep, "the XML body nests deeper than \(maximumDepth) elements", details: ["limit": String(maximumDepth)])
                }
            }
            i = j + 1
        }
    }

    /// The index just past the first occurrence of `needle` at or after `start`.
    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard needle.count <= bytes.count, start <= bytes.count - needle.count else { return nil }
        var i = start
        while i <= bytes.count - needle.count {
            if bytes[i..<(i + needle.count)].elementsEqual(needle) { return i + needle.count }
            i += 1
        }
        return nil
    }
}
