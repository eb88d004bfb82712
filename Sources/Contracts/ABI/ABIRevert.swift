/// Why a call reverted, read from its revert data.
///
/// ```swift
/// switch try interface.decodeRevert(result.output) {
/// case .error(let reason): log("reverted: \(reason)")
/// case .panic(let panic): log("panic \(panic.code): \(panic.meaning)")
/// case .custom(let error, let values): log("\(error.name)\(values)")
/// case .empty, .unknown: log("reverted without a known reason")
/// }
/// ```
public enum ABIRevert: Sendable, Hashable {
    /// No data (`revert()`, `require(cond)` without a message, running out of gas in a sub-call).
    case empty
    /// `Error(string)`: `require(cond, "reason")` or `revert("reason")` (Vyper's `assert cond, "reason"` too).
    case error(String)
    /// `Panic(uint256)`: a failed `assert`, an overflow, a division by zero, an index out of bounds.
    case panic(ABIPanic)
    /// A custom error the interface declares (`error NotOwner(address caller)`), with its decoded arguments.
    case custom(ABICustomError, [ABIValue])
    /// Data whose selector the interface does not know, or shorter than a selector.
    case unknown([UInt8])

    /// The selector of `Error(string)`: `08c379a0`.
    public static let errorSelector: [UInt8] = [0x08, 0xC3, 0x79, 0xA0]
    /// The selector of `Panic(uint256)`: `4e487b71`.
    public static let panicSelector: [UInt8] = [0x4E, 0x48, 0x7B, 0x71]

    static func decode(_ data: [UInt8], customErrors: [ABICustomError]) throws(ContractError) -> ABIRevert {
        if data.isEmpty { return .empty }
        guard data.count >= 4 else { return .unknown(data) }
        let selector = Array(data[0..<4])
        if selector == errorSelector {
            var reader = ABIReader(data: data, origin: 4, types: [.string], parameters: [ABIParameter(name: "reason", type: .string)])
            guard case .string(let reason) = try reader.decode()[0] else { return .unknown(data) }
            return .error(reason)
        }
        if selector == panicSelector {
            var reader = ABIReader(data: data, origin: 4, types: [.uint256], parameters: [ABIParameter(name: "code", type: .uint256)])
            guard case .uint(let code) = try reader.decode()[0] else { return .unknown(data) }
            return .panic(ABIPanic(code: code))
        }
        for error in customErrors where error.selector == selector {
            var reader = ABIReader(data: data, origin: 4, types: error.inputs.map(\.type), parameters: error.inputs)
            return .custom(error, try reader.decode())
        }
        return .unknown(data)
    }
}

/// A `Panic(uint256)` code and what the Solidity compiler means by it.
///
/// ```swift
/// ABIPanic(code: 0x11).meaning   // "arithmetic overflow or underflow"
/// ```
public struct ABIPanic: Sendable, Hashable, CustomStringConvertible {
    /// The code.
    public var code: UInt256

    /// - Parameter code: Required. Any word; the compiler uses the codes ``meaning`` lists.
    public init(code: UInt256) { self.code = code }

    /// The compiler's meaning of the code (0x00, 0x01, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x41, 0x51), or
    /// "unknown panic code" for any other.
    public var meaning: String {
        switch code.uint64 {
        case 0x00: "generic compiler-inserted panic"
        case 0x01: "assertion failed"
        case 0x11: "arithmetic overflow or underflow"
        case 0x12: "division or modulo by zero"
        case 0x21: "conversion to an enum out of range"
        case 0x22: "incorrectly encoded storage byte array"
        case 0x31: "pop() on an empty array"
        case 0x32: "array index out of bounds"
        case 0x41: "too much memory allocated or an array too large"
        case 0x51: "call to a zero-initialised internal function variable"
        default: "unknown panic code"
        }
    }

    public var description: String { "Panic(\(code)): \(meaning)" }
}
