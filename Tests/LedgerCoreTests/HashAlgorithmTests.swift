import Testing
@testable import LedgerCore

struct HashAlgorithmTests {
    @Test func sha256OfAbcMatchesFIPS180() {
        #expect(HashAlgorithm.sha256.hash(Array("abc".utf8)).hex
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func sha3OfAbcMatchesFIPS202() {
        #expect(HashAlgorithm.sha3_256.hash(Array("abc".utf8)).hex
                == "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532")
    }

    @Test func sm3OfAbcMatchesGBT32905() {
        #expect(HashAlgorithm.sm3.hash(Array("abc".utf8)).hex
                == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    }

    @Test func keccakOfEmptyIsEthereumEmptyHash() {
        #expect(HashAlgorithm.keccak256.hash([UInt8]()).hex
                == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    }

    @Test(arguments: HashAlgorithm.allCases)
    func streamingEqualsOneShotAcrossBlockBoundaries(algorithm: HashAlgorithm) {
        var rng = SplitMix64(seed: 42)
        for length in [0, 1, 55, 56, 63, 64, 135, 136, 137, 1000] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let h = algorithm.makeHasher()
            var i = 0
            while i < data.count {
                let n = min(7, data.count - i)
                h.update(Array(data[i..<(i + n)]))
                i += n
            }
            #expect(h.finalize() == algorithm.hash(data), "length \(length)")
            // reused after finalize
            h.update(data)
            #expect(h.finalize() == algorithm.hash(data))
        }
    }

    @Test func parsesAlgorithmNamesAndRejectsUnknown() throws {
        #expect(try HashAlgorithm(name: "SHA3_256") == .sha3_256)
        let error = #expect(throws: LedgerError.self) { try HashAlgorithm(name: "md5") }
        #expect(error?.code == .unknownHashAlgorithm)
    }

    @Test func digestOrderEqualityAndHashingFollowTheBytes() throws {
        var rng = SplitMix64(seed: 99)
        var digests = [Digest]()
        for i in 0..<400 {
            var bytes = (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Pairs that differ only late, or in one byte of each word, exercise every word of the comparison.
            if i % 4 == 1, let last = digests.last { bytes = last.bytes; bytes[Int(rng.next() % 32)] ^= 0x80 }
            if i % 4 == 2, let last = digests.last { bytes = last.bytes }
            digests.append(try Digest(bytes: bytes))
        }
        for (a, b) in zip(digests, digests.dropFirst()) {
            #expect((a < b) == a.bytes.lexicographicallyPrecedes(b.bytes))
            #expect((b < a) == b.bytes.lexicographicallyPrecedes(a.bytes))
            #expect((a == b) == (a.bytes == b.bytes))
        }
        #expect(digests.sorted().map(\.bytes) == digests.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) })
        #expect(Set(digests).count == Set(digests.map(\.bytes)).count)
        #expect(!(Digest.zero < Digest.zero))
    }
}
