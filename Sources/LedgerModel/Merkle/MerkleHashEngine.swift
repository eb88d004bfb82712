import COpenSSL
import LedgerCrypto

/// The internal hashing engine of the Merkle code: RFC 6962 leaf and node
/// hashes written straight into caller memory, with every buffer and context
/// allocated once per engine. One engine per thread (engines are not
/// `Sendable`).
protocol MerkleHashEngine: AnyObject, SendableMetatype {
    init()
    /// `out ← H(0x00 ‖ data[0..<count])`.
    func leaf(_ data: UnsafeRawPointer, _ count: Int, into out: UnsafeMutableRawPointer)
    /// `out ← H(0x01 ‖ pair[0..<64])`; `out` may alias `pair`.
    func node(pair: UnsafeRawPointer, into out: UnsafeMutableRawPointer)
    /// `out ← H(0x01 ‖ left[0..<32] ‖ right[0..<32])`; `out` may alias either.
    func node(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, into out: UnsafeMutableRawPointer)
}

/// SHA-256 on OpenSSL's block function (`SHA256_Transform`) with the padding
/// precomputed: a node is exactly two compressions and a leaf of up to 54
/// bytes exactly one, with no `SHA256_Update`/`SHA256_Final` bookkeeping.
final class SHA256MerkleEngine: MerkleHashEngine {
    // Layout of `scratch`: [0, 128) node message (two padded blocks),
    // [128, 192) leaf message (one padded block), [192, ...) SHA256_CTX.
    private let scratch: UnsafeMutableRawPointer
    private let ctx: UnsafeMutablePointer<SHA256_CTX>
    private var preparedLeafSize = -1

    private static let ctxOffset = 192
    private static let maxSingleBlockLeaf = 64 - 1 - 1 - 8   // 54

    init() {
        let size = Self.ctxOffset + MemoryLayout<SHA256_CTX>.stride
        scratch = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        scratch.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        ctx = (scratch + Self.ctxOffset).bindMemory(to: SHA256_CTX.self, capacity: 1)
        SHA256_Init(ctx)
        // Node message: 0x01 ‖ left ‖ right ‖ 0x80 ‖ 0… ‖ bit length 520 (big-endian).
        scratch.storeBytes(of: 0x01, toByteOffset: 0, as: UInt8.self)
        scratch.storeBytes(of: 0x80, toByteOffset: 65, as: UInt8.self)
        scratch.storeBytes(of: UInt64(65 * 8).bigEndian, toByteOffset: 120, as: UInt64.self)
    }

    deinit { scratch.deallocate() }

    @inline(__always)
    private func compress(_ message: UnsafeRawPointer, blocks: Int, into out: UnsafeMutableRawPointer) {
        ctx.pointee.h = (0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a,
                         0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19)
        let m = message.assumingMemoryBound(to: UInt8.self)
        SHA256_Transform(ctx, m)
        if blocks == 2 { SHA256_Transform(ctx, m + 64) }
        let h = ctx.pointee.h
        out.storeBytes(of: h.0.bigEndian, toByteOffset: 0, as: UInt32.self)
        out.storeBytes(of: h.1.bigEndian, toByteOffset: 4, as: UInt32.self)
        out.storeBytes(of: h.2.bigEndian, toByteOffset: 8, as: UInt32.self)
        out.storeBytes(of: h.3.bigEndian, toByteOffset: 12, as: UInt32.self)
        out.storeBytes(of: h.4.bigEndian, toByteOffset: 16, as: UInt32.self)
        out.storeBytes(of: h.5.bigEndian, toByteOffset: 20, as: UInt32.self)
        out.storeBytes(of: h.6.bigEndian, toByteOffset: 24, as: UInt32.self)
        out.storeBytes(of: h.7.bigEndian, toByteOffset: 28, as: UInt32.self)
    }

    @inline(__always)
    func leaf(_ data: UnsafeRawPointer, _ count: Int, into out: UnsafeMutableRawPointer) {
        let block = scratch + 128
        if count <= Self.maxSingleBlockLeaf {
            if count != preparedLeafSize {
                block.initializeMemory(as: UInt8.self, repeating: 0, count: 64)
                block.storeBytes(of: 0x80, toByteOffset: 1 + count, as: UInt8.self)
                block.storeBytes(of: UInt64((1 + count) * 8).bigEndian, toByteOffset: 56, as: UInt64.self)
                preparedLeafSize = count
            }
            (block + 1).copyMemory(from: data, byteCount: count)
            compress(block, blocks: 1, into: out)
        } else {
            var prefix: UInt8 = 0
            SHA256_Init(ctx)
            SHA256_Update(ctx, &prefix, 1)
            SHA256_Update(ctx, data, count)
            _ = SHA256_Final(out.assumingMemoryBound(to: UInt8.self), ctx)
        }
    }

    @inline(__always)
    func node(pair: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        (scratch + 1).copyMemory(from: pair, byteCount: 64)
        compress(scratch, blocks: 2, into: out)
    }

    @inline(__always)
    func node(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        (scratch + 1).copyMemory(from: left, byteCount: 32)
        (scratch + 33).copyMemory(from: right, byteCount: 32)
        compress(scratch, blocks: 2, into: out)
    }
}

/// SHA3-256 or SM3 through one reused `EVP_MD_CTX`.
class EVPMerkleEngine {
    private let ctx: OpaquePointer
    private let md: OpaquePointer
    private let message: UnsafeMutableRawPointer   // 0x01 ‖ left ‖ right

    init(algorithm: HashAlgorithm) {
        guard let c = EVP_MD_CTX_new() else { preconditionFailure("EVP_MD_CTX_new failed: out of memory") }
        ctx = c
        md = EVPMessageDigest.forAlgorithm(algorithm).md
        message = UnsafeMutableRawPointer.allocate(byteCount: 65, alignment: 16)
        message.storeBytes(of: 0x01, as: UInt8.self)
    }

    deinit {
        EVP_MD_CTX_free(ctx)
        message.deallocate()
    }

    @inline(__always)
    private func digest(_ a: UnsafeRawPointer, _ na: Int, _ b: UnsafeRawPointer?, _ nb: Int,
                        into out: UnsafeMutableRawPointer) {
        var len: UInt32 = 0
        let ok = EVP_DigestInit_ex2(ctx, md, nil) == 1
            && EVP_DigestUpdate(ctx, a, na) == 1
            && (nb == 0 || EVP_DigestUpdate(ctx, b, nb) == 1)
            && EVP_DigestFinal_ex(ctx, out.assumingMemoryBound(to: UInt8.self), &len) == 1
        precondition(ok && len == 32, "OpenSSL EVP digest failed")
    }

    @inline(__always)
    final func leaf(_ data: UnsafeRawPointer, _ count: Int, into out: UnsafeMutableRawPointer) {
        var prefix: UInt8 = 0
        withUnsafeBytes(of: &prefix) { p in digest(p.baseAddress!, 1, data, count, into: out) }
    }

    @inline(__always)
    final func node(pair: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        (message + 1).copyMemory(from: pair, byteCount: 64)
        digest(message, 65, nil, 0, into: out)
    }

    @inline(__always)
    final func node(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        (message + 1).copyMemory(from: left, byteCount: 32)
        (message + 33).copyMemory(from: right, byteCount: 32)
        digest(message, 65, nil, 0, into: out)
    }
}

final class SHA3MerkleEngine: EVPMerkleEngine, MerkleHashEngine {
    required init() { super.init(algorithm: .sha3_256) }
}

final class SM3MerkleEngine: EVPMerkleEngine, MerkleHashEngine {
    required init() { super.init(algorithm: .sm3) }
}

/// Keccak-256 (Ethereum padding) with the Swift sponge.
final class KeccakMerkleEngine: MerkleHashEngine {
    init() {}

    @inline(__always)
    func leaf(_ data: UnsafeRawPointer, _ count: Int, into out: UnsafeMutableRawPointer) {
        var k = Keccak256()
        var prefix: UInt8 = 0
        withUnsafeBytes(of: &prefix) { k.update($0) }
        k.update(UnsafeRawBufferPointer(start: data, count: count))
        k.finalize().store(to: out)
    }

    @inline(__always)
    func node(pair: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        node(pair, pair + 32, into: out)
    }

    @inline(__always)
    func node(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        var k = Keccak256()
        var prefix: UInt8 = 1
        withUnsafeBytes(of: &prefix) { k.update($0) }
        k.update(UnsafeRawBufferPointer(start: left, count: 32))
        k.update(UnsafeRawBufferPointer(start: right, count: 32))
        k.finalize().store(to: out)
    }
}
