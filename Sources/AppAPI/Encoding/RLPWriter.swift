import LedgerCore

/// Writes canonical RLP straight into a byte array, for the records formats.
///
/// The bytes equal `RLP.encode` of the same items (a test compares them for
/// every record kind), without building the item tree first: a record is
/// about 40 items, and allocating them cost more than hashing the result.
///
/// ```swift
/// var w = RLPWriter()
/// w.list { w in w.uint(1); w.string("production") }
/// let bytes = w.bytes
/// ```
struct RLPWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Appends a byte string.
    mutating func byteString<C: Collection<UInt8>>(_ value: C) {
        let n = value.count
        if n == 1, let b = value.first, b < 0x80 {
            bytes.append(b)
            return
        }
        RLP.appendHeader(n, offset: 0x80, to: &bytes)
        bytes.append(contentsOf: value)
    }

    /// Appends a UTF-8 string as a byte string.
    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { byteString($0) }
    }

    /// Appends an unsigned integer (big-endian, no leading zeros; zero is the empty string).
    mutating func uint(_ value: UInt64) {
        guard value != 0 else { bytes.append(0x80); return }
        if value < 0x80 { bytes.append(UInt8(value)); return }
        let n = (64 - value.leadingZeroBitCount + 7) / 8
        bytes.append(0x80 + UInt8(n))
        for i in (0..<n).reversed() { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    /// Appends a digest as a 32-byte string.
    mutating func digest(_ value: Digest) { byteString(value.bytes) }

    /// Appends bytes that already are one canonical RLP item.
    mutating func raw<C: Collection<UInt8>>(_ encoded: C) { bytes.append(contentsOf: encoded) }

    /// Appends a list whose elements `body` writes.
    mutating func list(_ body: (inout RLPWriter) -> Void) {
        let start = bytes.count
        body(&self)
        let length = bytes.count - start
        guard length >= 56 else {
            bytes.insert(0xc0 + UInt8(length), at: start)   // the common short list, without a header array
            return
        }
        var header = [UInt8]()
        RLP.appendHeader(length, offset: 0xc0, to: &header)
        bytes.insert(contentsOf: header, at: start)
    }
}
