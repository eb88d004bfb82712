import LedgerCore
import LedgerCoreTesting
import Net
import Testing

private let key = SymmetricKey(bytes: (0..<32).map { UInt8($0) })

private func sampleFrames(_ rng: inout SplitMix64, count: Int) -> [Frame] {
    (0..<count).map { _ in
        let length = Int.random(in: 0...300, using: &rng)
        return Frame(kind: FrameKind(rawValue: UInt8.random(in: 0...255, using: &rng)),
                     sender: NodeID(UInt32.random(in: 0...UInt32.max, using: &rng)),
                     payload: (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }
}

private func netCode(_ body: () throws -> Void) -> NetError.Code? {
    do { try body(); return nil } catch { return (error as? NetError)?.code }
}

struct CRC32CTests {
    @Test func matchesTheStandardCheckValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)   // RFC 3720 B.4
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum(Array(0..<32)) == 0x46DD_794E)
    }

    @Test func continuingOverPiecesEqualsTheWhole() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            #expect(CRC32C.checksum(Array(bytes[cut...]), continuing: CRC32C.checksum(Array(bytes[..<cut]))) == CRC32C.checksum(bytes))
        }
    }
}

struct FrameCodecTests {
    @Test(arguments: [false, true])
    func framesRoundTrip(authenticated: Bool) throws {
        var rng = SplitMix64(seed: 11)
        let frames = sampleFrames(&rng, count: 40) + [Frame(kind: 0, sender: 0, payload: [])]
        let encoder = try FrameEncoder(linkKey: authenticated ? key : nil)
        var decoder = try FrameDecoder(linkKey: authenticated ? key : nil)
        var stream: [UInt8] = []
        for f in frames { try encoder.encode(f, into: &stream) }
        #expect(stream.count == frames.reduce(0) { $0 + $1.payload.count + Frame.overheadBytes(authenticated: authenticated) })
        #expect(try decoder.feed(stream) == frames)
        #expect(decoder.bufferedByteCount == 0)
        #expect(decoder.framesDecoded == frames.count)
        try decoder.finish()
    }

    @Test func fedByteByByteAndInRandomChunksDecodesIdentically() throws {
        var rng = SplitMix64(seed: 12)
        let frames = sampleFrames(&rng, count: 25)
        let encoder = try FrameEncoder(linkKey: key)
        let stream = try frames.flatMap { try encoder.encode($0) }
        var byteByByte = try FrameDecoder(linkKey: key)
        var out: [Frame] = []
        for b in stream { out += try byteByByte.feed([b]) }
        #expect(out == frames)
        for seed in UInt64(1)...20 {
            var chunker = SplitMix64(seed: seed)
            var decoder = try FrameDecoder(linkKey: key)
            var got: [Frame] = []
            var i = 0
            while i < stream.count {
                let n = min(stream.count - i, Int.random(in: 0...700, using: &chunker))
                got += try decoder.feed(stream[i..<(i + n)])
                i += n
            }
            #expect(got == frames, "chunking seed \(seed)")
            try decoder.finish()
        }
    }

    @Test(arguments: [false, true])
    func everySingleBitFlipIsDetected(authenticated: Bool) throws {
        let encoder = try FrameEncoder(linkKey: authenticated ? key : nil)
        let wire = try encoder.encode(Frame(kind: 4, sender: 9, payload: Array("lot 17: torque 12.5 Nm, ok".utf8)))
        for bit in 0..<(wire.count * 8) {
            var damaged = wire
            damaged[bit / 8] ^= 1 << (bit % 8)
            var decoder = try FrameDecoder(linkKey: authenticated ? key : nil)
            var frames: [Frame] = []
            let code = netCode {
                frames = try decoder.feed(damaged)
                try decoder.finish()
            }
            #expect(frames.isEmpty && code != nil, "bit \(bit) flip went undetected")
            #expect([.badMagic, .unsupportedFrameVersion, .checksumMismatch, .malformedFrame, .authenticationRequired,
                     .frameAuthenticationFailed, .frameTooLarge, .frameTruncated].contains(code), "bit \(bit): \(String(describing: code))")
        }
    }

    @Test func tamperingWithAnAuthenticatedFrameIsDetectedEvenWithFixedChecksums() throws {
        let encoder = try FrameEncoder(linkKey: key)
        let original = Frame(kind: 2, sender: 1, payload: Array("transfer 10 units".utf8))
        let wire = try encoder.encode(original)
        // An attacker without the key edits the payload or the sender and recomputes both CRCs.
        let forger = try FrameEncoder()
        for edited in [Frame(kind: 2, sender: 1, payload: Array("transfer 99 units".utf8)),
                       Frame(kind: 2, sender: 3, payload: original.payload),
                       Frame(kind: 5, sender: 1, payload: original.payload)] {
            var forged = try forger.encode(edited)
            forged[6] |= 1   // claim a tag
            let h = CRC32C.checksum(Array(forged[0..<16]))
            forged.replaceSubrange(16..<20, with: bigEndian(h))
            forged.removeLast(4)
            forged += bigEndian(CRC32C.checksum(forged))
            forged += wire.suffix(32)   // reuse the genuine tag
            var decoder = try FrameDecoder(linkKey: key)
            #expect(netCode { _ = try decoder.feed(forged) } == .frameAuthenticationFailed)
        }
        // A different link key fails too; stripping the tag is a downgrade.
        var otherKey = try FrameDecoder(linkKey: SymmetricKey(bytes: [UInt8](repeating: 1, count: 32)))
        #expect(netCode { _ = try otherKey.feed(wire) } == .frameAuthenticationFailed)
        var keyed = try FrameDecoder(linkKey: key)
        #expect(netCode { _ = try keyed.feed(try forger.encode(original)) } == .authenticationRequired)
        var unkeyed = try FrameDecoder()
        #expect(netCode { _ = try unkeyed.feed(wire) } == .authenticationRequired)
    }

    @Test func anOversizeFrameIsRejectedFromItsHeaderAlone() throws {
        let config = FrameConfiguration(maxFrameBytes: 1024)
        let big = try FrameEncoder().encode(Frame(kind: 1, sender: 1, payload: [UInt8](repeating: 0, count: 5_000)))
        var decoder = try FrameDecoder(configuration: config)
        do {
            _ = try decoder.feed(big.prefix(Frame.headerBytes))   // only the header has arrived
            Issue.record("oversize header accepted")
        } catch {
            #expect(error.code == .frameTooLarge)
            #expect(error.details["limit"] == "1024")
        }
        // The decoder stays failed and buffers nothing more.
        decoder.append(big.dropFirst(Frame.headerBytes))
        #expect(decoder.bufferedByteCount == Frame.headerBytes)
        #expect(netCode { _ = try decoder.next() } == .frameTooLarge)
        // The encoder refuses too; the limit admits exactly maxFrameBytes.
        let encoder = try FrameEncoder(configuration: config)
        #expect(netCode { _ = try encoder.encode(Frame(kind: 1, sender: 1, payload: [UInt8](repeating: 0, count: 1001))) } == .frameTooLarge)
        let fits = try encoder.encode(Frame(kind: 1, sender: 1, payload: [UInt8](repeating: 0, count: 1000)))
        #expect(fits.count == 1024)
        var ok = try FrameDecoder(configuration: config)
        #expect(try ok.feed(fits).count == 1)
    }

    @Test func errorsAreTypedForMagicVersionFlagsAndTruncation() throws {
        let wire = try FrameEncoder().encode(Frame(kind: 1, sender: 1, payload: [1, 2, 3]))
        var bad = try FrameDecoder()
        #expect(netCode { _ = try bad.feed([0x47]) } == .badMagic)   // detected from the first byte
        #expect(netCode { _ = try bad.feed(wire) } == .badMagic)      // and sticky
        var v2 = wire
        v2[4] = 2
        var d1 = try FrameDecoder()
        #expect(netCode { _ = try d1.feed(v2) } == .unsupportedFrameVersion)
        var flags = wire
        flags[6] = 0x80
        flags.replaceSubrange(16..<20, with: bigEndian(CRC32C.checksum(Array(flags[0..<16]))))
        var d2 = try FrameDecoder()
        #expect(netCode { _ = try d2.feed(flags) } == .malformedFrame)
        var d3 = try FrameDecoder()
        #expect(try d3.feed(wire.dropLast()).isEmpty)
        #expect(netCode { try d3.finish() } == .frameTruncated)
        #expect(netCode { _ = try FrameEncoder().encode(Frame(version: 2, kind: 1, sender: 1, payload: [])) } == .unsupportedFrameVersion)
        #expect(netCode { _ = try FrameDecoder(configuration: FrameConfiguration(maxFrameBytes: 10)) } == .invalidFrameConfiguration)
    }

    @Test func aDestroyedLinkKeyIsATypedError() throws {
        let k = SymmetricKey(bytes: [UInt8](repeating: 3, count: 32))
        let encoder = try FrameEncoder(linkKey: k)
        k.destroy()
        var buffer: [UInt8] = [9]
        #expect(netCode { try encoder.encode(Frame(kind: 1, sender: 1, payload: [1]), into: &buffer) } == .linkKeyUnavailable)
        #expect(buffer == [9])
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func randomBytesNeverCrashTheDecoder(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let valid = try FrameEncoder().encode(Frame(kind: 3, sender: 2, payload: [1, 2, 3, 4]))
        for _ in 0..<300 {
            var bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng) { bytes = Array(valid.prefix(Int.random(in: 0...valid.count, using: &rng))) + bytes }
            for keyed in [false, true] {
                var decoder = try FrameDecoder(configuration: FrameConfiguration(maxFrameBytes: 4096), linkKey: keyed ? key : nil)
                do {
                    var i = 0
                    while i < bytes.count {
                        let n = min(bytes.count - i, Int.random(in: 1...40, using: &rng))
                        _ = try decoder.feed(bytes[i..<(i + n)])
                        i += n
                    }
                    try decoder.finish()
                } catch {
                    #expect((3001...3049).contains(error.numericCode))
                }
            }
        }
    }
}

private func bigEndian(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
}
