import LedgerCore

/// The error of the Net module: wire framing, transports, membership and
/// sync. Codes are in the 3xxx band:
///
/// | range | area | declared in |
/// |---|---|---|
/// | 3001–3049 | wire framing, checksums, frame authentication, batches | `Errors/NetError.swift` |
/// | 3050–3099 | transports (in-memory, TCP, TLS, Unix sockets) | `NetError+Transport.swift` |
/// | 3100–3149 | node admission and membership | `NetError+Membership.swift` |
/// | 3150–3199 | gossip and block sync | `NetError+Sync.swift` |
///
/// Add codes in your band with `public static let name = Self(rawValue: N)`
/// and a `///` comment, then run `python3 Scripts/error-codes.py`. Names are
/// unique across every module (a test checks it), and a code is never reused.
///
/// Match on ``code`` in a `catch`; new codes never break an existing `switch`
/// because ``Code`` is a struct, not an enum.
///
/// ```swift
/// do { frames = try decoder.feed(bytes) }
/// catch where error.code == .checksumMismatch { connection.close() }
/// ```
public struct NetError: CodedError, Hashable {
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
    /// Machine-readable context (for example `offset`, `length`, `limit`).
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

// Wire framing (3001–3049).
extension NetError.Code {
    /// A frame does not start with the magic bytes `FGCH`: the stream is not ForgeChain framing or has lost sync.
    public static let badMagic = Self(rawValue: 3001)
    /// A frame's version byte is one this build does not speak.
    public static let unsupportedFrameVersion = Self(rawValue: 3002)
    /// A frame's declared length exceeds the configured maximum frame size; rejected before its payload is buffered.
    public static let frameTooLarge = Self(rawValue: 3003)
    /// A header or frame CRC-32C does not match: the bytes were corrupted in transit (N-T-1).
    public static let checksumMismatch = Self(rawValue: 3004)
    /// A frame's HMAC-SHA256 tag does not verify under the link key: the frame was tampered with or forged (N-T-1).
    public static let frameAuthenticationFailed = Self(rawValue: 3005)
    /// The stream ended inside a frame, or a buffer is shorter than the frame it declares.
    public static let frameTruncated = Self(rawValue: 3006)
    /// A header field holds a value outside its allowed set (unknown flag bits, non-zero reserved byte).
    public static let malformedFrame = Self(rawValue: 3007)
    /// A batch payload is not a well-formed list of items (N-T-4); `details["index"]` names the item at fault.
    public static let malformedBatch = Self(rawValue: 3008)
    /// A framing configuration field is outside its documented range; `details["field"]` names it.
    public static let invalidFrameConfiguration = Self(rawValue: 3009)
    /// A link key is configured but the frame carries no authentication tag (a downgrade), or the reverse.
    public static let authenticationRequired = Self(rawValue: 3010)
    /// The link key was destroyed (`SymmetricKey.destroy()`), so frames can be neither tagged nor verified.
    public static let linkKeyUnavailable = Self(rawValue: 3011)
}
