import Foundation

/// A strict DER reader and a minimal DER writer, enough for ECDSA signatures
/// (`SEQUENCE { INTEGER r, INTEGER s }`), SubjectPublicKeyInfo and PKCS#8.
///
/// The reader rejects BER: indefinite lengths, long-form lengths that would
/// fit the short form or carry leading zero bytes, and truncated or trailing
/// data. Integers must be minimally encoded.
struct DERReader {
    private let bytes: [UInt8]
    private(set) var offset: Int
    private let end: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
        self.end = bytes.count
    }

    private init(bytes: [UInt8], offset: Int, end: Int) {
        self.bytes = bytes
        self.offset = offset
        self.end = end
    }

    var isAtEnd: Bool { offset == end }

    /// The next tag byte without consuming it.
    var peekTag: UInt8? { offset < end ? bytes[offset] : nil }

    /// Reads one TLV with the expected tag and returns its content range.
    mutating func read(tag: UInt8) throws(DERError) -> ArraySlice<UInt8> {
        guard offset < end else { throw .truncated }
        guard bytes[offset] == tag else { throw .unexpectedTag(bytes[offset], expected: tag) }
        var i = offset + 1
        guard i < end else { throw .truncated }
        let first = bytes[i]
        i += 1
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let count = Int(first & 0x7f)
            // 0x80 is BER's indefinite length; more than 4 length bytes is absurd here.
            guard count >= 1, count <= 4 else { throw .nonMinimalLength }
            guard end - i >= count else { throw .truncated }
            guard bytes[i] != 0 else { throw .nonMinimalLength }
            for _ in 0..<count {
                length = length << 8 | Int(bytes[i])
                i += 1
            }
            guard length >= 0x80 else { throw .nonMinimalLength }
        }
        guard end - i >= length else { throw .truncated }
        offset = i + length
        return bytes[i..<(i + length)]
    }

    /// Reads a constructed TLV and returns a reader over its content.
    mutating func nested(tag: UInt8) throws(DERError) -> DERReader {
        let content = try read(tag: tag)
        return DERReader(bytes: bytes, offset: content.startIndex, end: content.endIndex)
    }

    /// Reads a non-negative, minimally encoded INTEGER and returns its
    /// magnitude without the sign byte (empty for zero).
    mutating func readUnsignedInteger() throws(DERError) -> ArraySlice<UInt8> {
        let content = try read(tag: 0x02)
        guard let first = content.first else { throw .badInteger }
        if first & 0x80 != 0 { throw .negativeInteger }
        if first == 0 {
            if content.count == 1 { return content.dropFirst() }
            // A leading zero is only allowed before a byte with the top bit set.
            guard content[content.startIndex + 1] & 0x80 != 0 else { throw .badInteger }
            return content.dropFirst()
        }
        return content
    }

    func requireEnd() throws(DERError) {
        guard isAtEnd else { throw .trailingBytes(end - offset) }
    }
}

/// Why strict DER decoding failed.
enum DERError: Error, CustomStringConvertible {
    case truncated
    case unexpectedTag(UInt8, expected: UInt8)
    case nonMinimalLength
    case badInteger
    case negativeInteger
    case trailingBytes(Int)

    var description: String {
        switch self {
        case .truncated: return "truncated DER"
        case let .unexpectedTag(t, e): return "DER tag 0x\(String(t, radix: 16)), expected 0x\(String(e, radix: 16))"
        case .nonMinimalLength: return "DER length is not minimally encoded"
        case .badInteger: return "DER INTEGER is empty or not minimally encoded"
        case .negativeInteger: return "DER INTEGER is negative"
        case let .trailingBytes(n): return "\(n) trailing bytes after DER value"
        }
    }
}

/// Builds DER values.
enum DERWriter {
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        let n = content.count
        if n < 0x80 {
            out.append(UInt8(n))
        } else if n <= 0xff {
            out += [0x81, UInt8(n)]
        } else {
            out += [0x82, UInt8(n >> 8), UInt8(n & 0xff)]
        }
        return out + content
    }

    static func sequence(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }

    /// A non-negative INTEGER from big-endian magnitude bytes.
    static func unsignedInteger(_ magnitude: some Collection<UInt8>) -> [UInt8] {
        var m = Array(magnitude.drop { $0 == 0 })
        if m.isEmpty { m = [0] } else if m[0] & 0x80 != 0 { m.insert(0, at: 0) }
        return tlv(0x02, m)
    }

    static func octetString(_ content: [UInt8]) -> [UInt8] { tlv(0x04, content) }

    static func bitString(_ content: [UInt8]) -> [UInt8] { tlv(0x03, [0] + content) }
}

/// Object identifiers (full TLV encodings) used in key encodings.
enum KeyOID {
    static let ecPublicKey: [UInt8] = [0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]
    static let prime256v1: [UInt8] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]
    static let secp256k1: [UInt8] = [0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A]
    static let sm2: [UInt8] = [0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D]
    static let ed25519: [UInt8] = [0x06, 0x03, 0x2B, 0x65, 0x70]

    /// The curve OID of an EC scheme (nil for Ed25519).
    static func curve(_ scheme: SignatureScheme) -> [UInt8]? {
        switch scheme {
        case .p256: return prime256v1
        case .secp256k1: return secp256k1
        case .sm2: return sm2
        case .ed25519: return nil
        }
    }

    /// The EC scheme named by a curve OID TLV.
    static func scheme(curve: [UInt8]) -> SignatureScheme? {
        switch curve {
        case prime256v1: return .p256
        case secp256k1: return .secp256k1
        case sm2: return .sm2
        default: return nil
        }
    }

    /// Wraps OID content bytes back into a TLV for comparison.
    static func tlv(_ content: ArraySlice<UInt8>) -> [UInt8] { DERWriter.tlv(0x06, Array(content)) }
}

/// PEM armour (RFC 7468): base64 lines of 64 characters between
/// `-----BEGIN <label>-----` and `-----END <label>-----`.
enum PEM {
    static func encode(_ der: [UInt8], label: String) -> String {
        let b64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(b64)\n-----END \(label)-----\n"
    }

    /// Extracts the DER of the first block with `label`. Whitespace inside
    /// the base64 is ignored; text before BEGIN and after END is ignored.
    static func decode(_ text: String, label: String) throws(LedgerError) -> [UInt8] {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let b = text.range(of: begin) else {
            throw LedgerError(.keyEncoding, "PEM has no '\(begin)' line", details: ["label": label])
        }
        guard let e = text.range(of: end, range: b.upperBound..<text.endIndex) else {
            throw LedgerError(.keyEncoding, "PEM has no '\(end)' line", details: ["label": label])
        }
        let body = text[b.upperBound..<e.lowerBound].filter { !$0.isWhitespace }
        guard !body.isEmpty, let data = Data(base64Encoded: String(body)) else {
            throw LedgerError(.keyEncoding, "PEM body of '\(label)' is not valid base64", details: ["label": label])
        }
        return [UInt8](data)
    }
}
