import LedgerCrypto

/// A contract's interface from its JSON ABI (as solc and vyper emit it): functions with overloads, the constructor,
/// events, custom errors, fallback and receive. It encodes calls and constructor arguments, and decodes results
/// (to ``ABIValue``s or to a Swift `Decodable` type), logs and revert data.
///
/// Decoding is strict about outside bytes: offsets must point past their head and inside the data, lengths must fit
/// the data left, padding must be zero, `bool` is 0 or 1, `address` has zero upper bytes, `intN` is sign-extended,
/// strings are UTF-8, and the work is linear in the data's size. Errors name the field (`details["path"]`).
///
/// ```swift
/// let plant = try ContractInterface(json: abiText)
/// let call = try plant.encodeCall("setBatch", .string("B-17"), .uint(42))
/// let batch = try plant.decodeOutput(Batch.self, of: "batch", from: returned)    // struct Batch: Decodable
/// let log = try plant.decodeLog(topics: entry.topics, data: entry.data)         // log.name, log["id"]
/// ```
public struct ContractInterface: Sendable, Hashable {
    /// The functions, in file order (overloads share a name).
    public var functions: [ABIFunction]
    /// The events, in file order.
    public var events: [ABIEvent]
    /// The custom errors, in file order.
    public var errors: [ABICustomError]
    /// The constructor's parameters; empty when it has none or the ABI declares no constructor.
    public var constructorInputs: [ABIParameter]
    /// Whether the constructor takes value.
    public var constructorIsPayable: Bool
    /// Whether the contract has a fallback function.
    public var hasFallback: Bool
    /// Whether the contract has a receive function.
    public var hasReceive: Bool

    /// An interface from its parts.
    /// - Parameters:
    ///   - functions: Optional, default none.
    ///   - events: Optional, default none.
    ///   - errors: Optional, default none.
    ///   - constructorInputs: Optional, default none.
    ///   - constructorIsPayable: Optional, default `false`.
    ///   - hasFallback: Optional, default `false`.
    ///   - hasReceive: Optional, default `false`.
    public init(functions: [ABIFunction] = [], events: [ABIEvent] = [], errors: [ABICustomError] = [],
                constructorInputs: [ABIParameter] = [], constructorIsPayable: Bool = false,
                hasFallback: Bool = false, hasReceive: Bool = false) {
        self.functions = functions
        self.events = events
        self.errors = errors
        self.constructorInputs = constructorInputs
        self.constructorIsPayable = constructorIsPayable
        self.hasFallback = hasFallback
        self.hasReceive = hasReceive
    }

    // MARK: Functions

    /// The function meant by `name` for these arguments: by exact signature when `name` has one
    /// (`setBatch(string,uint256)`), otherwise the overload of that name whose parameters take the arguments with the
    /// fewest conversions (a `.uint` for an `intN`, `.bytes` of N bytes for a `bytesN` are conversions).
    /// - Parameters:
    ///   - name: Required. A function name or its canonical signature.
    ///   - arguments: Required. The arguments the call will pass.
    /// - Throws: `ContractError` `.abiUnknownMember` (2161), `.abiNoMatchingOverload` (2162), `.abiAmbiguousOverload` (2163),
    ///   `.abiInvalidType` (2150) for a malformed signature.
    public func function(_ name: String, for arguments: [ABIValue]) throws(ContractError) -> ABIFunction {
        let candidates = try functions(named: name)
        if candidates.count == 1, name.contains("(") { return candidates[0] }
        var best: [ABIFunction] = []
        var bestCost = Int.max
        for candidate in candidates where candidate.inputs.count == arguments.count {
            var cost = 0
            var fits = true
            for (parameter, argument) in zip(candidate.inputs, arguments) {
                guard let c = ABIMatch.cost(argument, parameter.type) else { fits = false; break }
                cost += c
            }
            guard fits else { continue }
            if cost < bestCost { best = [candidate]; bestCost = cost } else if cost == bestCost { best.append(candidate) }
        }
        let signatures = candidates.map(\.signature).joined(separator: ", ")
        guard !best.isEmpty else {
            throw ContractError(.abiNoMatchingOverload, "no overload of \(name) takes \(arguments.count) arguments of these types (\(signatures))",
                                details: ["name": name, "candidates": signatures])
        }
        guard best.count == 1 else {
            let tied = best.map(\.signature).joined(separator: ", ")
            throw ContractError(.abiAmbiguousOverload, "the arguments fit several overloads of \(name) equally (\(tied)); name one by its signature",
                                details: ["name": name, "candidates": tied])
        }
        return best[0]
    }

    /// The functions named `name`, or the one whose canonical signature is `name` when it contains `(`.
    /// - Parameter name: Required. A name or a canonical signature.
    /// - Throws: `ContractError` `.abiUnknownMember` (2161) when there is none, `.abiInvalidType` (2150) for a malformed signature.
    public func functions(named name: String) throws(ContractError) -> [ABIFunction] {
        let found: [ABIFunction]
        if name.contains("(") {
            let (bare, types) = try ABI.parseSignature(name)
            let signature = ABI.signature(bare, types)
            found = functions.filter { $0.signature == signature }
        } else {
            found = functions.filter { $0.name == name }
        }
        guard !found.isEmpty else {
            throw ContractError(.abiUnknownMember, "the interface has no function \(name)", details: ["name": name])
        }
        return found
    }

    /// Call data for a function: its selector, then the encoded arguments; overloads are resolved by the arguments.
    /// - Parameters:
    ///   - name: Required. A function name or its canonical signature.
    ///   - arguments: One value per parameter.
    /// - Throws: `ContractError` `.abiUnknownMember` (2161), `.abiNoMatchingOverload` (2162), `.abiAmbiguousOverload` (2163),
    ///   `.abiValueMismatch` (2151) naming the argument.
    /// - Note: Pure; safe to call concurrently.
    public func encodeCall(_ name: String, _ arguments: ABIValue...) throws(ContractError) -> [UInt8] {
        try encodeCall(name, arguments: arguments)
    }

    /// ``encodeCall(_:_:)`` with the arguments as an array.
    /// - Parameters:
    ///   - name: Required. A function name or its canonical signature.
    ///   - arguments: Required. One value per parameter.
    /// - Throws: As ``encodeCall(_:_:)``.
    public func encodeCall(_ name: String, arguments: [ABIValue]) throws(ContractError) -> [UInt8] {
        try function(name, for: arguments).encodeCall(arguments)
    }

    /// Deployment code: `bytecode` followed by the encoded constructor arguments.
    /// - Parameters:
    ///   - bytecode: Required. The creation bytecode (the compiler's `bytecode`, not `deployedBytecode`).
    ///   - arguments: Optional, default none. One value per constructor parameter.
    /// - Throws: `ContractError` `.abiValueMismatch` (2151) for a wrong count or a value that does not fit.
    public func encodeConstructor(bytecode: [UInt8], arguments: [ABIValue] = []) throws(ContractError) -> [UInt8] {
        var writer = ABIWriter(types: constructorInputs.map(\.type), parameters: constructorInputs)
        return try writer.encode(arguments, prefix: bytecode)
    }

    /// The one function `name` designates for decoding (overloads must agree on their outputs, or use a signature).
    func outputFunction(_ name: String) throws(ContractError) -> ABIFunction {
        let candidates = try functions(named: name)
        let first = candidates[0]
        guard candidates.allSatisfy({ $0.outputs.map(\.type) == first.outputs.map(\.type) }) else {
            let signatures = candidates.map(\.signature).joined(separator: ", ")
            throw ContractError(.abiAmbiguousOverload, "overloads of \(name) return different types (\(signatures)); name one by its signature",
                                details: ["name": name, "candidates": signatures])
        }
        return first
    }

    /// Decodes a function's return data.
    /// - Parameters:
    ///   - name: Required. A function name or its canonical signature.
    ///   - data: Required. The return data.
    /// - Returns: One value per output.
    /// - Throws: `ContractError` `.abiUnknownMember` (2161), `.abiAmbiguousOverload` (2163), decoding errors (2152–2159, 2167).
    public func decodeOutput(of name: String, from data: [UInt8]) throws(ContractError) -> [ABIValue] {
        try outputFunction(name).decodeOutput(data)
    }

    /// Decodes a function's return data into a Swift type: a single output into `T` itself (a struct for a tuple, an
    /// array, an integer, a `String`, `Bool`, ``UInt256``, ``EVMAddress``, `[UInt8]`), several outputs into a struct
    /// whose property names are the output names. Tuples fill structs by component name; integers are range-checked.
    /// - Parameters:
    ///   - type: Required. The `Decodable` type.
    ///   - name: Required. A function name or its canonical signature.
    ///   - data: Required. The return data.
    /// - Throws: `ContractError` as ``decodeOutput(of:from:)`` and `.abiResultTypeMismatch` (2166) naming the field.
    public func decodeOutput<T: Decodable>(_ type: T.Type, of name: String, from data: [UInt8]) throws(ContractError) -> T {
        let function = try outputFunction(name)
        let values = try function.decodeOutput(data)
        return try ABIValueDecoder.decode(type, values: values, parameters: function.outputs)
    }

    /// Decodes call data (selector and arguments) to the function it calls.
    /// - Parameter data: Required. Call data.
    /// - Throws: `ContractError` `.abiUnknownSelector` (2165), decoding errors (2152–2159, 2167).
    public func decodeCall(_ data: [UInt8]) throws(ContractError) -> (function: ABIFunction, arguments: [ABIValue]) {
        let selector = Array(data.prefix(4))
        guard data.count >= 4, let function = functions.first(where: { $0.selector == selector }) else {
            throw ContractError(.abiUnknownSelector, "call data's selector 0x\(Hex.encode(selector)) names no function of the interface",
                                details: ["selector": "0x" + Hex.encode(selector)])
        }
        return (function, try function.decodeInput(data))
    }

    // MARK: Events and errors

    /// The event named `name` (or with that canonical signature).
    /// - Parameter name: Required.
    /// - Throws: `ContractError` `.abiUnknownMember` (2161).
    public func event(_ name: String) throws(ContractError) -> ABIEvent {
        guard let event = events.first(where: { $0.name == name || $0.signature == name }) else {
            throw ContractError(.abiUnknownMember, "the interface has no event \(name)", details: ["name": name])
        }
        return event
    }

    /// Decodes a log to its event: by topic0 among the non-anonymous events, else the first anonymous event whose
    /// topic count fits and whose data decodes.
    /// - Parameters:
    ///   - topics: Required. The log's topics.
    ///   - data: Required. The log's data.
    /// - Returns: The event and its values (an indexed dynamic or composite parameter as the 32-byte hash in `.fixedBytes`).
    /// - Throws: `ContractError` `.abiUnknownEvent` (2164), decoding errors (2152–2159, 2167) naming the parameter.
    public func decodeLog(topics: [UInt256], data: [UInt8]) throws(ContractError) -> ABIDecodedLog {
        if let topic0 = topics.first, let event = events.first(where: { !$0.anonymous && $0.topic0 == topic0 }) {
            return try event.decode(topics: topics, data: data)
        }
        for event in events where event.anonymous && event.topicCount == topics.count {
            if let log = try? event.decode(topics: topics, data: data) { return log }
        }
        throw ContractError(.abiUnknownEvent, "no event of the interface has topic0 \(topics.first?.description ?? "(none)")",
                            details: ["topic0": topics.first?.description ?? ""])
    }

    /// Decodes a log the interpreter emitted. See ``decodeLog(topics:data:)``.
    /// - Parameter log: Required.
    /// - Throws: As ``decodeLog(topics:data:)``.
    public func decodeLog(_ log: EVMLog) throws(ContractError) -> ABIDecodedLog {
        try decodeLog(topics: log.topics, data: log.data)
    }

    /// Decodes revert data: `Error(string)`, `Panic(uint256)`, or one of the interface's custom errors.
    /// - Parameter data: Required. The return data of a reverted call.
    /// - Returns: `.empty`, `.error`, `.panic`, `.custom`, or `.unknown` for a selector the interface does not know.
    /// - Throws: `ContractError` decoding errors (2152–2159, 2167) when the selector is known but its data is malformed.
    public func decodeRevert(_ data: [UInt8]) throws(ContractError) -> ABIRevert {
        try ABIRevert.decode(data, customErrors: errors)
    }
}

/// How well a value fits a type, for overload resolution.
enum ABIMatch {
    /// `nil` when the value does not fit; otherwise the number of conversions needed (0 for an exact fit).
    static func cost(_ value: ABIValue, _ type: ABIType) -> Int? {
        switch (type, value) {
        case (.uint(let bits), .uint(let word)):
            return ABIWord.isZero(word, fromBit: bits) ? 0 : nil
        case (.uint(let bits), .int(let word)):
            return !ABIWord.isNegative(word) && ABIWord.isZero(word, fromBit: bits) ? 1 : nil
        case (.int(let bits), .int(let word)):
            return ABIWord.isSignExtended(word, bits: bits) ? 0 : nil
        case (.int(let bits), .uint(let word)):
            return ABIWord.isZero(word, fromBit: bits - 1) ? 1 : nil
        case (.address, .address), (.bool, .bool), (.string, .string), (.bytes, .bytes):
            return 0
        case (.bytes, .fixedBytes):
            return 1
        case (.fixedBytes(let n), .fixedBytes(let bytes)):
            return bytes.count == n ? 0 : nil
        case (.fixedBytes(let n), .bytes(let bytes)):
            return bytes.count == n ? 1 : nil
        case (.function, .fixedBytes(let bytes)):
            return bytes.count == 24 ? 0 : nil
        case (.function, .bytes(let bytes)):
            return bytes.count == 24 ? 1 : nil
        case (.array(let element, let count), .array(let values)):
            return values.count == count ? sum(values, { _ in element }) : nil
        case (.dynamicArray(let element), .array(let values)):
            return sum(values, { _ in element })
        case (.tuple(let members), .tuple(let values)):
            return values.count == members.count ? sum(values, { members[$0] }) : nil
        default:
            return nil
        }
    }

    static func sum(_ values: [ABIValue], _ member: (Int) -> ABIType) -> Int? {
        var total = 0
        for (i, value) in values.enumerated() {
            guard let c = cost(value, member(i)) else { return nil }
            total += c
        }
        return total
    }
}
