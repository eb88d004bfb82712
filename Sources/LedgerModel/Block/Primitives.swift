/// A block height: 0 for genesis, then 1, 2, ...
public struct Height: RawRepresentable, Hashable, Comparable, Sendable, Codable,
                      ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// - Parameter value: Required. 0 is genesis.
    public init(_ value: UInt64) { rawValue = value }
    public init(integerLiteral value: UInt64) { rawValue = value }
    public static func < (a: Height, b: Height) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
    /// The next height.
    public var next: Height { Height(rawValue + 1) }
}

/// Wall-clock time in milliseconds since 1970-01-01T00:00:00Z (UTC).
public struct Timestamp: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    /// UTC milliseconds since 1970-01-01.
    public var millisecondsSince1970: UInt64
    public var rawValue: UInt64 { millisecondsSince1970 }
    public init(rawValue: UInt64) { millisecondsSince1970 = rawValue }
    /// - Parameter millisecondsSince1970: Required.
    public init(millisecondsSince1970: UInt64) { self.millisecondsSince1970 = millisecondsSince1970 }
    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue)ms" }

    /// The current time from the system clock.
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(millisecondsSince1970: UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000)
    }

    /// This time plus `milliseconds` (saturating).
    public func adding(milliseconds: UInt64) -> Timestamp {
        Timestamp(millisecondsSince1970: rawValue.addingReportingOverflow(milliseconds).overflow ? .max : rawValue + milliseconds)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
