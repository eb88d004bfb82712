@testable import Contracts
import LedgerCrypto
import Testing

/// Random ABI types and values (seeded): every value round-trips, and encodings with words overwritten by
/// offset-like and length-like numbers, bytes flipped, or cut short, plus plain random bytes, either decode or throw
/// an ABI error, never trap; what decodes re-encodes to bytes that decode to the same values.
@Suite struct ABIDecoderFuzzTests {
    static func type(_ rng: inout SplitMix64, depth: Int) -> ABIType {
        switch rng.next() % (depth > 0 ? 12 : 9) {
        case 0: return .uint(bits: 8 * Int(1 + rng.next() % 32))
        case 1: return .int(bits: 8 * Int(1 + rng.next() % 32))
        case 2: return .address
        case 3: return .bool
        case 4: return .fixedBytes(Int(1 + rng.next() % 32))
        case 5: return .bytes
        case 6: return .string
        case 7: return .uint256
        case 8: return .function
        case 9: return .array(type(&rng, depth: depth - 1), count: Int(1 + rng.next() % 3))
        case 10: return .dynamicArray(type(&rng, depth: depth - 1))
        default: return .tuple((0..<Int(1 + rng.next() % 3)).map { _ in type(&rng, depth: depth - 1) })
        }
    }

    static func word(_ rng: inout SplitMix64) -> UInt256 { UInt256(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next()) }

    static func value(_ rng: inout SplitMix64, of type: ABIType) -> ABIValue {
        switch type {
        case .uint(let bits):
            var w = word(&rng)
            while !ABIWord.isZero(w, fromBit: bits) { w = UInt256(w0: w.w0 >> 1, w1: w.w1 >> 1, w2: w.w2 >> 1, w3: w.w3 >> 1) }
            return rng.next() % 3 == 0 ? .uint(UInt256(rng.next() % 100)) : .uint(w)
        case .int(let bits):
            let small = Int64(bitPattern: rng.next()) >> Int64(64 - min(bits, 64))
            return .int(small)
        case .address: return .address(EVMAddress(word: word(&rng)))
        case .bool: return .bool(rng.next() % 2 == 0)
        case .fixedBytes(let n): return .fixedBytes((0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case .function: return .fixedBytes((0..<24).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case .bytes: return .bytes((0..<Int(rng.next() % 70)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case .string: return .string(["", "B-17", "批次 ✓", String(repeating: "x", count: Int(rng.next() % 80))][Int(rng.next() % 4)])
        case .array(let element, let count): return .array((0..<count).map { _ in value(&rng, of: element) })
        case .dynamicArray(let element): return .array((0..<Int(rng.next() % 4)).map { _ in value(&rng, of: element) })
        case .tuple(let members): return .tuple(members.map { value(&rng, of: $0) })
        }
    }

    /// Overwrites one word-aligned position with a number a hostile encoder would pick.
    static func mutate(_ data: inout [UInt8], _ rng: inout SplitMix64) {
        guard !data.isEmpty else { return }
        switch rng.next() % 4 {
        case 0:
            data[Int(rng.next() % UInt64(data.count))] ^= UInt8(truncatingIfNeeded: 1 | rng.next())
        case 1:
            data.removeLast(Int(rng.next() % UInt64(min(data.count, 64)) + 1))
        default:
            let words = data.count / 32
            guard words > 0 else { return }
            let at = Int(rng.next() % UInt64(words)) * 32
            let choices: [UInt256] = [.zero, .one, UInt256(32), UInt256(64), UInt256(UInt64(data.count)), UInt256(UInt64(data.count - 32)),
                                      UInt256(rng.next() % 4096), UInt256(1 << 40), .max, word(&rng)]
            let bytes = choices[Int(rng.next() % UInt64(choices.count))].bigEndianBytes
            for i in 0..<32 { data[at + i] = bytes[i] }
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 0x5eed_f00d])
    func randomValuesRoundTripAndHostileBytesDecodeOrThrowNeverTrap(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var codes = Set<UInt32>()
        for round in 0..<1_000 {
            let types = (0..<Int(1 + rng.next() % 3)).map { _ in Self.type(&rng, depth: 3) }
            let values = types.map { Self.value(&rng, of: $0) }
            let data = try ABI.encode(values, as: types)
            #expect(try ABI.decode(types, from: data) == values, "seed \(seed) round \(round): \(ABIType.tuple(types))")

            for attempt in 0..<6 {
                var input: [UInt8]
                if attempt == 5 {
                    input = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                } else {
                    input = data
                    for _ in 0...(rng.next() % 3) { Self.mutate(&input, &rng) }
                }
                do throws(ContractError) {
                    let decoded = try ABI.decode(types, from: input)
                    codes.insert(0)
                    let again = try ABI.encode(decoded, as: types)
                    #expect(try ABI.decode(types, from: again) == decoded, "seed \(seed) round \(round)")
                } catch {
                    #expect((2150...2199).contains(error.numericCode), "seed \(seed) round \(round): \(error)")
                    codes.insert(error.numericCode)
                }
            }
        }
        // The inputs reach many of the decoder's checks, not only the first one.
        #expect(codes.count >= 8, "codes reached: \(codes.sorted())")
    }
}
