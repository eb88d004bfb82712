import Foundation
import LedgerCore

extension ManufacturingRecord {
    /// Decodes a record from its ``canonicalEncoding`` (what a block holds).
    /// - Parameter bytes: Required. RLP `[version, kind, fields…]`, strictly canonical.
    /// - Throws: `AppError` `.malformedRecordEncoding` (5013) naming the field.
    /// - Note: Pure; safe to call concurrently. Reads the fields straight from the bytes (`RLPReader`).
    public init(canonicalEncoding bytes: [UInt8]) throws(AppError) {
        do {
            self = try RLPReader.read(bytes) { (r) throws(LedgerError) -> ManufacturingRecord in
                var top = try r.list("record")
                let count = try top.count()
                guard count >= 2 else { throw Self.bad("record", "\(count) items, expected at least 2") }
                let version = try top.uint64("version")
                guard version == Self.encodingVersion else { throw Self.bad("version", "\(version), expected \(Self.encodingVersion)") }
                guard let kind = RecordKind(rawValue: try top.string("kind")) else { throw Self.bad("kind", "unknown") }
                return try Self.decodeFields(kind: kind, count: count - 2, &top)
            }
        } catch {
            let field = error.details["field"] ?? "record"
            throw AppError(.malformedRecordEncoding, "canonical record field '\(field)': \(error.message)", details: ["field": field])
        }
    }

    private static func bad(_ field: String, _ why: String) -> LedgerError {
        LedgerError(.invalidFieldValue, why, details: ["field": field])
    }

    private static func decodeFields(kind: RecordKind, count: Int, _ f: inout RLPReader) throws(LedgerError) -> ManufacturingRecord {
        func opt(_ s: String) -> String? { s.isEmpty ? nil : s }
        func map(_ field: String) throws(LedgerError) -> [String: String] {
            var list = try f.list(field)
            var m = [String: String]()
            while !list.isAtEnd {
                var kv = try list.list(field, count: 2)
                m[try kv.string(field)] = try kv.string(field)
            }
            return m
        }
        switch kind {
        case .production:
            guard count == 9 else { throw bad("production", "\(count) fields, expected 9") }
            let time = RecordTime(millisecondsSince1970: try f.uint64("production_time"))
            let location = try f.string("production_location"), product = try f.string("product_uid")
            var m = try f.list("pro_raw_material", count: 3)
            let material = ProductionRecord.RawMaterial(supplier: try m.string("pro_supplier"), batchNumber: try m.string("pro_batch_number"),
                                                        qualityReport: try m.string("pro_Report_qualify_eval"))
            var p = try f.list("propara", count: 3)
            let parameters = ProductionRecord.ProcessParameters(temperature: try p.string("pro_temperature"), humidity: try p.string("pro_humidity"),
                                                                pressure: try p.string("pro_pressure"))
            var o = try f.list("pro_op_info", count: 3)
            let op = ProductionRecord.OperatorInfo(name: try o.string("pro_op_name"), id: try o.string("pro_op_id"), record: try o.string("pro_op_record"))
            let factory = try f.string("pro_factory_uid"), device = opt(try f.string("device_id"))
            return .production(ProductionRecord(productionTime: time, productionLocation: location, productUID: product, rawMaterial: material,
                                                processParameters: parameters, operatorInfo: op, factoryUID: factory, deviceID: device,
                                                extensions: try map("extensions")))
        case .equipment:
            guard count == 7 else { throw bad("equipment", "\(count) fields, expected 7") }
            let device = try f.string("device_id")
            let time = RecordTime(millisecondsSince1970: try f.uint64("recorded_time"))
            guard let status = EquipmentRecord.Status(rawValue: try f.string("status")) else { throw bad("status", "unknown") }
            let readings = try map("readings")
            let factory = try f.string("factory_uid"), location = opt(try f.string("location"))
            return .equipment(EquipmentRecord(deviceID: device, recordedTime: time, status: status, readings: readings, factoryUID: factory,
                                              location: location, extensions: try map("extensions")))
        case .qualityInspection:
            guard count == 9 else { throw bad("quality_inspection", "\(count) fields, expected 9") }
            let time = RecordTime(millisecondsSince1970: try f.uint64("inspection_time"))
            let product = opt(try f.string("product_uid")), batch = opt(try f.string("batch_number"))
            guard let result = QualityInspectionRecord.Result(rawValue: try f.string("result")) else { throw bad("result", "unknown") }
            var i = try f.list("inspector", count: 2)
            let inspector = QualityInspectionRecord.Inspector(name: try i.string("name"), id: try i.string("id"))
            let report = try f.digest("report_digest")
            let factory = try f.string("factory_uid"), device = opt(try f.string("device_id"))
            return .qualityInspection(QualityInspectionRecord(inspectionTime: time, productUID: product, batchNumber: batch, result: result,
                                                              inspector: inspector, reportDigest: report, factoryUID: factory, deviceID: device,
                                                              extensions: try map("extensions")))
        }
    }

    /// The record's ID on chain, stable across versions (updates may not change it):
    /// - production: its `product_uid` (`P-2025-0201`);
    /// - equipment: `device_id@recorded_time` (`PRESS-04@2025-03-02T08:00:00.000Z`);
    /// - quality inspection: `inspection:<product_uid, else batch_number>@inspection_time`
    ///   (`inspection:P-2025-0201@2025-03-02T09:00:00.000Z`).
    public var recordID: String {
        switch self {
        case .production(let r): r.productUID
        case .equipment(let r): "\(r.deviceID)@\(r.recordedTime.iso8601)"
        case .qualityInspection(let r): "inspection:\(r.productUID ?? r.batchNumber ?? "")@\(r.inspectionTime.iso8601)"
        }
    }

    /// The record's business time (production, recording or inspection time).
    public var time: RecordTime {
        switch self {
        case .production(let r): r.productionTime
        case .equipment(let r): r.recordedTime
        case .qualityInspection(let r): r.inspectionTime
        }
    }

    /// The product UID, when the record names one.
    public var productUID: String? {
        switch self {
        case .production(let r): r.productUID
        case .equipment: nil
        case .qualityInspection(let r): r.productUID
        }
    }

    /// The production batch (raw-material batch of a production record, or an inspection's batch).
    public var batchNumber: String? {
        switch self {
        case .production(let r): r.rawMaterial.batchNumber
        case .equipment: nil
        case .qualityInspection(let r): r.batchNumber
        }
    }

    /// The device ID, when the record names one.
    public var deviceID: String? {
        switch self {
        case .production(let r): r.deviceID
        case .equipment(let r): r.deviceID
        case .qualityInspection(let r): r.deviceID
        }
    }

    /// The location, when the record names one.
    public var location: String? {
        switch self {
        case .production(let r): r.productionLocation
        case .equipment(let r): r.location
        case .qualityInspection: nil
        }
    }

    /// The operator or inspector ID, when the record names one.
    public var operatorID: String? {
        switch self {
        case .production(let r): r.operatorInfo.id
        case .equipment: nil
        case .qualityInspection(let r): r.inspector.id
        }
    }

    /// The record as a JSON object of its wire fields plus `record_kind`.
    func jsonObject() throws -> [String: Any] {
        let encoder = JSONEncoder()
        let data: Data
        switch self {
        case .production(let r): data = try encoder.encode(r)
        case .equipment(let r): data = try encoder.encode(r)
        case .qualityInspection(let r): data = try encoder.encode(r)
        }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// Every scalar field by dotted wire name (`pro_raw_material.pro_batch_number`),
    /// as text. Used by field predicates and change reports.
    public var fieldValues: [String: String] {
        var out = [String: String]()
        func walk(_ value: Any, _ path: String) {
            if let d = value as? [String: Any] {
                for (k, v) in d { walk(v, path.isEmpty ? k : path + "." + k) }
            } else if let s = value as? String {
                out[path] = s
            } else if let n = value as? NSNumber {
                out[path] = n.stringValue
            }
        }
        walk((try? jsonObject()) ?? [:], "")
        return out
    }

    /// A copy with `changes` (dotted wire name → new text value) applied and
    /// validated as a fresh record of the same kind.
    /// - Throws: `AppError` `.unknownField` (5004) for a field the kind does
    ///   not define, 5001–5003 when the result is not a valid record,
    ///   `.immutableField` (5303) when the change would alter the record's ID,
    ///   kind or factory.
    public func applying(_ changes: [String: String]) throws(AppError) -> ManufacturingRecord {
        guard !changes.isEmpty else { throw AppError(.invalidUpdate, "an update must name at least one field", details: ["field": "fields"]) }
        var object: [String: Any]
        do { object = try jsonObject() } catch { throw AppError(.invalidUpdate, "record does not encode: \(error)") }
        let known = Set(fieldValues.keys)
        for name in changes.keys.sorted() {
            let parts = name.split(separator: ".").map(String.init)
            let isExtension = parts.count == 2 && ["extensions", "readings"].contains(parts[0])
            guard known.contains(name) || isExtension || Self.optionalFields.contains(name) else {
                throw AppError(.unknownField, "field '\(name)' is not a \(kind.rawValue) field", details: ["field": name])
            }
            Self.set(&object, parts[...], changes[name]!)
        }
        let data: Data
        do { data = try JSONSerialization.data(withJSONObject: object) } catch { throw AppError(.invalidUpdate, "\(error)") }
        let parsed = try RecordIngest.parse(data, format: .json, kind: kind)
        if let issue = parsed.issues.first { throw issue.error }
        guard let updated = parsed.records.first?.record else { throw AppError(.invalidUpdate, "the update produced no record") }
        guard updated.recordID == recordID, updated.factoryUID == factoryUID else {
            throw AppError(.immutableField, "an update may not change the record's ID or factory (fields \(changes.keys.sorted().joined(separator: ", ")))",
                           details: ["field": changes.keys.sorted().joined(separator: ",")])
        }
        return updated
    }

    static let optionalFields: Set<String> = ["device_id", "location", "product_uid", "batch_number"]

    private static func set(_ object: inout [String: Any], _ path: ArraySlice<String>, _ value: String) {
        guard let first = path.first else { return }
        if path.count == 1 { object[first] = value; return }
        var child = object[first] as? [String: Any] ?? [:]
        set(&child, path.dropFirst(), value)
        object[first] = child
    }
}

extension ManufacturingRecord: Codable {
    private struct KindKey: Decodable { var record_kind: String? }
    private enum CodingKeys: String, CodingKey { case recordKind = "record_kind" }

    /// Decodes from the wire fields plus `record_kind` (default production).
    public init(from decoder: any Decoder) throws {
        let kind = try RecordKind(name: try KindKey(from: decoder).record_kind ?? "production")
        switch kind {
        case .production: self = .production(try ProductionRecord(from: decoder))
        case .equipment: self = .equipment(try EquipmentRecord(from: decoder))
        case .qualityInspection: self = .qualityInspection(try QualityInspectionRecord(from: decoder))
        }
    }

    /// Encodes the wire fields plus `record_kind`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind.rawValue, forKey: .recordKind)
        switch self {
        case .production(let r): try r.encode(to: encoder)
        case .equipment(let r): try r.encode(to: encoder)
        case .qualityInspection(let r): try r.encode(to: encoder)
        }
    }
}
