import LedgerCrypto

/// A function of a contract, as a JSON ABI declares it.
///
/// ```swift
/// let function = ABIFunction(name: "transfer", inputs: [ABIParameter(name: "to", type: .address),
///                                                      ABIParameter(name: "amount", type: .uint256)])
/// function.signature                                   // "transfer(address,uint256)"
/// let data = try function.encodeCall([.address(to), .uint(5)])
/// ```
public struct ABIFunction: Sendable, Hashable {
    /// Whether a function reads or changes state and takes value.
    public enum StateMutability: String, Sendable, Hashable, CaseIterable {
        /// Reads no state.
        case pure
        /// Reads state, changes none.
        case view
        /// Changes state, takes no value.
        case nonpayable
        /// Changes state and takes value.
        case payable
    }

    /// The name.
    public let name: String
    /// The parameters.
    public let inputs: [ABIParameter]
    /// The results.
    public let outputs: [ABIParameter]
    /// Its mutability; `view` and `pure` functions suit read-only calls.
    public var stateMutability: StateMutability
    /// The selector, computed once from the signature.
    public let selector: [UInt8]
    /// The input and output types, worked out once.
    let inputTypes: [ABIType], outputTypes: [ABIType]

    /// - Parameters:
    ///   - name: Required.
    ///   - inputs: Optional, default none.
    ///   - outputs: Optional, default none.
    ///   - stateMutability: Optional, default `.nonpayable`.
    public init(name: String, inputs: [ABIParameter] = [], outputs: [ABIParameter] = [],
                stateMutability: StateMutability = .nonpayable) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.stateMutability = stateMutability
        inputTypes = inputs.map(\.type)
        outputTypes = outputs.map(\.type)
        selector = ABI.selector(ABI.signature(name, inputTypes))
    }

    /// `name(type1,…)`, the text its selector hashes.
    public var signature: String { ABI.signature(name, inputTypes) }

    /// Whether a read-only call suits it (`view` or `pure`).
    public var isReadOnly: Bool { stateMutability == .view || stateMutability == .pure }

    /// Call data: the selector, then the encoded arguments.
    /// - Parameter arguments: Required. One value per input.
    /// - Throws: `ContractError` `.abiValueMismatch` (2151) naming the argument, `.abiNestingTooDeep` (2167).
    public func encodeCall(_ arguments: [ABIValue]) throws(ContractError) -> [UInt8] {
        var writer = ABIWriter(types: inputTypes, parameters: inputs)
        return try writer.encode(arguments, prefix: selector)
    }

    /// Decodes the return data of a call to this function.
    /// - Parameter data: Required. The return data.
    /// - Returns: One value per output.
    /// - Throws: `ContractError` decoding errors (2152–2159, 2167) with the output's name in `details["path"]`.
    public func decodeOutput(_ data: [UInt8]) throws(ContractError) -> [ABIValue] {
        var reader = ABIReader(data: data, origin: 0, types: outputTypes, parameters: outputs)
        return try reader.decode()
    }

    /// Decodes call data to this function (selector included) back to its arguments.
    /// - Parameter data: Required. Call data starting with ``selector``.
    /// - Throws: `ContractError` `.abiUnknownSelector` (2165) for another selector, decoding errors (2152–2159, 2167).
    public func decodeInput(_ data: [UInt8]) throws(ContractError) -> [ABIValue] {
        guard data.count >= 4, Array(data[0..<4]) == selector else {
            throw ContractError(.abiUnknownSelector, "call data does not start with \(signature)'s selector 0x\(Hex.encode(selector))",
                                details: ["selector": "0x" + Hex.encode(data.prefix(4))])
        }
        var reader = ABIReader(data: data, origin: 4, types: inputTypes, parameters: inputs)
        return try reader.decode()
    }
}
