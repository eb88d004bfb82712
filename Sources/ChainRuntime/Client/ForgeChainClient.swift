import Foundation
import LedgerCore
import Logging
import Net

/// A client of a consortium's nodes (K-T-4, N-L-*): it submits signed transactions to any node's client endpoint
/// (``NodeControlServer`` on TCP, mutual TLS), chosen by a ``LoadBalancer``, and keeps every submission in a
/// durable outbox (SQLite) until the chain has committed it.
///
/// **Nothing lost, nothing twice.** ``submit(_:)-(Transaction)`` writes the transaction to the outbox (synchronous, WAL) before
/// it returns; a background task sends what is pending, in the order submitted, to a node that answers, fails over
/// to the next on an error or a timeout, and asks for receipts until each transaction has one. A plant network
/// that drops out only delays this: submissions made meanwhile wait in the outbox, also across a restart of the
/// client (open the same file again). A transaction is identified by its ID and ordered by its sender's nonce, so
/// sending it again (to the same or another node) can never commit it twice: a node answers "already pending" or
/// "nonce used", and the client then finds its receipt.
///
/// ```swift
/// var configuration = ForgeChainClient.Configuration(nodes: [.init(id: 0, host: "10.0.0.10", port: 7500), ...],
///                                                     outboxPath: "/var/lib/plant/outbox.sqlite")
/// configuration.tls = clientIdentity
/// configuration.strategy = .leastLoad
/// let client = try await ForgeChainClient.open(configuration)
/// let id = try await client.submit(try account.set(key: key, value: value))
/// let entry = try await client.waitUntilSettled([id], timeout: .seconds(60))[0]
/// ```
/// - Note: An actor; close it before the process ends (``close()``), or not: the outbox is durable either way.
public actor ForgeChainClient {
    /// Where a node's client endpoint listens.
    public struct NodeAddress: Hashable, Sendable {
        /// The node's ID.
        public var id: NodeID
        /// Host name or address.
        public var host: String
        /// TCP port of its client endpoint.
        public var port: Int
        /// Parameters as the properties of the same names.
        public init(id: NodeID, host: String, port: Int) {
            self.id = id
            self.host = host
            self.port = port
        }
    }

    /// Nodes, identity, outbox and timing.
    public struct Configuration: Sendable {
        /// Required, non-empty. The nodes' client endpoints.
        public var nodes: [NodeAddress]
        /// Required. The outbox file (created when missing; the same file reopened continues its work).
        public var outboxPath: String
        /// Optional, default nil (plain TCP). The client's certificate of the consortium CA, for mutual TLS.
        public var tls: TCPTransport.TLS?
        /// Optional, default ``LoadBalancer/Strategy/roundRobin``. Consistent hashing keys on the sender.
        public var strategy: LoadBalancer.Strategy = .roundRobin
        /// Optional, default ``LoadBalancer/Configuration/init()``.
        public var balancer = LoadBalancer.Configuration()
        /// Optional, default 10 s. How long one request may take before the client tries another node.
        public var requestTimeout: Duration = .seconds(10)
        /// Optional, default 200 ms. The pause after a round in which no node answered or nothing was committed yet.
        public var retryInterval: Duration = .milliseconds(200)
        /// Optional, default 500; range 1...10,000. Transactions per request.
        public var batchSize = 500
        /// Optional, default `Logger(label: "forgechain.client")`.
        public var logger = Logger(label: "forgechain.client")
        /// Optional, default SHA-256. The chain's hash algorithm (transaction IDs).
        public var hashAlgorithm: HashAlgorithm = .default

        /// The required parameters; see the properties for the others' defaults.
        public init(nodes: [NodeAddress], outboxPath: String) {
            self.nodes = nodes
            self.outboxPath = outboxPath
        }
    }

    /// Where a submission stands.
    public enum State: Int, Hashable, Sendable {
        /// In the outbox, not yet known to be committed.
        case pending = 0
        /// Committed: ``Entry/status`` is its receipt's status (0 for success).
        case committed = 1
        /// Refused for good by the chain (``Entry/code``): an invalid signature, an unknown signer, a nonce another
        /// transaction took. Nothing of it is on chain.
        case refused = 2
    }

    /// One submission in the outbox.
    public struct Entry: Hashable, Sendable {
        /// The transaction's ID.
        public var id: Digest
        /// Where it stands.
        public var state: State
        /// The receipt's status once committed.
        public var status: UInt64?
        /// The refusal's code when refused.
        public var code: UInt32?
    }

    private let configuration: Configuration
    private let db: SQLiteConnection
    private var balancer: LoadBalancer
    private let addresses: [NodeID: NodeAddress]
    private var sent: Set<Digest> = []
    private var polls: [Digest: Int] = [:]
    private var pump: Task<Void, Never>?
    private var wake: AsyncStream<Void>.Continuation?
    private var closed = false

    private init(configuration: Configuration, db: SQLiteConnection) {
        self.configuration = configuration
        self.db = db
        balancer = LoadBalancer(nodes: configuration.nodes.map(\.id), strategy: configuration.strategy, configuration: configuration.balancer)
        addresses = Dictionary(configuration.nodes.map { ($0.id, $0) }) { a, _ in a }
    }

    /// Opens (creating when missing) the outbox and starts sending what it holds.
    /// - Parameter configuration: Required. See ``Configuration``.
    /// - Throws: `ChainError` `.invalidClientConfiguration` (4202) naming the field; `LedgerError` SQLite errors (15xx).
    public static func open(_ configuration: Configuration) async throws -> ForgeChainClient {
        guard !configuration.nodes.isEmpty else {
            throw ChainError(.invalidClientConfiguration, "client configuration field 'nodes' is empty", details: ["field": "nodes"])
        }
        guard (1...10_000).contains(configuration.batchSize) else {
            throw ChainError(.invalidClientConfiguration, "client configuration field 'batchSize' is \(configuration.batchSize), expected 1...10000",
                             details: ["field": "batchSize"])
        }
        let db = try SQLiteConnection(path: configuration.outboxPath, mode: .readWrite)
        try db.execute("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            CREATE TABLE IF NOT EXISTS outbox(
                seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL UNIQUE, body BLOB NOT NULL, sender BLOB NOT NULL,
                state INTEGER NOT NULL DEFAULT 0, status INTEGER, code INTEGER, created INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(state, seq);
            """)
        let client = ForgeChainClient(configuration: configuration, db: db)
        await client.startPump()
        return client
    }

    private func startPump() {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wake = continuation
        continuation.yield()
        pump = Task { [weak self] in
            var iterator = stream.makeAsyncIterator()
            while !Task.isCancelled {
                guard let self else { return }
                let busy = await self.round()
                if Task.isCancelled { return }
                if !busy {
                    // Nothing pending: sleep until a submission wakes the pump.
                    guard await iterator.next() != nil else { return }
                } else {
                    try? await Task.sleep(for: self.configuration.retryInterval)
                }
            }
        }
    }

    /// Writes `transaction` to the outbox (durably) and returns its ID; the background task sends it. Submitting the
    /// same transaction again returns the same ID and changes nothing.
    /// - Throws: `ChainError` `.clientClosed` (4203) after ``close()``; `LedgerError` SQLite errors (15xx).
    public func submit(_ transaction: Transaction) throws -> Digest {
        try submit([transaction])[0]
    }

    /// ``submit(_:)-(Transaction)`` for many transactions, in one outbox write.
    public func submit(_ transactions: [Transaction]) throws -> [Digest] {
        guard !closed else { throw ChainError(.clientClosed, "the client is closed") }
        let ids = try db.transaction { () throws(LedgerError) -> [Digest] in
            let insert = try db.statement("INSERT OR IGNORE INTO outbox(id, body, sender, created) VALUES (?1, ?2, ?3, ?4)")
            defer { insert.reset() }
            var ids = [Digest]()
            let now = Timestamp.now().rawValue
            for tx in transactions {
                let body = tx.encoded
                let id = configuration.hashAlgorithm.hash(body)
                insert.bind(1, id)
                insert.bind(2, body)
                insert.bind(3, tx.sender.rawRepresentation)
                insert.bind(4, now)
                try insert.run()
                insert.reset()
                ids.append(id)
            }
            return ids
        }
        wake?.yield()
        return ids
    }

    /// The outbox entry of `id`, or nil when it was never submitted here.
    public func entry(_ id: Digest) throws -> Entry? {
        let s = try db.statement("SELECT state, status, code FROM outbox WHERE id = ?1")
        defer { s.reset() }
        s.bind(1, id)
        guard try s.step() else { return nil }
        return Entry(id: id, state: State(rawValue: Int(s.int(0))) ?? .pending, status: s.isNull(1) ? nil : s.uint(1),
                     code: s.isNull(2) ? nil : UInt32(truncatingIfNeeded: s.int(2)))
    }

    /// Submissions not yet committed or refused.
    public var pendingCount: Int {
        get throws { Int(try db.scalarInt("SELECT count(*) FROM outbox WHERE state = 0") ?? 0) }
    }

    /// How many submissions of the outbox are pending, committed and refused.
    public func counts() throws -> (pending: Int, committed: Int, refused: Int) {
        func count(_ state: State) throws -> Int { Int(try db.scalarInt("SELECT count(*) FROM outbox WHERE state = \(state.rawValue)") ?? 0) }
        return (try count(.pending), try count(.committed), try count(.refused))
    }

    /// Requests sent to each node so far.
    public var requestsPerNode: [NodeID: Int] { balancer.sent }

    /// Waits until every one of `ids` is committed or refused.
    /// - Throws: `ChainError` `.clientTimeout` (4204) after `timeout` with some still pending.
    public func waitUntilSettled(_ ids: [Digest], timeout: Duration) async throws -> [Entry] {
        let end = ContinuousClock.now + timeout
        while true {
            let entries = try ids.map { id in try entry(id) ?? Entry(id: id, state: .refused, status: nil, code: ChainError.Code.clientClosed.rawValue) }
            if entries.allSatisfy({ $0.state != .pending }) { return entries }
            guard ContinuousClock.now < end else {
                throw ChainError(.clientTimeout, "\(entries.filter { $0.state == .pending }.count) submissions still pending after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops sending; the outbox keeps what is pending for the next ``open(_:)``.
    public func close() async {
        guard !closed else { return }
        closed = true
        pump?.cancel()
        wake?.finish()
        pump = nil
    }

    // MARK: Sending

    /// One round: sends what was not sent yet, asks for receipts of what was. Returns whether anything is pending.
    private func round() async -> Bool {
        guard !closed else { return false }
        let rows: [(id: Digest, body: [UInt8], sender: [UInt8])]
        do {
            let s = try db.statement("SELECT id, body, sender FROM outbox WHERE state = 0 ORDER BY seq LIMIT ?1")
            defer { s.reset() }
            s.bind(1, configuration.batchSize * 4)
            var out = [(id: Digest, body: [UInt8], sender: [UInt8])]()
            while try s.step() { out.append((try Digest(bytes: s.blob(0)), s.blob(1), s.blob(2))) }
            rows = out
        } catch {
            configuration.logger.error("outbox unreadable; retrying", metadata: ["error": "\(error)"])
            return true
        }
        guard !rows.isEmpty else { return false }
        if case .leastLoad = configuration.strategy { await refreshLoad() }
        let unsent = rows.filter { !sent.contains($0.id) }
        for chunk in stride(from: 0, to: unsent.count, by: configuration.batchSize).map({ Array(unsent[$0..<min(unsent.count, $0 + configuration.batchSize)]) }) {
            guard let answer = await send(["op": "submitBatch", "transactions": chunk.map { Hex.encode($0.body) }], key: chunk[0].sender),
                  let results = answer["results"] as? [[String: Any]], results.count == chunk.count else { return true }
            for (row, result) in zip(chunk, results) {
                if result["ok"] as? Bool == true { sent.insert(row.id); continue }
                let code = UInt32(truncatingIfNeeded: (result["code"] as? Int) ?? 0)
                switch code {
                case ChainError.Code.alreadyInMempool.rawValue, ChainError.Code.nonceAlreadyPooled.rawValue, ChainError.Code.nonceTooLow.rawValue:
                    // Pending already, or committed already: the receipts decide.
                    sent.insert(row.id)
                case ChainError.Code.nonceGap.rawValue, ChainError.Code.mempoolFull.rawValue, ChainError.Code.senderLimitReached.rawValue:
                    break   // sent again next round
                default:
                    settle(row.id, state: .refused, status: nil, code: code)
                    configuration.logger.warning("submission refused by the chain", metadata: ["transaction": "\(row.id.hex)", "code": "\(code)",
                                                                                             "message": "\(result["message"] as? String ?? "")"])
                }
            }
        }
        let waiting = rows.map(\.id).filter { sent.contains($0) }
        guard !waiting.isEmpty else { return true }
        for chunk in stride(from: 0, to: waiting.count, by: 2_000).map({ Array(waiting[$0..<min(waiting.count, $0 + 2_000)]) }) {
            guard let answer = await send(["op": "receipts", "ids": chunk.map(\.hex)], key: nil),
                  let receipts = answer["receipts"] as? [String: Any] else { return true }
            for id in chunk {
                if let receipt = receipts[id.hex] as? [String: Any], let status = receipt["status"] as? Int {
                    settle(id, state: .committed, status: UInt64(status), code: nil)
                } else {
                    polls[id, default: 0] += 1
                    // A node may have lost it (restarted before committing): send it again now and then.
                    if polls[id]! % 25 == 0 { sent.remove(id) }
                }
            }
        }
        return true
    }

    private func settle(_ id: Digest, state: State, status: UInt64?, code: UInt32?) {
        do {
            let s = try db.statement("UPDATE outbox SET state = ?1, status = ?2, code = ?3 WHERE id = ?4")
            defer { s.reset() }
            s.bind(1, state.rawValue)
            if let status { s.bind(2, status) } else { s.bindNull(2) }
            if let code { s.bind(3, Int(code)) } else { s.bindNull(3) }
            s.bind(4, id)
            try s.run()
            sent.remove(id)
            polls[id] = nil
        } catch {
            configuration.logger.error("outbox not updated; the entry is settled again next round", metadata: ["error": "\(error)"])
        }
    }

    /// Sends `request` to the balancer's pick, failing over until a node answers; nil when none does (each failure
    /// is logged and counted against its node by the balancer; the caller retries the whole round later).
    private func send(_ request: [String: any Sendable], key: [UInt8]?) async -> [String: Any]? {
        do {
            return try await failingOver(key: key, stopOnInvalidRequest: false) { (node) throws(ChainError) in
                try await node.request(request, timeout: configuration.requestTimeout)
            }
        } catch {
            return nil
        }
    }

    /// Runs `body` against the balancer's pick, then the next node not yet tried, until one answers: every attempt
    /// reported to the balancer (health, circuit breaking), each failure logged.
    /// - Throws: the last node's error; `.controlSocketFailed` (4201) when no node could be tried; with
    ///   `stopOnInvalidRequest`, an `.invalidControlRequest` (4200) at once (the request itself is wrong).
    private func failingOver<T>(key: [UInt8]?, stopOnInvalidRequest: Bool,
                                _ body: (NodeControlClient) async throws(ChainError) -> T) async throws(ChainError) -> T {
        var tried = Set<NodeID>()
        var last: ChainError?
        while let node = balancer.pick(key: key, excluding: tried, now: .now), let address = addresses[node] {
            tried.insert(node)
            balancer.started(node)
            do {
                let answer = try await body(NodeControlClient(host: address.host, port: address.port, tls: configuration.tls))
                balancer.finished(node, success: true, now: .now)
                return answer
            } catch {
                balancer.finished(node, success: false, now: .now)
                if stopOnInvalidRequest, error.code == .invalidControlRequest { throw error }
                configuration.logger.debug("node did not answer; trying another", metadata: ["node": "\(node.rawValue)", "error": "\(error.message)"])
                last = error
            }
        }
        throw last ?? ChainError(.controlSocketFailed, "no node is available: every node failed recently", details: ["endpoint": "all"])
    }

    /// Sends one request line to a node the balancer picks (by `key` when consistent hashing), failing over to the
    /// next until one answers, and returns its answer line: the way the layers above reach operations they added to
    /// the nodes' client endpoints (``NodeControlServer/Operation``; the records platform's signed queries).
    /// - Parameters:
    ///   - request: Required. A JSON object's bytes, one line (see ``NodeControlServer``).
    ///   - key: Optional, default nil. What consistent hashing keys on.
    /// - Returns: The answer of the first node that answered: a JSON object, `{"ok":false,"code":N,…}` for a refusal.
    /// - Throws: `ChainError` `.controlSocketFailed` (4201) when no node answered within ``Configuration/requestTimeout``
    ///   each; `.clientClosed` (4203) after ``close()``; `.invalidControlRequest` (4200) when `request` holds a newline.
    /// - Note: Example: `let answer = try await client.exchange(Data(#"{"op":"status"}"#.utf8))`.
    public func exchange(_ request: Data, key: [UInt8]? = nil) async throws(ChainError) -> Data {
        guard !closed else { throw ChainError(.clientClosed, "the client is closed") }
        return try await failingOver(key: key, stopOnInvalidRequest: true) { (node) throws(ChainError) in
            try await node.exchange(request, timeout: configuration.requestTimeout)
        }
    }

    /// Asks every available node for its load.
    private func refreshLoad() async {
        for node in balancer.nodes where balancer.isAvailable(node, now: .now) {
            guard let address = addresses[node],
                  let answer = try? await NodeControlClient(host: address.host, port: address.port, tls: configuration.tls)
                    .request(["op": "load"], timeout: configuration.requestTimeout),
                  let load = answer["load"] as? [String: Any] else { continue }
            balancer.report(LoadReport(cpuPercent: load["cpuPercent"] as? Double ?? 0, memoryBytes: UInt64(load["memoryBytes"] as? Int ?? 0),
                                       bandwidthBytesPerSecond: load["bandwidthBytesPerSecond"] as? Double ?? 0,
                                       openConnections: load["openConnections"] as? Int ?? 0, heightLag: UInt64(load["heightLag"] as? Int ?? 0),
                                       mempool: load["mempool"] as? Int ?? 0), for: node)
        }
    }
}
