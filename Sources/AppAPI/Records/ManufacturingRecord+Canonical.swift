import Foundation
import LedgerCore

extension ManufacturingRecord {
    /// Decodes a record from its ``canonicalEncoding`` (what a block holds).
    /// - Parameter bytes: Required. RLP `[version, kind, fields…]`.
    /// - Throws: `AppError` `.malformedRecordEncoding` (5013) naming the field.
    public init(canonicalEncoding bytes: [UInt8]) throws(AppError) {
        func bad(_ field: String, _ why: String) -> AppError {
            AppError(.malformedRecordEncoding, "canonical record field '\(field)': \(why)", details: ["field": field])
        }
        do {
            let top = try RLP.decode(bytes).list("record")
            guard top.count >= 2 else { throw bad("record", "\(top.count) items, expected at least 2") }
            let version = try top[0].uint64("version")
            guard version == Self.encodingVersion else { throw bad("version", "\(version), expected \(Self.encodingVersion)") }
            guard let kind = RecordKind(rawValue: try top[1].string("kind")) else { throw bad("kind", "unknown") }
            let f = Array(top.dropFirst(2))
            func opt(_ s: String) -> String? { s.isEmpty ? nil : s }
            func map(_ item: RLP.Item, _ field: String) throws(LedgerError) -> [String: String] {
                var m = [String: String]()
                for pair in try item.list(field) {
                    let kv = try pair.list(field, count: 2)
                    m[try kv[0].string(field)] = try kv[1].string(field)
                }
                return m
            }
            switch kind {
            case .production:
                guard f.count == 9 else { throw bad("production", "\(f.count) fields, expected 9") }
                let m = try f[3].list("pro_raw_material", count: 3), p = try f[4].list("propara", count: 3), o = try f[5].list("pro_op_info", count: 3)
                self = .production(ProductionRecord(
                    productionTime: RecordTime(millisecondsSince1970: try f[0].uint64("production_time")),
                    productionLocation: try f[1].string("production_location"), productUID: try f[2].string("product_uid"),
                    rawMaterial: .init(supplier: try m[0].string("pro_supplier"), batchNumber: try m[1].string("pro_batch_number"),
                                       qualityReport: try m[2].string("pro_Report_qualify_eval")),
                    processParameters: .init(temperature: try p[0].string("pro_temperature"), humidity: try p[1].string("pro_humidity"),
                                             pressure: try p[2].string("pro_pressure")),
                    operatorInfo: .init(name: try o[0].string("pro_op_name"), id: try o[1].string("pro_op_id"), record: try o[2].string("pro_op_record")),
                    factoryUID: try f[6].string("pro_factory_uid"), deviceID: opt(try f[7].string("device_id")),
                    extensions: try map(f[8], "extensions")))
            case .equipment:
                guard f.count == 7 else { throw bad("equipment", "\(f.count) fields, expected 7") }
                guard let status = EquipmentRecord.Status(rawValue: try f[2].string("status")) else { throw bad("status", "unknown") }
                self = .equipment(EquipmentRecord(
                    deviceID: try f[0].string("device_id"), recordedTime: RecordTime(millisecondsSince1970: try f[1].uint64("recorded_time")),
                    status: status, readings: try map(f[3], "readings"), factoryUID: try f[4].string("factory_uid"),
                    location: opt(try f[5].string("location")), extensions: try map(f[6], "extensions")))
            case .qualityInspection:
                guard f.count == 9 else { throw bad("quality_inspection", "\(f.count) fields, expected 9") }
                guard let result = QualityInspectionRecord.Result(rawValue: try f[3].string("result")) else { throw bad("result", "unknown") }
                let i = try f[4].list("inspector", count: 2)
                self = .qualityInspection(QualityInspectionRecord(
                    inspectionTime: RecordTime(millisecondsSince1970: try f[0].uint64("inspection_time")),
                    productUID: opt(try f[1].string("product_uid")), batchNumber: opt(try f[2].string("batch_number")), result: result,
                    inspector: .init(name: try i[0].string("name"), id: try i[1].string("id")), reportDigest: try f[5].digest("report_digest"),
                    factoryUID: try f[6].string("factory_uid"), deviceID: opt(try f[7].string("device_id")),
                    extensions: try map(f[8], "extensions")))
            }
        } catch let e as AppError {
            throw e
        } catch let e as LedgerError {
            throw bad("record", e.message)
        } catch {
            throw bad("record", "\(error)")
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
