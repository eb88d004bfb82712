/// The world-state writes of one block, in execution order. When a key is
/// written twice, the last write wins.
///
/// ```swift
/// var changes = StateChangeSet()
/// changes.set(Array("lot/B-17".utf8), to: Array("passed".utf8))
/// ```
public struct StateChangeSet: Hashable, Sendable {
    /// The writes in order (``StateChange`` of the state tree).
    public var changes: [StateChange]

    /// - Parameter changes: Optional, default empty. Applied in order; a later change to a key wins.
    public init(_ changes: [StateChange] = []) { self.changes = changes }

    /// Records `key = value`.
    public mutating func set(_ key: [UInt8], to value: [UInt8]) { changes.append(.set(key, value)) }

    /// Records the deletion of `key`.
    public mutating func delete(_ key: [UInt8]) { changes.append(.delete(key)) }

    /// True when there are no changes.
    public var isEmpty: Bool { changes.isEmpty }

    /// The final write per key, sorted by key bytes (deterministic order).
    public var netChanges: [StateChange] {
        var last = [[UInt8]: Int]()
        for (i, c) in changes.enumerated() { last[c.key] = i }
        return last.values.map { changes[$0] }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }
}
