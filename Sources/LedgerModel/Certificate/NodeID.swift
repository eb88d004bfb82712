/// The identity of a consensus node within a chain: a small integer that
/// every node agrees on (it indexes the ``ValidatorSet``), not a key.
///
/// ```swift
/// let leader: NodeID = 2
/// ```
public struct NodeID: RawRepresentable, Hashable, Comparable, Sendable, Codable,
                      ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// - Parameter value: Required. The node's index in its validator set.
    public init(_ value: UInt32) { rawValue = value }
    public init(integerLiteral value: UInt32) { rawValue = value }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "n\(rawValue)" }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(UInt32.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A consensus round: the PBFT view, the Raft term, the PoS round within a
/// height, or 0 for PoW. Monotonic per engine.
public struct Round: RawRepresentable, Hashable, Comparable, Sendable, Codable,
                     ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// - Parameter value: Required. A view, term or round number.
    public init(_ value: UInt64) { rawValue = value }
    public init(integerLiteral value: UInt64) { rawValue = value }
    public static func < (a: Round, b: Round) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
    /// The next round.
    public var next: Round { Round(rawValue + 1) }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(UInt64.self) }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
