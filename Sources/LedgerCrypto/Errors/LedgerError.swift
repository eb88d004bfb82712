/// The error of the LedgerCore module: crypto, encoding, blocks, Merkle
/// proofs and validation. Codes are in the 1xxx band:
///
/// | range | area |
/// |---|---|
/// | 1000–1099 | canonical encoding (RLP) |
/// | 1100–1199 | transactions, blocks and block validation |
/// | 1200–1299 | Merkle trees and proofs |
/// | 1300–1349 | keys and signatures |
/// | 1350–1399 | ciphers, MACs, KDFs, randomness |
/// | 1400–1499 | hashing and digests |
///
/// Match on ``code`` in a `catch`; new codes never break an existing `switch`
/// because ``Code`` is a struct, not an enum.
public struct LedgerError: CodedError, Hashable {
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
    /// Machine-readable context (for example `height`, `transaction`).
    public var details: [String: String]

    /// - Parameters:
    ///   - code: Required.
    ///   - message: Required. Names the field and the value at fault.
    ///   - details: Optional, default empty. Extra information (`height`, `field`, ...).
    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var numericCode: UInt32 { code.rawValue }
}

// Hashing and digests (14xx).
extension LedgerError.Code {
    /// A digest was built from a byte string that is not 32 bytes long.
    public static let digestLength = Self(rawValue: 1401)
    /// A hex string has an odd length or a character outside 0-9a-fA-F.
    public static let invalidHex = Self(rawValue: 1402)
    /// A hash-algorithm name is not one this build knows.
    public static let unknownHashAlgorithm = Self(rawValue: 1403)
    /// OpenSSL reported an internal failure (allocation, provider).
    public static let cryptoBackend = Self(rawValue: 1404)
}
