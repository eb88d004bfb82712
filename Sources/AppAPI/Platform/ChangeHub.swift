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
///
/// A subscription made with a token keeps that token (its ``AccessToken``, not the signed text), so that
/// ``revise(where:_:)`` can end it or change what it sees when the token is revoked or the account changes.
/// A subscription starts pending (it sees nothing) until ``activate(_:filter:)``: the record service registers
/// first and checks the token after, so a revocation is either seen by that check or reaches the subscription.
/// - Note: `@unchecked Sendable`: `subscribers` and `delegateTasks` are guarded by `lock`.
final class ChangeHub: @unchecked Sendable {
    typealias Filter = @Sendable (RecordChange) -> Bool

    private struct Subscriber {
        var filter: Filter
        var continuation: AsyncStream<RecordChange>.Continuation
        /// The token the subscription was authorised with; nil for one made without a token.
        var grant: AccessToken?
        /// True until activated or revised: the filter drops everything.
        var pending: Bool
    }

    private let lock = NSLock()
    private var subscribers: [UUID: Subscriber] = [:]
    private var delegateTasks: [ObjectIdentifier: (subscription: UUID, task: Task<Void, Never>)] = [:]
    private var closed = false

    /// A stream of the changes `filter` accepts. With a `grant`, it is pending (sees nothing) until activated.
    func subscribe(grant: AccessToken? = nil, filter: @escaping Filter) -> (key: UUID, stream: AsyncStream<RecordChange>) {
        let (stream, c) = AsyncStream.makeStream(of: RecordChange.self, bufferingPolicy: .bufferingNewest(4_096))
        let key = UUID()
        let pending = grant != nil
        let nothing: Filter = { _ in false }
        let subscriber = Subscriber(filter: pending ? nothing : filter, continuation: c, grant: grant, pending: pending)
        let accepted = lock.withLock { () -> Bool in
            guard !closed else { return false }
            subscribers[key] = subscriber
            return true
        }
        guard accepted else { c.finish(); return (key, stream) }
        c.onTermination = { [weak self] _ in self?.lock.withLock { _ = self?.subscribers.removeValue(forKey: key) } }
        return (key, stream)
    }

    /// Calls `delegate` with the changes `filter` accepts, replacing an earlier registration of it; pending like
    /// ``subscribe(grant:filter:)``. Returns the subscription's key.
    @discardableResult
    func addDelegate(_ delegate: any RecordChangeDelegate, grant: AccessToken? = nil, filter: @escaping Filter) -> UUID {
        let (key, stream) = subscribe(grant: grant, filter: filter)
        let task = Task { [weak delegate] in
            for await change in stream {
                // A revoked subscription cancels this task: no call after that, even for changes already buffered.
                guard !Task.isCancelled, let delegate else { return }
                await delegate.recordDidChange(change)
            }
        }
        // Cancel outside the lock: cancelling ends the stream, whose termination handler takes the lock.
        lock.withLock { delegateTasks.updateValue((key, task), forKey: ObjectIdentifier(delegate)) }?.task.cancel()
        return key
    }

    func removeDelegate(_ delegate: any RecordChangeDelegate) {
        lock.withLock { delegateTasks.removeValue(forKey: ObjectIdentifier(delegate)) }?.task.cancel()
    }

    /// Starts a pending subscription with `filter`, unless it was revised meanwhile (the revision is newer).
    func activate(_ key: UUID, filter: @escaping Filter) {
        lock.withLock {
            guard subscribers[key]?.pending == true else { return }
            subscribers[key]?.filter = filter
            subscribers[key]?.pending = false
        }
    }

    /// Ends one subscription: its stream finishes, its delegate (if any) is dropped.
    func end(_ key: UUID) {
        revise({ k, _ in k == key }) { _ in nil }
    }

    /// Re-decides every subscription whose grant `matches`: `decide` gives its new filter, or nil to end it
    /// (the stream finishes, a delegate is dropped and called no more). Done when it returns.
    func revise(where matches: (AccessToken) -> Bool, _ decide: (AccessToken) -> Filter?) {
        revise({ _, grant in grant.map(matches) ?? false }) { grant in grant.flatMap(decide) }
    }

    private func revise(_ matches: (UUID, AccessToken?) -> Bool, _ decide: (AccessToken?) -> Filter?) {
        let (ended, tasks) = lock.withLock { () -> ([AsyncStream<RecordChange>.Continuation], [Task<Void, Never>]) in
            var endedKeys = Set<UUID>(), ended = [AsyncStream<RecordChange>.Continuation]()
            for (key, subscriber) in subscribers where matches(key, subscriber.grant) {
                if let filter = decide(subscriber.grant) {
                    subscribers[key]?.filter = filter
                    subscribers[key]?.pending = false
                } else {
                    endedKeys.insert(key)
                    ended.append(subscriber.continuation)
                }
            }
            guard !endedKeys.isEmpty else { return ([], []) }
            for key in endedKeys { subscribers[key] = nil }
            let delegates = delegateTasks.filter { endedKeys.contains($0.value.subscription) }
            for id in delegates.keys { delegateTasks[id] = nil }
            return (ended, delegates.values.map(\.task))
        }
        // Outside the lock: finishing a stream runs its termination handler, which takes the lock.
        tasks.forEach { $0.cancel() }
        ended.forEach { $0.finish() }
    }

    /// Whether any stream or delegate listens (when none does, the index need not build changes).
    var isObserved: Bool { lock.withLock { !subscribers.isEmpty } }

    func publish(_ changes: [RecordChange]) {
        guard !changes.isEmpty else { return }
        let targets = lock.withLock { subscribers.values.map { ($0.filter, $0.continuation) } }
        for change in changes {
            for (filter, continuation) in targets where filter(change) { continuation.yield(change) }
        }
    }

    func close() {
        let (subs, tasks) = lock.withLock { () -> ([AsyncStream<RecordChange>.Continuation], [Task<Void, Never>]) in
            closed = true
            defer { subscribers = [:]; delegateTasks = [:] }
            return (subscribers.values.map(\.continuation), delegateTasks.values.map(\.task))
        }
        subs.forEach { $0.finish() }
        tasks.forEach { $0.cancel() }
    }
}
