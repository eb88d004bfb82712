import LedgerCore

/// The error of the Net module: wire framing, transports, membership and
/// sync. Codes are in the 3xxx band (3050–3099: transports).
///
/// Match on ``code`` in a `catch`; new codes never break an existing `switch`
/// because ``Code`` is a struct, not an enum.
public struct NetError: CodedError, Hashable {
    /// A stable numeric error code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public var description: String { String(rawValue) }
    }

    /// The stable code.
    public var code: Code
    /// What went wrong, naming the field and value.
    public var message: String
    /// Machine-readable context (for example `node`).
    public var details: [String: String]

    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var numericCode: UInt32 { code.rawValue }
}
