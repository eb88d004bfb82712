import LedgerCore

/// What a frame carries, assigned by the application (consensus message,
/// transaction batch, block request, block response, hello, ...). The wire
/// layer only transports it.
///
/// ```swift
/// extension FrameKind { static let hello: FrameKind = 1 }
/// ```
public struct FrameKind: RawRepresentable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt8) { rawValue = value }
    public var description: String { "kind \(rawValue)" }
}

/// One message on a link between two nodes (N-T-1).
///
/// Wire layout, integers big-endian:
///
/// | offset | bytes | field |
/// |---|---|---|
/// | 0 | 4 | magic `FGCH` |
/// | 4 | 1 | version (``currentVersion``) |
/// | 5 | 1 | kind |
/// | 6 | 1 | flags: bit 0 set = an authentication tag follows; other bits 0 |
/// | 7 | 1 | reserved, 0 |
/// | 8 | 4 | sender `NodeID` |
/// | 12 | 4 | payload length `n` |
/// | 16 | 4 | header CRC-32C of bytes 0..<16 |
/// | 20 | n | payload |
/// | 20+n | 4 | frame CRC-32C of bytes 0..<20+n |
/// | 24+n | 32 | optional HMAC-SHA256 of bytes 0..<24+n under the link key |
///
/// The header CRC lets a decoder reject a corrupted length before waiting
/// for (or buffering) the payload it names; the frame CRC catches corruption
/// of the payload; the tag catches deliberate changes, which a CRC cannot.
///
/// ```swift
/// let frame = Frame(kind: 2, sender: 3, payload: bytes)
/// ```
public struct Frame: Hashable, Sendable {
    /// The version this build writes and reads: 1.
    public static let currentVersion: UInt8 = 1
    /// The magic bytes `FGCH` that open every frame.
    public static let magic: [UInt8] = [0x46, 0x47, 0x43, 0x48]
    /// Bytes before the payload: 20.
    public static let headerBytes = 20
    /// Bytes of the frame CRC after the payload: 4.
    public static let checksumBytes = 4
    /// Bytes of the optional HMAC-SHA256 tag: 32.
    public static let tagBytes = 32
    /// Framing overhead without a tag (24) or with one (56).
    public static func overheadBytes(authenticated: Bool) -> Int {
        headerBytes + checksumBytes + (authenticated ? tagBytes : 0)
    }

    static let authenticatedFlag: UInt8 = 0x01

    /// The wire version; only ``currentVersion`` can be encoded. Default ``currentVersion``.
    public var version: UInt8
    /// What the payload is. Required.
    public var kind: FrameKind
    /// The node that sent the frame. Required. Trust it only on an
    /// authenticated link (a decoder with a link key), where it is covered by the tag.
    public var sender: NodeID
    /// The message bytes; at most the configured maximum frame size minus the overhead.
    public var payload: [UInt8]

    /// - Parameters:
    ///   - version: Optional, default ``currentVersion``.
    ///   - kind: Required.
    ///   - sender: Required.
    ///   - payload: Required; may be empty.
    public init(version: UInt8 = Frame.currentVersion, kind: FrameKind, sender: NodeID, payload: [UInt8]) {
        self.version = version
        self.kind = kind
        self.sender = sender
        self.payload = payload
    }
}

/// Limits of the framing layer.
///
/// ```swift
/// let config = FrameConfiguration(maxFrameBytes: 4 << 20)
/// ```
public struct FrameConfiguration: Hashable, Sendable {
    /// The accepted ``maxFrameBytes``: 64 bytes to 1 GiB.
    public static let maxFrameBytesRange: ClosedRange<Int> = 64...(1 << 30)

    /// The largest whole frame (header, payload, checksum and tag) encoded
    /// or accepted. Default 16 MiB; range ``maxFrameBytesRange``.
    public var maxFrameBytes: Int

    /// - Parameter maxFrameBytes: Optional, default 16 MiB.
    /// - Note: Does not validate; encoders and decoders call ``validate()``.
    public init(maxFrameBytes: Int = 16 << 20) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// The largest payload that fits one frame.
    /// - Parameter authenticated: Required. Whether frames carry a tag.
    public func maxPayloadBytes(authenticated: Bool) -> Int {
        maxFrameBytes - Frame.overheadBytes(authenticated: authenticated)
    }

    /// Checks every field against its documented range.
    /// - Throws: `NetError` `.invalidFrameConfiguration` (3009) naming the field.
    public func validate() throws(NetError) {
        let r = Self.maxFrameBytesRange
        guard r.contains(maxFrameBytes) else {
            throw NetError(.invalidFrameConfiguration,
                           "frame configuration field 'maxFrameBytes' is \(maxFrameBytes), expected \(r.lowerBound)...\(r.upperBound)",
                           details: ["field": "maxFrameBytes", "value": String(maxFrameBytes)])
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xFF)); append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }
}

extension UnsafeRawBufferPointer {
    func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
