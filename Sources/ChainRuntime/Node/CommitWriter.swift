import CoreMetrics
import Foundation
import LedgerCore
import Net

/// A node's durable effects and the messages that follow them, carried out
/// in order on a thread of their own, so the node's actor builds and
/// executes block N+1 while block N is written.
///
/// The order is the engine contract's (``ConsensusEngine``): a block's append
/// and the engine's persistent state are durable before any message queued
/// after them is sent; a message queued while nothing is pending goes out at
/// once (``emit(_:to:)``). Outcomes of appends are collected by the node
/// (``takeOutcomes()``), which only then hands out receipts.
///
/// - Note: `@unchecked Sendable`: every mutable field is guarded by `condition`.
final class CommitWriter: NodeWriter, @unchecked Sendable {
    enum Job {
        case append(store: LedgerStore, block: Block, receipts: [Receipt], changes: StateChangeSet,
                    transition: StateTransition?, certificate: CommitCertificate?)
        case saveConsensusState(store: LedgerStore, bytes: [UInt8])
        case send(NodeID?, [UInt8])
    }

    enum Outcome {
        case appended(Height)
        case appendFailed(Height, LedgerError)
        case stateSaveFailed(LedgerError)
    }

    private let condition = NSCondition()
    // Guarded by condition:
    private var jobs: [Job] = []
    private var appendsQueued = 0
    private var outcomes: [Outcome] = []
    private var finished = false
    private var listener: (@Sendable () -> Void)?

    private let deliver: @Sendable (NodeID?, [UInt8]) -> Void
    private let appendTimer: CoreMetrics.Timer?

    /// - Parameters:
    ///   - appendTimer: Optional, default none. Records how long each block's append took (`forgechain_block_append_seconds`).
    ///   - deliver: Sends one message (nil = broadcast); called from the writer's thread or the caller's.
    init(appendTimer: CoreMetrics.Timer? = nil, deliver: @escaping @Sendable (NodeID?, [UInt8]) -> Void) {
        self.deliver = deliver
        self.appendTimer = appendTimer
        let thread = Thread { [self] in run() }
        thread.name = "forgechain.commit-writer"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Called from the writer's thread after each append or failed save, and whenever the queue empties
    /// (the node collects outcomes then, and resumes work that waited for the writes to settle).
    func setListener(_ listener: @escaping @Sendable () -> Void) {
        condition.lock()
        self.listener = listener
        condition.unlock()
    }

    /// Queues a write (or a message behind the writes before it).
    func submit(_ job: Job) {
        condition.lock()
        if !finished {
            jobs.append(job)
            if case .append = job { appendsQueued += 1 }
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Sends a message now when nothing is pending, otherwise behind the pending writes.
    func emit(_ bytes: [UInt8], to peer: NodeID?) {
        condition.lock()
        if jobs.isEmpty || finished {
            condition.unlock()
            deliver(peer, bytes)
            return
        }
        jobs.append(.send(peer, bytes))
        condition.broadcast()
        condition.unlock()
    }

    /// Appends queued or in progress.
    var pendingAppends: Int {
        condition.lock()
        defer { condition.unlock() }
        return appendsQueued
    }

    /// The outcomes since the last call, in order.
    func takeOutcomes() -> [Outcome] {
        condition.lock()
        defer { condition.unlock() }
        let o = outcomes
        outcomes = []
        return o
    }

    /// Whether every queued job is done.
    var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return jobs.isEmpty
    }

    /// Blocks the caller until every queued job is done (tests; the node never blocks on it).
    func waitUntilIdle() {
        condition.lock()
        while !jobs.isEmpty { condition.wait() }
        condition.unlock()
    }

    /// Finishes the queued jobs, then ends the thread. Idempotent.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finished { condition.wait() }
            guard let job = jobs.first else {
                condition.unlock()
                return
            }
            condition.unlock()
            let outcome = Self.perform(job, appendTimer: appendTimer, deliver: deliver)
            condition.lock()
            jobs.removeFirst()
            if case .append = job { appendsQueued -= 1 }
            if let outcome { outcomes.append(outcome) }
            let listener = outcome == nil && !jobs.isEmpty ? nil : self.listener
            condition.broadcast()
            condition.unlock()
            listener?()
        }
    }

    /// Carries out one job; nil when it has no outcome to report (a send, a saved state).
    static func perform(_ job: Job, appendTimer: CoreMetrics.Timer? = nil,
                                deliver: (NodeID?, [UInt8]) -> Void) -> Outcome? {
        switch job {
        case .append(let store, let block, let receipts, let changes, let transition, let certificate):
            do throws(LedgerError) {
                let start = ContinuousClock.now
                try store.append(block, receipts: receipts, stateChanges: changes, stateTransition: transition, certificate: certificate)
                appendTimer?.record(duration: ContinuousClock.now - start)
                return .appended(block.header.height)
            } catch {
                return .appendFailed(block.header.height, error)
            }
        case .saveConsensusState(let store, let bytes):
            do throws(LedgerError) {
                try store.saveConsensusState(bytes)
                return nil
            } catch {
                return .stateSaveFailed(error)
            }
        case .send(let peer, let bytes):
            deliver(peer, bytes)
            return nil
        }
    }
}
