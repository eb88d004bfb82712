@testable import LedgerCore
@testable import LedgerModel
import Testing

/// `Digest` keeps its bytes in order in four words, and nothing public that holds one is over-aligned
/// (Architecture.md, "Values held across await").
struct DigestLayoutTests {
    static let sample: [UInt8] = (0..<32).map { UInt8($0 * 7 + 3) }

    @Test func digestAndTheValuesThatHoldOneAreAtMostWordAligned() {
        #expect(MemoryLayout<Digest>.size == 32)
        #expect(MemoryLayout<Digest>.alignment <= 8)
        #expect(MemoryLayout<BlockHeader>.alignment <= 8)
        #expect(MemoryLayout<Transaction>.alignment <= 8)
        #expect(MemoryLayout<Block>.alignment <= 8)
        #expect(MemoryLayout<Receipt>.alignment <= 8)
        #expect(MemoryLayout<InclusionProof>.alignment <= 8)
        #expect(MemoryLayout<(Digest, [UInt8])>.alignment <= 8)
    }

    @Test func bytesRoundTripInOrderThroughEveryView() throws {
        let d = try Digest(bytes: Self.sample)
        #expect(d.bytes == Self.sample)
        #expect((0..<32).map { d[$0] } == Self.sample)
        #expect(Digest(unsafeRaw: Self.sample.withUnsafeBytes { $0.baseAddress! }) == d)
        var raw = [UInt8](repeating: 0, count: 33)
        raw.withUnsafeMutableBytes { d.store(to: $0.baseAddress! + 1) }
        #expect(Array(raw[1...]) == Self.sample)
        #expect(try Digest(hex: d.hex) == d)
        #expect(Digest(repeating: 0xab).bytes == [UInt8](repeating: 0xab, count: 32))
        #expect(Digest.zero.bytes == [UInt8](repeating: 0, count: 32))
    }

    @Test func subscriptWritesOneByteOnly() throws {
        var d = try Digest(bytes: Self.sample)
        d[31] ^= 0xff
        d[0] = 0
        var expected = Self.sample
        expected[31] ^= 0xff
        expected[0] = 0
        #expect(d.bytes == expected)
    }

    @Test func orderIsByteWiseLexicographicAtEveryPosition() throws {
        for position in 0..<32 {
            var low = [UInt8](repeating: 0x80, count: 32), high = low
            low[position] = 0x7f
            high[position] = 0x81
            if position < 31 { low[31] = 0xff }   // a later byte must not decide
            let a = try Digest(bytes: low), b = try Digest(bytes: high)
            #expect(a < b, "position \(position)")
            #expect(!(b < a))
            #expect(a != b)
            #expect(Set([a, b, try Digest(bytes: low)]).count == 2)
        }
    }

    @Test func stateKeyBitsAndPrefixesFollowTheBytes() throws {
        let a = try Digest(bytes: Self.sample)
        for i in 0..<256 {
            #expect(a.stateBit(i) == Int(Self.sample[i / 8] >> UInt8(7 - i % 8)) & 1, "bit \(i)")
        }
        for flip in [0, 7, 8, 63, 64, 100, 127, 128, 200, 255] {
            var bytes = Self.sample
            bytes[flip / 8] ^= UInt8(0x80) >> UInt8(flip % 8)
            let b = try Digest(bytes: bytes)
            #expect(a.stateSharesPrefix(with: b, bits: flip))
            #expect(!a.stateSharesPrefix(with: b, bits: flip + 1))
            #expect(a.stateSharesPrefix(with: a, bits: 256))
        }
    }
}
