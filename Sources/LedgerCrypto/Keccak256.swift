/// Keccak-256 as Ethereum uses it: the Keccak sponge (rate 136 bytes,
/// capacity 512 bits) with the original `0x01` padding. OpenSSL 3.0 does not
/// provide it, so it is written here and checked against the Keccak team's
/// KAT and the EVM fixtures.
public struct Keccak256: Sendable {
    private var lanes = Lanes()
    private var buffer = Block()
    private var buffered = 0

    private static let rate = 136

    /// 25 lanes of 64 bits, inline.
    private struct Lanes {
        var v: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// 136 bytes (17 words), inline.
    private struct Block {
        var v: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// A fresh state; feed it with `update`.
    public init() {}

    /// Hashes `bytes` in one call.
    public static func hash(_ bytes: [UInt8]) -> Digest {
        var k = Keccak256()
        bytes.withUnsafeBytes { k.update($0) }
        return k.finalize()
    }

    /// Hashes raw memory in one call.
    public static func hash(_ raw: UnsafeRawBufferPointer) -> Digest {
        var k = Keccak256()
        k.update(raw)
        return k.finalize()
    }

    /// Absorbs more bytes.
    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        guard var src = raw.baseAddress else { return }
        var remaining = raw.count
        var st = lanes.v
        var blk = buffer.v
        var filled = buffered
        withUnsafeMutableBytes(of: &blk) { buf in
            withUnsafeMutableBytes(of: &st) { stp in
                let a = stp.baseAddress!.assumingMemoryBound(to: UInt64.self)
                while remaining > 0 {
                    let take = min(Self.rate - filled, remaining)
                    (buf.baseAddress! + filled).copyMemory(from: src, byteCount: take)
                    filled += take
                    src += take
                    remaining -= take
                    if filled == Self.rate {
                        Self.absorb(buf.baseAddress!, into: a)
                        filled = 0
                    }
                }
            }
        }
        lanes.v = st
        buffer.v = blk
        buffered = filled
    }

    /// Pads, squeezes and returns the 32-byte digest.
    public consuming func finalize() -> Digest {
        var out = Digest.zero
        let used = buffered
        var st0 = lanes.v
        var blk = buffer.v
        withUnsafeMutableBytes(of: &blk) { buf in
            withUnsafeMutableBytes(of: &st0) { st in
                let a = st.baseAddress!.assumingMemoryBound(to: UInt64.self)
                for i in used..<Self.rate { buf[i] = 0 }
                buf[used] ^= 0x01
                buf[Self.rate - 1] ^= 0x80
                Self.absorb(buf.baseAddress!, into: a)
                out.withUnsafeMutableBytes { o in
                    for i in 0..<4 {
                        o.storeBytes(of: a[i].littleEndian, toByteOffset: i * 8, as: UInt64.self)
                    }
                }
            }
        }
        return out
    }

    @inline(__always)
    private static func absorb(_ block: UnsafeMutableRawPointer, into a: UnsafeMutablePointer<UInt64>) {
        for i in 0..<(rate / 8) {
            a[i] ^= UInt64(littleEndian: block.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
        }
        keccakF1600(a)
    }

    private static let roundConstants: [UInt64] = [
        0x0000_0000_0000_0001, 0x0000_0000_0000_8082, 0x8000_0000_0000_808A, 0x8000_0000_8000_8000,
        0x0000_0000_0000_808B, 0x0000_0000_8000_0001, 0x8000_0000_8000_8081, 0x8000_0000_0000_8009,
        0x0000_0000_0000_008A, 0x0000_0000_0000_0088, 0x0000_0000_8000_8009, 0x0000_0000_8000_000A,
        0x0000_0000_8000_808B, 0x8000_0000_0000_008B, 0x8000_0000_0000_8089, 0x8000_0000_0000_8003,
        0x8000_0000_0000_8002, 0x8000_0000_0000_0080, 0x0000_0000_0000_800A, 0x8000_0000_8000_000A,
        0x8000_0000_8000_8081, 0x8000_0000_0000_8080, 0x0000_0000_8000_0001, 0x8000_0000_8000_8008,
    ]

    @inline(__always)
    private static func rotl(_ x: UInt64, _ n: UInt64) -> UInt64 { (x << n) | (x >> (64 &- n)) }

    /// The Keccak-f[1600] permutation, 24 rounds, lanes indexed x + 5y.
    private static func keccakF1600(_ a: UnsafeMutablePointer<UInt64>) {
        roundConstants.withUnsafeBufferPointer { rc in
            for round in 0..<24 {
                // θ
                let c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20]
                let c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21]
                let c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22]
                let c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23]
                let c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24]
                let d0 = c4 ^ rotl(c1, 1), d1 = c0 ^ rotl(c2, 1), d2 = c1 ^ rotl(c3, 1)
                let d3 = c2 ^ rotl(c4, 1), d4 = c3 ^ rotl(c0, 1)
                var y = 0
                while y < 25 {
                    a[y] ^= d0; a[y + 1] ^= d1; a[y + 2] ^= d2; a[y + 3] ^= d3; a[y + 4] ^= d4
                    y += 5
                }
                // ρ and π
                var t = a[1]
                @inline(__always) func step(_ j: Int, _ r: UInt64) {
                    let next = a[j]; a[j] = rotl(t, r); t = next
                }
                step(10, 1); step(7, 3); step(11, 6); step(17, 10); step(18, 15); step(3, 21)
                step(5, 28); step(16, 36); step(8, 45); step(21, 55); step(24, 2); step(4, 14)
                step(15, 27); step(23, 41); step(19, 56); step(13, 8); step(12, 25); step(2, 43)
                step(20, 62); step(14, 18); step(22, 39); step(9, 61); step(6, 20); step(1, 44)
                // χ
                y = 0
                while y < 25 {
                    let b0 = a[y], b1 = a[y + 1], b2 = a[y + 2], b3 = a[y + 3], b4 = a[y + 4]
                    a[y] = b0 ^ (~b1 & b2); a[y + 1] = b1 ^ (~b2 & b3); a[y + 2] = b2 ^ (~b3 & b4)
                    a[y + 3] = b3 ^ (~b4 & b0); a[y + 4] = b4 ^ (~b0 & b1)
                    y += 5
                }
                // ι
                a[0] ^= rc[round]
            }
        }
    }
}
