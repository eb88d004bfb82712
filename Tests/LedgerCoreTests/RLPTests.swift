import Testing
@testable import LedgerCore

struct RLPTests {
    @Test func encodesYellowPaperExamples() {
        #expect(RLP.encode(.string("dog")) == [0x83, 0x64, 0x6f, 0x67])
        #expect(RLP.encode(.list([.string("cat"), .string("dog")]))
                == [0xc8, 0x83, 0x63, 0x61, 0x74, 0x83, 0x64, 0x6f, 0x67])
        #expect(RLP.encode(.bytes([])) == [0x80])
        #expect(RLP.encode(.list([])) == [0xc0])
        #expect(RLP.encode(.uint(0)) == [0x80])
        #expect(RLP.encode(.uint(15)) == [0x0f])
        #expect(RLP.encode(.uint(1024)) == [0x82, 0x04, 0x00])
        // [ [], [[]], [ [], [[]] ] ]
        let set3: RLP.Item = .list([.list([]), .list([.list([])]), .list([.list([]), .list([.list([])])])])
        #expect(RLP.encode(set3) == [0xc7, 0xc0, 0xc1, 0xc0, 0xc3, 0xc0, 0xc1, 0xc0])
    }

    @Test func roundTripsLongStringsAndLists() throws {
        let long = RLP.Item.bytes([UInt8](repeating: 7, count: 1_000))
        let list = RLP.Item.list(Array(repeating: long, count: 70))
        let encoded = RLP.encode(list)
        #expect(encoded.count == RLP.encodedLength(list))
        #expect(try RLP.decode(encoded) == list)
    }

    @Test func rejectsSingleByteWrappedInHeader() {
        let error = #expect(throws: LedgerError.self) { try RLP.decode([0x81, 0x05]) }
        #expect(error?.code == .nonCanonicalSingleByte)
    }

    @Test func acceptsSingleHighByteWithHeader() throws {
        #expect(try RLP.decode([0x81, 0x80]) == .bytes([0x80]))
    }

    @Test func rejectsLongFormForShortLength() {
        let bytes: [UInt8] = [0xb8, 0x02, 0x61, 0x62]
        let error = #expect(throws: LedgerError.self) { try RLP.decode(bytes) }
        #expect(error?.code == .nonCanonicalLength)
    }

    @Test func rejectsLengthWithLeadingZero() {
        let bytes: [UInt8] = [0xb9, 0x00, 0x38] + [UInt8](repeating: 0x61, count: 56)
        let error = #expect(throws: LedgerError.self) { try RLP.decode(bytes) }
        #expect(error?.code == .nonCanonicalLength)
    }

    @Test func rejectsTrailingBytes() {
        let error = #expect(throws: LedgerError.self) { try RLP.decode([0x83, 0x64, 0x6f, 0x67, 0x00]) }
        #expect(error?.code == .trailingBytes)
    }

    @Test func rejectsTruncatedInputAtEveryCut() {
        let encoded = RLP.encode(.list([.string("a fairly long string that needs more than fifty-five bytes to hold it"), .uint(99)]))
        for cut in 0..<encoded.count {
            #expect(throws: LedgerError.self) { try RLP.decode(Array(encoded[0..<cut])) }
        }
    }

    @Test func rejectsListPayloadThatOverrunsItsParent() {
        // list of length 2 containing a string header claiming 3 bytes
        let error = #expect(throws: LedgerError.self) { try RLP.decode([0xc2, 0x83, 0x61, 0x62, 0x63]) }
        #expect(error?.code == .truncated)
    }

    @Test func refusesNestingDeeperThanTheLimit() {
        var item = RLP.Item.list([])
        for _ in 0...RLP.maximumDepth { item = .list([item]) }
        let bytes = RLP.encode(item)
        let error = #expect(throws: LedgerError.self) { try RLP.decode(bytes) }
        #expect(error?.code == .nestingTooDeep)
    }

    @Test func integersMustBeCanonical() throws {
        #expect(try RLP.Item.bytes([0x04, 0x00]).uint64("n") == 1024)
        let leadingZero = #expect(throws: LedgerError.self) { try RLP.Item.bytes([0x00, 0x01]).uint64("n") }
        #expect(leadingZero?.code == .nonCanonicalInteger)
        let overflow = #expect(throws: LedgerError.self) { try RLP.Item.bytes([UInt8](repeating: 1, count: 9)).uint64("n") }
        #expect(overflow?.code == .integerOverflow)
    }

    /// Seeded fuzzing: random bytes and mutations of valid encodings either
    /// decode to an item that re-encodes to the same bytes (canonical), or
    /// throw a LedgerError. Never a crash.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomAndMutatedInputsDecodeCanonicallyOrThrow(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let sample = RLP.encode(.list([.string("dog"), .uint(1_000_000), .list([.bytes([UInt8](repeating: 9, count: 60))]), .bytes([])]))
        var decodedCount = 0
        for round in 0..<20_000 {
            var input: [UInt8]
            if round % 2 == 0 {
                input = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                input = sample
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    input[Int.random(in: 0..<input.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            do {
                let item = try RLP.decode(input)
                #expect(RLP.encode(item) == input, "seed \(seed) round \(round)")
                decodedCount += 1
            } catch {
                // A typed error is the required outcome for bad input.
            }
        }
        #expect(decodedCount > 0)
    }
}
