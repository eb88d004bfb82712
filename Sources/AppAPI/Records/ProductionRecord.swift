import LedgerCore

/// A production-process record with exactly the fields of the standard's
/// Appendix A (A-UP-6), under the standard's wire names, plus an optional
/// device ID and extension fields.
///
/// | wire name | type | required | meaning |
/// |---|---|---|---|
/// | `production_time` | ISO 8601 or Unix epoch | yes | when it was produced |
/// | `production_location` | string ≤ 256 | yes | where |
/// | `product_uid` | string ≤ 128 | yes | product serial number |
/// | `pro_raw_material` | object | yes | `pro_supplier`, `pro_batch_number`, `pro_Report_qualify_eval` |
/// | `propara` | object | yes | `pro_temperature`, `pro_humidity`, `pro_pressure` |
/// | `pro_op_info` | object | yes | `pro_op_name`, `pro_op_id`, `pro_op_record` |
/// | `pro_factory_uid` | string ≤ 128 | yes | manufacturer |
/// | `device_id` | string ≤ 128 | no (default none) | the producing device |
/// | `extensions` | object of strings | no (default empty) | up to 64 plant-specific fields |
///
/// The access `token` of Appendix A authenticates the call: ingest takes it
/// out of the record and it is never stored (see ``RecordIngest``).
///
/// Example (JSON):
/// ```json
/// {"production_time": "2025-03-01T08:00:00Z", "production_location": "Kunming plant 2, line 3",
///  "product_uid": "P-0001", "pro_raw_material": {"pro_supplier": "Yunnan Copper",
///  "pro_batch_number": "B-17", "pro_Report_qualify_eval": "pass"},
///  "propara": {"pro_temperature": "71.5", "pro_humidity": "40", "pro_pressure": "101.3"},
///  "pro_op_info": {"pro_op_name": "Li Wei", "pro_op_id": "OP-7", "pro_op_record": "shift A"},
///  "pro_factory_uid": "F-KM-02"}
/// ```
public struct ProductionRecord: Hashable, Sendable, Codable {
    /// `pro_raw_material`: the raw material used.
    public struct RawMaterial: Hashable, Sendable, Codable {
        /// `pro_supplier`: the supplier.
        public var supplier: String
        /// `pro_batch_number`: the raw material's batch (what ``RecordQuery/batchNumber`` matches).
        public var batchNumber: String
        /// `pro_Report_qualify_eval`: the quality report or its evaluation.
        public var qualityReport: String
        enum CodingKeys: String, CodingKey {
            case supplier = "pro_supplier", batchNumber = "pro_batch_number", qualityReport = "pro_Report_qualify_eval"
        }
        /// All three fields are required.
        public init(supplier: String, batchNumber: String, qualityReport: String) {
            self.supplier = supplier
            self.batchNumber = batchNumber
            self.qualityReport = qualityReport
        }
    }

    /// `propara`: the process parameters, as text with the plant's units.
    public struct ProcessParameters: Hashable, Sendable, Codable {
        /// `pro_temperature`, e.g. `71.5`.
        public var temperature: String
        /// `pro_humidity`, e.g. `40`.
        public var humidity: String
        /// `pro_pressure`, e.g. `101.3`.
        public var pressure: String
        enum CodingKeys: String, CodingKey {
            case temperature = "pro_temperature", humidity = "pro_humidity", pressure = "pro_pressure"
        }
        /// All three fields are required.
        public init(temperature: String, humidity: String, pressure: String) {
            self.temperature = temperature
            self.humidity = humidity
            self.pressure = pressure
        }
    }

    /// `pro_op_info`: the operator.
    public struct OperatorInfo: Hashable, Sendable, Codable {
        /// `pro_op_name`: the operator's name.
        public var name: String
        /// `pro_op_id`: the operator's ID (what ``RecordQuery/operatorID`` matches).
        public var id: String
        /// `pro_op_record`: the operation record (shift, notes).
        public var record: String
        enum CodingKeys: String, CodingKey {
            case name = "pro_op_name", id = "pro_op_id", record = "pro_op_record"
        }
        /// All three fields are required.
        public init(name: String, id: String, record: String) {
            self.name = name
            self.id = id
            self.record = record
        }
    }

    /// `production_time`: when it was produced.
    public var productionTime: RecordTime
    /// `production_location`: where, up to 256 characters.
    public var productionLocation: String
    /// `product_uid`: the product serial number, 1–128 characters; the record's ID.
    public var productUID: String
    /// `pro_raw_material`.
    public var rawMaterial: RawMaterial
    /// `propara`.
    public var processParameters: ProcessParameters
    /// `pro_op_info`.
    public var operatorInfo: OperatorInfo
    /// `pro_factory_uid`: the manufacturer, 1–128 characters.
    public var factoryUID: String
    /// `device_id`: the producing device; default none.
    public var deviceID: String?
    /// `extensions`: up to 64 plant-specific fields; default empty.
    public var extensions: [String: String]

    enum CodingKeys: String, CodingKey {
        case productionTime = "production_time", productionLocation = "production_location"
        case productUID = "product_uid", rawMaterial = "pro_raw_material", processParameters = "propara"
        case operatorInfo = "pro_op_info", factoryUID = "pro_factory_uid", deviceID = "device_id"
        case extensions
    }

    /// Parameters as the properties of the same names; `deviceID` and `extensions` are optional.
    /// Lengths are checked when the record is read or uploaded (5003).
    public init(productionTime: RecordTime, productionLocation: String, productUID: String,
                rawMaterial: RawMaterial, processParameters: ProcessParameters, operatorInfo: OperatorInfo,
                factoryUID: String, deviceID: String? = nil, extensions: [String: String] = [:]) {
        self.productionTime = productionTime
        self.productionLocation = productionLocation
        self.productUID = productUID
        self.rawMaterial = rawMaterial
        self.processParameters = processParameters
        self.operatorInfo = operatorInfo
        self.factoryUID = factoryUID
        self.deviceID = deviceID
        self.extensions = extensions
    }

    /// Reads and validates a record from its untyped form.
    /// - Throws: `AppError` `.missingField` (5001), `.invalidFieldType`
    ///   (5002), `.invalidFieldValue` (5003), `.unknownField` (5004), each
    ///   naming the dotted field and the input line.
    init(reading r: inout FieldReader) throws(AppError) {
        productionTime = try r.time("production_time")
        productionLocation = try r.string("production_location")
        productUID = try r.string("product_uid", maxLength: 128)
        var m = try r.object("pro_raw_material")
        rawMaterial = RawMaterial(supplier: try m.string("pro_supplier"), batchNumber: try m.string("pro_batch_number", maxLength: 128),
                                  qualityReport: try m.string("pro_Report_qualify_eval", maxLength: 1024))
        try m.rejectUnknown()
        var p = try r.object("propara")
        processParameters = ProcessParameters(temperature: try p.string("pro_temperature", maxLength: 64),
                                              humidity: try p.string("pro_humidity", maxLength: 64),
                                              pressure: try p.string("pro_pressure", maxLength: 64))
        try p.rejectUnknown()
        var o = try r.object("pro_op_info")
        operatorInfo = OperatorInfo(name: try o.string("pro_op_name"), id: try o.string("pro_op_id", maxLength: 128),
                                    record: try o.string("pro_op_record", maxLength: 1024))
        try o.rejectUnknown()
        factoryUID = try r.string("pro_factory_uid", maxLength: 128)
        deviceID = try r.optionalString("device_id", maxLength: 128)
        extensions = try r.stringMap("extensions")
    }

    /// The canonical encoding's fields, in a fixed order.
    var canonicalFields: [RLP.Item] {
        [.uint(productionTime.millisecondsSince1970), .string(productionLocation), .string(productUID),
         .list([.string(rawMaterial.supplier), .string(rawMaterial.batchNumber), .string(rawMaterial.qualityReport)]),
         .list([.string(processParameters.temperature), .string(processParameters.humidity), .string(processParameters.pressure)]),
         .list([.string(operatorInfo.name), .string(operatorInfo.id), .string(operatorInfo.record)]),
         .string(factoryUID), .string(deviceID ?? ""), ManufacturingRecord.canonical(extensions)]
    }

    func writeCanonicalFields(_ w: inout RLPWriter) {
        w.uint(productionTime.millisecondsSince1970)
        w.string(productionLocation)
        w.string(productUID)
        w.list { w in
            w.string(rawMaterial.supplier)
            w.string(rawMaterial.batchNumber)
            w.string(rawMaterial.qualityReport)
        }
        w.list { w in
            w.string(processParameters.temperature)
            w.string(processParameters.humidity)
            w.string(processParameters.pressure)
        }
        w.list { w in
            w.string(operatorInfo.name)
            w.string(operatorInfo.id)
            w.string(operatorInfo.record)
        }
        w.string(factoryUID)
        w.string(deviceID ?? "")
        ManufacturingRecord.writeCanonical(extensions, &w)
    }
}
