import Foundation

/// Receives every committed record change the caller may see (A-U-4),
/// webhook style: register with ``RecordService/addDelegate(_:token:)``.
///
/// Calls arrive in commit order, one at a time per delegate, on a task the
/// service owns; a slow delegate delays only itself (up to 4,096 changes are buffered).
public protocol RecordChangeDelegate: AnyObject, Sendable {
    /// Called once per committed change (creation: `before` nil; update: both versions).
    func recordDidChange(_ change: RecordChange) async
}

/// Fans committed changes out to streams and delegates.
/// - Note: `@unchecked Sendable`: `subscribers` and `delegateTasks` are guarded by `lock`.
final class ChangeHub: @unchecked Sendable {
    private let lock = NSLock()
    private var subscribers: [UUID: (filter: @Sendable (RecordChange) -> Bool, continuation: AsyncStream<RecordChange>.Continuation)] = [:]
    private var delegateTasks: [ObjectIdentifier: Task<Void, Never>] = [:]
    private var closed = false

    func subscribe(filter: @escaping @Sendable (RecordChange) -> Bool) -> AsyncStream<RecordChange> {
        let (stream, c) = AsyncStream.makeStream(of: RecordChange.self, bufferingPolicy: .bufferingNewest(4_096))
        let key = UUID()
        let accepted = lock.withLock { () -> Bool in
            guard !closed else { return false }
            subscribers[key] = (filter, c)
            return true
        }
        guard accepted else { c.finish(); return stream }
        c.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.subscribers.removeValue(forKey: key) } }
        return stream
    }

    func addDelegate(_ delegate: any RecordChangeDelegate, filter: @escaping @Sendable (RecordChange) -> Bool) {
        let stream = subscribe(filter: filter)
        let task = Task { [weak delegate] in
            for await change in stream {
                guard let delegate else { return }
                await delegate.recordDidChange(change)
            }
        }
        // Cancel outside the lock: cancelling ends the stream, whose termination handler takes the lock.
        lock.withLock { delegateTasks.updateValue(task, forKey: ObjectIdentifier(delegate)) }?.cancel()
    }

    func removeDelegate(_ delegate: any RecordChangeDelegate) {
        lock.withLock { delegateTasks.removeValue(forKey: ObjectIdentifier(delegate)) }?.cancel()
    }

    /// Whether any stream or delegate listens (when none does, the index need not build changes).
    var isObserved: Bool { lock.withLock { !subscribers.isEmpty } }

    func publish(_ changes: [RecordChange]) {
        guard !changes.isEmpty else { return }
        let targets = lock.withLock { Array(subscribers.values) }
        for change in changes {
            for t in targets where t.filter(change) { t.continuation.yield(change) }
        }
    }

    func close() {
        let (subs, tasks) = lock.withLock { () -> ([AsyncStream<RecordChange>.Continuation], [Task<Void, Never>]) in
            closed = true
            defer { subscribers = [:]; delegateTasks = [:] }
            return (subscribers.values.map(\.continuation), Array(delegateTasks.values))
        }
        subs.forEach { $0.finish() }
        tasks.forEach { $0.cancel() }
    }
}
