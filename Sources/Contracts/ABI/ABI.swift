import LedgerCrypto

/// The Solidity contract ABI without a JSON file: encoding and decoding lists of values, selectors, event topics and
/// signatures. ``ContractInterface`` builds on it for a contract's whole interface.
///
/// ```swift
/// let data = try ABI.encodeCall("transfer(address,uint256)", .address(to), .uint(1_000))
/// ABI.selector("transfer(address,uint256)")          // [0xa9, 0x05, 0x9c, 0xbb]
/// let values = try ABI.decode([.uint256, .string], from: returned)
/// ```
public enum ABI {
    /// Encodes `values` as the ABI encodes a parameter list (a tuple without its own offset): heads, then tails.
    /// - Parameters:
    ///   - values: Required. One value per type, each fitting its type (``ABIValue`` lists which kinds fit which type).
    ///   - types: Required. The parameter types, in order.
    /// - Returns: The encoding, a multiple of 32 bytes.
    /// - Throws: `ContractError` `.abiValueMismatch` (2151) naming the value's path, `.abiNestingTooDeep` (2167).
    /// - Note: Pure; safe to call concurrently.
    public static func encode(_ values: [ABIValue], as types: [ABIType]) throws(ContractError) -> [UInt8] {
        var writer = ABIWriter(types: types, parameters: nil)
        return try writer.encode(values, prefix: [])
    }

    /// Decodes outside data as a parameter list of `types`, strictly (see ``ContractInterface`` for the checks).
    /// Bytes after the last tail are allowed, as Solidity allows them.
    /// - Parameters:
    ///   - types: Required. The parameter types, in order.
    ///   - data: Required. The encoded list (no selector).
    /// - Returns: One value per type; integers as `.uint`/`.int` words, `bytesN` as `.fixedBytes`, arrays as `.array`.
    /// - Throws: `ContractError` `.abiDataTooShort` (2152), `.abiInvalidOffset` (2153), `.abiInvalidLength` (2154),
    ///   `.abiDirtyPadding` (2155), `.abiInvalidBool` (2156), `.abiInvalidSignExtension` (2157), `.abiInvalidUTF8` (2158),
    ///   `.abiDecodingBudgetExceeded` (2159), `.abiNestingTooDeep` (2167); `details["path"]` names the field.
    /// - Note: Pure; work and memory grow linearly with `data.count`; safe to call concurrently.
    public static func decode(_ types: [ABIType], from data: [UInt8]) throws(ContractError) -> [ABIValue] {
        var reader = ABIReader(data: data, origin: 0, types: types, parameters: nil)
        return try reader.decode()
    }

    /// Keccak-256 of the text's UTF-8 bytes.
    static func keccak(_ text: String) -> [UInt8] { Keccak256.hash(Array(text.utf8)).bytes }

    /// The 4-byte selector of a function or error signature: the first 4 bytes of its Keccak-256.
    /// - Parameter signature: Required. Canonical (`transfer(address,uint256)`, no spaces, no parameter names).
    public static func selector(_ signature: String) -> [UInt8] { Array(keccak(signature).prefix(4)) }

    /// The topic0 of an event signature: its Keccak-256 as a word.
    /// - Parameter signature: Required. Canonical (`Transfer(address,address,uint256)`).
    public static func topic(_ signature: String) -> UInt256 { UInt256(bigEndian: keccak(signature)) }

    /// The canonical signature `name(type1,type2,…)`.
    /// - Parameters:
    ///   - name: Required. The function, event or error name.
    ///   - types: Required. The parameter types (may be empty).
    public static func signature(_ name: String, _ types: [ABIType]) -> String {
        name + "(" + types.map(\.canonicalName).joined(separator: ",") + ")"
    }

    /// Parses a signature `name(type1,…)` into its name and types; `uint`/`int` are read as 256 bits.
    /// - Parameter signature: Required. `name(types)`, no spaces, no parameter names.
    /// - Throws: `ContractError` `.abiInvalidType` (2150).
    public static func parseSignature(_ signature: String) throws(ContractError) -> (name: String, types: [ABIType]) {
        guard let open = signature.firstIndex(of: "("), signature.hasSuffix(")"),
              signature[..<open].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" }), open != signature.startIndex else {
            throw ContractError(.abiInvalidType, "signature '\(signature)' is not name(type,…)", details: ["type": signature])
        }
        let name = String(signature[..<open])
        let list = String(signature[open...])
        if list == "()" { return (name, []) }
        guard case .tuple(let types) = try ABIType(list) else {
            throw ContractError(.abiInvalidType, "signature '\(signature)' is not name(type,…)", details: ["type": signature])
        }
        return (name, types)
    }

    /// Call data for a function given by its signature: the selector, then the encoded arguments.
    /// - Parameters:
    ///   - signature: Required. Canonical (`setBatch(string,uint256)`).
    ///   - arguments: One value per parameter.
    /// - Throws: `ContractError` `.abiInvalidType` (2150), `.abiValueMismatch` (2151), `.abiNestingTooDeep` (2167).
    public static func encodeCall(_ signature: String, _ arguments: ABIValue...) throws(ContractError) -> [UInt8] {
        let (name, types) = try parseSignature(signature)
        var writer = ABIWriter(types: types, parameters: nil)
        return try writer.encode(arguments, prefix: selector(Self.signature(name, types)))
    }

    /// Decodes revert data with the two built-in errors only: `Error(string)` and `Panic(uint256)`.
    /// ``ContractInterface/decodeRevert(_:)`` adds the contract's custom errors.
    /// - Parameter data: Required. The revert data (return data of a reverted call).
    /// - Returns: `.empty`, `.error(reason)`, `.panic(code)` or `.unknown(data)` for any other selector.
    /// - Throws: `ContractError` decoding errors (2152–2159) when the selector is known but its data is malformed.
    public static func decodeRevert(_ data: [UInt8]) throws(ContractError) -> ABIRevert {
        try ABIRevert.decode(data, customErrors: [])
    }
}
