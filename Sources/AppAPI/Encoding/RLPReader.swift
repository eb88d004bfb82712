import LedgerCore

/// A strict reader of canonical RLP over borrowed bytes, for the records
/// formats (record bodies, records transactions, state entries).
///
/// It accepts exactly what `RLP.decode` accepts (single bytes below 0x80
/// stand for themselves, short lengths in the short form, long lengths
/// without leading zeros, payloads inside their parent, nothing trailing)
/// and fails with the same `LedgerError` codes (1002–1013), but it builds no
/// `RLP.Item` tree: a field is read straight into its `String`, integer or
/// digest. Decoding a record this way allocates about a tenth of what
/// `RLP.decode` plus item accessors did, which is most of the executor's and
/// the index's work per record.
///
/// ```swift
/// let id = try RLPReader.read(bytes) { (top) throws(LedgerError) in
///     var f = try top.list("record")
///     return try f.string("id")
/// }
/// ```
/// - Note: Only valid inside the closure that owns the buffer (`read(_:_:)`).
struct RLPReader {
    private let base: UnsafeBufferPointer<UInt8>
    private var offset: Int
    private let end: Int

    private init(_ base: UnsafeBufferPointer<UInt8>, from: Int, to: Int) {
        self.base = base
        offset = from
        self.end = to
    }

    /// Runs `body` with a reader over `bytes`, which must hold exactly one item; `body` reads it.
    /// - Throws: `.emptyInput` (1001), `.trailingBytes` (1003) when bytes follow the item, or `body`'s errors.
    static func read<R>(_ bytes: [UInt8], _ body: (inout RLPReader) throws(LedgerError) -> R) throws(LedgerError) -> R {
        try bytes.withUnsafeBufferPointer { (buffer) throws(LedgerError) -> R in
            guard !buffer.isEmpty else { throw LedgerError(.emptyInput, "RLP input is empty") }
            var reader = RLPReader(buffer, from: 0, to: buffer.count)
            // The top item must span the whole input.
            let item = try reader.header()
            guard item.next == buffer.count else {
                throw LedgerError(.trailingBytes, "\(buffer.count - item.next) trailing bytes after the RLP item at offset \(item.next)",
                                  details: ["offset": String(item.next)])
            }
            return try body(&reader)
        }
    }

    /// Whether every element of this list has been read.
    var isAtEnd: Bool { offset >= end }

    /// The next element, a byte string: the range of its payload, counted from the start of the buffer
    /// ``read(_:_:)`` was given (for readers that keep positions instead of copies).
    mutating func byteRange(_ field: String) throws(LedgerError) -> Range<Int> {
        try nextBytes(field)
    }

    /// The next element, a byte string whose payload is itself exactly one RLP item (a transaction's body):
    /// a reader positioned on that item, its positions still counted from the start of the whole buffer.
    /// - Throws: the RLP codes of ``read(_:_:)`` (`.trailingBytes` 1003 when the payload holds more than one item).
    mutating func embedded(_ field: String) throws(LedgerError) -> RLPReader {
        let r = try nextBytes(field)
        let inner = RLPReader(base, from: r.lowerBound, to: r.upperBound)
        guard !r.isEmpty else { throw LedgerError(.emptyInput, "field '\(field)': the embedded RLP item is empty", details: ["field": field]) }
        let item = try inner.header()
        guard item.next == r.upperBound else {
            throw LedgerError(.trailingBytes, "field '\(field)': \(r.upperBound - item.next) trailing bytes after the embedded item",
                              details: ["field": field, "offset": String(item.next)])
        }
        return inner
    }

    private struct Header {
        var isList: Bool
        var payload: Range<Int>
        var next: Int
    }

    /// Parses the header of the item at `offset` (without moving), checking the canonical rules.
    private func header() throws(LedgerError) -> Header {
        guard offset < end else {
            throw LedgerError(.truncated, "RLP input ends at offset \(offset) where an item was expected", details: ["offset": String(offset)])
        }
        let start = offset
        let prefix = base[start]
        var at = start + 1
        switch prefix {
        case 0x00...0x7f:
            return Header(isList: false, payload: start..<(start + 1), next: start + 1)
        case 0x80...0xbf:
            let length = try payloadLength(prefix: prefix, base: 0x80, &at, start: start)
            if length == 1 && base[at] < 0x80 {
                throw LedgerError(.nonCanonicalSingleByte, "byte 0x\(Hex.encode([base[at]])) at offset \(start) must be encoded as itself",
                                  details: ["offset": String(start)])
            }
            return Header(isList: false, payload: at..<(at + length), next: at + length)
        default:
            let length = try payloadLength(prefix: prefix, base: 0xc0, &at, start: start)
            return Header(isList: true, payload: at..<(at + length), next: at + length)
        }
    }

    private func payloadLength(prefix: UInt8, base b: UInt8, _ at: inout Int, start: Int) throws(LedgerError) -> Int {
        try RLP.payloadLength(base, prefix: prefix, base: b, &at, end: end, start: start)
    }

    private mutating func nextBytes(_ field: String) throws(LedgerError) -> Range<Int> {
        let h = try header()
        guard !h.isList else {
            throw LedgerError(.unexpectedItemType, "field '\(field)': expected a byte string, found a list", details: ["field": field])
        }
        offset = h.next
        return h.payload
    }

    /// The next element, a list: a reader over its elements.
    /// - Parameter count: Optional. The exact number of elements required (`.fieldCount` 1010 otherwise).
    mutating func list(_ field: String, count: Int? = nil) throws(LedgerError) -> RLPReader {
        let h = try header()
        guard h.isList else {
            throw LedgerError(.unexpectedItemType, "field '\(field)': expected a list, found a byte string", details: ["field": field])
        }
        offset = h.next
        let sub = RLPReader(base, from: h.payload.lowerBound, to: h.payload.upperBound)
        if let count {
            let found = try sub.count()
            guard found == count else {
                throw LedgerError(.fieldCount, "field '\(field)': expected \(count) elements, found \(found)",
                                  details: ["field": field, "expected": String(count), "found": String(found)])
            }
        }
        return sub
    }

    /// The number of elements left in this list (headers are checked, payloads are not read).
    func count() throws(LedgerError) -> Int {
        var r = self
        var n = 0
        while !r.isAtEnd {
            r.offset = try r.header().next
            n += 1
        }
        return n
    }

    /// The next element, a byte string, copied.
    mutating func bytes(_ field: String) throws(LedgerError) -> [UInt8] {
        let r = try nextBytes(field)
        return Array(base[r])
    }

    /// The next element, a byte string, passed to `body` without copying.
    mutating func withBytes<R>(_ field: String, _ body: (UnsafeBufferPointer<UInt8>) throws(LedgerError) -> R) throws(LedgerError) -> R {
        let r = try nextBytes(field)
        return try body(UnsafeBufferPointer(rebasing: base[r]))
    }

    /// The next element, a UTF-8 string (`.invalidUTF8` 1011 otherwise).
    mutating func string(_ field: String) throws(LedgerError) -> String {
        let r = try nextBytes(field)
        guard let s = String(validating: UnsafeBufferPointer(rebasing: base[r]), as: UTF8.self) else {
            throw LedgerError(.invalidUTF8, "field '\(field)': not valid UTF-8", details: ["field": field])
        }
        return s
    }

    /// The next element, a canonical unsigned integer of at most 8 bytes (1006, 1007 otherwise).
    mutating func uint64(_ field: String) throws(LedgerError) -> UInt64 {
        let r = try nextBytes(field)
        if r.count > 0 && base[r.lowerBound] == 0 {
            throw LedgerError(.nonCanonicalInteger, "field '\(field)': integer has a leading zero byte", details: ["field": field])
        }
        guard r.count <= 8 else {
            throw LedgerError(.integerOverflow, "field '\(field)': integer of \(r.count) bytes exceeds 64 bits", details: ["field": field])
        }
        var v: UInt64 = 0
        for i in r { v = v << 8 | UInt64(base[i]) }
        return v
    }

    /// The next element, a 32-byte digest (`.digestLength` 1401 otherwise).
    mutating func digest(_ field: String) throws(LedgerError) -> Digest {
        let r = try nextBytes(field)
        guard r.count == 32, let start = base.baseAddress else {
            throw LedgerError(.digestLength, "field '\(field)': digest must be 32 bytes, got \(r.count)", details: ["field": field])
        }
        // One 32-byte load (the generic `Digest(bytes:)` copied byte by byte through the Collection witnesses,
        // which was most of the time spent decoding a records transaction).
        return Digest(unsafeRaw: UnsafeRawPointer(start + r.lowerBound))
    }

    /// Reads the next element with `body` and passes the exact bytes it consumed (its canonical encoding,
    /// borrowed, valid only during the call) to `consumed`.
    mutating func capturing<R>(_ body: (inout RLPReader) throws(LedgerError) -> R,
                               consumed: (UnsafeBufferPointer<UInt8>) -> Void) throws(LedgerError) -> R {
        let start = offset
        let result = try body(&self)
        consumed(UnsafeBufferPointer(rebasing: base[start..<offset]))
        return result
    }

    /// Skips the next element, checking that it is canonical RLP throughout (nesting up to `RLP.maximumDepth`).
    mutating func skip(depth: Int = 0) throws(LedgerError) {
        guard depth <= RLP.maximumDepth else {
            throw LedgerError(.nestingTooDeep, "RLP lists nested deeper than \(RLP.maximumDepth) at offset \(offset)",
                              details: ["offset": String(offset)])
        }
        let h = try header()
        if h.isList {
            var sub = RLPReader(base, from: h.payload.lowerBound, to: h.payload.upperBound)
            while !sub.isAtEnd { try sub.skip(depth: depth + 1) }
        }
        offset = h.next
    }
}
