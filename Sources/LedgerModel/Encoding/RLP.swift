import LedgerCrypto

/// Recursive Length Prefix, the one canonical encoding of ForgeChain: every
/// byte string that is hashed or signed (transactions, block headers,
/// receipts, consensus messages) is RLP, as in Ethereum's Yellow Paper
/// Appendix B, so the EVM and the ledger share one encoder.
///
/// Encoding is deterministic. Decoding is strict and accepts only the
/// canonical form: a single byte below 0x80 must stand for itself, lengths
/// use the short form when they fit, long-form lengths have no leading zero
/// bytes, the payload is consumed exactly, and nothing may trail the item.
///
/// ```swift
/// let bytes = RLP.encode(.list([.bytes(Array("dog".utf8)), .uint(1024)]))
/// let item = try RLP.decode(bytes)
/// ```
public enum RLP {
    /// The deepest list nesting a decoder accepts before it refuses the
    /// input (a guard against stack exhaustion by hostile bytes).
    public static let maximumDepth = 64

    /// An RLP item: a byte string or a list of items.
    public indirect enum Item: Hashable, Sendable {
        /// A byte string.
        case bytes([UInt8])
        /// A list of items.
        case list([Item])

        /// The canonical encoding of an unsigned integer: big-endian, no
        /// leading zero bytes; zero is the empty string.
        public static func uint(_ value: UInt64) -> Item {
            .bytes(RLP.bigEndianBytes(value))
        }

        /// A UTF-8 string as a byte string.
        public static func string(_ value: String) -> Item { .bytes(Array(value.utf8)) }

        /// A digest as a 32-byte string.
        public static func digest(_ value: Digest) -> Item { .bytes(value.bytes) }

        /// The byte string, or `.unexpectedItemType` (1009) for a list.
        /// - Parameter field: Names the field in the error message.
        public func bytes(_ field: String) throws(LedgerError) -> [UInt8] {
            guard case .bytes(let b) = self else {
                throw LedgerError(.unexpectedItemType, "field '\(field)': expected a byte string, found a list",
                                  details: ["field": field])
            }
            return b
        }

        /// The list, or `.unexpectedItemType` (1009) for a byte string.
        /// - Parameters:
        ///   - field: Names the field in the error message.
        ///   - count: Optional. When given, the exact number of elements
        ///     required (`.fieldCount` (1010) otherwise).
        public func list(_ field: String, count: Int? = nil) throws(LedgerError) -> [Item] {
            guard case .list(let items) = self else {
                throw LedgerError(.unexpectedItemType, "field '\(field)': expected a list, found a byte string",
                                  details: ["field": field])
            }
            if let count, items.count != count {
                throw LedgerError(.fieldCount, "field '\(field)': expected \(count) elements, found \(items.count)",
                                  details: ["field": field, "expected": String(count), "found": String(items.count)])
            }
            return items
        }

        /// A canonical unsigned integer of at most 8 bytes.
        /// - Throws: `.nonCanonicalInteger` (1006) for a leading zero byte,
        ///   `.integerOverflow` (1007) above `UInt64.max`, or
        ///   `.unexpectedItemType` (1009).
        public func uint64(_ field: String) throws(LedgerError) -> UInt64 {
            let b = try bytes(field)
            if b.first == 0 {
                throw LedgerError(.nonCanonicalInteger, "field '\(field)': integer has a leading zero byte",
                                  details: ["field": field])
            }
            guard b.count <= 8 else {
                throw LedgerError(.integerOverflow, "field '\(field)': integer of \(b.count) bytes exceeds 64 bits",
                                  details: ["field": field])
            }
            return b.reduce(0) { $0 << 8 | UInt64($1) }
        }

        /// A 32-byte digest.
        /// - Throws: `.digestLength` (1401) or `.unexpectedItemType` (1009).
        public func digest(_ field: String) throws(LedgerError) -> Digest {
            let b = try bytes(field)
            do { return try Digest(bytes: b) } catch {
                throw LedgerError(.digestLength, "field '\(field)': digest must be 32 bytes, got \(b.count)",
                                  details: ["field": field])
            }
        }

        /// A UTF-8 string.
        /// - Throws: `.invalidUTF8` (1011) or `.unexpectedItemType` (1009).
        public func string(_ field: String) throws(LedgerError) -> String {
            let b = try bytes(field)
            guard let s = String(validating: b, as: UTF8.self) else {
                throw LedgerError(.invalidUTF8, "field '\(field)': not valid UTF-8", details: ["field": field])
            }
            return s
        }
    }

    // MARK: Encoding

    /// Encodes an item canonically.
    public static func encode(_ item: Item) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(encodedLength(item))
        append(item, to: &out)
        return out
    }

    /// The length of `encode(item)`, without encoding.
    public static func encodedLength(_ item: Item) -> Int {
        switch item {
        case .bytes(let b):
            if b.count == 1 && b[0] < 0x80 { return 1 }
            return headerLength(b.count) + b.count
        case .list(let items):
            let payload = items.reduce(0) { $0 + encodedLength($1) }
            return headerLength(payload) + payload
        }
    }

    /// Appends the canonical encoding of `item` to `out`.
    public static func append(_ item: Item, to out: inout [UInt8]) {
        switch item {
        case .bytes(let b):
            if b.count == 1 && b[0] < 0x80 {
                out.append(b[0])
            } else {
                appendHeader(b.count, offset: 0x80, to: &out)
                out.append(contentsOf: b)
            }
        case .list(let items):
            let payload = items.reduce(0) { $0 + encodedLength($1) }
            appendHeader(payload, offset: 0xc0, to: &out)
            for i in items { append(i, to: &out) }
        }
    }

    private static func headerLength(_ payload: Int) -> Int {
        payload < 56 ? 1 : 1 + bigEndianBytes(UInt64(payload)).count
    }

    /// Appends the header of a string (`offset` 0x80) or list (`offset` 0xc0) whose payload is
    /// `length` bytes. Shared with the records formats' streaming writer.
    package static func appendHeader(_ length: Int, offset: UInt8, to out: inout [UInt8]) {
        if length < 56 {
            out.append(offset + UInt8(length))
        } else {
            let l = bigEndianBytes(UInt64(length))
            out.append(offset + 55 + UInt8(l.count))
            out.append(contentsOf: l)
        }
    }

    /// Big-endian bytes without leading zeros (empty for zero).
    public static func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        guard value != 0 else { return [] }
        let n = (64 - value.leadingZeroBitCount + 7) / 8
        return (0..<n).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(n - 1 - $0))) }
    }

    // MARK: Decoding

    /// Decodes exactly one canonical item that spans all of `bytes`.
    /// - Parameter bytes: Required. The encoding; any length.
    /// - Throws: `LedgerError` with one of the codes 1001–1008: `.emptyInput`,
    ///   `.truncated`, `.trailingBytes`, `.nonCanonicalLength`,
    ///   `.nonCanonicalSingleByte`, `.lengthOverflow`, `.nestingTooDeep`;
    ///   the error's `offset` detail gives the byte position.
    /// - Note: Pure; safe to call concurrently.
    public static func decode(_ bytes: [UInt8]) throws(LedgerError) -> Item {
        try bytes.withUnsafeBufferPointer { (buf) throws(LedgerError) -> Item in
            guard !buf.isEmpty else {
                throw LedgerError(.emptyInput, "RLP input is empty")
            }
            var offset = 0
            let item = try decodeItem(buf, &offset, end: buf.count, depth: 0)
            guard offset == buf.count else {
                throw LedgerError(.trailingBytes, "\(buf.count - offset) trailing bytes after the RLP item at offset \(offset)",
                                  details: ["offset": String(offset)])
            }
            return item
        }
    }

    private static func decodeItem(_ b: UnsafeBufferPointer<UInt8>, _ offset: inout Int, end: Int, depth: Int) throws(LedgerError) -> Item {
        guard depth <= maximumDepth else {
            throw LedgerError(.nestingTooDeep, "RLP lists nested deeper than \(maximumDepth) at offset \(offset)",
                              details: ["offset": String(offset)])
        }
        guard offset < end else {
            throw LedgerError(.truncated, "RLP input ends at offset \(offset) where an item was expected",
                              details: ["offset": String(offset)])
        }
        let start = offset
        let prefix = b[offset]
        offset += 1
        switch prefix {
        case 0x00...0x7f:
            return .bytes([prefix])
        case 0x80...0xbf:
            let length = try payloadLength(b, prefix: prefix, base: 0x80, &offset, end: end, start: start)
            if length == 1 && offset < end && b[offset] < 0x80 {
                throw LedgerError(.nonCanonicalSingleByte,
                                  "byte 0x\(Hex.encode([b[offset]])) at offset \(start) must be encoded as itself",
                                  details: ["offset": String(start)])
            }
            let payload = Array(b[offset..<(offset + length)])
            offset += length
            return .bytes(payload)
        default:
            let length = try payloadLength(b, prefix: prefix, base: 0xc0, &offset, end: end, start: start)
            let listEnd = offset + length
            var items = [Item]()
            while offset < listEnd {
                items.append(try decodeItem(b, &offset, end: listEnd, depth: depth + 1))
            }
            return .list(items)
        }
    }

    /// Reads the length of a string (`base` 0x80) or list (`base` 0xc0)
    /// and checks that the payload fits before `end`. Shared with the
    /// records formats' streaming reader, so both accept exactly the same input.
    package static func payloadLength(_ b: UnsafeBufferPointer<UInt8>, prefix: UInt8, base: UInt8,
                                      _ offset: inout Int, end: Int, start: Int) throws(LedgerError) -> Int {
        let short = Int(prefix - base)
        var length: Int
        if short <= 55 {
            length = short
        } else {
            let lengthOfLength = short - 55
            guard offset + lengthOfLength <= end else {
                throw LedgerError(.truncated, "RLP length field at offset \(start) runs past the end",
                                  details: ["offset": String(start)])
            }
            guard b[offset] != 0 else {
                throw LedgerError(.nonCanonicalLength, "RLP length at offset \(start) has a leading zero byte",
                                  details: ["offset": String(start)])
            }
            guard lengthOfLength <= 7 else {
                throw LedgerError(.lengthOverflow, "RLP length at offset \(start) uses \(lengthOfLength) bytes",
                                  details: ["offset": String(start)])
            }
            length = 0
            for i in 0..<lengthOfLength { length = length << 8 | Int(b[offset + i]) }
            offset += lengthOfLength
            guard length > 55 else {
                throw LedgerError(.nonCanonicalLength, "RLP length \(length) at offset \(start) must use the short form",
                                  details: ["offset": String(start)])
            }
        }
        guard length <= end - offset else {
            throw LedgerError(.truncated, "RLP item at offset \(start) declares \(length) bytes, only \(end - offset) remain",
                              details: ["offset": String(start)])
        }
        return length
    }
}

// Canonical encoding (10xx).
extension LedgerError.Code {
    /// The input to a decoder is empty.
    public static let emptyInput = Self(rawValue: 1001)
    /// The input ends before the item it declares.
    public static let truncated = Self(rawValue: 1002)
    /// Bytes follow the one item the input must hold.
    public static let trailingBytes = Self(rawValue: 1003)
    /// A length uses the long form where the short one fits, or has a leading zero byte.
    public static let nonCanonicalLength = Self(rawValue: 1004)
    /// A single byte below 0x80 is wrapped in a string header.
    public static let nonCanonicalSingleByte = Self(rawValue: 1005)
    /// An integer has a leading zero byte.
    public static let nonCanonicalInteger = Self(rawValue: 1006)
    /// An integer or a length does not fit its type.
    public static let integerOverflow = Self(rawValue: 1007)
    /// Lists are nested deeper than ``RLP/maximumDepth``.
    public static let nestingTooDeep = Self(rawValue: 1008)
    /// A list stands where a byte string is required, or the reverse.
    public static let unexpectedItemType = Self(rawValue: 1009)
    /// A list has the wrong number of fields.
    public static let fieldCount = Self(rawValue: 1010)
    /// A string field is not valid UTF-8.
    public static let invalidUTF8 = Self(rawValue: 1011)
    /// An encoded structure has a version this build does not know.
    public static let unsupportedVersion = Self(rawValue: 1012)
    /// A length field is wider than the decoder accepts.
    public static let lengthOverflow = Self(rawValue: 1013)
    /// A field holds a value outside its allowed set or range.
    public static let invalidFieldValue = Self(rawValue: 1014)
}
