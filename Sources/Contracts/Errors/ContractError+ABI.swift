// The ABI: type strings, encoding, decoding outside bytes, JSON ABI files, results (2150–2199).
// Decoding errors name the field at fault in `details["path"]` (for example `batch.parts[2]`).
extension ContractError.Code {
    /// A type string is not a Solidity ABI type (`uint7`, `bytes33`, `uint256[0]`, an unbalanced `(`, an unknown name); `details["type"]` holds it.
    public static let abiInvalidType = Self(rawValue: 2150)
    /// A value given for encoding does not fit its type: the wrong kind (a string for a `uint256`), out of range for the width (`uint8` 300), a `bytesN` of the wrong length, a fixed array or tuple with the wrong count. `details["path"]` names it.
    public static let abiValueMismatch = Self(rawValue: 2151)
    /// ABI data ends before a word, a length or a byte string it must hold; `details["path"]` names the field and `details["offset"]` the position.
    public static let abiDataTooShort = Self(rawValue: 2152)
    /// An offset in ABI data points outside the data, into its own head, or does not fit in 64 bits; `details["path"]` names the field.
    public static let abiInvalidOffset = Self(rawValue: 2153)
    /// An array or byte-string length in ABI data exceeds what the rest of the data can hold; `details["path"]` names the field.
    public static let abiInvalidLength = Self(rawValue: 2154)
    /// Padding bits that must be zero are not: above a `uintN`, an `address` or a `bool`, below a `bytesN`, or after a `bytes`/`string`; `details["path"]` names the field.
    public static let abiDirtyPadding = Self(rawValue: 2155)
    /// A `bool` word holds a value other than 0 or 1; `details["path"]` names the field.
    public static let abiInvalidBool = Self(rawValue: 2156)
    /// An `intN` word is not the sign extension of an N-bit value; `details["path"]` names the field.
    public static let abiInvalidSignExtension = Self(rawValue: 2157)
    /// A `string` in ABI data is not valid UTF-8; `details["path"]` names the field.
    public static let abiInvalidUTF8 = Self(rawValue: 2158)
    /// ABI data makes the decoder read more than twice its own size (offsets pointing at shared or overlapping tails), which would make decoding work grow faster than the input; nothing is returned.
    public static let abiDecodingBudgetExceeded = Self(rawValue: 2159)
    /// A JSON ABI file is not valid JSON or not an ABI (an entry without a type, a parameter whose type does not parse, a tuple without components); `details["entry"]` names the entry.
    public static let abiInvalidJSON = Self(rawValue: 2160)
    /// The interface has no function, event or error of that name or signature; `details["name"]` holds it.
    public static let abiUnknownMember = Self(rawValue: 2161)
    /// No overload of the function takes the arguments given (count or types); `details["candidates"]` lists the signatures.
    public static let abiNoMatchingOverload = Self(rawValue: 2162)
    /// Several overloads of the function take the arguments given equally well; name the one meant by its signature (`setBatch(string,uint256)`). `details["candidates"]` lists them.
    public static let abiAmbiguousOverload = Self(rawValue: 2163)
    /// A log's topics do not match the event: no event has that topic0, or the number of topics differs from the indexed parameters; `details["topic0"]` holds the first topic.
    public static let abiUnknownEvent = Self(rawValue: 2164)
    /// Call data or revert data is shorter than its 4-byte selector, or its selector names no function or error of the interface; `details["selector"]` holds it.
    public static let abiUnknownSelector = Self(rawValue: 2165)
    /// A decoded result does not fit the Swift type asked for: a missing field, the wrong kind of value, or an integer out of the Swift type's range; `details["path"]` names the field.
    public static let abiResultTypeMismatch = Self(rawValue: 2166)
    /// A type or a value nests deeper than 64 levels (arrays in arrays, tuples in tuples); `details["path"]` names where.
    public static let abiNestingTooDeep = Self(rawValue: 2167)
}

extension ContractError {
    /// An ABI error with the field's path in `details["path"]` when there is one.
    static func abi(_ code: Code, _ message: String, path: String? = nil, _ details: [String: String] = [:]) -> ContractError {
        var all = details
        if let path { all["path"] = path }
        return ContractError(code, path.map { "\($0): \(message)" } ?? message, details: all)
    }
}
