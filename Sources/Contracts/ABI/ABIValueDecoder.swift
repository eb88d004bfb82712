/// A `Decoder` over decoded ABI values, so results fill Swift `Decodable` types: tuples fill structs by component
/// name (or by position for integer keys), arrays and tuples fill arrays, `bytes` fill `[UInt8]`, integers fill Swift
/// integer types up to 128 bits with range checks, and ``UInt256``, ``EVMAddress``, `String` and `Bool` are read
/// directly. Used by ``ContractInterface/decodeOutput(_:of:from:)``.
struct ABIValueDecoder: Decoder {
    let value: ABIValue
    /// The parameter the value belongs to, for its components' names.
    let parameter: ABIParameter?
    let codingPath: [any CodingKey]
    /// A top-level single output, offered as a one-member tuple when a struct asks for keys.
    var rootOutputs: (values: [ABIValue], parameters: [ABIParameter])?

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Decodes `values` (one per output of `parameters`) as `T`.
    static func decode<T: Decodable>(_ type: T.Type, values: [ABIValue], parameters: [ABIParameter]) throws(ContractError) -> T {
        let decoder: ABIValueDecoder
        if values.count == 1, parameters.count == 1 {
            decoder = ABIValueDecoder(value: values[0], parameter: parameters[0], codingPath: [], rootOutputs: (values, parameters))
        } else {
            let root = ABIParameter(type: .tuple(parameters.map(\.type)), components: parameters)
            decoder = ABIValueDecoder(value: .tuple(values), parameter: root, codingPath: [])
        }
        do {
            return try T(from: decoder)
        } catch let error as ContractError {
            throw error
        } catch {
            throw ContractError(.abiResultTypeMismatch, "the result does not decode as \(T.self): \(error)")
        }
    }

    static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if key is ABIIndexKey, let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text.isEmpty ? "result" : text
    }

    static func mismatch(_ path: [any CodingKey], _ reason: String) -> ContractError {
        .abi(.abiResultTypeMismatch, reason, path: render(path))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if case .tuple(let members) = value {
            return KeyedDecodingContainer(ABIKeyedContainer<Key>(members: members, components: parameter?.components ?? [], codingPath: codingPath))
        }
        if let rootOutputs {
            return KeyedDecodingContainer(ABIKeyedContainer<Key>(members: rootOutputs.values, components: rootOutputs.parameters, codingPath: codingPath))
        }
        throw Self.mismatch(codingPath, "\(ABIWriter.kind(of: value)) cannot fill a struct (only a tuple can)")
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch value {
        case .array(let elements):
            return ABIUnkeyedContainer(elements: elements, parameters: { _ in parameter }, codingPath: codingPath)
        case .tuple(let members):
            let components = parameter?.components ?? []
            return ABIUnkeyedContainer(elements: members, parameters: { $0 < components.count ? components[$0] : nil }, codingPath: codingPath)
        case .bytes(let bytes), .fixedBytes(let bytes):
            return ABIUnkeyedContainer(elements: bytes.map { .uint(UInt256(UInt64($0))) }, parameters: { _ in nil }, codingPath: codingPath)
        default:
            throw Self.mismatch(codingPath, "\(ABIWriter.kind(of: value)) cannot fill an array")
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        ABISingleValueContainer(decoder: self)
    }
}

/// An index in an array or tuple, in a coding path.
struct ABIIndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { String(intValue ?? 0) }
    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

/// A tuple's members by component name.
struct ABIKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [ABIValue]
    let components: [ABIParameter]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { components.compactMap { Key(stringValue: $0.name) } }

    func index(of key: Key) -> Int? {
        if let found = components.prefix(members.count).firstIndex(where: { $0.name == key.stringValue && !$0.name.isEmpty }) { return found }
        if let index = key.intValue, index >= 0, index < members.count { return index }
        return nil
    }

    func contains(_ key: Key) -> Bool { index(of: key) != nil }

    func child(_ key: Key) throws -> ABIValueDecoder {
        guard let index = index(of: key) else {
            let names = components.map(\.name).joined(separator: ", ")
            throw ABIValueDecoder.mismatch(codingPath + [key], "the tuple has no member '\(key.stringValue)' (members: \(names))")
        }
        return ABIValueDecoder(value: members[index], parameter: index < components.count ? components[index] : nil, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { false }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try ABISingleValueContainer(decoder: child(key)).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try ABISingleValueContainer(decoder: child(key)).decode(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder {
        ABIValueDecoder(value: .tuple(members), parameter: ABIParameter(type: .bool, components: components), codingPath: codingPath)
    }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

/// The elements of an array or the members of a tuple, in order.
struct ABIUnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [ABIValue]
    let parameters: (Int) -> ABIParameter?
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(elements: [ABIValue], parameters: @escaping (Int) -> ABIParameter?, codingPath: [any CodingKey]) {
        self.elements = elements
        self.parameters = parameters
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    mutating func next() throws -> ABIValueDecoder {
        let key = ABIIndexKey(currentIndex)
        guard !isAtEnd else { throw ABIValueDecoder.mismatch(codingPath + [key], "the array has only \(elements.count) elements") }
        defer { currentIndex += 1 }
        return ABIValueDecoder(value: elements[currentIndex], parameter: parameters(currentIndex), codingPath: codingPath + [key])
    }

    mutating func decodeNil() throws -> Bool { false }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try ABISingleValueContainer(decoder: next()).decode(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

/// One value: integers (range-checked), `Bool`, `String`, ``UInt256``, ``EVMAddress``, or any `Decodable` built from it.
struct ABISingleValueContainer: SingleValueDecodingContainer {
    let decoder: ABIValueDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var value: ABIValue { decoder.value }

    func mismatch(_ wanted: String) -> ContractError {
        ABIValueDecoder.mismatch(codingPath, "\(ABIWriter.kind(of: value)) (\(value)) cannot fill \(wanted)")
    }

    func decodeNil() -> Bool { false }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let flag) = value else { throw mismatch("Bool") }
        return flag
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let text) = value else { throw mismatch("String") }
        return text
    }

    func decode(_ type: Double.Type) throws -> Double { throw mismatch("Double (ABI integers are exact; use an integer type or UInt256)") }
    func decode(_ type: Float.Type) throws -> Float { throw mismatch("Float (ABI integers are exact; use an integer type or UInt256)") }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: Int128.Type) throws -> Int128 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode(_ type: UInt128.Type) throws -> UInt128 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is Bool.Type: return try decode(Bool.self) as! T
        case is String.Type: return try decode(String.self) as! T
        case is UInt256.Type:
            guard let word = value.unsignedWord else { throw mismatch("UInt256") }
            return word as! T
        case is EVMAddress.Type:
            guard case .address(let address) = value else { throw mismatch("EVMAddress") }
            return address as! T
        default:
            if let integerType = type as? any FixedWidthInteger.Type { return try integer(integerType) as! T }
            return try T(from: decoder)
        }
    }

    /// The integer, if it fits `I` (up to 128 bits).
    func integer<I: FixedWidthInteger>(_ type: I.Type) throws(ContractError) -> I {
        let word: UInt256
        switch value {
        case .uint(let w), .int(let w): word = w
        default: throw mismatch("\(I.self)")
        }
        let negative: Bool = if case .int = value { ABIWord.isNegative(word) } else { false }
        let fill: UInt64 = negative ? .max : 0
        let outOfRange = ABIValueDecoder.mismatch(codingPath, "\(value) is out of \(I.self)'s range")
        guard word.w2 == fill, word.w3 == fill else { throw outOfRange }
        let high = word.w1, low = word.w0
        if !negative, high == 0 {
            guard let fitted = I(exactly: low) else { throw outOfRange }
            return fitted
        }
        if negative, high == .max, Int64(bitPattern: low) < 0 {
            guard let fitted = I(exactly: Int64(bitPattern: low)) else { throw outOfRange }
            return fitted
        }
        guard I.bitWidth >= 128, !I.isSigned || (Int64(bitPattern: high) < 0) == negative else { throw outOfRange }
        guard I.isSigned || !negative else { throw outOfRange }
        return I(truncatingIfNeeded: high) << 64 | I(truncatingIfNeeded: low)
    }
}

extension UInt256: Decodable {
    /// Reads a word: from ABI results, the value itself; from JSON or any other format, a `0x` hexadecimal string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let abi = container as? ABISingleValueContainer {
            self = try abi.decode(UInt256.self)
            return
        }
        let text = try container.decode(String.self)
        guard let word = UInt256(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a hexadecimal word")
        }
        self = word
    }
}

extension EVMAddress: Decodable {
    /// Reads an address: from ABI results, the value itself; from JSON or any other format, a `0x` hexadecimal string.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let abi = container as? ABISingleValueContainer {
            self = try abi.decode(EVMAddress.self)
            return
        }
        let text = try container.decode(String.self)
        guard let address = EVMAddress(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not a 20-byte address")
        }
        self = address
    }
}
