/// Decodes outside ABI data strictly, in one walk with bounds checks: offsets must point past their enclosing head
/// and inside the data, lengths must fit the bytes that remain, padding must be zero, `bool` is 0 or 1, `address` has
/// zero upper bytes, `intN` is sign-extended. Every word read is charged to a budget of twice the data's size, so
/// offsets that make tails share or overlap cannot make the work grow faster than the input.
struct ABIReader {
    let data: [UInt8]
    /// Where the encoded list starts (4 past a selector, 0 otherwise).
    let origin: Int
    let types: [ABIType]
    let parameters: [ABIParameter]?
    var path = ABIPath()
    var budget: Int

    init(data: [UInt8], origin: Int, types: [ABIType], parameters: [ABIParameter]?) {
        self.data = data
        self.origin = origin
        self.types = types
        self.parameters = parameters
        budget = 2 * (data.count - origin) + 64
    }

    func failure(_ code: ContractError.Code, _ reason: String, at position: Int? = nil) -> ContractError {
        var details: [String: String] = [:]
        if let position { details["offset"] = String(position - origin) }
        return .abi(code, reason, path: path.render(types: types, parameters: parameters), details)
    }

    /// Charges `bytes` of reading to the budget.
    mutating func charge(_ bytes: Int) throws(ContractError) {
        budget -= bytes
        guard budget >= 0 else {
            throw failure(.abiDecodingBudgetExceeded,
                          "the data's offsets make decoding read more than twice its \(data.count - origin) bytes")
        }
    }

    /// The 32-byte word at `position`.
    mutating func word(at position: Int) throws(ContractError) -> UInt256 {
        guard position >= origin, position <= data.count - 32 else {
            throw failure(.abiDataTooShort, "needs a 32-byte word at offset \(position - origin) of \(data.count - origin) bytes", at: position)
        }
        try charge(32)
        return data.withUnsafeBytes { raw in
            func limb(_ at: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
            return UInt256(w0: limb(position + 24), w1: limb(position + 16), w2: limb(position + 8), w3: limb(position))
        }
    }

    /// A word holding a length or an offset: it must fit in the data.
    mutating func smallNumber(at position: Int, what: String, code: ContractError.Code) throws(ContractError) -> Int {
        let value = try word(at: position)
        guard let small = value.uint64, small <= UInt64(data.count) else {
            throw failure(code, "\(what) \(ABIWord.decimal(value)) is beyond the \(data.count - origin) bytes of data", at: position)
        }
        return Int(small)
    }

    /// Decodes a head/tail sequence of `count` members starting at `base`.
    mutating func sequence(count: Int, members: ABIMembers, at base: Int, depth: Int) throws(ContractError) -> [ABIValue] {
        guard let headSize = members.totalHeadSize(count: count), headSize <= data.count - base else {
            // Name the first member whose head does not fit.
            var end = base
            var index = 0
            while index < count - 1, members.headSize(index) <= data.count - end {
                end += members.headSize(index)
                index += 1
            }
            path.indices.append(index)
            throw failure(.abiDataTooShort, "needs \(members.headSize(index)) bytes at offset \(end - origin) of \(data.count - origin)", at: end)
        }
        var values: [ABIValue] = []
        values.reserveCapacity(count)
        var head = base
        for i in 0..<count {
            path.indices.append(i)
            let type = members[i]
            if members.isDynamic(i) {
                let offset = try smallNumber(at: head, what: "offset", code: .abiInvalidOffset)
                // Every dynamic value starts with a word (a length or a head), so the target needs 32 bytes.
                guard offset >= headSize, base + offset <= data.count - 32 else {
                    throw failure(.abiInvalidOffset, "offset \(offset) points "
                                  + (offset < headSize ? "into its own \(headSize)-byte head" : "past the end of the data"), at: head)
                }
                values.append(try value(of: type, at: base + offset, depth: depth + 1))
                head += 32
            } else {
                values.append(try value(of: type, at: head, depth: depth + 1))
                head += members.headSize(i)
            }
            path.indices.removeLast()
        }
        return values
    }

    /// Decodes one value of `type` at `position`.
    mutating func value(of type: ABIType, at position: Int, depth: Int) throws(ContractError) -> ABIValue {
        guard depth <= ABIType.maximumDepth else {
            throw failure(.abiNestingTooDeep, "value nests deeper than \(ABIType.maximumDepth) levels")
        }
        switch type {
        case .uint(let bits):
            let w = try word(at: position)
            guard ABIWord.isZero(w, fromBit: bits) else { throw failure(.abiDirtyPadding, "uint\(bits) word \(w) has bits set above bit \(bits - 1)", at: position) }
            return .uint(w)
        case .int(let bits):
            let w = try word(at: position)
            guard ABIWord.isSignExtended(w, bits: bits) else {
                throw failure(.abiInvalidSignExtension, "int\(bits) word \(w) is not sign-extended from bit \(bits - 1)", at: position)
            }
            return .int(w)
        case .address:
            let w = try word(at: position)
            guard ABIWord.isZero(w, fromBit: 160) else { throw failure(.abiDirtyPadding, "address word \(w) has non-zero upper 12 bytes", at: position) }
            return .address(EVMAddress(word: w))
        case .bool:
            let w = try word(at: position)
            guard ABIWord.isZero(w, fromBit: 1) else { throw failure(.abiInvalidBool, "bool word \(w) is neither 0 nor 1", at: position) }
            return .bool(w.w0 == 1)
        case .fixedBytes, .function:
            let n = if case .fixedBytes(let size) = type { size } else { 24 }
            _ = try word(at: position)
            guard data[(position + n)..<(position + 32)].allSatisfy({ $0 == 0 }) else {
                throw failure(.abiDirtyPadding, "bytes\(n) word has non-zero bytes after its first \(n)", at: position)
            }
            return .fixedBytes(Array(data[position..<(position + n)]))
        case .bytes, .string:
            let length = try smallNumber(at: position, what: "length", code: .abiInvalidLength)
            let start = position + 32
            let padded = ABIWriter.padded(length)
            guard length <= data.count - start else {
                throw failure(.abiInvalidLength, "length \(length) exceeds the \(data.count - start) bytes left", at: position)
            }
            guard padded <= data.count - start else {
                throw failure(.abiDataTooShort, "\(length) bytes need \(padded - length) bytes of padding after them", at: start + length)
            }
            try charge(padded)
            guard data[(start + length)..<(start + padded)].allSatisfy({ $0 == 0 }) else {
                throw failure(.abiDirtyPadding, "padding after \(length) bytes is not zero", at: start + length)
            }
            let bytes = Array(data[start..<(start + length)])
            if type == .bytes { return .bytes(bytes) }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw failure(.abiInvalidUTF8, "string of \(length) bytes is not valid UTF-8", at: start)
            }
            return .string(text)
        case .array(let element, let count):
            return .array(try sequence(count: count, members: .repeating(element), at: position, depth: depth))
        case .dynamicArray(let element):
            let count = try smallNumber(at: position, what: "length", code: .abiInvalidLength)
            let elementHead = element.headSize
            let left = data.count - (position + 32)
            guard count <= left / Swift.max(elementHead, 32) else {
                throw failure(.abiInvalidLength, "\(count) elements of \(element.canonicalName) need more than the \(left) bytes left", at: position)
            }
            return .array(try sequence(count: count, members: .repeating(element), at: position + 32, depth: depth))
        case .tuple(let members):
            return .tuple(try sequence(count: members.count, members: .list(members), at: position, depth: depth))
        }
    }

    /// Decodes the top-level list.
    mutating func decode() throws(ContractError) -> [ABIValue] {
        try sequence(count: types.count, members: .list(types), at: origin, depth: 0)
    }
}
