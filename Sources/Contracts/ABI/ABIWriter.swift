/// Encodes values per the Solidity ABI in two passes: the first checks every value against its type and sums the
/// size, the second writes heads and tails into one buffer of exactly that size.
struct ABIWriter {
    let types: [ABIType]
    let parameters: [ABIParameter]?
    var path = ABIPath()
    var out: [UInt8] = []

    init(types: [ABIType], parameters: [ABIParameter]?) {
        self.types = types
        self.parameters = parameters
    }

    func mismatch(_ reason: String) -> ContractError {
        .abi(.abiValueMismatch, reason, path: path.render(types: types, parameters: parameters))
    }

    static func padded(_ count: Int) -> Int { (count + 31) & ~31 }

    // MARK: Checking and sizing

    /// The bytes `values` take as a head/tail sequence of `memberTypes` (or of `count` × `element`).
    mutating func sequenceSize(_ values: [ABIValue], members: ABIMembers, depth: Int) throws(ContractError) -> Int {
        var total = 0
        for (i, value) in values.enumerated() {
            path.indices.append(i)
            let size = try size(of: value, as: members[i], depth: depth + 1)
            total += members.isDynamic(i) ? 32 + size : size
            path.indices.removeLast()
        }
        return total
    }

    /// Checks `value` against `type` and returns its encoded size (for a dynamic type, the tail's size).
    mutating func size(of value: ABIValue, as type: ABIType, depth: Int) throws(ContractError) -> Int {
        guard depth <= ABIType.maximumDepth else {
            throw ContractError.abi(.abiNestingTooDeep, "value nests deeper than \(ABIType.maximumDepth) levels",
                                    path: path.render(types: types, parameters: parameters))
        }
        switch (type, value) {
        case (.uint(let bits), .uint(let word)), (.uint(let bits), .int(let word)):
            if case .int = value, ABIWord.isNegative(word) {
                throw mismatch("negative value \(ABIWord.signedDecimal(word)) for uint\(bits)")
            }
            guard Self.fitsUnsigned(word, bits: bits) else { throw mismatch("\(ABIWord.decimal(word)) does not fit in uint\(bits)") }
            return 32
        case (.int(let bits), .int(let word)):
            guard Self.fitsSigned(word, bits: bits) else { throw mismatch("\(ABIWord.signedDecimal(word)) does not fit in int\(bits)") }
            return 32
        case (.int(let bits), .uint(let word)):
            guard Self.fitsUnsigned(word, bits: bits - 1) else { throw mismatch("\(ABIWord.decimal(word)) does not fit in int\(bits)") }
            return 32
        case (.address, .address), (.bool, .bool):
            return 32
        case (.fixedBytes(let n), .fixedBytes(let bytes)), (.fixedBytes(let n), .bytes(let bytes)):
            guard bytes.count == n else { throw mismatch("\(bytes.count) bytes for bytes\(n)") }
            return 32
        case (.function, .fixedBytes(let bytes)), (.function, .bytes(let bytes)):
            guard bytes.count == 24 else { throw mismatch("\(bytes.count) bytes for a function (an address and a selector, 24 bytes)") }
            return 32
        case (.bytes, .bytes(let bytes)), (.bytes, .fixedBytes(let bytes)):
            return 32 + Self.padded(bytes.count)
        case (.string, .string(let text)):
            return 32 + Self.padded(text.utf8.count)
        case (.array(let element, let count), .array(let values)):
            guard values.count == count else { throw mismatch("\(values.count) elements for \(type.canonicalName)") }
            return try sequenceSize(values, members: .repeating(element), depth: depth)
        case (.dynamicArray(let element), .array(let values)):
            return 32 + (try sequenceSize(values, members: .repeating(element), depth: depth))
        case (.tuple(let members), .tuple(let values)):
            guard values.count == members.count else { throw mismatch("\(values.count) members for \(type.canonicalName)") }
            return try sequenceSize(values, members: .list(members), depth: depth)
        default:
            throw mismatch("\(Self.kind(of: value)) given for \(type.canonicalName)")
        }
    }

    static func fitsUnsigned(_ word: UInt256, bits: Int) -> Bool {
        ABIWord.isZero(word, fromBit: bits)
    }

    static func fitsSigned(_ word: UInt256, bits: Int) -> Bool {
        ABIWord.isSignExtended(word, bits: bits)
    }

    static func kind(of value: ABIValue) -> String {
        switch value {
        case .uint: "a uint"
        case .int: "an int"
        case .address: "an address"
        case .bool: "a bool"
        case .fixedBytes(let b): "bytes\(b.count)"
        case .bytes: "bytes"
        case .string: "a string"
        case .array(let v): "an array of \(v.count)"
        case .tuple(let v): "a tuple of \(v.count)"
        }
    }

    // MARK: Writing

    mutating func writeWord(_ word: UInt256, at position: Int) {
        precondition(position >= 0 && position + 32 <= out.count)
        out.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: word.w3.bigEndian, toByteOffset: position, as: UInt64.self)
            raw.storeBytes(of: word.w2.bigEndian, toByteOffset: position + 8, as: UInt64.self)
            raw.storeBytes(of: word.w1.bigEndian, toByteOffset: position + 16, as: UInt64.self)
            raw.storeBytes(of: word.w0.bigEndian, toByteOffset: position + 24, as: UInt64.self)
        }
    }

    mutating func writeBytes(_ bytes: some Collection<UInt8>, at position: Int) {
        out.replaceSubrange(position..<(position + bytes.count), with: bytes)
    }

    /// Writes a head/tail sequence starting at `base`; returns where it ends.
    mutating func writeSequence(_ values: [ABIValue], members: ABIMembers, at base: Int) -> Int {
        var head = base
        var tail = base + (members.totalHeadSize(count: values.count) ?? 0)
        for (i, value) in values.enumerated() {
            let type = members[i]
            if members.isDynamic(i) {
                writeWord(UInt256(UInt64(tail - base)), at: head)
                tail = write(value, as: type, at: tail)
                head += 32
            } else {
                head = write(value, as: type, at: head)
            }
        }
        return tail
    }

    /// Writes a checked value at `position` (the buffer is already zeroed and sized); returns where it ends.
    mutating func write(_ value: ABIValue, as type: ABIType, at position: Int) -> Int {
        switch value {
        case .uint(let word), .int(let word):
            writeWord(word, at: position)
            return position + 32
        case .address(let address):
            writeWord(address.word, at: position)
            return position + 32
        case .bool(let flag):
            out[position + 31] = flag ? 1 : 0
            return position + 32
        case .fixedBytes(let bytes) where type != .bytes, .bytes(let bytes) where type != .bytes:
            writeBytes(bytes, at: position)
            return position + 32
        case .fixedBytes(let bytes), .bytes(let bytes):
            writeWord(UInt256(UInt64(bytes.count)), at: position)
            writeBytes(bytes, at: position + 32)
            return position + 32 + Self.padded(bytes.count)
        case .string(let text):
            let utf8 = text.utf8
            writeWord(UInt256(UInt64(utf8.count)), at: position)
            writeBytes(utf8, at: position + 32)
            return position + 32 + Self.padded(utf8.count)
        case .array(let values):
            switch type {
            case .array(let element, _):
                return writeSequence(values, members: .repeating(element), at: position)
            case .dynamicArray(let element):
                writeWord(UInt256(UInt64(values.count)), at: position)
                return writeSequence(values, members: .repeating(element), at: position + 32)
            default:
                return position
            }
        case .tuple(let values):
            guard case .tuple(let members) = type else { return position }
            return writeSequence(values, members: .list(members), at: position)
        }
    }

    /// Checks and encodes a top-level list, after `prefix` (a selector or bytecode).
    mutating func encode(_ values: [ABIValue], prefix: [UInt8]) throws(ContractError) -> [UInt8] {
        guard values.count == types.count else {
            throw ContractError.abi(.abiValueMismatch, "\(values.count) values for \(types.count) types (\(ABIType.tuple(types).canonicalName))")
        }
        let size = try sequenceSize(values, members: .list(types), depth: 0)
        out = prefix
        out.reserveCapacity(prefix.count + size)
        out.append(contentsOf: repeatElement(0, count: size))
        let end = writeSequence(values, members: .list(types), at: prefix.count)
        assert(end == out.count)
        return out
    }
}
