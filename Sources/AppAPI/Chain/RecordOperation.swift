import LedgerCore

/// The condition an update must meet on chain (A-U-1).
public enum UpdateCondition: Hashable, Sendable {
    /// No condition beyond "the record exists and is at the version the update read".
    case none
    /// The record's current version must equal this (optimistic concurrency). Range 1...
    case expectedVersion(UInt64)
    /// The current value of a field (dotted wire name, `pro_raw_material.pro_Report_qualify_eval`) must equal `equals`.
    case field(String, equals: String)

    var item: RLP.Item {
        switch self {
        case .none: .list([])
        case .expectedVersion(let v): .list([.string("version"), .uint(v)])
        case .field(let name, let value): .list([.string("field"), .string(name), .string(value)])
        }
    }

    init(item: RLP.Item) throws(LedgerError) {
        let parts = try item.list("condition")
        guard let first = parts.first else { self = .none; return }
        switch try first.string("condition.kind") {
        case "version" where parts.count == 2: self = .expectedVersion(try parts[1].uint64("condition.version"))
        case "field" where parts.count == 3: self = .field(try parts[1].string("condition.field"), equals: try parts[2].string("condition.value"))
        default: throw LedgerError(.malformedPayload, "records condition: unknown form", details: ["field": "condition"])
        }
    }

    /// A short text form for logs, history and the CLI.
    public var text: String {
        switch self {
        case .none: ""
        case .expectedVersion(let v): "version=\(v)"
        case .field(let n, let v): "\(n)=\(v)"
        }
    }
}

/// One create or update of a record inside a records transaction.
///
/// **Wire form** (canonical RLP), one element of the transaction body's list:
/// `[op, recordID, version, recordBytes, digest, uploader, condition, changedFields, previousBytes]`
/// - `op`: `"create"` or `"update"`;
/// - `recordID`: ``ManufacturingRecord/recordID``, 1–300 bytes;
/// - `version`: 1 for a create, current + 1 for an update;
/// - `recordBytes`: ``ManufacturingRecord/canonicalEncoding``; `digest` its hash under the chain's algorithm;
/// - `uploader`: the administrator's user name (never the token);
/// - `condition`: `[]`, `["version", n]` or `["field", name, value]`;
/// - `changedFields`: the dotted names an update changes (empty for a create);
/// - `previousBytes`: for a field predicate, the current version's canonical bytes (its digest must match state); else empty.
public struct RecordOperation: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, Codable { case create, update }

    public var kind: Kind
    public var recordID: String
    public var version: UInt64
    public var recordBytes: [UInt8]
    public var digest: Digest
    public var uploader: String
    public var condition: UpdateCondition
    public var changedFields: [String]
    public var previousBytes: [UInt8]

    public init(kind: Kind, recordID: String, version: UInt64, recordBytes: [UInt8], digest: Digest, uploader: String,
                condition: UpdateCondition = .none, changedFields: [String] = [], previousBytes: [UInt8] = []) {
        self.kind = kind
        self.recordID = recordID
        self.version = version
        self.recordBytes = recordBytes
        self.digest = digest
        self.uploader = uploader
        self.condition = condition
        self.changedFields = changedFields
        self.previousBytes = previousBytes
    }

    var item: RLP.Item {
        .list([.string(kind.rawValue), .string(recordID), .uint(version), .bytes(recordBytes), .digest(digest), .string(uploader),
               condition.item, .list(changedFields.map { .string($0) }), .bytes(previousBytes)])
    }

    init(item: RLP.Item) throws(LedgerError) {
        let f = try item.list("op", count: 9)
        guard let kind = Kind(rawValue: try f[0].string("op.kind")) else {
            throw LedgerError(.malformedPayload, "records op kind is not create or update", details: ["field": "op.kind"])
        }
        self.kind = kind
        recordID = try f[1].string("op.recordID")
        version = try f[2].uint64("op.version")
        recordBytes = try f[3].bytes("op.record")
        digest = try f[4].digest("op.digest")
        uploader = try f[5].string("op.uploader")
        condition = try UpdateCondition(item: f[6])
        changedFields = try f[7].list("op.changedFields").map { (i) throws(LedgerError) in try i.string("op.changedFields") }
        previousBytes = try f[8].bytes("op.previous")
    }

    /// The body of a records transaction holding `operations` in order: `[1, [op…]]`.
    public static func body(_ operations: [RecordOperation]) -> [UInt8] {
        RLP.encode(.list([.uint(1), .list(operations.map(\.item))]))
    }

    /// The operations of a records transaction body.
    /// - Throws: `LedgerError` `.malformedPayload` (1901) naming the field.
    public static func operations(inBody body: [UInt8]) throws(LedgerError) -> [RecordOperation] {
        let top = try RLP.decode(body).list("records", count: 2)
        let v = try top[0].uint64("records.version")
        guard v == 1 else { throw LedgerError(.malformedPayload, "records body version \(v), expected 1", details: ["field": "records.version"]) }
        return try top[1].list("records.ops").map { (i) throws(LedgerError) in try RecordOperation(item: i) }
    }

    /// Bytes this operation adds to a transaction body (for packing batches).
    var encodedSize: Int { RLP.encodedLength(item) }
}

/// What the state holds per record, under key `rec/<recordID>`: RLP `[version, digest, kind, factory]`.
public struct RecordStateEntry: Hashable, Sendable {
    public var version: UInt64
    public var digest: Digest
    public var kind: RecordKind
    public var factoryUID: String

    public static func key(_ recordID: String) -> [UInt8] { Array("rec/".utf8) + Array(recordID.utf8) }

    var encoded: [UInt8] { RLP.encode(.list([.uint(version), .digest(digest), .string(kind.rawValue), .string(factoryUID)])) }

    init(version: UInt64, digest: Digest, kind: RecordKind, factoryUID: String) {
        self.version = version
        self.digest = digest
        self.kind = kind
        self.factoryUID = factoryUID
    }

    init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("recordState", count: 4)
        version = try f[0].uint64("version")
        digest = try f[1].digest("digest")
        guard let k = RecordKind(rawValue: try f[2].string("kind")) else {
            throw LedgerError(.malformedPayload, "record state kind unknown", details: ["field": "kind"])
        }
        kind = k
        factoryUID = try f[3].string("factory")
    }
}
