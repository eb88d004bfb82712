import LedgerCore

/// The error of the application layer (AppAPI): bad records, bad input
/// files, permissions, identity. Codes are in the 5xxx band:
///
/// | range | area |
/// |---|---|
/// | 5000–5099 | record validation and ingest (JSON, XML, CSV) |
/// | 5100–5199 | upload and confirmation |
/// | 5200–5299 | query and permissions |
/// | 5300–5399 | update |
/// | 5400–5499 | identity and authentication |
///
/// Every `AppError` maps to the uniform envelope (D-4, D-10) through
/// ``Envelope``.
public struct AppError: CodedError, Hashable {
    /// A stable numeric error code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public var description: String { String(rawValue) }
    }

    /// The stable code (5xxx; see ``Code``).
    public var code: Code
    public var message: String
    public var details: [String: String]

    /// - Parameters:
    ///   - code: Required.
    ///   - message: Required. Names the field and the value at fault.
    ///   - details: Optional, default empty. Extra information (`field`, `line`, `check`, ...).
    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var numericCode: UInt32 { code.rawValue }
}

// Record validation and ingest (50xx).
extension AppError.Code {
    /// A required field is absent (the `field` detail names it, dotted for nested fields).
    public static let missingField = Self(rawValue: 5001)
    /// A field has the wrong type (for example a list where a string is required).
    public static let invalidFieldType = Self(rawValue: 5002)
    /// A field's value is outside its allowed form or range (empty, too long, bad timestamp).
    public static let invalidFieldValue = Self(rawValue: 5003)
    /// A field the record kind does not define.
    public static let unknownField = Self(rawValue: 5004)
    /// The input is not well-formed JSON; `line` gives the position.
    public static let malformedJSON = Self(rawValue: 5005)
    /// The input is not well-formed XML; `line` gives the position.
    public static let malformedXML = Self(rawValue: 5006)
    /// The input is not well-formed CSV (RFC 4180), or a row has the wrong number of cells.
    public static let malformedCSV = Self(rawValue: 5007)
    /// The input format is not JSON, XML or CSV, or could not be told from the file name.
    public static let unsupportedFormat = Self(rawValue: 5008)
    /// The record kind is unknown.
    public static let unknownRecordKind = Self(rawValue: 5009)
    /// A batch was rejected whole (`allOrNothing`) because some rows were bad; `details` lists them.
    public static let batchRejected = Self(rawValue: 5010)
    /// The digest a caller supplied does not match the record's canonical digest (A-UP-3).
    public static let digestMismatch = Self(rawValue: 5011)
    /// The input is empty or holds no records.
    public static let emptyInput = Self(rawValue: 5012)
}
