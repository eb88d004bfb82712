import LedgerCrypto

/// A value of a Solidity ABI type, to encode as an argument or as decoded from call results, logs and revert data.
///
/// Integer literals build a ``UInt256`` directly, and `Int`/`UInt64` variables have their own overloads, so calls read
/// as written in Solidity:
///
/// ```swift
/// let data = try contract.encodeCall("setBatch", .string("B-17"), .uint(42))
/// let values: [ABIValue] = [.int(-5), .address(owner), .array([.uint(1), .uint(2)]), .tuple([.bool(true), .bytes([0xCA, 0xFE])])]
/// ```
public enum ABIValue: Sendable, Hashable, CustomStringConvertible {
    /// A `uintN`.
    case uint(UInt256)
    /// An `intN` as its 256-bit two's complement (−1 is ``UInt256/max``); ``int(_:)-(Int)`` builds one from an `Int`.
    case int(UInt256)
    /// An `address`.
    case address(EVMAddress)
    /// A `bool`.
    case bool(Bool)
    /// A `bytesN`: exactly N bytes.
    case fixedBytes([UInt8])
    /// A `bytes`.
    case bytes([UInt8])
    /// A `string`.
    case string(String)
    /// A `T[k]` or `T[]`.
    case array([ABIValue])
    /// A tuple (a Solidity struct), members in declaration order.
    case tuple([ABIValue])

    /// A `uintN` from an `Int`; a negative value is a mismatch when encoded (it becomes ``int(_:)-(Int)``'s word, which no `uintN` takes).
    /// - Parameter value: Required. `0...Int.max`.
    public static func uint(_ value: Int) -> ABIValue {
        value < 0 ? .int(ABIWord.signed(Int64(value))) : .uint(UInt256(UInt64(value)))
    }

    /// A `uintN` from a `UInt64`.
    /// - Parameter value: Required. Any.
    public static func uint(_ value: UInt64) -> ABIValue { .uint(UInt256(value)) }

    /// An `intN` from an `Int` (sign-extended to 256 bits).
    /// - Parameter value: Required. Any.
    public static func int(_ value: Int) -> ABIValue { .int(ABIWord.signed(Int64(value))) }

    /// An `intN` from an `Int64` (sign-extended to 256 bits).
    /// - Parameter value: Required. Any.
    public static func int(_ value: Int64) -> ABIValue { .int(ABIWord.signed(value)) }

    /// The unsigned word of a `.uint`, or of a non-negative `.int`; `nil` otherwise.
    public var unsignedWord: UInt256? {
        switch self {
        case .uint(let word): return word
        case .int(let word): return word.w3 >> 63 == 0 ? word : nil
        default: return nil
        }
    }

    /// The value of an integer that fits in an `Int` (negative for a negative `.int`); `nil` otherwise.
    public var intValue: Int? {
        switch self {
        case .uint(let word): return word.uint64.flatMap { $0 <= UInt64(Int.max) ? Int($0) : nil }
        case .int(let word): return ABIWord.int64(word).map { Int($0) }
        default: return nil
        }
    }

    /// The text of a `.string`; `nil` otherwise.
    public var stringValue: String? { if case .string(let text) = self { text } else { nil } }

    /// The elements of an `.array` or the members of a `.tuple`; `nil` otherwise.
    public var elements: [ABIValue]? {
        switch self {
        case .array(let values), .tuple(let values): return values
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .uint(let word): return ABIWord.decimal(word)
        case .int(let word): return ABIWord.signedDecimal(word)
        case .address(let address): return address.description
        case .bool(let flag): return String(flag)
        case .fixedBytes(let bytes), .bytes(let bytes): return "0x" + Hex.encode(bytes)
        case .string(let text): return "\"" + text + "\""
        case .array(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .tuple(let values): return "(" + values.map(\.description).joined(separator: ", ") + ")"
        }
    }
}

/// Word helpers the ABI needs beyond ``UInt256``'s own (kept in a namespace so they never collide with the interpreter's).
enum ABIWord {
    /// The 256-bit two's complement of a signed 64-bit value.
    static func signed(_ value: Int64) -> UInt256 {
        let fill: UInt64 = value < 0 ? .max : 0
        return UInt256(w0: UInt64(bitPattern: value), w1: fill, w2: fill, w3: fill)
    }

    /// The word as an `Int64` when it is the sign extension of one; `nil` otherwise.
    static func int64(_ word: UInt256) -> Int64? {
        let low = Int64(bitPattern: word.w0)
        let fill: UInt64 = low < 0 ? .max : 0
        return word.w1 == fill && word.w2 == fill && word.w3 == fill ? low : nil
    }

    /// Whether every bit from `bit` (0…256) up is zero: the word fits in `bit` unsigned bits.
    static func isZero(_ word: UInt256, fromBit bit: Int) -> Bool {
        if bit >= 256 { return true }
        let limbs = (word.w0, word.w1, word.w2, word.w3)
        func limb(_ i: Int) -> UInt64 { i == 0 ? limbs.0 : i == 1 ? limbs.1 : i == 2 ? limbs.2 : limbs.3 }
        for i in 0..<4 {
            let low = i * 64
            if low >= bit {
                if limb(i) != 0 { return false }
            } else if low + 64 > bit {
                if limb(i) >> UInt64(bit - low) != 0 { return false }
            }
        }
        return true
    }

    /// Whether the word is the sign extension of a `bits`-bit two's-complement value (always for 256).
    static func isSignExtended(_ word: UInt256, bits: Int) -> Bool {
        if bits >= 256 { return true }
        let inverted = UInt256(w0: ~word.w0, w1: ~word.w1, w2: ~word.w2, w3: ~word.w3)
        return isZero(word, fromBit: bits - 1) || isZero(inverted, fromBit: bits - 1)
    }

    /// Whether bit 255 is set (negative as two's complement).
    static func isNegative(_ word: UInt256) -> Bool { word.w3 >> 63 == 1 }

    /// The two's-complement negation (wrapping).
    static func negated(_ word: UInt256) -> UInt256 {
        let (w0, c0) = (~word.w0).addingReportingOverflow(1)
        let (w1, c1) = (~word.w1).addingReportingOverflow(c0 ? 1 : 0)
        let (w2, c2) = (~word.w2).addingReportingOverflow(c1 ? 1 : 0)
        let w3 = (~word.w3) &+ (c2 ? 1 : 0)
        return UInt256(w0: w0, w1: w1, w2: w2, w3: w3)
    }

    /// Divides by a non-zero 64-bit number, returning quotient and remainder.
    static func divide(_ word: UInt256, by divisor: UInt64) -> (UInt256, UInt64) {
        let (q3, r3) = divisor.dividingFullWidth((high: 0, low: word.w3))
        let (q2, r2) = divisor.dividingFullWidth((high: r3, low: word.w2))
        let (q1, r1) = divisor.dividingFullWidth((high: r2, low: word.w1))
        let (q0, r0) = divisor.dividingFullWidth((high: r1, low: word.w0))
        return (UInt256(w0: q0, w1: q1, w2: q2, w3: q3), r0)
    }

    /// The word in decimal.
    static func decimal(_ word: UInt256) -> String {
        if let small = word.uint64 { return String(small) }
        var value = word
        var chunks: [UInt64] = []
        while !value.isZero {
            let (quotient, chunk) = divide(value, by: 10_000_000_000_000_000_000)
            chunks.append(chunk)
            value = quotient
        }
        var text = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: 19 - digits.count) + digits
        }
        return text
    }

    /// The word read as two's complement, in decimal.
    static func signedDecimal(_ word: UInt256) -> String {
        isNegative(word) ? "-" + decimal(negated(word)) : decimal(word)
    }
}
