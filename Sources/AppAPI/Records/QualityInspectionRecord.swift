import LedgerCore

/// A quality-inspection record (A-UP-1): the inspection of a product or a
/// batch, its result, the inspector, and the digest of the full report.
///
/// | wire name | type | required | meaning |
/// |---|---|---|---|
/// | `inspection_time` | ISO 8601 or Unix epoch | yes | when |
/// | `product_uid` | string ≤ 128 | one of the two | the product inspected |
/// | `batch_number` | string ≤ 128 | one of the two | the batch inspected |
/// | `result` | `pass`, `fail`, `conditional` | yes | the verdict |
/// | `inspector` | object `{name, id}` | yes | who inspected |
/// | `report_digest` | 64 hex characters | yes | SHA-256 (or the chain hash) of the report document |
/// | `factory_uid` | string ≤ 128 | yes | the plant |
/// | `device_id` | string ≤ 128 | no | the test instrument |
/// | `extensions` | object of strings | no | plant-specific fields |
///
/// Combination constraint: at least one of `product_uid` and `batch_number`.
public struct QualityInspectionRecord: Hashable, Sendable, Codable {
    /// The verdicts an inspection can reach.
    public enum Result: String, Hashable, Sendable, Codable, CaseIterable {
        /// A verdict; the wire value is the case name.
        case pass, fail, conditional
    }

    /// Who inspected.
    public struct Inspector: Hashable, Sendable, Codable {
        /// The inspector's name.
        public var name: String
        /// The inspector's ID (what ``RecordQuery/operatorID`` matches).
        public var id: String
        /// Both fields are required.
        public init(name: String, id: String) {
            self.name = name
            self.id = id
        }
    }

    /// `inspection_time`: when the inspection took place.
    public var inspectionTime: RecordTime
    /// `product_uid`: the product inspected; this or ``batchNumber`` is required.
    public var productUID: String?
    /// `batch_number`: the batch inspected; this or ``productUID`` is required.
    public var batchNumber: String?
    /// `result`: the verdict.
    public var result: Result
    /// `inspector`: who inspected.
    public var inspector: Inspector
    /// `report_digest`: the digest of the full report document.
    public var reportDigest: Digest
    /// `factory_uid`: the plant, 1–128 characters.
    public var factoryUID: String
    /// `device_id`: the test instrument; default none.
    public var deviceID: String?
    /// `extensions`: plant-specific fields; default empty.
    public var extensions: [String: String]

    enum CodingKeys: String, CodingKey {
        case inspectionTime = "inspection_time", productUID = "product_uid", batchNumber = "batch_number"
        case result, inspector, reportDigest = "report_digest", factoryUID = "factory_uid"
        case deviceID = "device_id", extensions
    }

    /// Parameters as the properties of the same names; at least one of `productUID` and `batchNumber`.
    public init(inspectionTime: RecordTime, productUID: String?, batchNumber: String?, result: Result,
                inspector: Inspector, reportDigest: Digest, factoryUID: String, deviceID: String? = nil,
                extensions: [String: String] = [:]) {
        self.inspectionTime = inspectionTime
        self.productUID = productUID
        self.batchNumber = batchNumber
        self.result = result
        self.inspector = inspector
        self.reportDigest = reportDigest
        self.factoryUID = factoryUID
        self.deviceID = deviceID
        self.extensions = extensions
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inspectionTime = try c.decode(RecordTime.self, forKey: .inspectionTime)
        productUID = try c.decodeIfPresent(String.self, forKey: .productUID)
        batchNumber = try c.decodeIfPresent(String.self, forKey: .batchNumber)
        result = try c.decode(Result.self, forKey: .result)
        inspector = try c.decode(Inspector.self, forKey: .inspector)
        reportDigest = try Digest(hex: try c.decode(String.self, forKey: .reportDigest))
        factoryUID = try c.decode(String.self, forKey: .factoryUID)
        deviceID = try c.decodeIfPresent(String.self, forKey: .deviceID)
        extensions = try c.decodeIfPresent([String: String].self, forKey: .extensions) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(inspectionTime, forKey: .inspectionTime)
        try c.encodeIfPresent(productUID, forKey: .productUID)
        try c.encodeIfPresent(batchNumber, forKey: .batchNumber)
        try c.encode(result, forKey: .result)
        try c.encode(inspector, forKey: .inspector)
        try c.encode(reportDigest.hex, forKey: .reportDigest)
        try c.encode(factoryUID, forKey: .factoryUID)
        try c.encodeIfPresent(deviceID, forKey: .deviceID)
        try c.encode(extensions, forKey: .extensions)
    }

    init(reading r: inout FieldReader) throws(AppError) {
        inspectionTime = try r.time("inspection_time")
        productUID = try r.optionalString("product_uid", maxLength: 128)
        batchNumber = try r.optionalString("batch_number", maxLength: 128)
        guard productUID != nil || batchNumber != nil else {
            throw AppError(.missingField, "one of '\(r.fieldPath("product_uid"))' and '\(r.fieldPath("batch_number"))' is required",
                           details: FieldReader.details(r.fieldPath("product_uid"), r.node.line))
        }
        let verdict = try r.string("result", maxLength: 32)
        guard let result = Result(rawValue: verdict.lowercased()) else {
            throw AppError(.invalidFieldValue, "field '\(r.fieldPath("result"))': '\(verdict)' is not pass, fail or conditional",
                           details: FieldReader.details(r.fieldPath("result"), r.node["result"]?.line))
        }
        self.result = result
        var i = try r.object("inspector")
        inspector = Inspector(name: try i.string("name"), id: try i.string("id", maxLength: 128))
        try i.rejectUnknown()
        let digestText = try r.string("report_digest", maxLength: 66)
        do { reportDigest = try Digest(hex: digestText) } catch {
            throw AppError(.invalidFieldValue, "field '\(r.fieldPath("report_digest"))' must be 64 hex characters",
                           details: FieldReader.details(r.fieldPath("report_digest"), r.node["report_digest"]?.line))
        }
        factoryUID = try r.string("factory_uid", maxLength: 128)
        deviceID = try r.optionalString("device_id", maxLength: 128)
        extensions = try r.stringMap("extensions")
    }

    var canonicalFields: [RLP.Item] {
        [.uint(inspectionTime.millisecondsSince1970), .string(productUID ?? ""), .string(batchNumber ?? ""),
         .string(result.rawValue), .list([.string(inspector.name), .string(inspector.id)]), .digest(reportDigest),
         .string(factoryUID), .string(deviceID ?? ""), ManufacturingRecord.canonical(extensions)]
    }

    func writeCanonicalFields(_ w: inout RLPWriter) {
        w.uint(inspectionTime.millisecondsSince1970)
        w.string(productUID ?? "")
        w.string(batchNumber ?? "")
        w.string(result.rawValue)
        w.list { w in
            w.string(inspector.name)
            w.string(inspector.id)
        }
        w.digest(reportDigest)
        w.string(factoryUID)
        w.string(deviceID ?? "")
        ManufacturingRecord.writeCanonical(extensions, &w)
    }
}
