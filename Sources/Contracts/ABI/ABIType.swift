/// A Solidity ABI type, parsed from its canonical string (`uint256`, `bytes32`, `(address,uint64)[]`).
///
/// Integers of every width 8…256 in steps of 8, `address`, `bool`, `bytes1`…`bytes32`, `function`, `bytes`, `string`,
/// fixed arrays `T[k]`, dynamic arrays `T[]` and tuples `(T1,T2,…)`, nested to any depth up to 64 levels.
/// `uint`/`int` are read as `uint256`/`int256`; ``canonicalName`` always spells the width.
///
/// ```swift
/// let type = try ABIType("(string,uint256[])[2]")
/// type.canonicalName   // "(string,uint256[])[2]"
/// type.isDynamic       // true
/// ```
public indirect enum ABIType: Sendable, Hashable, CustomStringConvertible {
    /// `uintN`, N in 8…256, a multiple of 8.
    case uint(bits: Int)
    /// `intN`, N in 8…256, a multiple of 8 (two's complement).
    case int(bits: Int)
    /// `address`: 20 bytes.
    case address
    /// `bool`.
    case bool
    /// `bytesN`, N in 1…32.
    case fixedBytes(Int)
    /// `function`: an address and a selector (24 bytes), encoded as `bytes24`; its value is a 24-byte `.fixedBytes`.
    case function
    /// `bytes`: a byte string of any length.
    case bytes
    /// `string`: UTF-8 text of any length.
    case string
    /// `T[k]`, k ≥ 1.
    case array(ABIType, count: Int)
    /// `T[]`.
    case dynamicArray(ABIType)
    /// `(T1,…,Tn)`, n ≥ 1 (Solidity has no empty structs; the parser refuses `()`).
    case tuple([ABIType])

    /// The deepest nesting a type may have (arrays in arrays, tuples in tuples).
    public static let maximumDepth = 64

    /// `uint256`.
    public static let uint256 = ABIType.uint(bits: 256)
    /// `int256`.
    public static let int256 = ABIType.int(bits: 256)

    /// Parses a type string.
    /// - Parameter text: Required. A canonical type (`uint256`, `bytes32[]`, `(bool,string)[3]`); spaces are not allowed.
    ///   `uint` and `int` mean `uint256` and `int256`.
    /// - Throws: `ContractError` `.abiInvalidType` (2150) for anything else, `.abiNestingTooDeep` (2167) past 64 levels.
    public init(_ text: String) throws(ContractError) {
        var parser = ABITypeParser(text.utf8)
        let type = try parser.parseType(depth: 0)
        guard parser.atEnd else { throw parser.failure("unexpected text after the type") }
        self = type
    }

    /// The canonical string, as in function signatures (`(uint256,bytes)[]`).
    public var canonicalName: String {
        switch self {
        case .uint(let bits): return "uint\(bits)"
        case .int(let bits): return "int\(bits)"
        case .address: return "address"
        case .bool: return "bool"
        case .fixedBytes(let n): return "bytes\(n)"
        case .function: return "function"
        case .bytes: return "bytes"
        case .string: return "string"
        case .array(let element, let count): return "\(element.canonicalName)[\(count)]"
        case .dynamicArray(let element): return "\(element.canonicalName)[]"
        case .tuple(let members): return "(" + members.map(\.canonicalName).joined(separator: ",") + ")"
        }
    }

    public var description: String { canonicalName }

    /// Whether the encoding has a variable size (`bytes`, `string`, `T[]`, or anything holding one); such a value
    /// sits in the tail and its head is an offset.
    public var isDynamic: Bool {
        switch self {
        case .bytes, .string, .dynamicArray: return true
        case .array(let element, _): return element.isDynamic
        case .tuple(let members): return members.contains { $0.isDynamic }
        default: return false
        }
    }

    /// The bytes the type takes in its enclosing head: 32 for a dynamic type (its offset), otherwise its whole
    /// encoding (a static `T[k]` or tuple lies in place). Saturates rather than overflowing for absurd fixed arrays.
    public var headSize: Int {
        switch self {
        case .array(let element, let count) where !element.isDynamic:
            let (product, overflow) = element.headSize.multipliedReportingOverflow(by: count)
            return overflow ? Int.max : product
        case .tuple(let members) where !isDynamic:
            var total = 0
            for member in members {
                let (sum, overflow) = total.addingReportingOverflow(member.headSize)
                if overflow { return Int.max }
                total = sum
            }
            return total
        default: return 32
        }
    }
}

/// Reads a type string left to right over its UTF-8 bytes.
struct ABITypeParser {
    let bytes: [UInt8]
    var index = 0

    init(_ utf8: String.UTF8View) { bytes = Array(utf8) }

    var atEnd: Bool { index == bytes.count }

    func failure(_ reason: String) -> ContractError {
        let text = String(decoding: bytes, as: UTF8.self)
        return ContractError(.abiInvalidType, "ABI type '\(text)': \(reason) at character \(index)",
                             details: ["type": text, "position": String(index)])
    }

    mutating func parseType(depth: Int) throws(ContractError) -> ABIType {
        guard depth <= ABIType.maximumDepth else {
            throw ContractError(.abiNestingTooDeep, "ABI type nests deeper than \(ABIType.maximumDepth) levels",
                                details: ["type": String(decoding: bytes, as: UTF8.self)])
        }
        var type: ABIType
        if index < bytes.count, bytes[index] == UInt8(ascii: "(") {
            index += 1
            var members: [ABIType] = []
            if index < bytes.count, bytes[index] == UInt8(ascii: ")") {
                throw failure("an empty tuple is not an ABI type")
            }
            while true {
                members.append(try parseType(depth: depth + 1))
                guard index < bytes.count else { throw failure("missing ')'") }
                let c = bytes[index]
                index += 1
                if c == UInt8(ascii: ")") { break }
                guard c == UInt8(ascii: ",") else { throw failure("expected ',' or ')'") }
            }
            type = .tuple(members)
        } else {
            type = try parseElementary()
        }
        var arrayDepth = depth
        while index < bytes.count, bytes[index] == UInt8(ascii: "[") {
            arrayDepth += 1
            guard arrayDepth <= ABIType.maximumDepth else {
                throw ContractError(.abiNestingTooDeep, "ABI type nests deeper than \(ABIType.maximumDepth) levels",
                                    details: ["type": String(decoding: bytes, as: UTF8.self)])
            }
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "]") else { throw failure("expected a length and ']'") }
            if start == index {
                type = .dynamicArray(type)
            } else {
                guard let count = Self.number(bytes[start..<index]), count >= 1 else {
                    throw failure("a fixed array's length must be 1 or more")
                }
                type = .array(type, count: count)
            }
            index += 1
        }
        return type
    }

    /// A decimal without leading zeros that fits comfortably in an `Int` (at most 9 digits: 999,999,999 elements).
    static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 9, digits.first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    mutating func parseElementary() throws(ContractError) -> ABIType {
        let start = index
        while index < bytes.count, (bytes[index] >= UInt8(ascii: "a") && bytes[index] <= UInt8(ascii: "z")) { index += 1 }
        let name = String(decoding: bytes[start..<index], as: UTF8.self)
        let digitsStart = index
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
        let digits = bytes[digitsStart..<index]
        let width = Self.number(digits)
        if name.isEmpty { throw failure("expected a type name") }
        switch name {
        case "uint", "int":
            let bits: Int
            if digits.isEmpty { bits = 256 } else {
                guard let w = width, w >= 8, w <= 256, w % 8 == 0 else { throw failure("\(name) needs a width of 8…256 in steps of 8") }
                bits = w
            }
            return name == "uint" ? .uint(bits: bits) : .int(bits: bits)
        case "bytes":
            if digits.isEmpty { return .bytes }
            guard let n = width, n >= 1, n <= 32 else { throw failure("bytesN needs N in 1…32") }
            return .fixedBytes(n)
        case "address", "bool", "string", "function":
            guard digits.isEmpty else { throw failure("\(name) takes no width") }
            switch name {
            case "address": return .address
            case "bool": return .bool
            case "string": return .string
            default: return .function
            }
        default:
            throw failure("unknown type '\(name)'")
        }
    }
}

/// The member types of a head/tail sequence: a tuple's list, or one element type repeated (an array), whose
/// dynamic-ness and head size are then worked out once rather than per element.
enum ABIMembers {
    case list([ABIType])
    case uniform(ABIType, isDynamic: Bool, headSize: Int)

    static func repeating(_ element: ABIType) -> ABIMembers {
        .uniform(element, isDynamic: element.isDynamic, headSize: element.headSize)
    }

    subscript(index: Int) -> ABIType {
        switch self {
        case .list(let types): types[index]
        case .uniform(let element, _, _): element
        }
    }

    func isDynamic(_ index: Int) -> Bool {
        switch self {
        case .list(let types): types[index].isDynamic
        case .uniform(_, let dynamic, _): dynamic
        }
    }

    func headSize(_ index: Int) -> Int {
        switch self {
        case .list(let types): types[index].headSize
        case .uniform(_, _, let size): size
        }
    }

    /// The head size of `count` members, or `nil` when it overflows.
    func totalHeadSize(count: Int) -> Int? {
        switch self {
        case .list(let types):
            var total = 0
            for type in types {
                let (sum, overflow) = total.addingReportingOverflow(type.headSize)
                if overflow { return nil }
                total = sum
            }
            return total
        case .uniform(_, _, let size):
            let (product, overflow) = size.multipliedReportingOverflow(by: count)
            return overflow ? nil : product
        }
    }
}
