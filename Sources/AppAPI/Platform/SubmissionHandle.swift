import Foundation
import LedgerCore

/// A submission in flight (A-UP-5): returned at once by
/// ``RecordService/submit(_:token:expectedDigests:timeout:)``; its
/// confirmation can be awaited (``confirmation``) or waited for
/// synchronously (``wait(timeout:)``) later, any number of times.
///
/// ```swift
/// let handle = try await platform.records.submit(records, token: token)
/// // ... later
/// let receipts = try await handle.confirmation
/// ```
public final class SubmissionHandle: Sendable {
    /// The submitted records' IDs, in submission order.
    public let recordIDs: [String]
    /// The transactions carrying them (a batch is packed into as few as the size limits allow).
    public let transactionIDs: [Digest]
    private let task: Task<[UploadReceipt], any Error>
    private let outcome: Outcome

    /// The finished result, for synchronous waiters.
    /// - Note: `@unchecked Sendable`: `result` is guarded by `condition`.
    final class Outcome: @unchecked Sendable {
        let condition = NSCondition()
        var result: Result<[UploadReceipt], any Error>?

        func set(_ r: Result<[UploadReceipt], any Error>) {
            condition.lock()
            result = r
            condition.broadcast()
            condition.unlock()
        }
    }

    init(recordIDs: [String], transactionIDs: [Digest], operation: @escaping @Sendable () async throws -> [UploadReceipt]) {
        self.recordIDs = recordIDs
        self.transactionIDs = transactionIDs
        let outcome = Outcome()
        self.outcome = outcome
        // Owned by the handle: it ends when every transaction is confirmed or failed.
        task = Task {
            do {
                let receipts = try await operation()
                outcome.set(.success(receipts))
                return receipts
            } catch {
                outcome.set(.failure(error))
                throw error
            }
        }
    }

    /// The receipts, one per record in submission order, once every transaction committed.
    /// - Throws: `AppError` `.confirmationTimeout` (5102: past its deadline, never to commit, nothing changed),
    ///   `.confirmationUndecided` (5109), `.chainRejected` (5103), the executor's failure (for example
    ///   `.recordExists` 5101, `.digestMismatch` 5011), `.platformClosed` (5107). The error comes once every
    ///   transaction of the submission is settled; `details["committedRecords"]` counts the records that did commit
    ///   (transactions of a submission commit independently), `details["failedRecords"]` the others.
    public var confirmation: [UploadReceipt] {
        get async throws { try await task.value }
    }

    /// Blocks the calling thread until ``confirmation`` is available or `timeout` passes.
    /// Do not call from an async context (it blocks a thread of the cooperative pool); use ``confirmation`` there.
    /// - Parameter timeout: Optional, default 60 s; range 0...3,600 s.
    /// - Throws: As ``confirmation``; `.confirmationUndecided` (5109) when `timeout` passes first (the submission continues;
    ///   wait again, or await ``confirmation``).
    public func wait(timeout: Duration = .seconds(60)) throws -> [UploadReceipt] {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        let deadline = Date(timeIntervalSinceNow: min(3_600, max(0, seconds)))
        outcome.condition.lock()
        defer { outcome.condition.unlock() }
        while outcome.result == nil {
            guard outcome.condition.wait(until: deadline) else { break }
        }
        guard let result = outcome.result else {
            throw AppError(.confirmationUndecided, "no confirmation within \(timeout); the submission continues", details: ["timeout": "\(timeout)"])
        }
        return try result.get()
    }
}
