import Foundation
import LedgerCrypto
import Synchronization

/// How many threads a bulk Merkle-root computation may use.
///
/// The leaves are cut into aligned runs of ``MerkleTree/chunkLeafCount``
/// leaves (a power of two, so every run is a complete RFC 6962 subtree, the
/// same subtrees the RFC's "largest power of two smaller than n" split
/// produces). The runs are hashed on up to the chosen number of threads
/// (dedicated threads, no Swift tasks), and their roots are
/// joined level by level. The root is identical for every choice.
///
/// Example: `MerkleTree.root(leafHashes: ids, concurrency: .threads(2))`
public enum MerkleConcurrency: Sendable, Hashable {
    /// One thread: the calling thread.
    case serial
    /// The default. Serial below ``MerkleTree/parallelThreshold`` leaves;
    /// from there, one thread per active processor core (at most one per run
    /// of ``MerkleTree/chunkLeafCount`` leaves).
    case automatic
    /// At most this many threads (values below 2 mean serial). Still capped
    /// at one thread per run of ``MerkleTree/chunkLeafCount`` leaves.
    case threads(Int)

    func threadCount(leafCount n: Int) -> Int {
        let chunks = (n + MerkleTree.chunkLeafCount - 1) / MerkleTree.chunkLeafCount
        let wanted: Int
        switch self {
        case .serial: wanted = 1
        case .automatic:
            wanted = n >= MerkleTree.parallelThreshold ? ProcessInfo.processInfo.activeProcessorCount : 1
        case .threads(let t): wanted = t
        }
        return max(1, min(wanted, chunks))
    }
}

/// The leaf input of one root computation, read (never written) by every
/// worker thread while the caller keeps it alive and unchanged.
private struct SharedInput: @unchecked Sendable {
    let raw: UnsafeRawPointer?
}

extension MerkleTree {
    /// Leaf count from which ``MerkleConcurrency/automatic`` hashes on
    /// several threads: 4096. Below it, thread hand-off costs more than it
    /// saves.
    public static let parallelThreshold = 4096

    /// Leaves per independently hashed run in the bulk root functions: 1024
    /// (a power of two, so each run is a complete RFC 6962 subtree whose
    /// 32 KiB of hashes stay in the L1/L2 cache).
    public static let chunkLeafCount = 1024

    /// The RFC 6962 root over leaf hashes that are already computed (for
    /// example transaction IDs hashed with ``MerkleHasher/hashLeaf(_:)``).
    ///
    /// Computed level by level in one work buffer, with no allocation per
    /// node; large inputs are hashed on several threads (see
    /// ``MerkleConcurrency``).
    ///
    /// - Parameters:
    ///   - leafHashes: Required. The leaf hashes in order; may be empty
    ///     (the root is then `H("")`).
    ///   - algorithm: Optional, default `HashAlgorithm.default` (SHA-256).
    ///   - concurrency: Optional, default ``MerkleConcurrency/automatic``.
    /// - Returns: The Merkle Tree Hash of the leaves.
    /// - Note: Thread-safe; reads `leafHashes` only.
    ///
    /// Example: `let root = MerkleTree.root(leafHashes: txIDs)`
    public static func root(leafHashes: [Digest], algorithm: HashAlgorithm = .default,
                            concurrency: MerkleConcurrency = .automatic) -> Digest {
        leafHashes.withUnsafeBytes { raw in
            bulkRoot(input: raw.baseAddress, count: leafHashes.count, leafSize: nil,
                     algorithm: algorithm, concurrency: concurrency)
        }
    }

    /// The RFC 6962 root over leaf hashes packed back to back in raw memory
    /// (32 bytes each).
    ///
    /// - Parameters:
    ///   - leafHashBytes: Required. `32 × n` bytes; may be empty.
    ///   - algorithm: Optional, default `HashAlgorithm.default`.
    ///   - concurrency: Optional, default ``MerkleConcurrency/automatic``.
    /// - Throws: `LedgerError` `LedgerError.Code.invalidLeafBuffer` (1207)
    ///   when the byte count is not a multiple of 32.
    /// - Note: Thread-safe; the memory must not change during the call.
    ///
    /// Example: `let root = try MerkleTree.root(leafHashBytes: UnsafeRawBufferPointer(buffer))`
    public static func root(leafHashBytes: UnsafeRawBufferPointer, algorithm: HashAlgorithm = .default,
                            concurrency: MerkleConcurrency = .automatic) throws(LedgerError) -> Digest {
        guard leafHashBytes.count % 32 == 0 else {
            throw LedgerError(.invalidLeafBuffer,
                              "leaf hash buffer of \(leafHashBytes.count) bytes is not a multiple of 32",
                              details: ["length": String(leafHashBytes.count)])
        }
        return bulkRoot(input: leafHashBytes.baseAddress, count: leafHashBytes.count / 32, leafSize: nil,
                        algorithm: algorithm, concurrency: concurrency)
    }

    /// The RFC 6962 root over fixed-size leaves stored back to back in one
    /// contiguous buffer: leaf `i` is `leafData[i*leafSize ..< (i+1)*leafSize]`.
    ///
    /// This is the hot path for transaction roots: leaf hashes and interior
    /// nodes are computed level by level in small per-thread work buffers
    /// with no allocation per node. With SHA-256 each leaf of up to 54 bytes
    /// costs one compression and each node two.
    ///
    /// - Parameters:
    ///   - leafData: Required. `leafSize × n` bytes; may be empty (root `H("")`).
    ///   - leafSize: Required, ≥ 1. Bytes per leaf.
    ///   - algorithm: Optional, default `HashAlgorithm.default`.
    ///   - concurrency: Optional, default ``MerkleConcurrency/automatic``
    ///     (parallel from ``parallelThreshold`` leaves).
    /// - Throws: `LedgerError` `LedgerError.Code.invalidLeafBuffer` (1207)
    ///   when `leafSize < 1` or the byte count is not a multiple of it.
    /// - Note: Thread-safe; the memory must not change during the call.
    ///
    /// Example: `let root = try MerkleTree.root(leafData: raw, leafSize: 32, concurrency: .serial)`
    public static func root(leafData: UnsafeRawBufferPointer, leafSize: Int, algorithm: HashAlgorithm = .default,
                            concurrency: MerkleConcurrency = .automatic) throws(LedgerError) -> Digest {
        guard leafSize >= 1, leafData.count % leafSize == 0 else {
            throw LedgerError(.invalidLeafBuffer,
                              "leaf buffer of \(leafData.count) bytes is not a whole number of \(leafSize)-byte leaves",
                              details: ["length": String(leafData.count), "leafSize": String(leafSize)])
        }
        return bulkRoot(input: leafData.baseAddress, count: leafData.count / leafSize, leafSize: leafSize,
                        algorithm: algorithm, concurrency: concurrency)
    }

    /// The RFC 6962 root over fixed-size leaves stored back to back in a byte
    /// array. Same as the `UnsafeRawBufferPointer` overload.
    ///
    /// - Parameters:
    ///   - leafData: Required. `leafSize × n` bytes; may be empty.
    ///   - leafSize: Required, ≥ 1.
    ///   - algorithm: Optional, default `HashAlgorithm.default`.
    ///   - concurrency: Optional, default ``MerkleConcurrency/automatic``.
    /// - Throws: `LedgerError` `LedgerError.Code.invalidLeafBuffer` (1207).
    /// - Note: Thread-safe.
    ///
    /// Example: `let root = try MerkleTree.root(leafData: bytes, leafSize: 32)`
    public static func root(leafData: [UInt8], leafSize: Int, algorithm: HashAlgorithm = .default,
                            concurrency: MerkleConcurrency = .automatic) throws(LedgerError) -> Digest {
        guard leafSize >= 1, leafData.count % leafSize == 0 else {
            throw LedgerError(.invalidLeafBuffer,
                              "leaf buffer of \(leafData.count) bytes is not a whole number of \(leafSize)-byte leaves",
                              details: ["length": String(leafData.count), "leafSize": String(leafSize)])
        }
        return leafData.withUnsafeBytes { raw in
            bulkRoot(input: raw.baseAddress, count: raw.count / leafSize, leafSize: leafSize,
                     algorithm: algorithm, concurrency: concurrency)
        }
    }

    // MARK: - Engine

    static func bulkRoot(input: UnsafeRawPointer?, count n: Int, leafSize: Int?,
                         algorithm: HashAlgorithm, concurrency: MerkleConcurrency) -> Digest {
        if n == 0 { return algorithm.hash([UInt8]()) }
        let threads = concurrency.threadCount(leafCount: n)
        switch algorithm {
        case .sha256:
            return bulkRoot(SHA256MerkleEngine.self, input: input!, count: n, leafSize: leafSize, threads: threads)
        case .sha3_256:
            return bulkRoot(SHA3MerkleEngine.self, input: input!, count: n, leafSize: leafSize, threads: threads)
        case .sm3:
            return bulkRoot(SM3MerkleEngine.self, input: input!, count: n, leafSize: leafSize, threads: threads)
        case .keccak256:
            return bulkRoot(KeccakMerkleEngine.self, input: input!, count: n, leafSize: leafSize, threads: threads)
        }
    }

    private static func bulkRoot<E: MerkleHashEngine>(_ engineType: E.Type, input: UnsafeRawPointer, count n: Int,
                                                      leafSize: Int?, threads: Int) -> Digest {
        let c = chunkLeafCount
        let chunks = (n + c - 1) / c
        let rootsBytes = chunks * 32
        let scratchBytes = (leafSize == nil ? c / 2 : c) * 32
        let memory = UnsafeMutableRawPointer.allocate(byteCount: rootsBytes + threads * scratchBytes, alignment: 64)
        defer { memory.deallocate() }

        let engine = E()
        if threads <= 1 {
            for j in 0..<chunks {
                chunkRoot(engine, input: input, count: n, leafSize: leafSize, chunk: j,
                          scratch: memory + rootsBytes, into: memory + 32 * j)
            }
        } else {
            let shared = SharedMutablePointer(raw: memory)
            let source = SharedInput(raw: input)
            // Runs are handed out one at a time, so a thread whose core is
            // busy with other work simply takes fewer of them.
            ParallelWork.forEachChunk(chunks, threads: threads) { t, j in
                let scratch = shared.raw + rootsBytes + t * scratchBytes
                chunkRoot(E(), input: source.raw!, count: n, leafSize: leafSize, chunk: j,
                          scratch: scratch, into: shared.raw + 32 * j)
            }
        }
        reduce(engine, memory, chunks)
        return Digest(unsafeRaw: memory)
    }

    /// Root of run `j` (leaves `[j*c, min((j+1)*c, n))`) into `out`.
    @inline(__always)
    private static func chunkRoot<E: MerkleHashEngine>(_ e: E, input: UnsafeRawPointer, count n: Int,
                                                       leafSize: Int?, chunk j: Int,
                                                       scratch: UnsafeMutableRawPointer,
                                                       into out: UnsafeMutableRawPointer) {
        let lo = j * chunkLeafCount
        let m = min(chunkLeafCount, n - lo)
        if let size = leafSize {
            var p = input + lo * size
            for i in 0..<m {
                e.leaf(p, size, into: scratch + 32 * i)
                p += size
            }
            reduce(e, scratch, m)
        } else if m == 1 {
            scratch.copyMemory(from: input + 32 * lo, byteCount: 32)
        } else {
            // First level straight from the caller's hashes.
            let src = input + 32 * lo
            let half = m / 2
            for i in 0..<half { e.node(pair: src + 64 * i, into: scratch + 32 * i) }
            if m & 1 == 1 { (scratch + 32 * half).copyMemory(from: src + 32 * (m - 1), byteCount: 32) }
            reduce(e, scratch, half + (m & 1))
        }
        if out != scratch { out.copyMemory(from: scratch, byteCount: 32) }
    }

    /// Reduces `m ≥ 1` node hashes at `work` level by level, in place: adjacent
    /// pairs are hashed and a lone last node is carried up unchanged, which is
    /// exactly RFC 6962's split rule. The root ends at `work[0..<32]`.
    @inline(__always)
    static func reduce<E: MerkleHashEngine>(_ e: E, _ work: UnsafeMutableRawPointer, _ count: Int) {
        var m = count
        while m > 1 {
            let half = m / 2
            for i in 0..<half { e.node(pair: work + 64 * i, into: work + 32 * i) }
            if m & 1 == 1 { (work + 32 * half).copyMemory(from: work + 32 * (m - 1), byteCount: 32) }
            m = half + (m & 1)
        }
    }
}
