import LedgerCore

/// A streaming frame decoder without I/O (the SwiftNIO
/// `ByteToMessageDecoder` shape): feed it bytes exactly as they arrive, in
/// any chunking, and take complete, checked frames out.
///
/// Checks, in order, each as soon as the bytes it needs have arrived:
/// 1. magic, byte by byte (`.badMagic`, 3001);
/// 2. version (`.unsupportedFrameVersion`, 3002);
/// 3. header CRC-32C (`.checksumMismatch`, 3004);
/// 4. flags and reserved byte (`.malformedFrame`, 3007);
/// 5. a tag present exactly when this decoder has a link key (`.authenticationRequired`, 3010);
/// 6. the declared size against ``FrameConfiguration/maxFrameBytes``
///    (`.frameTooLarge`, 3003), before any payload byte is awaited;
/// 7. frame CRC-32C (`.checksumMismatch`, 3004);
/// 8. HMAC-SHA256 tag, compared in constant time (`.frameAuthenticationFailed`, 3005).
///
/// Every error is fatal for the stream (framing is lost): the decoder keeps
/// the error and throws it again from every later call; the owner closes
/// the connection. At end of stream, ``finish()`` reports a partial frame
/// (`.frameTruncated`, 3006). No input traps or allocates more than the
/// bytes given plus one frame.
///
/// ```swift
/// var decoder = try FrameDecoder(linkKey: key)
/// for frame in try decoder.feed(chunk) { handle(frame) }
/// ```
/// A value type; `Sendable`; one decoder per connection, owned by one task.
public struct FrameDecoder: Sendable {
    /// The limits applied, validated.
    public let configuration: FrameConfiguration
    /// The per-link HMAC-SHA256 key; when set, every frame must carry a valid tag.
    public let linkKey: SymmetricKey?

    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var failure: NetError?
    /// Frames decoded so far.
    public private(set) var framesDecoded = 0
    /// Stream offset of the first buffered byte (for error details).
    private var consumedBytes = 0

    /// - Parameters:
    ///   - configuration: Optional, default 16 MiB frames.
    ///   - linkKey: Optional, default nil. The key shared with the peer's encoder.
    /// - Throws: `NetError` `.invalidFrameConfiguration` (3009).
    public init(configuration: FrameConfiguration = FrameConfiguration(), linkKey: SymmetricKey? = nil) throws(NetError) {
        try configuration.validate()
        self.configuration = configuration
        self.linkKey = linkKey
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// The error that stopped the stream, if any.
    public var error: NetError? { failure }

    /// Buffers received bytes; call ``next()`` to take frames out. Ignored
    /// after an error.
    /// - Parameter bytes: Required. Any length, including empty.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex > 4096 && readIndex * 2 > buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or nil when more bytes are needed.
    /// - Throws: `NetError` 3001–3007, 3010, 3011 (see the type's overview);
    ///   after an error, the same error on every call.
    public mutating func next() throws(NetError) -> Frame? {
        if let failure { throw failure }
        do throws(NetError) {
            return try decodeOne()
        } catch {
            failure = error
            throw error
        }
    }

    /// ``append(_:)`` then ``next()`` until it returns nil.
    /// - Parameter bytes: Required. Any chunk of the stream.
    /// - Returns: Every frame completed by these bytes, in order.
    /// - Throws: As ``next()``. Frames completed before the error in the
    ///   same chunk are lost with it; use ``next()`` to keep them.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(NetError) -> [Frame] {
        append(bytes)
        var frames: [Frame] = []
        while let frame = try next() { frames.append(frame) }
        return frames
    }

    /// Declares the end of the stream.
    /// - Throws: `NetError` `.frameTruncated` (3006) when a partial frame is
    ///   buffered; the stored error if the stream had failed.
    public func finish() throws(NetError) {
        if let failure { throw failure }
        guard bufferedByteCount == 0 else {
            throw NetError(.frameTruncated, "stream ended \(bufferedByteCount) bytes into a frame",
                           details: ["offset": String(consumedBytes), "buffered": String(bufferedByteCount)])
        }
    }

    private func fail(_ code: NetError.Code, _ message: String, _ extra: [String: String] = [:]) -> NetError {
        NetError(code, message, details: extra.merging(["offset": String(consumedBytes)]) { a, _ in a })
    }

    private mutating func decodeOne() throws(NetError) -> Frame? {
        let available = bufferedByteCount
        guard available > 0 else { return nil }
        let start = readIndex
        let result: Result<(Frame, Int)?, NetError> = buffer.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[start...])
            do throws(NetError) { return .success(try parse(b)) } catch { return .failure(error) }
        }
        guard let (frame, length) = try result.get() else { return nil }
        readIndex += length
        consumedBytes += length
        framesDecoded += 1
        return frame
    }

    /// Parses one frame from the front of `b`; nil when incomplete.
    private func parse(_ b: UnsafeRawBufferPointer) throws(NetError) -> (Frame, Int)? {
        for i in 0..<min(4, b.count) where b[i] != Frame.magic[i] {
            throw fail(.badMagic, "frame does not start with the magic FGCH (byte \(i) is \(b[i]))", ["byte": String(i)])
        }
        guard b.count >= Frame.headerBytes else { return nil }
        let version = b[4]
        guard version == Frame.currentVersion else {
            throw fail(.unsupportedFrameVersion, "frame version \(version), this build reads \(Frame.currentVersion)",
                       ["version": String(version)])
        }
        let headerCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<16]))
        guard headerCRC == b.bigEndianUInt32(at: 16) else {
            throw fail(.checksumMismatch, "header CRC-32C \(hex(b.bigEndianUInt32(at: 16))), computed \(hex(headerCRC))", ["part": "header"])
        }
        let flags = b[6]
        guard flags & ~Frame.authenticatedFlag == 0, b[7] == 0 else {
            throw fail(.malformedFrame, "frame flags \(flags) / reserved \(b[7]): unknown bits set", ["flags": String(flags)])
        }
        let tagged = flags & Frame.authenticatedFlag != 0
        if tagged != (linkKey != nil) {
            throw fail(.authenticationRequired, tagged
                       ? "frame carries an authentication tag but this link has no key"
                       : "frame carries no authentication tag but this link requires one", ["tagged": String(tagged)])
        }
        let payloadLength = Int(b.bigEndianUInt32(at: 12))
        let total = payloadLength + Frame.overheadBytes(authenticated: tagged)
        guard total <= configuration.maxFrameBytes else {
            throw fail(.frameTooLarge, "frame of \(total) bytes exceeds maxFrameBytes \(configuration.maxFrameBytes)",
                       ["length": String(total), "limit": String(configuration.maxFrameBytes)])
        }
        guard b.count >= total else { return nil }
        let crcEnd = Frame.headerBytes + payloadLength
        let frameCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<crcEnd]))
        guard frameCRC == b.bigEndianUInt32(at: crcEnd) else {
            throw fail(.checksumMismatch, "frame CRC-32C \(hex(b.bigEndianUInt32(at: crcEnd))), computed \(hex(frameCRC))", ["part": "frame"])
        }
        if let linkKey {
            let macEnd = crcEnd + Frame.checksumBytes
            let tag = Array(b[macEnd..<total])
            guard HMAC.isValidAuthenticationCode(tag, for: Array(b[0..<macEnd]), key: linkKey, algorithm: .sha256) else {
                throw fail(.frameAuthenticationFailed, "frame authentication tag does not verify under the link key (or the key is destroyed)")
            }
        }
        let frame = Frame(version: version, kind: FrameKind(rawValue: b[5]), sender: NodeID(b.bigEndianUInt32(at: 8)),
                          payload: Array(b[Frame.headerBytes..<crcEnd]))
        return (frame, total)
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}
