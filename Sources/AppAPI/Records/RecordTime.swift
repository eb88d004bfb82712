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
    /// UTC milliseconds since 1970-01-01.
    public var millisecondsSince1970: UInt64

    /// - Parameter millisecondsSince1970: Required. 0...253,402,300,799,999 (9999-12-31).
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
        switch rfc3339(t) {
        case .valid(let ms): return ms
        case .invalid: return nil
        case .otherForm: break
        }
        // Rarer ISO 8601 spellings (more fraction digits, compact offsets): Foundation's parser.
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = fractional.date(from: t) ?? plain.date(from: t) else { return nil }
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms >= 0, ms <= Double(maximumMillis) else { return nil }
        return UInt64(ms)
    }

    enum Parsed: Equatable { case valid(UInt64), invalid, otherForm }

    /// The common form `YYYY-MM-DDTHH:MM:SS[.f{1,3}](Z|±HH:MM)`, parsed by hand: creating an
    /// `ISO8601DateFormatter` costs about 30 µs, which dominated ingest and logging of large batches.
    /// `.invalid` when the form matches but a value is out of range (2025-02-30, 24:00, before 1970);
    /// `.otherForm` for anything else (the caller then asks Foundation).
    static func rfc3339(_ t: String) -> Parsed {
        var text = t
        return text.withUTF8 { b -> Parsed in
            func digits(_ at: Int, _ n: Int) -> Int? {
                guard at + n <= b.count else { return nil }
                var v = 0
                for i in at..<(at + n) {
                    let c = b[i]
                    guard c >= 0x30, c <= 0x39 else { return nil }
                    v = v * 10 + Int(c - 0x30)
                }
                return v
            }
            guard b.count >= 20, let year = digits(0, 4), b[4] == 0x2D, let month = digits(5, 2), b[7] == 0x2D, let day = digits(8, 2),
                  b[10] == 0x54 || b[10] == 0x74, let hour = digits(11, 2), b[13] == 0x3A, let minute = digits(14, 2), b[16] == 0x3A,
                  let second = digits(17, 2) else { return .otherForm }
            var i = 19
            var millis = 0
            if b[i] == 0x2E {
                var n = 0
                i += 1
                while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                    guard n < 3 else { return .otherForm }
                    millis = millis * 10 + Int(b[i] - 0x30)
                    n += 1
                    i += 1
                }
                guard n > 0 else { return .otherForm }
                for _ in n..<3 { millis *= 10 }
            }
            guard i < b.count else { return .otherForm }
            var offsetMinutes = 0
            if b[i] == 0x5A || b[i] == 0x7A {
                i += 1
            } else if b[i] == 0x2B || b[i] == 0x2D {
                guard let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = digits(i + 4, 2), oh <= 23, om <= 59 else { return .otherForm }
                offsetMinutes = (oh * 60 + om) * (b[i] == 0x2D ? -1 : 1)
                i += 6
            } else {
                return .otherForm
            }
            guard i == b.count else { return .otherForm }
            guard (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour <= 23, minute <= 59, second <= 59 else {
                return .invalid
            }
            let days = daysFromCivil(year, month, day)
            let ms = ((days * 86_400 + hour * 3_600 + minute * 60 + second - offsetMinutes * 60) * 1_000) + millis
            guard ms >= 0, ms <= Int(maximumMillis) else { return .invalid }
            return .valid(UInt64(ms))
        }
    }

    private static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    private static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// ISO 8601 UTC with milliseconds, formatted by hand (no formatter object, no locale).
    public var iso8601: String {
        let ms = Int(millisecondsSince1970 % 1_000)
        let seconds = Int(millisecondsSince1970 / 1_000)
        let z = seconds / 86_400 + 719_468
        let era = z / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let s = seconds % 86_400
        var out = [UInt8]()
        out.reserveCapacity(24)
        func put(_ v: Int, _ width: Int) {
            var d = 1
            for _ in 1..<width { d *= 10 }
            while d > 0 {
                out.append(UInt8(0x30 + (v / d) % 10))
                d /= 10
            }
        }
        put(year, 4); out.append(0x2D); put(month, 2); out.append(0x2D); put(day, 2); out.append(0x54)
        put(s / 3_600, 2); out.append(0x3A); put(s / 60 % 60, 2); out.append(0x3A); put(s % 60, 2); out.append(0x2E)
        put(ms, 3); out.append(0x5A)
        return String(decoding: out, as: UTF8.self)
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
