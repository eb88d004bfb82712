import LedgerCore

/// An equipment record (A-UP-1): a device's status and readings at a time.
///
/// | wire name | type | required | meaning |
/// |---|---|---|---|
/// | `device_id` | string ≤ 128 | yes | the device |
/// | `recorded_time` | ISO 8601 or Unix epoch | yes | when the readings were taken |
/// | `status` | `running`, `idle`, `maintenance`, `fault`, `offline` | yes | device state |
/// | `readings` | object of strings | no (default empty) | up to 64 named readings, e.g. `{"spindle_rpm": "1200"}` |
/// | `factory_uid` | string ≤ 128 | yes | the plant |
/// | `location` | string ≤ 256 | no | where the device stands |
/// | `extensions` | object of strings | no | plant-specific fields |
public struct EquipmentRecord: Hashable, Sendable, Codable {
    /// The states a device can report.
    public enum Status: String, Hashable, Sendable, Codable, CaseIterable {
        /// A device state; the wire value is the case name.
        case running, idle, maintenance, fault, offline
    }

    /// `device_id`: the device, 1–128 characters.
    public var deviceID: String
    /// `recorded_time`: when the readings were taken.
    public var recordedTime: RecordTime
    /// `status`: the device state.
    public var status: Status
    /// `readings`: up to 64 named readings; default empty.
    public var readings: [String: String]
    /// `factory_uid`: the plant, 1–128 characters.
    public var factoryUID: String
    /// `location`: where the device stands, up to 256 characters; default none.
    public var location: String?
    /// `extensions`: plant-specific fields; default empty.
    public var extensions: [String: String]

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id", recordedTime = "recorded_time", status, readings
        case factoryUID = "factory_uid", location, extensions
    }

    /// Parameters as the properties of the same names; `readings`, `location` and `extensions` are optional.
    /// Lengths are checked when the record is read or uploaded.
    public init(deviceID: String, recordedTime: RecordTime, status: Status, readings: [String: String] = [:],
                factoryUID: String, location: String? = nil, extensions: [String: String] = [:]) {
        self.deviceID = deviceID
        self.recordedTime = recordedTime
        self.status = status
        self.readings = readings
        self.factoryUID = factoryUID
        self.location = location
        self.extensions = extensions
    }

    init(reading r: inout FieldReader) throws(AppError) {
        deviceID = try r.string("device_id", maxLength: 128)
        recordedTime = try r.time("recorded_time")
        let s = try r.string("status", maxLength: 32)
        guard let status = Status(rawValue: s.lowercased()) else {
            throw AppError(.invalidFieldValue,
                           "field '\(r.fieldPath("status"))': '\(s)' is not one of \(Status.allCases.map(\.rawValue).joined(separator: ", "))",
                           details: FieldReader.details(r.fieldPath("status"), r.node["status"]?.line))
        }
        self.status = status
        readings = try r.stringMap("readings")
        factoryUID = try r.string("factory_uid", maxLength: 128)
        location = try r.optionalString("location")
        extensions = try r.stringMap("extensions")
    }

    var canonicalFields: [RLP.Item] {
        [.string(deviceID), .uint(recordedTime.millisecondsSince1970), .string(status.rawValue),
         ManufacturingRecord.canonical(readings), .string(factoryUID), .string(location ?? ""),
         ManufacturingRecord.canonical(extensions)]
    }

    func writeCanonicalFields(_ w: inout RLPWriter) {
        w.string(deviceID)
        w.uint(recordedTime.millisecondsSince1970)
        w.string(status.rawValue)
        ManufacturingRecord.writeCanonical(readings, &w)
        w.string(factoryUID)
        w.string(location ?? "")
        ManufacturingRecord.writeCanonical(extensions, &w)
    }
}
