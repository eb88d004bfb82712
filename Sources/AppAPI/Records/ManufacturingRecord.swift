import LedgerCore

/// The kinds of record the chain holds (A-UP-1).
public enum RecordKind: String, Hashable, Sendable, Codable, CaseIterable {
    /// A production-process record (``ProductionRecord``).
    case production
    /// An equipment record (``EquipmentRecord``).
    case equipment
    /// A quality-inspection record (``QualityInspectionRecord``).
    case qualityInspection = "quality_inspection"

    /// Parses `production`, `equipment`, `quality_inspection` (also `quality`).
    /// - Throws: `AppError` `.unknownRecordKind` (5009).
    public init(name: String) throws(AppError) {
        switch name.lowercased() {
        case "production": self = .production
        case "equipment": self = .equipment
        case "quality_inspection", "quality-inspection", "quality", "inspection": self = .qualityInspection
        default:
            throw AppError(.unknownRecordKind, "unknown record kind '\(name)'; expected production, equipment or quality_inspection",
                           details: ["field": "record_kind"])
        }
    }
}

/// One manufacturing record of any kind, with its canonical encoding and
/// digest (A-UP-3: the digest is what goes on chain and what a caller can
/// check against).
public enum ManufacturingRecord: Hashable, Sendable {
    /// A production-process record.
    case production(ProductionRecord)
    /// An equipment record.
    case equipment(EquipmentRecord)
    /// A quality-inspection record.
    case qualityInspection(QualityInspectionRecord)

    /// The encoding version of ``canonicalEncoding``.
    public static let encodingVersion: UInt64 = 1

    /// Which of the three kinds this is.
    public var kind: RecordKind {
        switch self {
        case .production: .production
        case .equipment: .equipment
        case .qualityInspection: .qualityInspection
        }
    }

    /// Reads and validates a record of `kind` from its untyped form.
    /// - Parameters:
    ///   - node: Required. An object node (from JSON, XML or CSV).
    ///   - kind: Required. The kind to read.
    ///   - ignoring: Optional. Field names to skip (for example `token`, `record_kind`).
    /// - Throws: `AppError` 5001–5004 naming the field and line.
    public init(reading node: FieldNode, as kind: RecordKind, ignoring: [String] = []) throws(AppError) {
        var r = try FieldReader(node, path: "")
        switch kind {
        case .production: self = .production(try ProductionRecord(reading: &r))
        case .equipment: self = .equipment(try EquipmentRecord(reading: &r))
        case .qualityInspection: self = .qualityInspection(try QualityInspectionRecord(reading: &r))
        }
        try r.rejectUnknown(allowing: ignoring)
    }

    /// The canonical encoding: RLP `[version, kind, fields…]`, fields in a
    /// fixed order, maps sorted by key. Two equal records have equal bytes.
    /// - Note: Written directly with `RLPWriter`; equal to `canonicalItem` encoded with `RLP.encode` (tested).
    public var canonicalEncoding: [UInt8] {
        var w = RLPWriter(capacity: 384)
        w.list { w in
            w.uint(Self.encodingVersion)
            w.string(kind.rawValue)
            switch self {
            case .production(let r): r.writeCanonicalFields(&w)
            case .equipment(let r): r.writeCanonicalFields(&w)
            case .qualityInspection(let r): r.writeCanonicalFields(&w)
            }
        }
        return w.bytes
    }

    /// The canonical form as an RLP item tree (the reference ``canonicalEncoding`` is checked against).
    var canonicalItem: RLP.Item {
        let fields: [RLP.Item]
        switch self {
        case .production(let r): fields = r.canonicalFields
        case .equipment(let r): fields = r.canonicalFields
        case .qualityInspection(let r): fields = r.canonicalFields
        }
        return .list([.uint(Self.encodingVersion), .string(kind.rawValue)] + fields)
    }

    /// The record's digest under the chain's hash algorithm (SHA-256 by default, D-11).
    public func digest(using algorithm: HashAlgorithm = .default) -> Digest {
        algorithm.hash(canonicalEncoding)
    }

    /// The factory the record belongs to (for permission scopes).
    public var factoryUID: String {
        switch self {
        case .production(let r): r.factoryUID
        case .equipment(let r): r.factoryUID
        case .qualityInspection(let r): r.factoryUID
        }
    }

    static func canonical(_ map: [String: String]) -> RLP.Item {
        .list(map.keys.sorted().map { .list([.string($0), .string(map[$0]!)]) })
    }

    static func writeCanonical(_ map: [String: String], _ w: inout RLPWriter) {
        w.list { w in
            for (k, v) in map.sorted(by: { $0.key < $1.key }) {
                w.list { w in
                    w.string(k)
                    w.string(v)
                }
            }
        }
    }
}
