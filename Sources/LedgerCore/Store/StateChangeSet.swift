/// One write to the world state: a key set to a value, or deleted.
public struct StateChange: Hashable, Sendable {
    /// Required. 1–1024 bytes.
    public var key: [UInt8]
    /// The new value; nil deletes the key (a tombstone at this height).
    public var value: [UInt8]?

    public init(key: [UInt8], value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// The world-state writes of one block, in execution order. When a key is
/// written twice, the last write wins.
///
/// ```swift
/// var changes = StateChangeSet()
/// changes.set(Array("lot/B-17".utf8), to: Array("passed".utf8))
/// ```
public struct StateChangeSet: Hashable, Sendable {
    /// The longest key accepted.
    public static let maximumKeyBytes = 1024

    /// The writes in order.
    public var changes: [StateChange]

    public init(_ changes: [StateChange] = []) { self.changes = changes }

    /// Records `key = value`.
    public mutating func set(_ key: [UInt8], to value: [UInt8]) { changes.append(StateChange(key: key, value: value)) }

    /// Records the deletion of `key`.
    public mutating func delete(_ key: [UInt8]) { changes.append(StateChange(key: key, value: nil)) }

    public var isEmpty: Bool { changes.isEmpty }

    /// The final write per key, sorted by key bytes (deterministic order).
    public var netChanges: [StateChange] {
        var last = [[UInt8]: Int]()
        for (i, c) in changes.enumerated() { last[c.key] = i }
        return last.values.sorted().map { changes[$0] }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }
}

/// Writes a block's state changes into the flat versioned table
/// `state(key, height, value-or-NULL)`.
enum StateWriter {
    static func write(_ set: StateChangeSet, height: Height, header: BlockHeader, parentRoot: Digest?,
                      algorithm: HashAlgorithm, into db: SQLiteConnection) throws(LedgerError) {
        guard !set.isEmpty else { return }
        let s = try db.statement("INSERT OR REPLACE INTO state(key, height, value) VALUES(?1, ?2, ?3)")
        for c in set.netChanges {
            guard (1...StateChangeSet.maximumKeyBytes).contains(c.key.count) else {
                throw LedgerError.store(.invalidFieldValue, height: height,
                                        "state key of \(c.key.count) bytes, expected 1...\(StateChangeSet.maximumKeyBytes)",
                                        details: ["field": "state.key"])
            }
            s.bind(1, c.key)
            s.bind(2, height.rawValue)
            if let v = c.value { s.bind(3, v) } else { s.bindNull(3) }
            try s.run()
        }
    }
}

extension LedgerStore {
    /// The state root the next block must declare if it applies `changes`
    /// on top of the head's state (what a producer puts in the header).
    /// - Parameter changes: Required. The next block's state writes.
    /// - Throws: `.sqlite` (1510), `.storeCorrupted` (1501).
    /// - Note: Thread-safe; does not write. Until the state tree is wired in
    ///   the store commits to no root and returns ``Digest/zero``.
    ///   Example: `let root = try store.stateRoot(applying: changes)`.
    public func stateRoot(applying changes: StateChangeSet) throws(LedgerError) -> Digest {
        .zero
    }
}
