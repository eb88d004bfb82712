import LedgerCrypto

/// The error of the Contracts module: the EVM, its state, the ABI, the contract
/// lifecycle, events and the bytecode audit. Codes are in the 2xxx band:
///
/// | range | area | declared in |
/// |---|---|---|
/// | 2001–2099 | the interpreter and transaction processing | `Errors/ContractError+EVM.swift` |
/// | 2100–2149 | Ethereum tries, fixtures and the conformance runner | `Errors/ContractError+Conformance.swift` |
/// | 2150–2199 | the ABI (encoding, decoding, JSON ABI files) | `Errors/ContractError+ABI.swift` |
/// | 2200–2299 | the contract lifecycle, registry and permissions | `Errors/ContractError+Lifecycle.swift` |
/// | 2300–2349 | events and subscriptions | `Errors/ContractError+Events.swift` |
/// | 2350–2399 | the bytecode audit and deployment policy | `Errors/ContractError+Audit.swift` |
///
/// Add codes in your band with `public static let name = Self(rawValue: N)`
/// and a `///` comment, then run `python3 Scripts/error-codes.py`. Names are
/// unique across every module (a test checks it), and a code is never reused.
///
/// Match on ``code`` in a `catch`; new codes never break an existing `switch`
/// because ``Code`` is a struct, not an enum.
///
/// ```swift
/// do { result = try evm.transact(transaction, block: block, state: state) }
/// catch where error.code == .nonceMismatch { resubmit() }
/// ```
public struct ContractError: CodedError, Hashable {
    /// A stable numeric error code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The number, in the module's band.
        public let rawValue: UInt32
        /// Wraps a number; use the named constants.
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public var description: String { String(rawValue) }
    }

    /// The stable code.
    public var code: Code
    /// What went wrong, naming the field and value.
    public var message: String
    /// Machine-readable context (for example `field`, `address`, `limit`).
    public var details: [String: String]

    /// - Parameters:
    ///   - code: Required. A code of this module's band.
    ///   - message: Required. Names the field and value at fault.
    ///   - details: Optional, default empty.
    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    /// ``code`` as a number (`CodedError`).
    public var numericCode: UInt32 { code.rawValue }
}

// The state a host serves (2001–2009).
extension ContractError.Code {
    /// The host (the world state behind the EVM) could not read an account, code, a storage slot or a block hash; `details["reason"]` carries the host's own error. Nothing was changed.
    public static let hostReadFailed = Self(rawValue: 2001)
}
