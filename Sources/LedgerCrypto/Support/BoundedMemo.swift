import Synchronization

/// A process-wide memo of at most `capacity` entries, emptied when full: for
/// answers that are expensive to compute and the same every time (a
/// signature that verified, a parsed public key), so dropping them all now
/// and then only costs recomputing them.
///
/// `Sendable` through a `Mutex`; safe to use from any number of threads.
package final class BoundedMemo<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// Entries kept before the memo is emptied.
    package let capacity: Int
    private let entries = Mutex<[Key: Value]>([:])

    /// - Parameter capacity: Required, at least 1.
    package init(capacity: Int) { self.capacity = max(1, capacity) }

    package subscript(key: Key) -> Value? { entries.withLock { $0[key] } }

    package func insert(_ value: Value, for key: Key) {
        let capacity = capacity
        entries.withLock { map in
            if map.count >= capacity { map.removeAll(keepingCapacity: true) }
            map[key] = value
        }
    }

    package var count: Int { entries.withLock { $0.count } }
}
