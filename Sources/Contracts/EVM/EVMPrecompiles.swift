import LedgerCrypto

/// The precompiled contracts at 0x01–0x0a (Cancun). Implemented: ecrecover (0x01), SHA-256 (0x02),
/// RIPEMD-160 (0x03), identity (0x04), modexp (0x05, EIP-2565 gas), bn254 add, mul and pairing (0x06–0x08),
/// BLAKE2 F (0x09, EIP-152). The KZG point evaluation (0x0a, which needs the trusted setup) fails every call:
/// the caller gets status 0 and loses the gas it passed.
enum EVMPrecompiles {
    enum Result {
        case success(gasUsed: Int64, output: [UInt8])
        case failure
    }

    @inline(__always)
    static func isPrecompile(_ address: EVMAddress) -> Bool {
        let w = address.word
        return w.w1 == 0 && w.w2 == 0 && w.w3 == 0 && w.w0 >= 1 && w.w0 <= 0x0A
    }

    static let addresses: [EVMAddress] = (1...10).map { EVMAddress(word: UInt256(UInt64($0))) }

    static func words(_ count: Int) -> Int64 { Int64((count + 31) / 32) }

    static func run(_ address: EVMAddress, input: [UInt8], gas: Int64) -> Result {
        func charge(_ cost: Int64, _ output: @autoclosure () -> [UInt8]) -> Result {
            cost > gas ? .failure : .success(gasUsed: cost, output: output())
        }
        switch address.word.w0 {
        case 1: return charge(3_000, ecrecover(input))
        case 2: return charge(60 + 12 * words(input.count), HashAlgorithm.sha256.hash(input).bytes)
        case 3: return charge(600 + 120 * words(input.count), [UInt8](repeating: 0, count: 12) + RIPEMD160.hash(input))
        case 4: return charge(15 + 3 * words(input.count), input)
        case 5: return modexp(input, gas: gas)
        case 6: return BN254.ecAdd(input, gas: gas)
        case 7: return BN254.ecMul(input, gas: gas)
        case 8: return BN254Pairing.pairingCheck(input, gas: gas)
        case 9: return blake2f(input, gas: gas)
        default: return .failure
        }
    }

    /// Input bytes `[offset, offset + count)`, zeros past the end.
    static func slice(_ input: [UInt8], _ offset: Int, _ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if offset < input.count {
            let n = min(count, input.count - offset)
            for i in 0..<n { out[i] = input[offset + i] }
        }
        return out
    }

    static func ecrecover(_ input: [UInt8]) -> [UInt8] {
        let data = slice(input, 0, 128)
        let v = UInt256(bigEndian: data[32..<64])
        guard v == UInt256(27) || v == UInt256(28) else { return [] }
        let raw = Array(data[64..<128]) + [UInt8(v.w0 - 27)]
        guard let signature = try? Signature(scheme: .secp256k1, rawRepresentation: raw),
              let key = try? Secp256k1.recover(digest: Array(data[0..<32]), signature: signature),
              let point = key.uncompressedRepresentation, point.count == 65,
              let address = EVMAddress(publicKey64: Array(point[1...])) else { return [] }
        return [UInt8](repeating: 0, count: 12) + address.bytes
    }

    // MARK: modexp (EIP-198, EIP-2565)

    static func modexp(_ input: [UInt8], gas: Int64) -> Result {
        let header = slice(input, 0, 96)
        let bSize = UInt256(bigEndian: header[0..<32]), eSize = UInt256(bigEndian: header[32..<64]),
            mSize = UInt256(bigEndian: header[64..<96])
        // Sizes beyond 2^32 cost more gas than any limit allows.
        guard let bl = bSize.uint64, let el = eSize.uint64, let ml = mSize.uint64,
              bl <= 0xFFFF_FFFF, el <= 0xFFFF_FFFF, ml <= 0xFFFF_FFFF else { return .failure }
        let b = Int(bl), e = Int(el), m = Int(ml)
        // The exponent's first 32 bytes (for the iteration count).
        let eHead = UInt256(bigEndian: slice(input, 96 + b, min(e, 32)))
        var iterations: UInt64
        if e <= 32 {
            iterations = eHead.isZero ? 0 : UInt64(eHead.bitWidth - 1)
        } else {
            iterations = 8 * UInt64(e - 32) + UInt64(max(eHead.bitWidth - 1, 0))
        }
        iterations = max(iterations, 1)
        let words = UInt64((max(b, m) + 7) / 8)
        let complexity = words * words
        let (product, overflow) = complexity.multipliedReportingOverflow(by: iterations)
        let cost = overflow ? UInt64.max : max(200, product / 3)
        guard cost <= UInt64(gas) else { return .failure }
        let used = Int64(cost)
        if m == 0 { return .success(gasUsed: used, output: []) }
        let base = slice(input, 96, b)
        let exponent = slice(input, 96 + b, e)
        let modulus = slice(input, 96 + b + e, m)
        return .success(gasUsed: used, output: EVMBigNumber.modPow(base: base, exponent: exponent, modulus: modulus))
    }

    // MARK: BLAKE2 F (EIP-152)

    static func blake2f(_ input: [UInt8], gas: Int64) -> Result {
        guard input.count == 213, input[212] <= 1 else { return .failure }
        let rounds = UInt32(input[0]) << 24 | UInt32(input[1]) << 16 | UInt32(input[2]) << 8 | UInt32(input[3])
        guard Int64(rounds) <= gas else { return .failure }
        func le64(_ at: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(input[at + i]) << UInt64(8 * i) }
            return v
        }
        var h = (0..<8).map { le64(4 + 8 * $0) }
        let m = (0..<16).map { le64(68 + 8 * $0) }
        let t0 = le64(196), t1 = le64(204)
        Blake2.compress(h: &h, m: m, t0: t0, t1: t1, final: input[212] == 1, rounds: rounds)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for word in h { for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: word >> UInt64(8 * i))) } }
        return .success(gasUsed: Int64(rounds), output: out)
    }
}

/// Arbitrary-size unsigned arithmetic for modexp: little-endian 64-bit limbs.
enum EVMBigNumber {
    static func limbs(_ bytes: [UInt8]) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: max(1, (bytes.count + 7) / 8))
        for (i, byte) in bytes.reversed().enumerated() { out[i / 8] |= UInt64(byte) << UInt64((i % 8) * 8) }
        return out
    }

    static func mulMod(_ a: [UInt64], _ b: [UInt64], _ m: inout [UInt64]) -> [UInt64] {
        var product = [UInt64](repeating: 0, count: a.count + b.count)
        for i in 0..<a.count {
            var carry: UInt64 = 0
            for j in 0..<b.count {
                let p = a[i].multipliedFullWidth(by: b[j])
                let (s1, o1) = product[i + j].addingReportingOverflow(p.low)
                let (s2, o2) = s1.addingReportingOverflow(carry)
                product[i + j] = s2
                carry = p.high &+ (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
            }
            product[i + b.count] = carry
        }
        return reduce(&product, &m)
    }

    static func reduce(_ u: inout [UInt64], _ m: inout [UInt64]) -> [UInt64] {
        var r = [UInt64](repeating: 0, count: m.count)
        let uc = u.count, mc = m.count
        u.withUnsafeMutableBufferPointer { ub in
            m.withUnsafeMutableBufferPointer { mb in
                r.withUnsafeMutableBufferPointer { rb in
                    EVMLimbs.divide(ub.baseAddress!, uc, mb.baseAddress!, mc, quotient: nil, remainder: rb.baseAddress!)
                }
            }
        }
        return r
    }

    /// `base ** exponent % modulus` as `modulus.count` big-endian bytes (zeros for a zero modulus).
    static func modPow(base: [UInt8], exponent: [UInt8], modulus: [UInt8]) -> [UInt8] {
        var m = limbs(modulus)
        guard m.contains(where: { $0 != 0 }) else { return [UInt8](repeating: 0, count: modulus.count) }
        var b = limbs(base)
        b = reduce(&b, &m)
        var one = [UInt64](repeating: 0, count: m.count)
        one[0] = 1
        var result = reduce(&one, &m)
        for byte in exponent {
            for bit in stride(from: 7, through: 0, by: -1) {
                result = mulMod(result, result, &m)
                if (byte >> UInt8(bit)) & 1 == 1 { result = mulMod(result, b, &m) }
            }
        }
        var out = [UInt8](repeating: 0, count: modulus.count)
        for i in 0..<modulus.count {
            let limb = i / 8
            if limb < result.count { out[modulus.count - 1 - i] = UInt8(truncatingIfNeeded: result[limb] >> UInt64((i % 8) * 8)) }
        }
        return out
    }
}

/// The BLAKE2b compression function F (RFC 7693), with a caller-chosen number of rounds (EIP-152).
enum Blake2 {
    static let iv: [UInt64] = [
        0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
        0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
    ]
    static let sigma: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ]

    @inline(__always)
    static func rotr(_ x: UInt64, _ n: UInt64) -> UInt64 { (x >> n) | (x << (64 - n)) }

    static func compress(h: inout [UInt64], m: [UInt64], t0: UInt64, t1: UInt64, final: Bool, rounds: UInt32) {
        var v = h + iv
        v[12] ^= t0
        v[13] ^= t1
        if final { v[14] = ~v[14] }
        func g(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt64, _ y: UInt64) {
            v[a] = v[a] &+ v[b] &+ x; v[d] = rotr(v[d] ^ v[a], 32)
            v[c] = v[c] &+ v[d]; v[b] = rotr(v[b] ^ v[c], 24)
            v[a] = v[a] &+ v[b] &+ y; v[d] = rotr(v[d] ^ v[a], 16)
            v[c] = v[c] &+ v[d]; v[b] = rotr(v[b] ^ v[c], 63)
        }
        var round: UInt32 = 0
        while round < rounds {
            let s = sigma[Int(round % 10)]
            g(0, 4, 8, 12, m[s[0]], m[s[1]]); g(1, 5, 9, 13, m[s[2]], m[s[3]])
            g(2, 6, 10, 14, m[s[4]], m[s[5]]); g(3, 7, 11, 15, m[s[6]], m[s[7]])
            g(0, 5, 10, 15, m[s[8]], m[s[9]]); g(1, 6, 11, 12, m[s[10]], m[s[11]])
            g(2, 7, 8, 13, m[s[12]], m[s[13]]); g(3, 4, 9, 14, m[s[14]], m[s[15]])
            round += 1
        }
        for i in 0..<8 { h[i] ^= v[i] ^ v[i + 8] }
    }
}

/// RIPEMD-160 (Dobbertin, Bosselaers, Preneel, 1996), for precompile 0x03.
enum RIPEMD160 {
    static let rl: [Int] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
        3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
        1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
        4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13,
    ]
    static let rr: [Int] = [
        5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
        6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
        15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
        8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
        12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11,
    ]
    static let sl: [UInt32] = [
        11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
        7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
        11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
        11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
        9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
    ]
    static let sr: [UInt32] = [
        8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
        9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
        9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
        15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
        8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
    ]
    static let kl: [UInt32] = [0x0000_0000, 0x5A82_7999, 0x6ED9_EBA1, 0x8F1B_BCDC, 0xA953_FD4E]
    static let kr: [UInt32] = [0x50A2_8BE6, 0x5C4D_D124, 0x6D70_3EF3, 0x7A6D_76E9, 0x0000_0000]

    @inline(__always)
    static func f(_ j: Int, _ x: UInt32, _ y: UInt32, _ z: UInt32) -> UInt32 {
        switch j / 16 {
        case 0: return x ^ y ^ z
        case 1: return (x & y) | (~x & z)
        case 2: return (x | ~y) ^ z
        case 3: return (x & z) | (y & ~z)
        default: return x ^ (y | ~z)
        }
    }

    @inline(__always)
    static func rol(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }

    /// The 20-byte digest of `message`.
    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var padded = message
        padded.append(0x80)
        while padded.count % 64 != 56 { padded.append(0) }
        let bitLength = UInt64(message.count) &* 8
        for i in 0..<8 { padded.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(8 * i))) }
        var x = [UInt32](repeating: 0, count: 16)
        for block in stride(from: 0, to: padded.count, by: 64) {
            for i in 0..<16 {
                let o = block + 4 * i
                x[i] = UInt32(padded[o]) | UInt32(padded[o + 1]) << 8 | UInt32(padded[o + 2]) << 16 | UInt32(padded[o + 3]) << 24
            }
            var (al, bl, cl, dl, el) = (h[0], h[1], h[2], h[3], h[4])
            var (ar, br, cr, dr, er) = (h[0], h[1], h[2], h[3], h[4])
            for j in 0..<80 {
                var t = rol(al &+ f(j, bl, cl, dl) &+ x[rl[j]] &+ kl[j / 16], sl[j]) &+ el
                al = el; el = dl; dl = rol(cl, 10); cl = bl; bl = t
                t = rol(ar &+ f(79 - j, br, cr, dr) &+ x[rr[j]] &+ kr[j / 16], sr[j]) &+ er
                ar = er; er = dr; dr = rol(cr, 10); cr = br; br = t
            }
            let t = h[1] &+ cl &+ dr
            h[1] = h[2] &+ dl &+ er
            h[2] = h[3] &+ el &+ ar
            h[3] = h[4] &+ al &+ br
            h[4] = h[0] &+ bl &+ cr
            h[0] = t
        }
        var out: [UInt8] = []
        out.reserveCapacity(20)
        for word in h { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: word >> UInt32(8 * i))) } }
        return out
    }
}
