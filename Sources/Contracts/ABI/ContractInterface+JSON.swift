import Foundation

extension ContractInterface {
    /// Reads a JSON ABI as solc (`--abi`, or the `abi` of its standard JSON output) and vyper (`-f abi`) emit it: an
    /// array of entries, or an object with an `abi` array. Entries of type `function` (the default when `type` is
    /// missing), `constructor`, `event`, `error`, `fallback` and `receive`; parameters with `name`, `type`,
    /// `internalType`, `indexed` and, for `tuple` types, `components`. A missing `stateMutability` is derived from
    /// the older `constant` and `payable` flags. Unknown keys are ignored.
    /// - Parameter json: Required. The file's bytes (UTF-8).
    /// - Throws: `ContractError` `.abiInvalidJSON` (2160) naming the entry, `.abiNestingTooDeep` (2167).
    public init(json: [UInt8]) throws(ContractError) {
        let entries: [RawEntry]
        do {
            // An array is the ABI itself; anything else must be an object holding it under "abi".
            let isArray = json.first { ![0x20, 0x09, 0x0A, 0x0D].contains($0) } == UInt8(ascii: "[")
            entries = isArray ? try JSONDecoder().decode([RawEntry].self, from: Data(json))
                              : try JSONDecoder().decode(RawFile.self, from: Data(json)).abi
        } catch {
            throw ContractError(.abiInvalidJSON, "the JSON ABI is not an array of entries nor an object with an 'abi' array: \(error)",
                                details: ["entry": ""])
        }
        self.init()
        for (index, entry) in entries.enumerated() {
            let kind = entry.type ?? "function"
            let label = "\(kind) \(entry.name ?? "#\(index)")"
            func parameters(_ raw: [RawParameter]?) throws(ContractError) -> [ABIParameter] {
                var out: [ABIParameter] = []
                for parameter in raw ?? [] { out.append(try parameter.resolved(entry: label, depth: 0)) }
                return out
            }
            switch kind {
            case "function":
                guard let name = entry.name, !name.isEmpty else {
                    throw ContractError(.abiInvalidJSON, "JSON ABI entry #\(index): a function without a name", details: ["entry": label])
                }
                let mutability: ABIFunction.StateMutability
                if let text = entry.stateMutability {
                    guard let value = ABIFunction.StateMutability(rawValue: text) else {
                        throw ContractError(.abiInvalidJSON, "JSON ABI \(label): unknown stateMutability '\(text)'", details: ["entry": label])
                    }
                    mutability = value
                } else {
                    mutability = entry.payable == true ? .payable : entry.constant == true ? .view : .nonpayable
                }
                functions.append(ABIFunction(name: name, inputs: try parameters(entry.inputs), outputs: try parameters(entry.outputs),
                                             stateMutability: mutability))
            case "constructor":
                constructorInputs = try parameters(entry.inputs)
                constructorIsPayable = entry.stateMutability == "payable" || entry.payable == true
            case "event":
                guard let name = entry.name, !name.isEmpty else {
                    throw ContractError(.abiInvalidJSON, "JSON ABI entry #\(index): an event without a name", details: ["entry": label])
                }
                events.append(ABIEvent(name: name, inputs: try parameters(entry.inputs), anonymous: entry.anonymous ?? false))
            case "error":
                guard let name = entry.name, !name.isEmpty else {
                    throw ContractError(.abiInvalidJSON, "JSON ABI entry #\(index): an error without a name", details: ["entry": label])
                }
                errors.append(ABICustomError(name: name, inputs: try parameters(entry.inputs)))
            case "fallback":
                hasFallback = true
            case "receive":
                hasReceive = true
            default:
                throw ContractError(.abiInvalidJSON, "JSON ABI entry #\(index): unknown type '\(kind)'", details: ["entry": label])
            }
        }
    }

    /// ``init(json:)-([UInt8])`` from text.
    /// - Parameter json: Required. The JSON ABI.
    /// - Throws: As ``init(json:)-([UInt8])``.
    public init(json: String) throws(ContractError) {
        try self.init(json: Array(json.utf8))
    }
}

/// A solc/vyper output object holding the ABI under `abi`.
private struct RawFile: Decodable {
    var abi: [RawEntry]
}

/// One entry of a JSON ABI, as written.
private struct RawEntry: Decodable {
    var type: String?
    var name: String?
    var inputs: [RawParameter]?
    var outputs: [RawParameter]?
    var stateMutability: String?
    var anonymous: Bool?
    var constant: Bool?
    var payable: Bool?
}

/// One parameter of a JSON ABI entry, as written.
private struct RawParameter: Decodable {
    var name: String?
    var type: String
    var internalType: String?
    var indexed: Bool?
    var components: [RawParameter]?

    /// The parameter with `tuple…` replaced by its components' types.
    func resolved(entry: String, depth: Int) throws(ContractError) -> ABIParameter {
        guard depth <= ABIType.maximumDepth else {
            throw ContractError(.abiNestingTooDeep, "JSON ABI \(entry): components nest deeper than \(ABIType.maximumDepth) levels",
                                details: ["entry": entry])
        }
        var members: [ABIParameter] = []
        var text = type
        if type.hasPrefix("tuple") {
            guard let components, !components.isEmpty else {
                throw ContractError(.abiInvalidJSON, "JSON ABI \(entry): parameter '\(name ?? "")' of type \(type) has no components",
                                    details: ["entry": entry])
            }
            for component in components { members.append(try component.resolved(entry: entry, depth: depth + 1)) }
            text = "(" + members.map(\.type.canonicalName).joined(separator: ",") + ")" + type.dropFirst("tuple".count)
        }
        let parsed: ABIType
        do throws(ContractError) {
            parsed = try ABIType(text)
        } catch where error.code == .abiInvalidType {
            throw ContractError(.abiInvalidJSON, "JSON ABI \(entry): parameter '\(name ?? "")': \(error.message)",
                                details: ["entry": entry, "type": type])
        }
        return ABIParameter(name: name ?? "", type: parsed, internalType: internalType, indexed: indexed ?? false, components: members)
    }
}
