@testable import Contracts
import LedgerCrypto
import Testing

@Suite struct EVMPrecompileTests {
    static func address(_ n: UInt64) -> EVMAddress { EVMAddress(word: UInt256(n)) }

    static func output(_ n: UInt64, _ input: [UInt8], gas: Int64 = 10_000_000) -> (used: Int64, output: [UInt8])? {
        if case .success(let used, let output) = EVMPrecompiles.run(address(n), input: input, gas: gas) { return (used, output) }
        return nil
    }

    static func hex(_ text: String) -> [UInt8] { try! Hex.decode(text) }

    @Test func ecrecoverRecoversTheSignerOrReturnsNothing() {
        let input = Self.hex("456e9aea5e197a1f1af7a3e85a3212fa4049a3ba34c2289b4c860fc0b0c64ef3"
            + "000000000000000000000000000000000000000000000000000000000000001c"
            + "9242685bf161793cc25603c231bc2f568eb630ea16aa137d2664ac8038825608"
            + "4f8ae3bd7535248d0bd448298cc2e2071e56992d0774dc340c368ae950852ada")
        let result = Self.output(1, input)
        #expect(result?.used == 3_000)
        #expect(result.map { Hex.encode($0.output) } == "0000000000000000000000007156526fbd7a3c72969b54f64e42c10fbb768c8a")
        var badV = input
        badV[63] = 29
        #expect(Self.output(1, badV)?.output == [])
        #expect(Self.output(1, [])?.output == [])
        #expect(Self.output(1, input, gas: 2_999) == nil)
    }

    @Test func hashesAndIdentity() {
        #expect(Self.output(2, []).map { Hex.encode($0.output) } == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.output(2, [])?.used == 60)
        #expect(Self.output(3, []).map { Hex.encode($0.output) } == "0000000000000000000000009c1185a5c5e9fc54612808977ee8f548b2258d31")
        #expect(Self.output(3, Array("abc".utf8)).map { Hex.encode($0.output.suffix(20)) } == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc")
        let long = Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8)
        #expect(Self.output(3, long).map { Hex.encode($0.output.suffix(20)) } == "9b752e45573d4b39f4dbd3323cab82bf63326bfb")
        #expect(Self.output(3, long)?.used == Int64(960))
        #expect(Self.output(4, [1, 2, 3])?.output == [1, 2, 3] && Self.output(4, [1, 2, 3])?.used == 18)
    }

    @Test func modexpComputesFermatsLittleTheoremAndChargesEIP2565Gas() {
        // EIP-198's example: 3^(p-1) mod p = 1 for the secp256k1 field prime p.
        let input = Self.hex("0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000020"
            + "0000000000000000000000000000000000000000000000000000000000000020"
            + "03"
            + "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2e"
            + "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f")
        let result = Self.output(5, input)
        #expect(result?.output == [UInt8](repeating: 0, count: 31) + [1])
        // words = 4, complexity 16, iterations 255: 16·255/3 = 1360.
        #expect(result?.used == 1_360)
        // A zero modulus gives zeros; the minimum charge is 200.
        let zeroModulus = Self.hex("0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000002" + "02" + "03" + "0000")
        #expect(Self.output(5, zeroModulus)?.output == [0, 0] && Self.output(5, zeroModulus)?.used == 200)
        // 7^5 mod 100 = 7 (16807)
        let small = Self.hex("0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000001"
            + "0000000000000000000000000000000000000000000000000000000000000001" + "07" + "05" + "64")
        #expect(Self.output(5, small)?.output == [7])
        // Checked against UInt256's own arithmetic on random words.
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20 {
            let b = UInt256(w0: rng.next(), w1: rng.next(), w2: rng.next(), w3: rng.next())
            let e = UInt256(rng.next() % 1000)
            let m = UInt256(w0: rng.next(), w1: rng.next(), w2: 0, w3: rng.next() >> 1)
            var expected = UInt256.one.remainderOrZero(dividingBy: m)
            for _ in 0..<Int(e.w0) { expected = expected.mulMod(b, modulus: m) }
            let call = [UInt8](repeating: 0, count: 31) + [32] + [UInt8](repeating: 0, count: 31) + [32] + [UInt8](repeating: 0, count: 31) + [32]
                + b.bigEndianBytes + e.bigEndianBytes + m.bigEndianBytes
            #expect(Self.output(5, call)?.output == expected.bigEndianBytes)
        }
    }

    @Test func blake2fMatchesEIP152() {
        // RFC 7693's "abc" example as EIP-152's fifth vector: 12 rounds, h, m = "abc", t = 3, final.
        let h = "48c9bdf267e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5d182e6ad7f520e511f6c3e2b8c68059b6bbd41fbabd9831f79217e1319cde05b"
        let m = "616263" + String(repeating: "00", count: 125)
        let input = Self.hex("0000000c" + h + m + "0300000000000000" + "0000000000000000" + "01")
        let result = Self.output(9, input)
        #expect(result.map { Hex.encode($0.output) }
            == "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        #expect(result?.used == 12)
        #expect(Self.output(9, Array(input.dropLast())) == nil)
        var badFlag = input
        badFlag[212] = 2
        #expect(Self.output(9, badFlag) == nil)
    }

    @Test func thePointEvaluationPrecompileFailsClearly() {
        #expect(Self.output(0x0A, [UInt8](repeating: 0, count: 192)) == nil)
    }

    @Test func aCallToAPrecompileReturnsItsOutputToMemory() throws {
        let source = "PUSH1 03 PUSH1 00 MSTORE8 PUSH1 20 PUSH1 20 PUSH1 01 PUSH1 00 PUSH1 04 GAS STATICCALL PUSH1 40 PUSH1 00 RETURN"
        let message = EVMMessage(address: EVMTestWorld.a, caller: EVMTestWorld.sender, code: EVMAsm.code(source), gas: 100_000)
        let result = try EVM().execute(message, block: EVMTestWorld.block, state: EVMTestState())
        #expect(result.output[32] == 3 && result.output[33] == 0)
    }
}

@Suite struct EVMBN254Tests {
    static let g1 = EVMPrecompileTests.hex("0000000000000000000000000000000000000000000000000000000000000001"
        + "0000000000000000000000000000000000000000000000000000000000000002")
    static let minusG1 = EVMPrecompileTests.hex("0000000000000000000000000000000000000000000000000000000000000001"
        + "30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd45")
    static let g2 = EVMPrecompileTests.hex("198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"
        + "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"
        + "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b"
        + "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa")
    static let twoG = "030644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd3"
        + "15ed738c0e0a7c92e7845f96b2ae9c0a68a6a449e3538fc7ff3ebf7a5a18a2c4"

    @Test func addAndMultiplyOnG1() {
        let sum = EVMPrecompileTests.output(6, Self.g1 + Self.g1)
        #expect(sum.map { Hex.encode($0.output) } == Self.twoG && sum?.used == 150)
        let doubled = EVMPrecompileTests.output(7, Self.g1 + [UInt8](repeating: 0, count: 31) + [2])
        #expect(doubled.map { Hex.encode($0.output) } == Self.twoG && doubled?.used == 6_000)
        let order = BN254Pairing.r.bigEndianBytes
        #expect(EVMPrecompileTests.output(7, Self.g1 + order)?.output == [UInt8](repeating: 0, count: 64))
        #expect(EVMPrecompileTests.output(6, Self.g1 + Self.minusG1)?.output == [UInt8](repeating: 0, count: 64))
        #expect(EVMPrecompileTests.output(6, [])?.output == [UInt8](repeating: 0, count: 64))
        // (1, 3) is not on the curve.
        var off = Self.g1
        off[63] = 3
        #expect(EVMPrecompileTests.output(6, off) == nil)
    }

    @Test func pairingCheckAcceptsABalancedProductAndRejectsAnUnbalancedOne() {
        #expect(EVMPrecompileTests.output(8, [])?.output.last == 1)
        let balanced = EVMPrecompileTests.output(8, Self.g1 + Self.g2 + Self.minusG1 + Self.g2)
        #expect(balanced?.output.last == 1 && balanced?.used == 45_000 + 2 * 34_000)
        #expect(EVMPrecompileTests.output(8, Self.g1 + Self.g2)?.output == [UInt8](repeating: 0, count: 32))
        #expect(EVMPrecompileTests.output(8, Self.g1 + Self.g2 + [0]) == nil)
    }
}
