import LedgerCore

/// Turns ``Frame`` values into wire bytes: header with its CRC-32C, payload,
/// frame CRC-32C and, when a link key is set, an HMAC-SHA256 tag (N-T-1).
///
/// ```swift
/// let encoder = try FrameEncoder(linkKey: key)
/// let bytes = try encoder.encode(Frame(kind: 2, sender: 1, payload: message))
/// ```
/// A value type; `Sendable`, safe to use from many threads at once.
public struct FrameEncoder: Sendable {
    /// The limits applied, validated.
    public let configuration: FrameConfiguration
    /// The per-link HMAC-SHA256 key, or nil for checksummed but untagged frames.
    public let linkKey: SymmetricKey?

    /// - Parameters:
    ///   - configuration: Optional, default ``FrameConfiguration/init(maxFrameBytes:)`` (16 MiB).
    ///   - linkKey: Optional, default nil. The key shared with the peer on this
    ///     link; 32 random bytes recommended. With a key every frame is tagged,
    ///     and the peer's decoder must hold the same key.
    /// - Throws: `NetError` `.invalidFrameConfiguration` (3009).
    public init(configuration: FrameConfiguration = FrameConfiguration(), linkKey: SymmetricKey? = nil) throws(NetError) {
        try configuration.validate()
        self.configuration = configuration
        self.linkKey = linkKey
    }

    /// Encodes one frame.
    /// - Parameter frame: Required; its version must be ``Frame/currentVersion``
    ///   and its whole encoding at most ``FrameConfiguration/maxFrameBytes``.
    /// - Returns: The frame's wire bytes.
    /// - Throws: `NetError` `.unsupportedFrameVersion` (3002), `.frameTooLarge`
    ///   (3003), `.linkKeyUnavailable` (3011).
    public func encode(_ frame: Frame) throws(NetError) -> [UInt8] {
        var out: [UInt8] = []
        try encode(frame, into: &out)
        return out
    }

    /// Appends one encoded frame to `buffer` (to coalesce several frames in
    /// one write). On error `buffer` is unchanged.
    /// - Parameters: `frame` as for ``encode(_:)``; `buffer` required.
    /// - Throws: As ``encode(_:)``.
    public func encode(_ frame: Frame, into buffer: inout [UInt8]) throws(NetError) {
        guard frame.version == Frame.currentVersion else {
            throw NetError(.unsupportedFrameVersion, "frame version \(frame.version), this build encodes \(Frame.currentVersion)",
                           details: ["version": String(frame.version)])
        }
        let tagged = linkKey != nil
        let total = frame.payload.count + Frame.overheadBytes(authenticated: tagged)
        guard total <= configuration.maxFrameBytes else {
            throw NetError(.frameTooLarge, "frame of \(total) bytes (payload \(frame.payload.count)) exceeds maxFrameBytes \(configuration.maxFrameBytes)",
                           details: ["length": String(total), "limit": String(configuration.maxFrameBytes)])
        }
        var tag: [UInt8] = []
        let start = buffer.count
        buffer.reserveCapacity(start + total)
        buffer += Frame.magic
        buffer += [frame.version, frame.kind.rawValue, tagged ? Frame.authenticatedFlag : 0, 0]
        buffer.appendBigEndian(frame.sender.rawValue)
        buffer.appendBigEndian(UInt32(frame.payload.count))
        let headerCRC = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + 16)])) }
        buffer.appendBigEndian(headerCRC)
        buffer += frame.payload
        let frameCRC = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        buffer.appendBigEndian(frameCRC)
        if let linkKey {
            do {
                tag = try HMAC.authenticationCode(for: Array(buffer[start...]), key: linkKey, algorithm: .sha256)
            } catch {
                buffer.removeSubrange(start...)
                throw NetError(.linkKeyUnavailable, "link key is destroyed: \(error.message)", details: ["cause": String(error.numericCode)])
            }
            buffer += tag
        }
    }
}
