import LedgerCore

/// The condition an update must meet on chain (A-U-1).
public enum UpdateCondition: Hashable, Sendable {
    /// No condition beyond "the record exists and is at the version the update read".
    case none
    /// The record's current version must equal this (optimistic concurrency). Range 1...
    case expectedVersion(UInt64)
    /// The current value of a field (dotted wire name, `pro_raw_material.pro_Report_qualify_eval`) must equal `equals`.
    case field(String, equals: String)

    func write(_ w: inout RLPWriter) {
        w.list { w in
            switch self {
            case .none: break
            case .expectedVersion(let v):
                w.string("version")
                w.uint(v)
            case .field(let name, let value):
                w.string("field")
                w.string(name)
                w.string(value)
            }
        }
    }

    init(reading r: inout RLPReader) throws(LedgerError) {
        var parts = try r.list("condition")
        let count = try parts.count()
        guard count > 0 else { self = .none; return }
        switch try parts.string("condition.kind") {
        case "version" where count == 2: self = .expectedVersion(try parts.uint64("condition.version"))
        case "field" where count == 3: self = .field(try parts.string("condition.field"), equals: try parts.string("condition.value"))
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
///
/// **Transaction body**: `[2, deadline, [op…]]`, where `deadline` is a time in
/// milliseconds since 1970 (UTC): the operations take effect only in a block
/// stamped at or before it (A-U-3: an upload or update whose confirmation timed
/// out can never commit later). Bodies written before deadlines existed,
/// `[1, [op…]]`, are still read and have no deadline.
public struct RecordOperation: Hashable, Sendable {
    /// Whether the operation creates a record or adds a version.
    public enum Kind: String, Hashable, Sendable, Codable {
        /// A new record, version 1.
        case create
        /// A new version of an existing record.
        case update
    }

    /// Create or update.
    public var kind: Kind
    /// The record's ID.
    public var recordID: String
    /// The version written: 1 for a create, the current version + 1 for an update.
    public var version: UInt64
    /// The record's canonical encoding (``ManufacturingRecord/canonicalEncoding``).
    public var recordBytes: [UInt8]
    /// The digest of ``recordBytes`` under the chain's hash algorithm.
    public var digest: Digest
    /// The administrator who uploaded it.
    public var uploader: String
    /// An update's condition, checked at execution; `.none` for a create.
    public var condition: UpdateCondition
    /// The dotted wire names an update changed; empty for a create.
    public var changedFields: [String]
    /// An update's previous record bytes; empty for a create.
    public var previousBytes: [UInt8]

    /// Parameters as the properties of the same names. ``RecordService`` builds operations; tests and tools may too.
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

    /// The canonical encoding of this operation: one element of a body's operation list.
    public var encoded: [UInt8] {
        var w = RLPWriter(capacity: recordBytes.count + previousBytes.count + recordID.utf8.count + uploader.utf8.count + 64)
        w.list { w in
            w.string(kind.rawValue)
            w.string(recordID)
            w.uint(version)
            w.byteString(recordBytes)
            w.digest(digest)
            w.string(uploader)
            condition.write(&w)
            w.list { w in for f in changedFields { w.string(f) } }
            w.byteString(previousBytes)
        }
        return w.bytes
    }

    init(reading r: inout RLPReader) throws(LedgerError) {
        var f = try r.list("op", count: 9)
        guard let kind = Kind(rawValue: try f.string("op.kind")) else {
            throw LedgerError(.malformedPayload, "records op kind is not create or update", details: ["field": "op.kind"])
        }
        self.kind = kind
        recordID = try f.string("op.recordID")
        version = try f.uint64("op.version")
        recordBytes = try f.bytes("op.record")
        digest = try f.digest("op.digest")
        uploader = try f.string("op.uploader")
        condition = try UpdateCondition(reading: &f)
        var fields = try f.list("op.changedFields")
        var changed = [String]()
        while !fields.isAtEnd { changed.append(try fields.string("op.changedFields")) }
        changedFields = changed
        previousBytes = try f.bytes("op.previous")
    }

    /// The body of a records transaction holding `operations` in order, without a deadline: `[1, [op…]]`.
    /// - Note: For tools and tests; ``RecordService`` always sends a deadline (``body(_:deadline:)``).
    public static func body(_ operations: [RecordOperation]) -> [UInt8] {
        var w = RLPWriter(capacity: operations.reduce(16) { $0 + $1.recordBytes.count + 128 })
        w.list { w in
            w.uint(1)
            w.list { w in for op in operations { w.raw(op.encoded) } }
        }
        return w.bytes
    }

    /// The body of a records transaction holding `operations` in order that must commit in a block stamped
    /// at or before `deadline`: `[2, deadline, [op…]]`.
    public static func body(_ operations: [RecordOperation], deadline: Timestamp) -> [UInt8] {
        body(encodedOperations: operations.map(\.encoded), deadline: deadline)
    }

    /// ``body(_:deadline:)`` from operations already encoded (``encoded``), as the packer has them.
    static func body(encodedOperations: [[UInt8]], deadline: Timestamp) -> [UInt8] {
        var w = RLPWriter(capacity: encodedOperations.reduce(32) { $0 + $1.count })
        w.list { w in
            w.uint(2)
            w.uint(deadline.rawValue)
            w.list { w in for op in encodedOperations { w.raw(op) } }
        }
        return w.bytes
    }

    /// The operations of a records transaction body (either format).
    /// - Throws: `LedgerError` `.malformedPayload` (1901) or an RLP code (10xx), naming the field.
    public static func operations(inBody body: [UInt8]) throws(LedgerError) -> [RecordOperation] {
        try decodeBody(body).operations
    }

    /// The deadline (nil in a format-1 body) and operations of a records transaction body.
    /// - Throws: `LedgerError` `.malformedPayload` (1901) or an RLP code (10xx), naming the field.
    public static func decodeBody(_ body: [UInt8]) throws(LedgerError) -> (deadline: Timestamp?, operations: [RecordOperation]) {
        try decodeBody(body, eachEncoding: { _ in })
    }

    /// ``decodeBody(_:)`` that also hands `eachEncoding` the exact bytes of each operation in the body, in order
    /// (borrowed for the call): the leaves of the operations commitment (``OperationsCommitment``).
    static func decodeBody(_ body: [UInt8], eachEncoding: (UnsafeBufferPointer<UInt8>) -> Void)
        throws(LedgerError) -> (deadline: Timestamp?, operations: [RecordOperation]) {
        try RLPReader.read(body) { (r) throws(LedgerError) in
            var top = try r.list("records")
            let count = try top.count()
            let v = try top.uint64("records.version")
            var deadline: Timestamp?
            switch (v, count) {
            case (1, 2): break
            case (2, 3): deadline = Timestamp(millisecondsSince1970: try top.uint64("records.deadline"))
            default:
                throw LedgerError(.malformedPayload, "records body version \(v) with \(count) elements; expected [1, ops] or [2, deadline, ops]",
                                  details: ["field": "records.version"])
            }
            var list = try top.list("records.ops")
            var ops = [RecordOperation]()
            while !list.isAtEnd {
                ops.append(try list.capturing({ (r) throws(LedgerError) in try RecordOperation(reading: &r) }, consumed: eachEncoding))
            }
            return (deadline, ops)
        }
    }
}

/// What the state holds per record, under key `rec/<recordID>`: RLP `[version, digest, kind, factory]`.
public struct RecordStateEntry: Hashable, Sendable {
    /// The record's current version.
    public var version: UInt64
    /// The digest of the current version.
    public var digest: Digest
    /// The record's kind.
    public var kind: RecordKind
    /// The factory the record belongs to.
    public var factoryUID: String

    /// The world-state key of a record, `rec/<recordID>`: ask the store for a state proof of it.
    public static func key(_ recordID: String) -> [UInt8] { Array("rec/".utf8) + Array(recordID.utf8) }

    var encoded: [UInt8] {
        var w = RLPWriter(capacity: 48 + factoryUID.utf8.count)
        w.list { w in
            w.uint(version)
            w.digest(digest)
            w.string(kind.rawValue)
            w.string(factoryUID)
        }
        return w.bytes
    }

    init(version: UInt64, digest: Digest, kind: RecordKind, factoryUID: String) {
        self.version = version
        self.digest = digest
        self.kind = kind
        self.factoryUID = factoryUID
    }

    init(decoding bytes: [UInt8]) throws(LedgerError) {
        (version, digest, kind, factoryUID) = try RLPReader.read(bytes) { (r) throws(LedgerError) in
            var f = try r.list("recordState", count: 4)
            let version = try f.uint64("version")
            let digest = try f.digest("digest")
            guard let k = RecordKind(rawValue: try f.string("kind")) else {
                throw LedgerError(.malformedPayload, "record state kind unknown", details: ["field": "kind"])
            }
            return (version, digest, k, try f.string("factory"))
        }
    }
}
