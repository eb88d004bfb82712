import Foundation
import LedgerCore
import Synchronization

/// Keeps ``RecordService``'s record index caught up with the ledger, and says when it is not.
///
/// Every catch-up (after a commit, before an upload or update, for a query that finds the index short of the
/// head) goes through ``attempt()``. A failure is never dropped: it is thrown to the call that needed the index,
/// logged and counted (``RecordTelemetry/indexCatchUpFailed(_:indexedHeight:headHeight:attempt:retryIn:)``), kept as
/// ``failure`` for queries to report, and retried in the background with a doubling pause
/// (``initialRetryDelay`` up to ``maximumRetryDelay``) until a catch-up succeeds or the service closes.
///
/// - Note: Thread-safe: catch-ups are serialised by `lock`, the retry state is in a `Mutex`.
final class IndexFollower: Sendable {
    let index: RecordIndex
    let store: LedgerStore
    let hub: ChangeHub
    let telemetry: RecordTelemetry
    /// The first pause before a failed catch-up is tried again.
    let initialRetryDelay: Duration
    /// The longest pause between tries.
    let maximumRetryDelay: Duration
    private let lock = NSLock()
    private let state = Mutex(State())

    private struct State {
        /// The last catch-up failure, until a catch-up succeeds.
        var failure: AppError?
        /// Failed catch-ups since the last success.
        var failures = 0
        var retry: Task<Void, Never>?
        var closed = false
    }

    init(index: RecordIndex, store: LedgerStore, hub: ChangeHub, telemetry: RecordTelemetry,
         initialRetryDelay: Duration = .milliseconds(100), maximumRetryDelay: Duration = .seconds(5)) {
        self.index = index
        self.store = store
        self.hub = hub
        self.telemetry = telemetry
        self.initialRetryDelay = initialRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
    }

    /// The ledger's committed head height (0 when empty).
    var headHeight: UInt64 { store.head?.height.rawValue ?? 0 }

    /// The failure the background retries are working on; nil once the index caught up.
    var failure: AppError? { state.withLock { $0.failure } }

    /// Brings the index up to the ledger's head and publishes the changes, in commit order. A failure is logged,
    /// counted and retried in the background, then thrown.
    /// - Throws: `AppError` `.indexFailure` (5204), `.recordDamaged` (5205).
    func attempt() throws(AppError) {
        do {
            try catchUp()
        } catch {
            noteFailure(error)
            throw error
        }
        noteSuccess()
    }

    /// ``attempt()`` for callers with nobody to throw to (the commit follower): the failure is returned.
    @discardableResult
    func attemptReporting() -> AppError? {
        do { try attempt() } catch { return error }
        return nil
    }

    /// Runs `body` (a rebuild) with no catch-up running.
    func exclusive<R>(_ body: () throws(AppError) -> R) throws(AppError) -> R {
        try lock.locked(body)
    }

    /// Stops the retries; catch-ups asked for later still run.
    func close() {
        state.withLock { s in
            s.closed = true
            s.retry?.cancel()
            s.retry = nil
        }
    }

    private func catchUp() throws(AppError) {
        try lock.locked { () throws(AppError) in
            hub.publish(try index.catchUp(with: store, collectingChanges: hub.isObserved))
        }
    }

    private func noteFailure(_ error: AppError) {
        let (attempt, delay) = state.withLock { s -> (Int, Duration) in
            s.failure = error
            s.failures += 1
            if s.retry == nil, !s.closed {
                s.retry = Task { [weak self] in await self?.retry() }
            }
            return (s.failures, Self.delay(afterFailures: s.failures, initial: initialRetryDelay, maximum: maximumRetryDelay))
        }
        telemetry.indexCatchUpFailed(error, indexedHeight: index.knownHeight, headHeight: headHeight, attempt: attempt, retryIn: delay)
    }

    private func noteSuccess() {
        let recovered = state.withLock { s -> Int in
            defer {
                s.failure = nil
                s.failures = 0
            }
            return s.failure == nil ? 0 : s.failures
        }
        if recovered > 0 { telemetry.indexCaughtUp(height: index.knownHeight, afterFailures: recovered) }
    }

    /// Tries again after a pause that doubles per failure, until a catch-up succeeds or the follower closes. The loop
    /// ends (and forgets itself) under the state's lock only when no failure is pending, so a failure noted meanwhile
    /// is either seen here or starts a new loop.
    private func retry() async {
        while true {
            let failures = state.withLock { s -> Int in
                if s.closed || s.failures == 0 { s.retry = nil }
                return s.closed ? 0 : s.failures
            }
            guard failures > 0 else { return }
            do {
                try await Task.sleep(for: Self.delay(afterFailures: failures, initial: initialRetryDelay, maximum: maximumRetryDelay))
            } catch {
                return   // cancelled: the service closed (``close()`` forgot the task)
            }
            attemptReporting()
        }
    }

    /// The pause after `failures` consecutive failures: `initial` doubled per failure after the first, at most `maximum`.
    static func delay(afterFailures failures: Int, initial: Duration, maximum: Duration) -> Duration {
        var delay = initial
        for _ in 1..<max(1, min(failures, 32)) where delay < maximum { delay *= 2 }
        return min(delay, maximum)
    }
}
