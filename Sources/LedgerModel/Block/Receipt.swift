import LedgerCrypto

/// One event a transaction emitted: the emitter (a contract address or an
/// executor name), indexed topics, and unindexed data.
public struct ReceiptLog: Hashable, Sendable {
    /// Who emitted the log: a contract address or an executor's name; 0–64 bytes.
    public var emitter: [UInt8]
    /// Indexed topics, at most ``Receipt/maximumTopics``.
    public var topics: [Digest]
    /// Unindexed data.
    public var data: [UInt8]

    /// - Parameters:
    ///   - emitter: Required. Who emitted the log (an executor or contract address).
    ///   - topics: Optional, default empty. Indexed topics.
    ///   - data: Optional, default empty.
    public init(emitter: [UInt8], topics: [Digest] = [], data: [UInt8] = []) {
        self.emitter = emitter
        self.topics = topics
        self.data = data
    }

    var item: RLP.Item { .list([.bytes(emitter), .list(topics.map { .digest($0) }), .bytes(data)]) }

    init(item: RLP.Item) throws(LedgerError) {
        let f = try item.list("log", count: 3)
        emitter = try f[0].bytes("log.emitter")
        let t = try f[1].list("log.topics")
        guard t.count <= Receipt.maximumTopics else {
            throw LedgerError(.invalidFieldValue, "field 'log.topics': \(t.count) topics, at most \(Receipt.maximumTopics)",
                              details: ["field": "log.topics"])
        }
        var topics = [Digest]()
        for x in t { topics.append(try x.digest("log.topics")) }
        self.topics = topics
        data = try f[2].bytes("log.data")
    }
}

/// The outcome of executing one transaction: its ID, a status code, the
/// executor's output, the logs it emitted and the cost units it used.
///
/// Canonical encoding: RLP `[version, transactionID, status, output, [logs], costUnits]`,
/// each log `[emitter, [topics], data]`. The receipt root of a block is the
/// RFC 6962 root over the receipts' digests (each 32-byte digest is one
/// leaf's data), like the transaction root.
///
/// ```swift
/// let r = Receipt(transactionID: tx.id(using: .sha256), status: 0, output: [], logs: [], costUnits: 21_000)
/// ```
public struct Receipt: Hashable, Sendable {
    /// The encoding version written by this build.
    public static let encodingVersion: UInt64 = 1
    /// The most topics a log may carry.
    public static let maximumTopics = 4
    /// Status 0 means success; any other value is an executor-defined failure.
    public static let success: UInt64 = 0

    /// The ID of the transaction this receipt is for.
    public var transactionID: Digest
    /// 0 for success, otherwise an executor-defined failure code.
    public var status: UInt64
    /// The executor's return data.
    public var output: [UInt8]
    /// Events emitted, in order.
    public var logs: [ReceiptLog]
    /// Gas or cost units consumed.
    public var costUnits: UInt64

    /// Parameters as the properties of the same names; `status` defaults to ``success``.
    public init(transactionID: Digest, status: UInt64 = Receipt.success, output: [UInt8] = [],
                logs: [ReceiptLog] = [], costUnits: UInt64 = 0) {
        self.transactionID = transactionID
        self.status = status
        self.output = output
        self.logs = logs
        self.costUnits = costUnits
    }

    /// The canonical encoding.
    public var encoded: [UInt8] {
        RLP.encode(.list([.uint(Self.encodingVersion), .digest(transactionID), .uint(status), .bytes(output),
                          .list(logs.map(\.item)), .uint(costUnits)]))
    }

    /// The receipt's digest: the hash of ``encoded``; the leaf data of the receipt root.
    public func digest(using algorithm: HashAlgorithm) -> Digest { algorithm.hash(encoded) }

    /// Decodes a canonical receipt encoding.
    /// - Parameter bytes: Required. The output of ``encoded``.
    /// - Throws: `LedgerError`: encoding errors (10xx), `.unsupportedVersion`
    ///   (1012), `.invalidFieldValue` (1014) for more than four topics. Never traps.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("receipt", count: 6)
        let version = try f[0].uint64("receipt.version")
        guard version == Self.encodingVersion else {
            throw LedgerError(.unsupportedVersion, "receipt version \(version), expected \(Self.encodingVersion)",
                              details: ["field": "receipt.version"])
        }
        transactionID = try f[1].digest("receipt.transactionID")
        status = try f[2].uint64("receipt.status")
        output = try f[3].bytes("receipt.output")
        var logs = [ReceiptLog]()
        for item in try f[4].list("receipt.logs") { logs.append(try ReceiptLog(item: item)) }
        self.logs = logs
        costUnits = try f[5].uint64("receipt.costUnits")
    }

    /// The RFC 6962 receipt root over the receipts' digests, in order.
    /// - Parameters:
    ///   - receipts: Required. One per transaction, in block order; may be empty.
    ///   - algorithm: Required. The chain's hash algorithm.
    /// - Note: Pure; safe to call concurrently. Example: `Receipt.root(of: receipts, using: .sha256)`.
    public static func root(of receipts: [Receipt], using algorithm: HashAlgorithm) -> Digest {
        root(digests: receipts.map { $0.digest(using: algorithm) }, using: algorithm)
    }

    /// The RFC 6962 receipt root over precomputed receipt digests.
    public static func root(digests: [Digest], using algorithm: HashAlgorithm) -> Digest {
        Block.transactionRoot(ids: digests, using: algorithm)
    }
}
