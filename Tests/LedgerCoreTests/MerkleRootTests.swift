import Foundation
import Testing
import LedgerCore

struct MerkleRootTests {
    @Test("The level-by-level roots equal the literal recursive definition for sizes 0 to 300",
          arguments: HashAlgorithm.allCases)
    func fastRootsMatchRecursiveDefinition(algorithm: HashAlgorithm) throws {
        var rng = SplitMix64(seed: 6962)
        // Variable-length leaves for the tree; fixed-size leaves for the bulk path.
        let varLeaves: [[UInt8]] = (0..<300).map { i in (0..<(i % 70)).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        let leafSize = algorithm == .sha256 ? 32 : 7
        let packed = (0..<(300 * leafSize)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let fixedLeaves = (0..<300).map { Array(packed[($0 * leafSize)..<(($0 + 1) * leafSize)]) }
        let bigTree = MerkleTree(leaves: varLeaves, algorithm: algorithm)
        let varReference = MerkleReference.Memo(varLeaves, algorithm)
        let fixedReference = MerkleReference.Memo(fixedLeaves, algorithm)
        // The memoised reference agrees with the plain recursion (spot check).
        for n in [0, 1, 2, 3, 7, 64, 65, 300] {
            #expect(varReference.root(n) == MerkleReference.root(varLeaves[0..<n], algorithm))
        }
        for n in 0...300 {
            let want = varReference.root(n)
            #expect(try bigTree.root(ofSize: n) == want, "root(ofSize:) n=\(n)")
            let prefix = Array(bigTree.leafHashes[0..<n])
            #expect(MerkleTree.root(leafHashes: prefix, algorithm: algorithm, concurrency: .serial) == want,
                    "leafHashes n=\(n)")
            // Building whole trees per size is slow for the Swift Keccak in debug builds: sample it there.
            if algorithm != .keccak256 || n % 10 == 3 {
                let tree = n % 50 == 7 ? MerkleTree(leaves: varLeaves[0..<n], algorithm: algorithm)
                    : MerkleTree(leafHashes: prefix, algorithm: algorithm)
                #expect(tree.root == want, "tree n=\(n)")
            }
            let wantFixed = fixedReference.root(n)
            #expect(try MerkleTree.root(leafData: Array(packed[0..<(n * leafSize)]), leafSize: leafSize,
                                        algorithm: algorithm, concurrency: .serial) == wantFixed, "leafData n=\(n)")
        }
    }

    @Test("SHA-256 leaves longer than one block (55 bytes and more) hash like the reference")
    func longLeavesUseTheMultiBlockPath() throws {
        for size in [53, 54, 55, 56, 63, 64, 65, 119, 200] {
            let packed = (0..<(9 * size)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
            let leaves = (0..<9).map { Array(packed[($0 * size)..<(($0 + 1) * size)]) }
            #expect(try MerkleTree.root(leafData: packed, leafSize: size, concurrency: .serial)
                    == MerkleReference.root(leaves[...], .sha256), "leaf size \(size)")
            #expect(MerkleHasher().hashLeaf(leaves[0]) == MerkleReference.leaf(leaves[0], .sha256))
        }
    }

    @Test("Parallel roots equal serial roots around the threshold and chunk boundaries",
          arguments: [1, 2, 1023, 1024, 1025, 2049, 4095, 4096, 4097, 5 * 1024 + 1, 9000])
    func parallelEqualsSerial(n: Int) throws {
        let data = MerkleReference.baselineLeaves(n)
        for algorithm in HashAlgorithm.allCases {
            let serial = try MerkleTree.root(leafData: data, leafSize: 32, algorithm: algorithm, concurrency: .serial)
            for c in [MerkleConcurrency.automatic, .threads(2), .threads(3), .threads(64)] {
                #expect(try MerkleTree.root(leafData: data, leafSize: 32, algorithm: algorithm, concurrency: c) == serial,
                        "\(algorithm) n=\(n) \(c)")
            }
            if algorithm == .sha256 {
                let hashes = MerkleTree(leaves: (0..<n).map { Array(data[($0 * 32)..<(($0 + 1) * 32)]) }).leafHashes
                #expect(MerkleTree.root(leafHashes: hashes, concurrency: .threads(2)) == serial)
                #expect(MerkleTree.root(leafHashes: hashes, concurrency: .serial) == serial)
            }
        }
    }

    @Test("A parallel root over 2^20 + 3 leaves equals the serial root")
    func parallelEqualsSerialJustAboveAPowerOfTwo() throws {
        let data = MerkleReference.baselineLeaves((1 << 20) + 3)
        let serial = try MerkleTree.root(leafData: data, leafSize: 32, concurrency: .serial)
        #expect(try MerkleTree.root(leafData: data, leafSize: 32, concurrency: .threads(2)) == serial)
        #expect(try MerkleTree.root(leafData: data, leafSize: 32, concurrency: .automatic) == serial)
        // The last three leaves matter: dropping one changes the root.
        #expect(try MerkleTree.root(leafData: Array(data.dropLast(32)), leafSize: 32) != serial)
    }

    /// Also a timing helper: prints the time of one serial and one parallel
    /// root (no time is asserted; measure with `swift test -c release`).
    @Test("The root of 2^20 baseline leaves equals the C baseline's root")
    func rootOfAMillionLeavesMatchesCBaseline() throws {
        // From: gcc -O2 -o /tmp/merkle_baseline ../shared/baselines/merkle_baseline.c -lcrypto -lpthread
        //       /tmp/merkle_baseline root 1048576 lowlevel 1 1
        let expected = "3ef7b2533239f8f0db154e63633fc18cf73ea5bc696d9f28aa66c9c6b8ed217d"
        let data = MerkleReference.baselineLeaves(1 << 20)
        let clock = ContinuousClock()
        var serial = Digest.zero, parallel = Digest.zero
        let t1 = try clock.measure {
            serial = try data.withUnsafeBytes { try MerkleTree.root(leafData: $0, leafSize: 32, concurrency: .serial) }
        }
        let t2 = try clock.measure {
            parallel = try data.withUnsafeBytes { try MerkleTree.root(leafData: $0, leafSize: 32, concurrency: .threads(2)) }
        }
        print("Merkle root of 2^20 leaves: serial \(t1), 2 threads \(t2)")
        #expect(serial.hex == expected)
        #expect(parallel.hex == expected)
    }

    @Test("The empty tree's root is H(\"\") for every algorithm and every entry point", arguments: HashAlgorithm.allCases)
    func emptyRoots(algorithm: HashAlgorithm) throws {
        let empty = algorithm.hash([UInt8]())
        #expect(MerkleTree(leafHashes: [], algorithm: algorithm).root == empty)
        #expect(MerkleTree.root(leafHashes: [], algorithm: algorithm) == empty)
        #expect(try MerkleTree.root(leafData: [], leafSize: 32, algorithm: algorithm) == empty)
        #expect(MerkleHasher(algorithm).emptyRoot == empty)
    }

    @Test("Leaf and node hashes follow RFC 6962 for every algorithm, for contiguous and non-contiguous leaves",
          arguments: HashAlgorithm.allCases)
    func leafAndNodeHashes(algorithm: HashAlgorithm) {
        let hasher = MerkleHasher(algorithm)
        let data: [UInt8] = Array(0..<100)
        for n in [0, 1, 31, 32, 54, 55, 100] {
            let leaf = Array(data.prefix(n))
            #expect(hasher.hashLeaf(leaf) == algorithm.hash([0x00] + leaf), "n=\(n)")
            #expect(hasher.hashLeaf(AnyCollection(leaf)) == algorithm.hash([0x00] + leaf))
        }
        let a = hasher.hashLeaf([1]), b = hasher.hashLeaf([2])
        #expect(hasher.hashChildren(a, b) == algorithm.hash([0x01] + a.bytes + b.bytes))
        #expect(hasher.hashChildren(a.bytes, b.bytes) == hasher.hashChildren(a, b))
        #expect(hasher.hashChildren(a, b) != hasher.hashChildren(b, a))
        let leaves = (0..<9).map { Array(data.prefix($0 * 7)) }
        #expect(MerkleTree(leaves: leaves.map { AnyCollection($0) }, algorithm: algorithm).root
                == MerkleReference.root(leaves[...], algorithm))
    }

    @Test("Leaf buffers that are not whole leaves are rejected with 1207")
    func badLeafBuffers() throws {
        for (bytes, size) in [(33, 32), (10, 0), (10, -1), (5, 4)] {
            let e = #expect(throws: LedgerError.self) {
                try MerkleTree.root(leafData: [UInt8](repeating: 0, count: bytes), leafSize: size)
            }
            #expect(e?.code == .invalidLeafBuffer)
            #expect(e?.numericCode == 1207)
        }
        let e = #expect(throws: LedgerError.self) {
            try [UInt8](repeating: 0, count: 40).withUnsafeBytes { try MerkleTree.root(leafHashBytes: $0) }
        }
        #expect(e?.code == .invalidLeafBuffer)
        let hashes = (0..<5).map { MerkleHasher().hashLeaf([UInt8($0)]) }
        let flat = hashes.flatMap(\.bytes)
        #expect(try flat.withUnsafeBytes { try MerkleTree.root(leafHashBytes: $0) } == MerkleTree.root(leafHashes: hashes))
    }
}
