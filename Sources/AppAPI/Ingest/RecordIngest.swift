import Foundation

/// The formats records arrive in (A-UP-2).
public enum RecordFormat: String, Hashable, Sendable, Codable, CaseIterable {
    /// The input format; ``RecordFormat/init(fileName:)`` picks it from the extension.
    case json, xml, csv

    /// The format named by a file's extension (`.json`, `.xml`, `.csv`, case-insensitive).
    /// - Throws: `AppError` `.unsupportedFormat` (5008).
    public init(fileName: String) throws(AppError) {
        let ext = (fileName as NSString).pathExtension.lowercased()
        guard let f = RecordFormat(rawValue: ext) else {
            throw AppError(.unsupportedFormat, "cannot tell the format of '\(fileName)': use .json, .xml or .csv, or name the format",
                           details: ["file": fileName])
        }
        self = f
    }
}

/// Parses records from JSON, XML or CSV, validates each one, and reports
/// every bad record with its line and field (A-UP-2, A-UP-3).
///
/// Accepted shapes:
/// - JSON: one record object, an array of them, or `{"records": [...]}`;
/// - XML: one `<record>` root, or `<records>` holding `<record>` elements;
/// - CSV: a header row then one record per row; nested fields as dotted
///   column names (`propara.pro_temperature`), extension fields as
///   `extensions.<name>`.
///
/// A record may name its kind in a `record_kind` field (default: the
/// `kind` argument). The Appendix A `token` field, if present, is taken out
/// and returned in ``Result/token``; it is never part of a record.
///
/// ```swift
/// let result = try RecordIngest.parse(data, format: .csv, kind: .production)
/// for issue in result.issues { print(issue.line ?? 0, issue.error.message) }
/// ```
public enum RecordIngest {
    /// The largest input accepted: 64 MiB.
    public static let maximumInputBytes = 64 << 20
    /// The most records in one batch: 100,000.
    public static let maximumRecords = 100_000

    /// One bad record: its position in the batch (0-based), the input line
    /// it starts on, and the error naming the field.
    public struct Issue: Sendable, Hashable {
        /// The record's position in the batch, 0-based.
        public var index: Int
        /// The input line the record starts on, when known.
        public var line: Int?
        /// The error, naming the dotted field.
        public var error: AppError
    }

    /// What a parse produced.
    public struct Result: Sendable {
        /// The good records, with their position in the batch.
        public var records: [(index: Int, record: ManufacturingRecord)]
        /// The bad records (empty when every record was good).
        public var issues: [Issue]
        /// The access token found in the input, if any (never stored).
        public var token: String?
    }

    /// Parses and validates a batch.
    /// - Parameters:
    ///   - data: Required. The input, at most ``maximumInputBytes``.
    ///   - format: Required.
    ///   - kind: Optional, default `.production`: the kind of records without `record_kind`.
    ///   - allOrNothing: Optional, default false. When true, any bad record
    ///     rejects the batch with `.batchRejected` (5010) listing every issue.
    /// - Throws: `AppError`: `.malformedJSON` (5005), `.malformedXML` (5006),
    ///   `.malformedCSV` (5007) for input that cannot be read at all, with
    ///   its line; `.emptyInput` (5012); `.batchRejected` (5010).
    /// - Note: Pure; safe to call concurrently; no timeout (bounded by input size).
    public static func parse(_ data: Data, format: RecordFormat, kind: RecordKind = .production,
                             allOrNothing: Bool = false) throws(AppError) -> Result {
        try parse(data, format: format, kind: kind, allOrNothing: allOrNothing, recordLimit: maximumRecords)
    }

    /// ``parse(_:format:kind:allOrNothing:)`` of a file the caller uploads in batches: any number of records.
    package static func parseFile(_ data: Data, format: RecordFormat, kind: RecordKind = .production,
                                  allOrNothing: Bool = false) throws(AppError) -> Result {
        try parse(data, format: format, kind: kind, allOrNothing: allOrNothing, recordLimit: .max)
    }

    static func parse(_ data: Data, format: RecordFormat, kind: RecordKind, allOrNothing: Bool,
                      recordLimit: Int) throws(AppError) -> Result {
        guard data.count <= maximumInputBytes else {
            throw AppError(.invalidFieldValue, "input of \(data.count) bytes exceeds \(maximumInputBytes)")
        }
        let nodes = try recordNodes(data, format: format)
        guard !nodes.isEmpty else { throw AppError(.emptyInput, "the input holds no records") }
        guard nodes.count <= recordLimit else {
            throw AppError(.invalidFieldValue, "\(nodes.count) records exceed the batch limit of \(recordLimit)")
        }
        var result = Result(records: [], issues: [], token: nil)
        for (index, node) in nodes.enumerated() { take(node, index: index, kind: kind, into: &result) }
        if allOrNothing, !result.issues.isEmpty {
            throw batchRejection(result.issues, issueCount: result.issues.count, records: nodes.count)
        }
        return result
    }

    /// The `.batchRejected` (5010) error of an all-or-nothing input: the count, the first bad record's line and
    /// message, and up to 20 of `issues` in its details.
    static func batchRejection(_ issues: [Issue], issueCount: Int, records: Int) -> AppError {
        var details = ["rejected": String(issueCount), "records": String(records)]
        for issue in issues.prefix(20) {
            details["record \(issue.index)"] = "line \(issue.line.map(String.init) ?? "?"): [\(issue.error.numericCode)] \(issue.error.message)"
        }
        let first = issues[0]
        return AppError(.batchRejected,
                        "batch rejected: \(issueCount) of \(records) records are bad; first at line \(first.line.map(String.init) ?? "?"): \(first.error.message)",
                        details: details)
    }

    /// Splits the input into one node per record.
    static func recordNodes(_ data: Data, format: RecordFormat) throws(AppError) -> [FieldNode] {
        switch format {
        case .json:
            let root = try JSONFieldReader.parse(data)
            switch root {
            case .list(let items, _): return items
            case .object:
                if case .list(let items, _)? = root["records"] { return items }
                return [root]
            default:
                throw AppError(.malformedJSON, "JSON must be a record object, an array of records or {\"records\": [...]}",
                               details: ["line": String(root.line ?? 1)])
            }
        case .xml:
            let (name, root) = try XMLFieldReader.parse(data)
            if name == "records" {
                guard case .object(let entries, _) = root else { return [] }
                if let other = entries.first(where: { $0.name != "record" }) {
                    throw AppError(.malformedXML, "XML line \(other.value.line ?? 0): <records> may only hold <record> elements, found <\(other.name)>",
                                   details: ["line": String(other.value.line ?? 0), "field": other.name])
                }
                return entries.map(\.value)
            }
            guard name == "record" else {
                throw AppError(.malformedXML, "XML root must be <record> or <records>, found <\(name)>", details: ["line": "1"])
            }
            return [root]
        case .csv:
            return try CSVFieldReader.parse(data)
        }
    }

    /// Reads record `index` of an input into `result`: the record, or an issue with its line and field. A token
    /// must match the one `result` holds from earlier records.
    static func take(_ node: FieldNode, index: Int, kind: RecordKind, into result: inout Result) {
        do throws(AppError) {
            let (record, token) = try readRecord(node, defaultKind: kind)
            if let token {
                if let existing = result.token, existing != token {
                    throw AppError(.invalidFieldValue, "record \(index): a different access token than earlier records",
                                   details: ["field": "token"])
                }
                result.token = token
            }
            result.records.append((index, record))
        } catch {
            var e = error
            e.details["record"] = String(index)
            if e.details["line"] == nil, let l = node.line { e.details["line"] = String(l) }
            result.issues.append(Issue(index: index, line: e.details["line"].flatMap { Int($0) }, error: e))
        }
    }

    static func readRecord(_ node: FieldNode, defaultKind: RecordKind) throws(AppError) -> (ManufacturingRecord, String?) {
        var kind = defaultKind
        if case .scalar(let name, _)? = node["record_kind"] { kind = try RecordKind(name: name) }
        var token: String?
        if case .scalar(let t, _)? = node["token"] { token = t }
        return (try ManufacturingRecord(reading: node, as: kind, ignoring: ["record_kind", "token"]), token)
    }
}
