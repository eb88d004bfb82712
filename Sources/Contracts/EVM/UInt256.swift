/// An unsigned 256-bit integer, the EVM's word: four 64-bit limbs, ``w0`` the
/// least significant. Arithmetic wraps modulo 2²⁵⁶ as the EVM's does.
///
/// ```swift
/// let word = UInt256(bigEndian: [0x01, 0x00])   // 256
/// word.bigEndianBytes                             // 32 bytes, ending 0x01 0x00
/// ```
public struct UInt256: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// Bits 0–63.
    public var w0: UInt64
    /// Bits 64–127.
    public var w1: UInt64
    /// Bits 128–191.
    public var w2: UInt64
    /// Bits 192–255.
    public var w3: UInt64

    /// The four limbs, least significant first.
    @inlinable public init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// A 64-bit value.
    @inlinable public init(_ value: UInt64) { self.init(w0: value, w1: 0, w2: 0, w3: 0) }

    public init(integerLiteral value: UInt64) { self.init(value) }

    /// Zero.
    public static let zero = UInt256(0)
    /// One.
    public static let one = UInt256(1)
    /// 2²⁵⁶ − 1.
    public static let max = UInt256(w0: .max, w1: .max, w2: .max, w3: .max)

    /// Reads up to 32 big-endian bytes (fewer are left-padded with zeros; more keep the last 32).
    public init(bigEndian bytes: some Collection<UInt8>) {
        var limbs: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var index = 0
        for byte in bytes.reversed() {
            guard index < 32 else { break }
            let shift = UInt64((index % 8) * 8)
            switch index / 8 {
            case 0: limbs.0 |= UInt64(byte) << shift
            case 1: limbs.1 |= UInt64(byte) << shift
            case 2: limbs.2 |= UInt64(byte) << shift
            default: limbs.3 |= UInt64(byte) << shift
            }
            index += 1
        }
        self.init(w0: limbs.0, w1: limbs.1, w2: limbs.2, w3: limbs.3)
    }

    /// Parses hexadecimal text, with or without `0x`, at most 64 digits; `nil` for anything else.
    /// An empty string (or a bare `0x`) is zero, as the Ethereum test fixtures write it.
    public init?(hex text: String) {
        var digits = Substring(text)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard digits.count <= 64 else { return nil }
        var value = UInt256.zero
        for character in digits.utf8 {
            let nibble: UInt64
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = UInt64(character - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = UInt64(character - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = UInt64(character - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = UInt256(w0: value.w0 << 4 | nibble, w1: value.w1 << 4 | value.w0 >> 60,
                            w2: value.w2 << 4 | value.w1 >> 60, w3: value.w3 << 4 | value.w2 >> 60)
        }
        self = value
    }

    /// The 32 big-endian bytes.
    public var bigEndianBytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        for (i, limb) in [w3, w2, w1, w0].enumerated() {
            for j in 0..<8 { out[i * 8 + j] = UInt8(truncatingIfNeeded: limb >> UInt64(56 - j * 8)) }
        }
        return out
    }

    /// The big-endian bytes without leading zeros (empty for zero): the RLP form of an integer.
    public var minimalBigEndianBytes: [UInt8] {
        Array(bigEndianBytes.drop { $0 == 0 })
    }

    /// Whether the value is zero.
    @inlinable public var isZero: Bool { (w0 | w1 | w2 | w3) == 0 }

    /// The value as a `UInt64`, or `nil` when it does not fit.
    @inlinable public var uint64: UInt64? { (w1 | w2 | w3) == 0 ? w0 : nil }

    @inlinable public static func < (lhs: UInt256, rhs: UInt256) -> Bool {
        if lhs.w3 != rhs.w3 { return lhs.w3 < rhs.w3 }
        if lhs.w2 != rhs.w2 { return lhs.w2 < rhs.w2 }
        if lhs.w1 != rhs.w1 { return lhs.w1 < rhs.w1 }
        return lhs.w0 < rhs.w0
    }

    /// `0x`-prefixed lower-case hexadecimal without leading zeros (`0x0` for zero).
    public var description: String {
        let hex = bigEndianBytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        let trimmed = hex.drop { $0 == "0" }
        return "0x" + (trimmed.isEmpty ? "0" : String(trimmed))
    }
}
