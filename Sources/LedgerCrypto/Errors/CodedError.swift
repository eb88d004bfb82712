/// An error with a stable numeric code, a message that names the offending
/// field and value, and machine-readable details.
///
/// Every public failure of every ForgeChain module conforms, so that any of
/// them maps to the uniform `{code, message, data, details}` envelope of the
/// standard (D-4, D-10). Codes are banded per module: LedgerCore 1xxx,
/// Contracts 2xxx, Net 3xxx, ChainRuntime 4xxx, AppAPI 5xxx. A code is never
/// reused for another meaning.
public protocol CodedError: Error, CustomStringConvertible, Sendable {
    /// The stable numeric code, documented in `Documentation/ErrorCodes.md`.
    var numericCode: UInt32 { get }
    /// A human-readable message naming the field and the value at fault.
    var message: String { get }
    /// Extra exception information (which block, which transaction, ...).
    var details: [String: String] { get }
}

extension CodedError {
    public var description: String { "[\(numericCode)] \(message)" }
}
