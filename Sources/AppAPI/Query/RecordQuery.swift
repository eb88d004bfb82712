import Foundation
import LedgerCore

/// A records query (A-Q-1, A-Q-3): any combination of filters, a sort order
/// and cursor pagination. Every filter is optional; those given are ANDed.
///
/// | parameter | type | required | range / example | default |
/// |---|---|---|---|---|
/// | `from` | ``RecordTime`` | no | inclusive lower bound of the record's time, `2025-03-01T00:00:00Z` | none |
/// | `to` | ``RecordTime`` | no | exclusive upper bound, after `from` | none |
/// | `productUID` | String 1–128 | no | `P-2025-0201` | none |
/// | `batchNumber` | String 1–128 | no | `B-19` (a production record's raw-material batch, an inspection's batch) | none |
/// | `deviceID` | String 1–128 | no | `PRESS-04` | none |
/// | `factoryUID` | String 1–128 | no | `F-KM-02`; outside the caller's scope → 5409 | none (all permitted) |
/// | `location` | String 1–256 | no | exact match, `Kunming plant 2, line 3` | none |
/// | `operatorID` | String 1–128 | no | operator or inspector ID, `OP-7` | none |
/// | `kind` | ``RecordKind`` | no | not granted by the caller's roles → 5409 | none (all permitted) |
/// | `order` | ``Order`` | no | `.timeAscending`, `.timeDescending` | `.timeAscending` |
/// | `limit` | Int | no | 1...1,000 | 100 |
/// | `cursor` | String | no | `nextCursor` of the previous page of the same query | none (first page) |
/// | `includeProofs` | Bool | no | attach an ``UploadReceipt`` (inclusion proof + certificate) to each result | false |
///
/// ```swift
/// let page = try await platform.records.query(RecordQuery(batchNumber: "B-19", limit: 50), token: token)
/// ```
public struct RecordQuery: Hashable, Sendable, Codable {
    /// Result order: by record time, then record ID.
    public enum Order: String, Hashable, Sendable, Codable, CaseIterable {
        /// Oldest first (`asc`) or newest first (`desc`).
        case timeAscending = "asc", timeDescending = "desc"
    }

    /// Inclusive lower bound of the record time; nil for none.
    public var from: RecordTime?
    /// Exclusive upper bound of the record time; nil for none.
    public var to: RecordTime?
    /// Only this product (1–128 characters); nil for any.
    public var productUID: String?
    /// Only this batch (1–128 characters); nil for any.
    public var batchNumber: String?
    /// Only this device (1–128 characters); nil for any.
    public var deviceID: String?
    /// Only this factory (1–128 characters, within the caller's scope); nil for every permitted factory.
    public var factoryUID: String?
    /// Only this location, exact match (1–256 characters); nil for any.
    public var location: String?
    /// Only this operator or inspector ID (1–128 characters); nil for any.
    public var operatorID: String?
    /// Only this kind of record (granted by the caller's roles); nil for every permitted kind.
    public var kind: RecordKind?
    /// Result order; default ``Order/timeAscending``.
    public var order: Order
    /// Page size, 1...``maximumLimit``; default 100.
    public var limit: Int
    /// The previous page's ``RecordPage/nextCursor`` for the same query; nil for the first page.
    public var cursor: String?
    /// Attach an ``UploadReceipt`` to each result; default false.
    public var includeProofs: Bool

    /// The most rows one page returns.
    public static let maximumLimit = 1_000

    /// Every parameter is optional; see the table above for ranges and defaults. Check with ``validate()``.
    public init(from: RecordTime? = nil, to: RecordTime? = nil, productUID: String? = nil, batchNumber: String? = nil,
                deviceID: String? = nil, factoryUID: String? = nil, location: String? = nil, operatorID: String? = nil,
                kind: RecordKind? = nil, order: Order = .timeAscending, limit: Int = 100, cursor: String? = nil,
                includeProofs: Bool = false) {
        self.from = from
        self.to = to
        self.productUID = productUID
        self.batchNumber = batchNumber
        self.deviceID = deviceID
        self.factoryUID = factoryUID
        self.location = location
        self.operatorID = operatorID
        self.kind = kind
        self.order = order
        self.limit = limit
        self.cursor = cursor
        self.includeProofs = includeProofs
    }

    /// Checks ranges.
    /// - Throws: `AppError` `.invalidQuery` (5201) naming the field.
    public func validate() throws(AppError) {
        guard (1...Self.maximumLimit).contains(limit) else {
            throw AppError(.invalidQuery, "limit \(limit) is outside 1...\(Self.maximumLimit)", details: ["field": "limit"])
        }
        if let from, let to, to <= from {
            throw AppError(.invalidQuery, "time range is empty: to (\(to)) is not after from (\(from))", details: ["field": "to"])
        }
        for (name, value) in [("productUID", productUID), ("batchNumber", batchNumber), ("deviceID", deviceID), ("factoryUID", factoryUID),
                              ("location", location), ("operatorID", operatorID)] {
            if let value, value.isEmpty || value.count > 256 {
                throw AppError(.invalidQuery, "filter '\(name)' must be 1-256 characters", details: ["field": name])
            }
        }
    }

    /// A fingerprint of the filters and order (not the limit or cursor): a cursor only continues the query it came from.
    var fingerprint: String {
        let parts = [from.map { String($0.millisecondsSince1970) }, to.map { String($0.millisecondsSince1970) }, productUID, batchNumber,
                     deviceID, factoryUID, location, operatorID, kind?.rawValue, order.rawValue].map { $0 ?? "\u{1}" }
        return String(HashAlgorithm.sha256.hash(Array(parts.joined(separator: "\u{0}").utf8)).hex.prefix(16))
    }
}

/// One record as the index holds it: a version with where it was committed.
public struct StoredRecord: Hashable, Sendable, Codable {
    /// ``ManufacturingRecord/recordID``.
    public var recordID: String
    /// 1 for the uploaded record, +1 per update.
    public var version: UInt64
    /// The record's kind.
    public var kind: RecordKind
    /// The record.
    public var record: ManufacturingRecord
    /// Its canonical digest (hex in JSON/XML).
    public var digest: Digest
    /// The administrator who uploaded or updated it.
    public var uploader: String
    /// The block height and transaction of this version.
    public var height: UInt64
    /// The transaction that wrote this version.
    public var transactionID: Digest
    /// The fields this version changed (empty for version 1).
    public var changedFields: [String]
    /// The update's condition in text form (empty for none).
    public var condition: String
    /// The block's timestamp (commit time).
    public var committedAt: RecordTime
    /// The proof of inclusion, when the query asked for it.
    public var proof: UploadReceipt?

    enum CodingKeys: String, CodingKey {
        case recordID = "record_id", version, kind, record, digest, uploader, height = "block_height", transactionID = "transaction_id"
        case changedFields = "changed_fields", condition, committedAt = "committed_at", proof
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        recordID = try c.decode(String.self, forKey: .recordID)
        version = try c.decode(UInt64.self, forKey: .version)
        kind = try c.decode(RecordKind.self, forKey: .kind)
        record = try c.decode(ManufacturingRecord.self, forKey: .record)
        digest = try Digest(hex: try c.decode(String.self, forKey: .digest))
        uploader = try c.decode(String.self, forKey: .uploader)
        height = try c.decode(UInt64.self, forKey: .height)
        transactionID = try Digest(hex: try c.decode(String.self, forKey: .transactionID))
        changedFields = try c.decodeIfPresent([String].self, forKey: .changedFields) ?? []
        condition = try c.decodeIfPresent(String.self, forKey: .condition) ?? ""
        committedAt = try c.decode(RecordTime.self, forKey: .committedAt)
        proof = try c.decodeIfPresent(UploadReceipt.self, forKey: .proof)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recordID, forKey: .recordID)
        try c.encode(version, forKey: .version)
        try c.encode(kind, forKey: .kind)
        try c.encode(record, forKey: .record)
        try c.encode(digest.hex, forKey: .digest)
        try c.encode(uploader, forKey: .uploader)
        try c.encode(height, forKey: .height)
        try c.encode(transactionID.hex, forKey: .transactionID)
        try c.encode(changedFields, forKey: .changedFields)
        try c.encode(condition, forKey: .condition)
        try c.encode(committedAt, forKey: .committedAt)
        try c.encodeIfPresent(proof, forKey: .proof)
    }

    init(recordID: String, version: UInt64, record: ManufacturingRecord, digest: Digest, uploader: String, height: UInt64,
         transactionID: Digest, changedFields: [String], condition: String, committedAt: RecordTime) {
        self.recordID = recordID
        self.version = version
        kind = record.kind
        self.record = record
        self.digest = digest
        self.uploader = uploader
        self.height = height
        self.transactionID = transactionID
        self.changedFields = changedFields
        self.condition = condition
        self.committedAt = committedAt
    }
}

/// One page of query results, and how fresh the index that answered it was.
///
/// The index is derived from committed blocks. ``RecordService/query(_:token:)`` brings it up to the ledger's head
/// before answering; when it cannot (the index file is locked, read-only or damaged), it answers from the index as
/// it is and says so: ``behind`` is then above 0 and ``indexError`` holds the catch-up failure. Records committed in
/// the blocks it is behind by are missing from the page, and records they changed appear at their older version.
///
/// ```swift
/// let page = try await platform.records.query(query, token: token)
/// if page.behind > 0 { log("index \(page.behind) blocks behind: \(page.indexError?.description ?? "catching up")") }
/// ```
///
/// In JSON and XML: `records`, `next_cursor`, `indexed_height`, `head_height`, `behind` (written for readers, ignored
/// when decoding), and `index_error` (`{code, message, details}`, absent when nil).
public struct RecordPage: Hashable, Sendable, Codable {
    /// The records, current versions, in the query's order.
    public var records: [StoredRecord]
    /// Pass as ``RecordQuery/cursor`` for the next page; nil on the last page.
    public var nextCursor: String?
    /// The height of the last block the index had indexed when the page was read: the page reflects every
    /// committed block up to it. Default 0.
    public var indexedHeight: UInt64
    /// The ledger's committed head when the query was answered (``RecordService/query(_:token:)``: when it
    /// started, before the index caught up). Default 0.
    public var headHeight: UInt64
    /// Why the index is behind: the failure of its catch-up (`.indexFailure`, 5204, with the storage code in
    /// `details["cause"]`); nil when the page is up to date, or when the index is only behind by blocks committed
    /// while the query ran.
    public var indexError: AppError?

    /// Committed blocks the page does not reflect: ``headHeight`` − ``indexedHeight``, 0 when up to date.
    public var behind: UInt64 { headHeight > indexedHeight ? headHeight - indexedHeight : 0 }

    /// - Parameters:
    ///   - records: Required. The page's records, in the query's order.
    ///   - nextCursor: Optional, default nil (the last page).
    ///   - indexedHeight: Optional, default 0. See ``indexedHeight``.
    ///   - headHeight: Optional, default 0. See ``headHeight``.
    ///   - indexError: Optional, default nil. See ``indexError``.
    public init(records: [StoredRecord], nextCursor: String? = nil, indexedHeight: UInt64 = 0, headHeight: UInt64 = 0,
                indexError: AppError? = nil) {
        self.records = records
        self.nextCursor = nextCursor
        self.indexedHeight = indexedHeight
        self.headHeight = headHeight
        self.indexError = indexError
    }

    enum CodingKeys: String, CodingKey {
        case records, nextCursor = "next_cursor", indexedHeight = "indexed_height", headHeight = "head_height", behind
        case indexError = "index_error"
    }

    /// ``indexError`` as it is written: the envelope's error fields.
    private struct CodedFailure: Codable {
        var code: UInt32
        var message: String
        var details: [String: String]
    }

    /// Decodes a page; the freshness fields are optional (pages written before they existed decode with 0 and nil).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        records = try c.decode([StoredRecord].self, forKey: .records)
        nextCursor = try c.decodeIfPresent(String.self, forKey: .nextCursor)
        indexedHeight = try c.decodeIfPresent(UInt64.self, forKey: .indexedHeight) ?? 0
        headHeight = try c.decodeIfPresent(UInt64.self, forKey: .headHeight) ?? 0
        indexError = try c.decodeIfPresent(CodedFailure.self, forKey: .indexError)
            .map { AppError(AppError.Code(rawValue: $0.code), $0.message, details: $0.details) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(records, forKey: .records)
        try c.encodeIfPresent(nextCursor, forKey: .nextCursor)
        try c.encode(indexedHeight, forKey: .indexedHeight)
        try c.encode(headHeight, forKey: .headHeight)
        try c.encode(behind, forKey: .behind)
        try c.encodeIfPresent(indexError.map { CodedFailure(code: $0.numericCode, message: $0.message, details: $0.details) }, forKey: .indexError)
    }
}

/// A committed change of a record (A-U-4): version 1 (`before` nil) or an update.
public struct RecordChange: Hashable, Sendable, Codable {
    /// The record's ID.
    public var recordID: String
    /// The record's kind.
    public var kind: RecordKind
    /// The factory the record belongs to.
    public var factoryUID: String
    /// The version replaced; nil for a new record.
    public var before: StoredRecord?
    /// The committed version.
    public var after: StoredRecord

    enum CodingKeys: String, CodingKey { case recordID = "record_id", kind, factoryUID = "factory_uid", before, after }
}
