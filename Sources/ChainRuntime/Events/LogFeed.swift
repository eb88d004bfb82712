import LedgerCore

/// A position in the chain's stream of logs: the log `logIndex` of the transaction `transactionIndex` of block
/// `height`. Positions are totally ordered (height, then transaction, then log), so "everything after this
/// checkpoint" is exact: a subscriber that stores the checkpoint of the last event it handled resumes from it
/// with no gap and no duplicate, whatever happened meanwhile (a reconnect, a node restart, its own crash).
public struct LogCheckpoint: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// The block height.
    public var height: UInt64
    /// The transaction's index in its block.
    public var transactionIndex: UInt32
    /// The log's index in its transaction's receipt.
    public var logIndex: UInt32

    /// - Parameters: as the properties.
    public init(height: UInt64, transactionIndex: UInt32, logIndex: UInt32) {
        self.height = height
        self.transactionIndex = transactionIndex
        self.logIndex = logIndex
    }

    /// The checkpoint before everything of block `height` and later: subscribing after it starts at that block.
    /// - Parameter height: Required. 1 or more (blocks start at 1 after genesis).
    public static func before(height: UInt64) -> LogCheckpoint {
        height == 0 ? LogCheckpoint(height: 0, transactionIndex: 0, logIndex: 0)
            : LogCheckpoint(height: height - 1, transactionIndex: .max, logIndex: .max)
    }

    /// The end of block `height`: subscribing after it starts at the next block.
    /// - Parameter height: Required. Any height.
    public static func end(of height: UInt64) -> LogCheckpoint {
        LogCheckpoint(height: height, transactionIndex: .max, logIndex: .max)
    }

    public static func < (a: LogCheckpoint, b: LogCheckpoint) -> Bool {
        (a.height, a.transactionIndex, a.logIndex) < (b.height, b.transactionIndex, b.logIndex)
    }

    /// `height:transaction:log`.
    public var description: String { "\(height):\(transactionIndex):\(logIndex)" }
}

/// Which logs a reader wants: by emitter (a contract's 20-byte address, or an executor's name such as
/// `contracts`), and by topic position (topic 0 is an event's signature hash; each position lists the accepted
/// values, nil accepts any). An empty filter accepts every log.
///
/// ```swift
/// let filter = LogFilter(emitters: [address.bytes], topics: [[Keccak256.hash(Array("BatchRegistered(string,uint256)".utf8))]])
/// ```
public struct LogFilter: Hashable, Sendable {
    /// Accepted emitters; nil: any. At most 1,000.
    public var emitters: Set<[UInt8]>?
    /// Accepted values per topic position (at most 4 positions, 1,000 values in all); nil at a position: any.
    public var topics: [Set<Digest>?]
    /// Whether logs of failed transactions are included (a security alert is logged by a failed transaction);
    /// default false.
    public var includeFailed: Bool
    /// Whether each committed block adds a "block committed" event (``LogFeed/blockEmitter``,
    /// ``LogFeed/blockCommittedTopic``) after its transactions' logs, whatever the emitters and topics; default false.
    public var includeBlocks: Bool

    /// - Parameters:
    ///   - emitters: Optional, default nil (any).
    ///   - topics: Optional, default empty (any).
    ///   - includeFailed: Optional, default false.
    ///   - includeBlocks: Optional, default false.
    public init(emitters: Set<[UInt8]>? = nil, topics: [Set<Digest>?] = [], includeFailed: Bool = false, includeBlocks: Bool = false) {
        self.emitters = emitters
        self.topics = topics
        self.includeFailed = includeFailed
        self.includeBlocks = includeBlocks
    }

    func validate() throws(ChainError) {
        if let emitters, emitters.count > 1_000 {
            throw ChainError(.invalidLogFilter, "a log filter names \(emitters.count) emitters, at most 1000", details: ["field": "emitters"])
        }
        let values = topics.reduce(0) { $0 + ($1?.count ?? 0) }
        guard topics.count <= Receipt.maximumTopics, values <= 1_000 else {
            throw ChainError(.invalidLogFilter, "a log filter has \(topics.count) topic positions and \(values) values (at most \(Receipt.maximumTopics) and 1000)",
                             details: ["field": "topics"])
        }
    }

    /// Whether `log` passes.
    public func accepts(_ log: ReceiptLog) -> Bool {
        if let emitters, !emitters.contains(log.emitter) { return false }
        for (i, accepted) in topics.enumerated() {
            guard let accepted else { continue }
            guard i < log.topics.count, accepted.contains(log.topics[i]) else { return false }
        }
        return true
    }
}

/// One log with where it is.
public struct LogEvent: Hashable, Sendable {
    /// Its position; store it to resume after this event.
    public var checkpoint: LogCheckpoint
    /// The transaction that logged it.
    public var transactionID: Digest
    /// The transaction's receipt status (0 = success).
    public var status: UInt64
    /// The log.
    public var log: ReceiptLog

    /// - Parameters: as the properties (a client rebuilds events a node sent).
    public init(checkpoint: LogCheckpoint, transactionID: Digest, status: UInt64, log: ReceiptLog) {
        self.checkpoint = checkpoint
        self.transactionID = transactionID
        self.status = status
        self.log = log
    }
}

/// One page of a history query.
public struct LogPage: Hashable, Sendable {
    /// The matching logs, in chain order.
    public var events: [LogEvent]
    /// Where the next page starts (pass it as `after`); nil when the page reached the requested end.
    public var next: LogCheckpoint?
    /// The last block the query covered (the head it saw, when no end was given).
    public var through: UInt64

    /// - Parameters: as the properties (a client rebuilds pages a node sent).
    public init(events: [LogEvent], next: LogCheckpoint?, through: UInt64) {
        self.events = events
        self.next = next
        self.through = through
    }
}

/// Events a layer derives from committed transactions instead of storing them in receipts (AppAPI's record
/// changes: one event per record written, which would otherwise make every upload receipt carry every record ID of
/// its transaction). Derived logs follow the receipt's own logs of the same transaction (their log indices continue
/// the receipt's), so their checkpoints are as stable as stored logs': the same ledger always derives the same logs.
///
/// ```swift
/// struct Touched: LogDeriver {
///     var payloadKinds: Set<String> { ["kv"] }
///     var emitters: Set<[UInt8]> { [Array("touched".utf8)] }
///     func logs(of transaction: Transaction, receipt: Receipt, matching filter: LogFilter) throws(LedgerError) -> [ReceiptLog?] {
///         receipt.status == Receipt.success ? [ReceiptLog(emitter: Array("touched".utf8))] : []
///     }
/// }
/// ```
public protocol LogDeriver: Sendable {
    /// The payload kinds whose transactions it derives logs from (the feed reads no other transaction for it).
    var payloadKinds: Set<String> { get }
    /// The emitters of its logs: a filter naming none of them never makes the feed call it.
    var emitters: Set<[UInt8]> { get }
    /// The logs `transaction` (committed, with `receipt`) derives, in order; deterministic.
    /// - Parameters:
    ///   - transaction: Required. A committed transaction of one of ``payloadKinds``.
    ///   - receipt: Required. Its receipt.
    ///   - filter: Required. What the reader wants: a log it refuses may be given as nil instead of being built (its
    ///     position still counts, so checkpoints do not depend on the filter).
    /// - Throws: `LedgerError` when the committed transaction cannot be read as it was executed (a damaged ledger):
    ///   the feed fails with `.logFeedReadFailed` (4251) rather than leave its events out.
    func logs(of transaction: Transaction, receipt: Receipt, matching filter: LogFilter) throws(LedgerError) -> [ReceiptLog?]
}

/// Logs by filter from a node's ledger: history by block range with pagination, and live subscriptions that
/// resume from a checkpoint (standard C-E-3, and the event bus of C-E-1/C-E-2: contract logs, the contract
/// layer's lifecycle logs and security alerts are receipt logs; record changes are derived from the records
/// transactions (``LogDeriver``); block commits are added on request (``LogFilter/includeBlocks``)).
///
/// Reads go to the ledger, never to a buffer of recent events, so nothing is lost however slow the reader or
/// however long it was away: a subscription catches up from the store and then follows commits.
///
/// ```swift
/// for try await event in LogFeed.subscribe(node: node, filter: filter, after: saved) {
///     handle(event)
///     saved = event.checkpoint
/// }
/// ```
public enum LogFeed {
    /// The most blocks one history page scans before it returns (with `next` set), so a sparse filter over a
    /// long chain answers in bounded time.
    public static let maximumBlocksPerPage: UInt64 = 10_000
    /// The emitter of "block committed" events (``LogFilter/includeBlocks``): `chain`.
    public static let blockEmitter = Array("chain".utf8)
    /// topic0 of a "block committed" event: keccak256(`BlockCommitted(uint64,bytes32,uint32)`); data = the height, the
    /// block's hash and its transaction count as three 32-byte big-endian words. Its checkpoint is the block's end
    /// (``LogCheckpoint/end(of:)``) and its transaction ID all zeros.
    public static let blockCommittedTopic = Keccak256.hash(Array("BlockCommitted(uint64,bytes32,uint32)".utf8))

    /// One page of logs after `after` up to block `through`.
    /// - Parameters:
    ///   - store: Required. The node's ledger.
    ///   - filter: Required. Which logs.
    ///   - after: Optional. Start strictly after this checkpoint; nil: from the first block.
    ///   - through: Optional. The last block; nil: the head.
    ///   - limit: Optional, default 1,000; 1…10,000 events per page.
    ///   - derivers: Optional, default none. Layers whose derived events join the stored logs (AppAPI's
    ///     `RecordChangeLogs`); the blocks' transactions are read only when one is given.
    /// - Returns: The events and the checkpoint to continue from (nil when `through` was reached).
    /// - Throws: ``ChainError`` `.invalidLogFilter` (4250), `.logFeedReadFailed` (4251).
    public static func history(store: LedgerStore, filter: LogFilter, after: LogCheckpoint? = nil, through: UInt64? = nil,
                               limit: Int = 1_000, derivers: [any LogDeriver] = []) throws(ChainError) -> LogPage {
        try filter.validate()
        guard (1...10_000).contains(limit) else {
            throw ChainError(.invalidLogFilter, "page limit \(limit), expected 1...10000", details: ["field": "limit"])
        }
        let head = store.head?.height.rawValue ?? 0
        let last = min(through ?? head, head)
        let start = after ?? .before(height: 1)
        var events = [LogEvent]()
        // After a block's end, the next block; otherwise the checkpoint's own block (its later logs).
        var height = max(start == .end(of: start.height) ? start.height + 1 : start.height, 1)
        let scanEnd = min(last, height + maximumBlocksPerPage - 1)
        // Derivers whose logs the filter could accept; the others are never asked.
        let derivers = derivers.filter { filter.emitters == nil || !filter.emitters!.isDisjoint(with: $0.emitters) }
        let derivedKinds = derivers.reduce(into: Set<String>()) { $0.formUnion($1.payloadKinds) }
        while height <= scanEnd {
            let receipts: [Receipt]
            var transactions: [Transaction] = []
            var blockHash: Digest?
            do {
                receipts = try store.receipts(atHeight: Height(height))
                if !derivers.isEmpty { transactions = try store.block(atHeight: Height(height)).transactions }
                if filter.includeBlocks { blockHash = try store.blockHash(atHeight: Height(height)) }
            } catch {
                throw ChainError(.logFeedReadFailed, "block \(height) could not be read: \(error.message)",
                                 details: ["cause": String(error.numericCode), "height": String(height)])
            }
            func add(_ event: LogEvent) -> LogPage? {
                guard event.checkpoint > start else { return nil }
                events.append(event)
                guard events.count == limit else { return nil }
                return LogPage(events: events, next: event.checkpoint < .end(of: last) ? event.checkpoint : nil, through: last)
            }
            for (t, receipt) in receipts.enumerated() where receipt.status == Receipt.success || filter.includeFailed {
                var logs: [ReceiptLog?] = receipt.logs
                if t < transactions.count, derivedKinds.contains(transactions[t].payload.kind) {
                    for deriver in derivers where deriver.payloadKinds.contains(transactions[t].payload.kind) {
                        do { logs += try deriver.logs(of: transactions[t], receipt: receipt, matching: filter) } catch {
                            throw ChainError(.logFeedReadFailed, "block \(height) transaction \(t): its events cannot be derived: \(error.message)",
                                             details: ["cause": String(error.numericCode), "height": String(height), "transactionIndex": String(t)])
                        }
                    }
                }
                for (l, log) in logs.enumerated() {
                    guard let log, filter.accepts(log) else { continue }
                    let checkpoint = LogCheckpoint(height: height, transactionIndex: UInt32(t), logIndex: UInt32(l))
                    if let page = add(LogEvent(checkpoint: checkpoint, transactionID: receipt.transactionID, status: receipt.status, log: log)) {
                        return page
                    }
                }
            }
            if let blockHash {
                let data = UInt256Words.word(height) + blockHash.bytes + UInt256Words.word(UInt64(receipts.count))
                let log = ReceiptLog(emitter: blockEmitter, topics: [blockCommittedTopic], data: data)
                if let page = add(LogEvent(checkpoint: .end(of: height), transactionID: Digest(repeating: 0), status: Receipt.success, log: log)) {
                    return page
                }
            }
            height += 1
        }
        return LogPage(events: events, next: scanEnd < last ? .end(of: scanEnd) : nil, through: last)
    }

    /// Every log matching `filter` after `after`: first what the ledger already holds, then each block as the
    /// node commits it. The stream ends when the node stops (resume from the last checkpoint handled, on this
    /// node after its restart or on another), or with ``ChainError`` `.logFeedReadFailed` (4251).
    /// - Parameters:
    ///   - node: Required. The node to read.
    ///   - filter: Required. Which logs.
    ///   - after: Optional. Start strictly after this checkpoint; nil: from the first block.
    ///   - derivers: Optional, default none. As in ``history(store:filter:after:through:limit:derivers:)``.
    /// - Throws: (in the stream) as ``history(store:filter:after:through:limit:derivers:)``.
    public static func subscribe(node: any ChainNode, filter: LogFilter, after: LogCheckpoint? = nil,
                                 derivers: [any LogDeriver] = []) -> AsyncThrowingStream<LogEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try filter.validate()
                    // Subscribe to commits before reading the store, so no block falls between the two.
                    let commits = await node.commits()
                    let store = await node.ledger
                    var position = after ?? .before(height: 1)
                    func drain() throws(ChainError) {
                        while true {
                            let page = try history(store: store, filter: filter, after: position, limit: 1_000, derivers: derivers)
                            for event in page.events { continuation.yield(event) }
                            if let last = page.events.last { position = last.checkpoint }
                            guard let next = page.next else {
                                position = max(position, .end(of: page.through))
                                return
                            }
                            position = max(position, next)
                        }
                    }
                    try drain()
                    for await _ in commits {
                        if Task.isCancelled { break }
                        try drain()
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// 32-byte big-endian words, as Ethereum's ABI encodes a `uint`.
enum UInt256Words {
    static func word(_ value: UInt64) -> [UInt8] {
        [UInt8](repeating: 0, count: 24) + (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}
