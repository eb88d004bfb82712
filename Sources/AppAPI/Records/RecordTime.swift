import Foundation
import LedgerCore

/// A record timestamp, normalised to UTC milliseconds.
///
/// Accepted input (A-UP-2, issue requirement "ISO 8601 and Unix epoch"):
/// - ISO 8601 with a time zone (`2025-03-01T08:00:00Z`,
///   `2025-03-01T16:00:00.250+08:00`); a date-time without zone is refused
///   rather than guessed;
/// - Unix epoch seconds (`1740816000`, `1740816000.25`) or milliseconds
///   (13 digits, `1740816000250`), as a number or a string.
///
/// Range: 1970-01-01 to 9999-12-31. It encodes as ISO 8601 UTC with
/// milliseconds: `2025-03-01T08:00:00.000Z`.
public struct RecordTime: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public var millisecondsSince1970: UInt64

    public init(millisecondsSince1970: UInt64) { self.millisecondsSince1970 = millisecondsSince1970 }

    /// The same instant as a ledger timestamp.
    public var timestamp: Timestamp { Timestamp(millisecondsSince1970: millisecondsSince1970) }

    static let maximumMillis: UInt64 = 253_402_300_799_999   // 9999-12-31T23:59:59.999Z

    /// Parses ISO 8601 or Unix epoch text.
    /// - Throws: `AppError` `.invalidFieldValue` (5003) naming `field`.
    public init(parsing text: String, field: String = "time") throws(AppError) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let ms = Self.epochMillis(t) {
            guard ms <= Self.maximumMillis else {
                throw AppError(.invalidFieldValue, "field '\(field)': epoch value \(t) is out of range", details: ["field": field])
            }
            millisecondsSince1970 = ms
            return
        }
        guard let ms = Self.iso8601Millis(t) else {
            throw AppError(.invalidFieldValue,
                           "field '\(field)': '\(t)' is neither ISO 8601 with a time zone nor Unix epoch seconds/milliseconds",
                           details: ["field": field])
        }
        millisecondsSince1970 = ms
    }

    private static func epochMillis(_ t: String) -> UInt64? {
        guard !t.isEmpty, t.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              t.filter({ $0 == "." }).count <= 1, t.first != ".", t.last != "." else { return nil }
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = UInt64(parts[0]) else { return nil }
        if parts.count == 1 {
            return parts[0].count >= 13 ? whole : whole.multipliedReportingOverflow(by: 1000).partialValue
        }
        // Fractional seconds: up to millisecond precision.
        let frac = String(parts[1].prefix(3)).padding(toLength: 3, withPad: "0", startingAt: 0)
        guard parts[0].count < 13, let f = UInt64(frac) else { return nil }
        return whole * 1000 + f
    }

    private static func iso8601Millis(_ t: String) -> UInt64? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = fractional.date(from: t) ?? plain.date(from: t) else { return nil }
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms >= 0, ms <= Double(maximumMillis) else { return nil }
        return UInt64(ms)
    }

    /// ISO 8601 UTC with milliseconds.
    public var iso8601: String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: Double(millisecondsSince1970) / 1000))
    }

    public var description: String { iso8601 }

    public static func < (a: RecordTime, b: RecordTime) -> Bool { a.millisecondsSince1970 < b.millisecondsSince1970 }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(UInt64.self) {
            try self.init(parsing: String(n))
        } else {
            try self.init(parsing: try c.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(iso8601)
    }
}
