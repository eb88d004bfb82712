import COpenSSL

/// GCM built on a 128-bit block cipher in ECB, following NIST SP 800-38D §7
/// directly: J0 (IV ‖ 0^31 ‖ 1 for 96-bit IVs, else GHASH(IV padded ‖ len)),
/// CTR with inc32, and the tag E(J0) ⊕ GHASH(A, C).
///
/// Used where OpenSSL 3.0 has no GCM: SM4-GCM (OpenSSL adds it only in 3.2)
/// and nonces longer than its 128-byte limit (Wycheproof tests 257-byte
/// ones). The block cipher itself is OpenSSL's; only the GHASH and counter
/// logic are Swift. The bitwise GHASH costs about 128 shift/xor steps per
/// block: fine for ledger records, slow for bulk data. Cross-checked against
/// OpenSSL's AES-GCM for every nonce length in the tests.
enum CipherGCMSoftware {
    struct Block { var hi: UInt64; var lo: UInt64 }

    static func load(_ p: UnsafeRawBufferPointer, _ offset: Int) -> Block {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<8 { hi = hi << 8 | UInt64(offset + i < p.count ? p[offset + i] : 0) }
        for i in 8..<16 { lo = lo << 8 | UInt64(offset + i < p.count ? p[offset + i] : 0) }
        return Block(hi: hi, lo: lo)
    }

    static func bytes(_ b: Block) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 { out[i] = UInt8(truncatingIfNeeded: b.hi >> (56 - 8 * UInt64(i))) }
        for i in 0..<8 { out[8 + i] = UInt8(truncatingIfNeeded: b.lo >> (56 - 8 * UInt64(i))) }
        return out
    }

    /// Multiplication in GF(2^128) with the GCM bit order (SP 800-38D Alg. 1).
    static func multiply(_ x: Block, _ y: Block) -> Block {
        var z = Block(hi: 0, lo: 0)
        var v = y
        for i in 0..<128 {
            let bit = i < 64 ? (x.hi >> UInt64(63 - i)) & 1 : (x.lo >> UInt64(127 - i)) & 1
            if bit == 1 { z.hi ^= v.hi; z.lo ^= v.lo }
            let lsb = v.lo & 1
            v.lo = (v.lo >> 1) | (v.hi << 63)
            v.hi >>= 1
            if lsb == 1 { v.hi ^= 0xE100_0000_0000_0000 }
        }
        return z
    }

    /// GHASH of `data` zero-padded to whole blocks, continuing from `y`.
    static func ghash(_ h: Block, _ y: Block, _ data: [UInt8]) -> Block {
        var y = y
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let x = load(raw, offset)
                y = multiply(Block(hi: y.hi ^ x.hi, lo: y.lo ^ x.lo), h)
                offset += 16
            }
        }
        return y
    }

    /// Encrypts (`encrypt == true`) or decrypts `input`; returns the output
    /// and the full 16-byte tag computed over the ciphertext.
    static func crypt(_ ecb: EVPCipherAlgorithm, key: UnsafePointer<UInt8>, nonce: [UInt8], aad: [UInt8],
                      input: [UInt8], encrypt: Bool) throws(LedgerError) -> (output: [UInt8], tag: [UInt8]) {
        let zero = [UInt8](repeating: 0, count: 16)
        let hBytes = try CipherECB.run(ecb, key: key, input: zero, encrypt: true)
        let h = hBytes.withUnsafeBytes { load($0, 0) }
        var j0: Block
        if nonce.count == 12 {
            j0 = (nonce + [0, 0, 0, 1]).withUnsafeBytes { load($0, 0) }
        } else {
            j0 = ghash(h, Block(hi: 0, lo: 0), nonce)
            j0 = multiply(Block(hi: j0.hi, lo: j0.lo ^ UInt64(nonce.count) &* 8), h)
        }

        // Counter blocks inc32(J0) + 1 ... and E(J0) in one ECB call.
        let blocks = (input.count + 15) / 16
        var counters = bytes(j0)
        counters.reserveCapacity(16 * (blocks + 1))
        let low32 = UInt32(truncatingIfNeeded: j0.lo)
        for i in stride(from: 1, through: blocks, by: 1) {
            let c = Block(hi: j0.hi, lo: (j0.lo & 0xFFFF_FFFF_0000_0000) | UInt64(low32 &+ UInt32(i)))
            counters += bytes(c)
        }
        let stream = try CipherECB.run(ecb, key: key, input: counters, encrypt: true)
        var output = input
        for i in 0..<input.count { output[i] ^= stream[16 + i] }

        let ciphertext = encrypt ? output : input
        var s = ghash(h, Block(hi: 0, lo: 0), aad)
        s = ghash(h, s, ciphertext)
        s = multiply(Block(hi: s.hi ^ (UInt64(aad.count) &* 8), lo: s.lo ^ (UInt64(ciphertext.count) &* 8)), h)
        var tag = bytes(s)
        for i in 0..<16 { tag[i] ^= stream[i] }
        return (output, tag)
    }
}
