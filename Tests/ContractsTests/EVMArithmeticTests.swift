@testable import Contracts
import LedgerCrypto
import Testing

/// A slow, obviously correct reference: binary long division.
func referenceDivide(_ a: UInt256, _ b: UInt256) -> (UInt256, UInt256) {
    if b.isZero { return (.zero, .zero) }
    var q = UInt256.zero, r = UInt256.zero
    for i in stride(from: 255, through: 0, by: -1) {
        r = r.shiftedLeft(1)
        if (a.limb(i >> 6) >> UInt64(i & 63)) & 1 == 1 { r = r | .one }
        if !(r < b) {
            r = r &- b
            q = q | UInt256.one.shiftedLeft(i)
        }
    }
    return (q, r)
}

@Suite struct EVMArithmeticTests {
    static func w(_ hex: String) -> UInt256 { UInt256(hex: hex)! }
    static let minSigned = UInt256.one.shiftedLeft(255)
    static let minusOne = UInt256.max

    @Test func additionSubtractionAndMultiplicationWrap() {
        #expect(UInt256.max &+ .one == .zero)
        #expect(UInt256.zero &- .one == .max)
        #expect(Self.w("ffffffffffffffff") &+ .one == Self.w("10000000000000000"))
        let twoTo128 = UInt256.one.shiftedLeft(128)
        #expect(twoTo128 &* twoTo128 == .zero)
        #expect(Self.w("10000000000000001") &* Self.w("ffffffffffffffff") == Self.w("ffffffffffffffffffffffffffffffff"))
        #expect(UInt256.max &* UInt256.max == .one)
        #expect(UInt256(3) &* UInt256(7) == UInt256(21))
    }

    @Test func divisionByZeroIsZeroAndSignedEdgeCasesFollowTheYellowPaper() {
        #expect(UInt256(7).dividedOrZero(by: .zero) == .zero)
        #expect(UInt256(7).remainderOrZero(dividingBy: .zero) == .zero)
        #expect(Self.minSigned.signedDividedOrZero(by: Self.minusOne) == Self.minSigned)
        #expect(UInt256(7).negated.signedDividedOrZero(by: UInt256(2)) == UInt256(3).negated)
        #expect(UInt256(7).negated.signedRemainderOrZero(dividingBy: UInt256(3)) == UInt256.one.negated)
        #expect(UInt256(7).signedRemainderOrZero(dividingBy: UInt256(3).negated) == UInt256.one)
        #expect(UInt256(7).signedDividedOrZero(by: .zero) == .zero)
    }

    @Test func divisionAgreesWithLongDivisionOnRandomWords() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<400 {
            let a = UInt256(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
            // Divisors of every limb length, with and without a top bit set.
            let width = round % 4
            var b = UInt256(w0: rng.next(), w1: width > 0 ? rng.next() : 0, w2: width > 1 ? rng.next() : 0, w3: width > 2 ? rng.next() : 0)
            if round % 7 == 0 { b = b.shiftedRight(Int(rng.next() % 60)) }
            if b.isZero { b = .one }
            let (q, r) = a.quotientAndRemainderOrZero(dividingBy: b)
            let (rq, rr) = referenceDivide(a, b)
            #expect(q == rq && r == rr, "\(a) / \(b)")
        }
    }

    @Test func addmodAndMulmodUseTheFullIntermediate() {
        #expect(UInt256.max.addMod(.max, modulus: UInt256(7)) == UInt256(2))
        #expect(UInt256.max.mulMod(.max, modulus: UInt256.max &- .one) == .one)
        #expect(UInt256.max.mulMod(UInt256.max &- UInt256(5), modulus: Self.minSigned &+ UInt256(12345)) == Self.w("245855e8"))
        #expect((Self.minSigned &+ UInt256(3)).mulMod(UInt256.one.shiftedLeft(200) &+ UInt256(7),
                                                      modulus: UInt256.one.shiftedLeft(130) &+ UInt256(99))
                == Self.w("15fffffffffe2194a0000000000000897"))
        #expect(UInt256(3).mulMod(UInt256(7), modulus: UInt256(5)) == .one)
        let big = Self.w("ffffffffffffffffffffffffffffffff")   // 2¹²⁸ − 1: the one-word product path
        #expect(big.mulMod(big, modulus: UInt256.max) == big &* big)
        #expect(big.mulMod(big, modulus: Self.w("10000000000000000")) == .one)
        #expect(UInt256(5).addMod(UInt256(6), modulus: .zero) == .zero)
        #expect(UInt256(5).mulMod(UInt256(6), modulus: .zero) == .zero)
    }

    @Test func exponentiationSignExtensionAndBytes() {
        #expect(UInt256(2).power(UInt256(255)) == Self.minSigned)
        #expect(UInt256(2).power(UInt256(256)) == .zero)
        #expect(UInt256.zero.power(.zero) == .one)
        #expect(UInt256(3).power(UInt256(5)) == UInt256(243))
        #expect(UInt256(0xFF).signExtended(fromByte: .zero) == .max)
        #expect(UInt256(0x7F).signExtended(fromByte: .zero) == UInt256(0x7F))
        #expect(UInt256(0x80FF).signExtended(fromByte: .one) == Self.w("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80ff"))
        #expect(UInt256(0x1234).signExtended(fromByte: UInt256(31)) == UInt256(0x1234))
        #expect(UInt256(0x1234).signExtended(fromByte: .max) == UInt256(0x1234))
        #expect(Self.w("0102").byte(at: UInt256(30)) == UInt256(1))
        #expect(Self.w("0102").byte(at: UInt256(31)) == UInt256(2))
        #expect(Self.w("0102").byte(at: UInt256(32)) == .zero)
        #expect(UInt256(0x1234).byteWidth == 2 && UInt256.zero.byteWidth == 0)
    }

    @Test func shiftsOf256OrMoreAndSignedComparisons() {
        // EIP-145's vectors.
        #expect(UInt256.one.shiftedLeft(by: UInt256(255)) == Self.minSigned)
        #expect(UInt256.one.shiftedLeft(by: UInt256(256)) == .zero)
        #expect(UInt256.max.shiftedLeft(by: UInt256(1)) == UInt256.max &- .one)
        #expect(Self.minSigned.shiftedRight(by: UInt256(255)) == .one)
        #expect(Self.minSigned.shiftedRight(by: UInt256(256)) == .zero)
        #expect(Self.minSigned.arithmeticShiftedRight(by: UInt256(1)) == Self.w("c000000000000000000000000000000000000000000000000000000000000000"))
        #expect(Self.minSigned.arithmeticShiftedRight(by: UInt256(256)) == .max)
        #expect(UInt256(0x7F).arithmeticShiftedRight(by: .max) == .zero)
        #expect(UInt256.max.arithmeticShiftedRight(by: UInt256(0x100)) == .max)
        #expect(UInt256.one.shiftedRight(by: .max) == .zero)
        #expect(Self.minusOne.signedLessThan(.zero))
        #expect(!UInt256.zero.signedLessThan(Self.minusOne))
        #expect(Self.minSigned.signedLessThan(Self.minusOne))
        #expect((~UInt256.zero) == .max && (UInt256(0b1100) & UInt256(0b1010)) == UInt256(0b1000))
        #expect((UInt256(0b1100) | UInt256(0b1010)) == UInt256(0b1110) && (UInt256(0b1100) ^ UInt256(0b1010)) == UInt256(0b0110))
    }

    @Test func blobBaseFeeFollowsFakeExponential() {
        #expect(EVM.blobBaseFee(excessBlobGas: 0) == .one)
        // fake_exponential(1, 3338477, 3338477) ≈ e = 2
        #expect(EVM.blobBaseFee(excessBlobGas: 3_338_477) == UInt256(2))
        #expect(EVM.blobBaseFee(excessBlobGas: 10 * 3_338_477) == UInt256(22_026))
    }
}
