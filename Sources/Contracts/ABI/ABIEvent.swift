import LedgerCrypto

/// An event of a contract, as a JSON ABI declares it: indexed parameters travel as topics (a dynamic or composite
/// one as the Keccak-256 of its in-place encoding), the rest as the log's data; topic0 is the signature's hash
/// unless the event is anonymous.
///
/// ```swift
/// let transfer = ABIEvent(name: "Transfer", inputs: [ABIParameter(name: "from", type: .address, indexed: true),
///                                                    ABIParameter(name: "to", type: .address, indexed: true),
///                                                    ABIParameter(name: "value", type: .uint256)])
/// transfer.topic0   // 0xddf252ad…
/// let log = try transfer.decode(topics: entry.topics, data: entry.data)
/// log["value"]      // .uint(…)
/// ```
public struct ABIEvent: Sendable, Hashable {
    /// The name.
    public let name: String
    /// The parameters, indexed and not, in declaration order.
    public let inputs: [ABIParameter]
    /// Whether the signature's hash is left out of the topics.
    public let anonymous: Bool
    /// The Keccak-256 of ``signature`` (topic0 of a non-anonymous event), computed once.
    public let topic0: UInt256

    /// - Parameters:
    ///   - name: Required.
    ///   - inputs: Optional, default none. At most 3 indexed (4 when anonymous).
    ///   - anonymous: Optional, default `false`.
    public init(name: String, inputs: [ABIParameter] = [], anonymous: Bool = false) {
        self.name = name
        self.inputs = inputs
        self.anonymous = anonymous
        topic0 = ABI.topic(ABI.signature(name, inputs.map(\.type)))
    }

    /// `Name(type1,…)`.
    public var signature: String { ABI.signature(name, inputs.map(\.type)) }

    /// Whether an indexed parameter of this type is a hash in its topic rather than its value.
    public static func isHashedWhenIndexed(_ type: ABIType) -> Bool {
        switch type {
        case .uint, .int, .address, .bool, .fixedBytes, .function: false
        default: true
        }
    }

    /// The number of topics a log of this event has.
    public var topicCount: Int { inputs.count { $0.indexed } + (anonymous ? 0 : 1) }

    /// The topics that select logs of this event with the given indexed values, for a log filter: topic0 (unless
    /// anonymous), then one entry per indexed parameter, `nil` where `values` has `nil` (any value matches).
    /// - Parameter values: Required. One entry per indexed parameter, in order (`nil`: any).
    /// - Throws: `ContractError` `.abiValueMismatch` (2151) for a value that does not fit or a wrong count.
    public func topics(matching values: [ABIValue?]) throws(ContractError) -> [UInt256?] {
        let indexed = inputs.filter(\.indexed)
        guard values.count == indexed.count else {
            throw ContractError(.abiValueMismatch, "\(values.count) values for the \(indexed.count) indexed parameters of \(signature)")
        }
        var topics: [UInt256?] = anonymous ? [] : [topic0]
        for (parameter, value) in zip(indexed, values) {
            guard let value else { topics.append(nil); continue }
            topics.append(try Self.topic(of: value, as: parameter))
        }
        return topics
    }

    /// The topic of one indexed value: the word itself, or the Keccak-256 of its in-place encoding.
    static func topic(of value: ABIValue, as parameter: ABIParameter) throws(ContractError) -> UInt256 {
        var writer = ABIWriter(types: [parameter.type], parameters: [parameter])
        let encoded = try writer.encode([value], prefix: [])
        guard isHashedWhenIndexed(parameter.type) else { return UInt256(bigEndian: encoded) }
        var bytes: [UInt8] = []
        try inPlace(value, as: parameter.type, padded: false, into: &bytes)
        return UInt256(bigEndian: Keccak256.hash(bytes).bytes)
    }

    /// The encoding hashed for an indexed composite value: no offsets or lengths; `bytes`/`string` unpadded at the
    /// top and padded inside arrays and tuples; elements and members concatenated.
    static func inPlace(_ value: ABIValue, as type: ABIType, padded: Bool, into bytes: inout [UInt8]) throws(ContractError) {
        switch (type, value) {
        case (.bytes, .bytes(let raw)), (.bytes, .fixedBytes(let raw)):
            bytes += raw
            if padded { bytes += repeatElement(0, count: ABIWriter.padded(raw.count) - raw.count) }
        case (.string, .string(let text)):
            bytes += text.utf8
            if padded { bytes += repeatElement(0, count: ABIWriter.padded(text.utf8.count) - text.utf8.count) }
        case (.array(let element, _), .array(let values)), (.dynamicArray(let element), .array(let values)):
            for value in values { try inPlace(value, as: element, padded: true, into: &bytes) }
        case (.tuple(let members), .tuple(let values)):
            for (member, value) in zip(members, values) { try inPlace(value, as: member, padded: true, into: &bytes) }
        default:
            var writer = ABIWriter(types: [type], parameters: nil)
            bytes += try writer.encode([value], prefix: [])
        }
    }

    /// Decodes a log of this event.
    /// - Parameters:
    ///   - topics: Required. The log's topics: topic0 (unless anonymous), then one per indexed parameter.
    ///   - data: Required. The log's data: the non-indexed parameters, ABI-encoded.
    /// - Returns: The values in declaration order; an indexed dynamic or composite parameter is `.fixedBytes` of its
    ///   32-byte hash (its value is not recoverable from the log).
    /// - Throws: `ContractError` `.abiUnknownEvent` (2164) when topic0 or the topic count does not match; decoding errors
    ///   (2152–2159, 2167) naming the parameter.
    public func decode(topics: [UInt256], data: [UInt8]) throws(ContractError) -> ABIDecodedLog {
        guard topics.count == topicCount, anonymous || topics.first == topic0 else {
            throw ContractError(.abiUnknownEvent, "log with \(topics.count) topics is not \(signature) (\(topicCount) topics, topic0 \(topic0))",
                                details: ["topic0": topics.first?.description ?? "", "event": signature])
        }
        let dataParameters = inputs.filter { !$0.indexed }
        var reader = ABIReader(data: data, origin: 0, types: dataParameters.map(\.type), parameters: dataParameters)
        let dataValues = try reader.decode()
        var values: [ABIValue] = []
        values.reserveCapacity(inputs.count)
        var nextTopic = anonymous ? 0 : 1
        var nextData = 0
        for parameter in inputs {
            if parameter.indexed {
                let word = topics[nextTopic]
                nextTopic += 1
                if Self.isHashedWhenIndexed(parameter.type) {
                    values.append(.fixedBytes(word.bigEndianBytes))
                } else {
                    var topicReader = ABIReader(data: word.bigEndianBytes, origin: 0, types: [parameter.type], parameters: [parameter])
                    values.append(try topicReader.decode()[0])
                }
            } else {
                values.append(dataValues[nextData])
                nextData += 1
            }
        }
        return ABIDecodedLog(event: self, values: values)
    }
}

/// A decoded log: its event and one value per parameter.
public struct ABIDecodedLog: Sendable, Hashable {
    /// The event.
    public var event: ABIEvent
    /// One value per parameter of ``event``, in declaration order.
    public var values: [ABIValue]

    /// - Parameters:
    ///   - event: Required.
    ///   - values: Required. One per parameter.
    public init(event: ABIEvent, values: [ABIValue]) {
        self.event = event
        self.values = values
    }

    /// The event's name.
    public var name: String { event.name }

    /// The value of the parameter named `name`; `nil` when there is none.
    public subscript(name: String) -> ABIValue? {
        event.inputs.firstIndex { $0.name == name }.map { values[$0] }
    }
}
