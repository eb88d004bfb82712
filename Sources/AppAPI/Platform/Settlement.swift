import ChainRuntime
import Foundation
import LedgerCore

/// How the records service learns the final outcome of a records
/// transaction (A-U-3): committed, failed, or past its deadline for good.
///
/// Every records transaction carries a deadline (see ``RecordOperation``);
/// ``RecordsExecutor`` fails it, writing nothing, in any block stamped after
/// the deadline. When no receipt has arrived by the deadline, the service
/// must still be sure that none can arrive later before it tells the caller
/// "timed out, nothing changed" (5102). The ``Rule`` says when it can be sure.
enum Settlement {
    /// When a transaction still uncommitted after its deadline can no longer commit.
    enum Rule: Sendable, Hashable {
        /// One node that builds each block and decides it in the same step of its actor, stamping it with its
        /// own clock (the single-node platform, a Raft group of one): once that clock is past the deadline and
        /// the node, asked after that moment, has the transaction in no decided block (written or still being
        /// written: ``Node/receiptOfDecided(_:)`` waits for the write), every block it builds later is stamped
        /// after the deadline. Assumes the node's wall clock does not step back across the deadline.
        case atomicCommits
        /// A replicated chain, where a block stamped before the deadline may be decided later: only a committed
        /// block stamped after the deadline, with the transaction not committed, settles it (block timestamps
        /// increase with height, so every later block is stamped after the deadline too).
        case committedBlockAfterDeadline
    }

    /// What is known about one transaction.
    enum Decision: Equatable {
        case receipt(Receipt)
        /// Past its deadline and certain never to commit.
        case expired
        /// Not known yet.
        case wait
    }

    /// The final outcome of one transaction, as the confirmation reports it.
    ///
    struct Outcome: Sendable {
        enum Kind: Sendable { case receipt, expired, undecided, stopped, failed }
        var kind: Kind
        var receipt: Receipt?
        var failure: AppError?

        static func of(_ r: Receipt) -> Outcome { Outcome(kind: .receipt, receipt: r) }
        static let expired = Outcome(kind: .expired)
        static let undecided = Outcome(kind: .undecided)
        static let stopped = Outcome(kind: .stopped)
        static func failed(_ error: any Error) -> Outcome {
            let code = (error as? any CodedError)?.numericCode ?? 9999
            return Outcome(kind: .failed, failure: AppError(.chainRejected, "reading the outcome: \((error as? any CodedError)?.message ?? "\(error)")",
                                                           details: ["cause": String(code)]))
        }
    }

    /// Decides from one observation. `receipt` must have been read after `now` and after `committedHeadTime`.
    /// - Parameters:
    ///   - receipt: The transaction's committed receipt, if any.
    ///   - deadline: The transaction's deadline.
    ///   - now: The wall clock when the observation started.
    ///   - committedHeadTime: The timestamp of the newest committed block when the observation started.
    ///   - rule: See ``Rule``.
    static func decide(receipt: Receipt?, deadline: Timestamp, now: Timestamp, committedHeadTime: Timestamp?, rule: Rule) -> Decision {
        if let receipt { return .receipt(receipt) }
        guard now > deadline else { return .wait }
        switch rule {
        case .atomicCommits:
            return .expired
        case .committedBlockAfterDeadline:
            guard let committedHeadTime, committedHeadTime > deadline else { return .wait }
            return .expired
        }
    }

    /// The timestamp of the newest committed block, or nil when the store cannot say.
    static func committedHeadTime(_ store: LedgerStore) -> Timestamp? {
        guard let head = store.head else { return nil }
        return try? store.header(atHeight: head.height).timestamp
    }
}

/// Settles records transactions on one node (see ``Settlement``).
///
/// The async methods are kept to a few lines each, with every decision in synchronous helpers and no await
/// inside an expression (see ``RecordService`` `send` on the unoptimised-build miscompile with `Digest` values
/// kept across an await).
final class Settler: Sendable {
    let node: any ChainNode
    let store: LedgerStore
    let rule: Settlement.Rule

    init(node: any ChainNode, store: LedgerStore, rule: Settlement.Rule) {
        self.node = node
        self.store = store
        self.rule = rule
    }

    /// Waits for the transaction's receipt until its deadline, then until it is settled or `grace` more has passed.
    func settle(_ pending: RecordService.Pending, grace: Duration) async -> Settlement.Outcome {
        let first = await untilDeadline(pending)
        guard first.kind == .expired else { return first }
        let giveUpAt = ContinuousClock.now + grace
        return await afterDeadline(pending, giveUpAt: giveUpAt)
    }

    /// The receipt if it arrives by the deadline; `.expired` here only means "not by the deadline".
    private func untilDeadline(_ pending: RecordService.Pending) async -> Settlement.Outcome {
        let timeout = Self.remaining(until: pending.deadline, now: node.now)
        do {
            let receipt = try await node.waitForReceipt(pending.transactionID, timeout: timeout)
            return .of(receipt)
        } catch {
            return Self.waitFailure(error)
        }
    }

    private func afterDeadline(_ pending: RecordService.Pending, giveUpAt: ContinuousClock.Instant) async -> Settlement.Outcome {
        while true {
            let now = node.now
            let headTime = rule == .committedBlockAfterDeadline ? Settlement.committedHeadTime(store) : nil
            let look = await receiptNow(pending.transactionID)
            if let outcome = Self.conclude(look, pending: pending, now: now, headTime: headTime, rule: rule, giveUpAt: giveUpAt) {
                return outcome
            }
            let pause = Self.pauseNanoseconds(pending, now: now)
            await Self.nap(nanoseconds: pause)
        }
    }

    /// The committed receipt now (`.of`; a block the node decided is waited for until written), none yet
    /// (`.undecided`), or the failure reading it.
    private func receiptNow(_ transactionID: Digest) async -> Settlement.Outcome {
        do {
            let receipt = try await node.receiptOfDecided(transactionID)
            return receipt.map { .of($0) } ?? .undecided
        } catch let error as ChainError where error.code == .nodeStopped {
            return .stopped
        } catch {
            return .failed(error)
        }
    }

    /// - Parameter now: The node's clock (`ChainNode.now`), which deadlines and block timestamps share.
    static func remaining(until deadline: Timestamp, now: Timestamp) -> Duration {
        let now = now.rawValue
        return .milliseconds(deadline.rawValue > now ? deadline.rawValue - now : 1)
    }

    static func waitFailure(_ error: any Error) -> Settlement.Outcome {
        guard let chain = error as? ChainError else { return .failed(error) }
        switch chain.code {
        case .commitTimeout: return .expired
        case .nodeStopped: return .stopped
        default: return .failed(error)
        }
    }

    /// The outcome one observation settles, or nil to look again.
    static func conclude(_ look: Settlement.Outcome, pending: RecordService.Pending, now: Timestamp, headTime: Timestamp?,
                         rule: Settlement.Rule, giveUpAt: ContinuousClock.Instant) -> Settlement.Outcome? {
        if look.kind == .failed { return look }
        switch Settlement.decide(receipt: look.receipt, deadline: pending.deadline, now: now, committedHeadTime: headTime, rule: rule) {
        case .receipt(let r): return .of(r)
        case .expired: return .expired
        case .wait: return ContinuousClock.now < giveUpAt ? nil : .undecided
        }
    }

    /// How long to wait before looking again: until just past the deadline, then in 20 ms steps.
    static func pauseNanoseconds(_ pending: RecordService.Pending, now: Timestamp) -> UInt64 {
        let untilDeadline = pending.deadline.rawValue >= now.rawValue ? pending.deadline.rawValue - now.rawValue + 1 : 20
        return max(1, min(50, untilDeadline)) * 1_000_000
    }

    /// Sleeps for `nanoseconds` (cancellation ends the sleep early; the caller looks again either way).
    private static func nap(nanoseconds: UInt64) async {
        try? await Task.sleep(nanoseconds: nanoseconds)
    }
}

/// Collects the settled transactions of one submission and turns them into receipts or the first failure.
struct ConfirmationTally {
    let user: String
    let operation: String
    let log: PlatformLog
    private(set) var committed: [RecordService.Pending] = []
    private(set) var firstError: AppError?
    private(set) var failedRecords = 0

    init(user: String, operation: String, log: PlatformLog) {
        self.user = user
        self.operation = operation
        self.log = log
    }

    mutating func note(_ outcome: Settlement.Outcome, for p: RecordService.Pending) {
        let tx = p.transactionID.hex
        let deadline = RecordTime(millisecondsSince1970: p.deadline.rawValue)
        let base = ["transactionID": tx, "recordID": p.operations[0].recordID, "deadline": String(p.deadline.rawValue)]
        switch outcome.kind {
        case .receipt:
            guard let r = outcome.receipt else { return }
            if r.status == Receipt.success {
                committed.append(p)
            } else if r.status == UInt64(AppError.Code.deadlineExceeded.rawValue) {
                fail(p, AppError(.confirmationTimeout, "transaction \(tx) was not committed by its deadline \(deadline); it reached a later block, "
                                 + "failed there (5108) and wrote nothing", details: base.merging(["final": "true"]) { a, _ in a }))
            } else {
                let code = UInt32(clamping: r.status)
                let appCode = (5000..<6000).contains(code) ? AppError.Code(rawValue: code) : .chainRejected
                fail(p, AppError(appCode, String(decoding: r.output, as: UTF8.self), details: ["transactionID": tx, "cause": String(code)]))
            }
        case .expired:
            fail(p, AppError(.confirmationTimeout, "transaction \(tx) was not committed by its deadline \(deadline) and can no longer be: "
                             + "a block stamped after the deadline fails it without writing; nothing changed",
                             details: base.merging(["final": "true"]) { a, _ in a }))
        case .undecided:
            fail(p, AppError(.confirmationUndecided, "transaction \(tx) was not committed by its deadline \(deadline), and the chain has not "
                             + "committed a block after the deadline yet, so a block proposed before it may still carry it; "
                             + "query the record before sending it again", details: base.merging(["final": "false"]) { a, _ in a }))
        case .stopped:
            fail(p, AppError(.platformClosed, "the node stopped before transaction \(tx) committed", details: base))
        case .failed:
            var e = outcome.failure ?? AppError(.chainRejected, "reading the outcome failed")
            e.message = "transaction \(tx): " + e.message
            e.details.merge(base) { a, _ in a }
            fail(p, e)
        }
    }

    private mutating func fail(_ p: RecordService.Pending, _ error: AppError) {
        log.write(user: user, operation: operation, subject: p.operations[0].recordID, code: error.numericCode,
                  note: "tx=\(p.transactionID.hex.prefix(16))")
        failedRecords += p.operations.count
        if firstError == nil { firstError = error }
    }

    /// One receipt per record in submission order, or the first failure with `committedRecords` and `failedRecords` in its details.
    func receipts(count: Int, store: LedgerStore) throws(AppError) -> [UploadReceipt] {
        if var error = firstError {
            error.details["committedRecords"] = String(committed.reduce(0) { $0 + $1.operations.count })
            error.details["failedRecords"] = String(failedRecords)
            throw error
        }
        var receipts = [UploadReceipt]()
        receipts.reserveCapacity(count)
        var builder = UploadReceipt.Builder()
        for p in committed {
            receipts += try builder.receipts(transactionID: p.transactionID,
                                             operations: p.operations.map { ($0.recordID, $0.version, $0.digest) }, store: store)
            let tx = p.transactionID.hex.prefix(16)
            log.write(user: user, operation: operation, entries: p.operations.map { ($0.recordID, 0, "version=\($0.version) tx=\(tx)") })
        }
        return receipts
    }
}

/// A ``ConfirmationTally`` behind a lock, so the confirmation closure keeps no mutable struct across its awaits.
/// - Note: `@unchecked Sendable`: `tally` is guarded by `lock`; one confirmation task uses it at a time.
final class TallyBox: @unchecked Sendable {
    private let lock = NSLock()
    private var tally: ConfirmationTally

    init(_ tally: ConfirmationTally) { self.tally = tally }

    func note(_ outcome: Settlement.Outcome, for p: RecordService.Pending) {
        lock.withLock { tally.note(outcome, for: p) }
    }

    func receipts(count: Int, store: LedgerStore) throws(AppError) -> [UploadReceipt] {
        let t = lock.withLock { tally }
        return try t.receipts(count: count, store: store)
    }
}
