@testable import Contracts
import LedgerCrypto
import Testing

/// Outside bytes that break the encoding's rules: each gets its own code and names the field at fault.
@Suite struct ABIStrictDecodingTests {
    static func word(_ hex: String) -> String { String(repeating: "0", count: 64 - hex.count) + hex }

    func expectFailure(_ types: [ABIType], _ data: [UInt8], _ code: ContractError.Code, path: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: ContractError.self, sourceLocation: sourceLocation) { try ABI.decode(types, from: data) }
        #expect(error?.code == code, "\(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.details["path"] == path, "\(String(describing: error))", sourceLocation: sourceLocation)
    }

    @Test func dataEndingBeforeAWordIsTooShort() {
        expectFailure([.uint256], [UInt8](repeating: 0, count: 31), .abiDataTooShort, path: "#0")
        expectFailure([.bool, .address], abiHex(Self.word("1")), .abiDataTooShort, path: "#1")
        expectFailure([.array(.uint256, count: 3)], abiHex(Self.word("1"), Self.word("2")), .abiDataTooShort, path: "#0")
        expectFailure([.uint256], [], .abiDataTooShort, path: "#0")
        // Static types too large for any data (their head sizes saturate instead of overflowing).
        let huge = try! ABIType("uint256[999999999][999999999][999999999]")
        expectFailure([.bool, huge, .bool], abiHex(Self.word("1")), .abiDataTooShort, path: "#1")
        expectFailure([.tuple([.bool, huge, huge])], abiHex(Self.word("1")), .abiDataTooShort, path: "#0")
    }

    @Test func offsetsMustPointPastTheirHeadAndInsideTheData() {
        // A string whose offset points past the end, into the head, or does not fit in 64 bits.
        expectFailure([.string], abiHex(Self.word("40"), Self.word("0")), .abiInvalidOffset, path: "#0")
        expectFailure([.uint256, .string], abiHex(Self.word("20"), Self.word("20"), Self.word("0")), .abiInvalidOffset, path: "#1")
        expectFailure([.string], abiHex("ff" + String(repeating: "0", count: 62), Self.word("0")), .abiInvalidOffset, path: "#0")
        // Inside an array of strings, offsets count from the array's first element.
        let nested = abiHex(Self.word("20"), Self.word("2"), Self.word("40"), Self.word("1000"), Self.word("0"))
        expectFailure([.dynamicArray(.string)], nested, .abiInvalidOffset, path: "#0[1]")
    }

    @Test func lengthsMustFitTheDataLeft() {
        expectFailure([.string], abiHex(Self.word("20"), Self.word("21"), String(repeating: "61", count: 32)), .abiInvalidLength, path: "#0")
        expectFailure([.bytes], abiHex(Self.word("20"), "ff" + String(repeating: "f", count: 62)), .abiInvalidLength, path: "#0")
        // 2^40 elements cannot fit in 64 bytes: refused before any allocation.
        expectFailure([.dynamicArray(.uint256)], abiHex(Self.word("20"), Self.word("10000000000"), Self.word("1")), .abiInvalidLength, path: "#0")
        expectFailure([.dynamicArray(.uint256)], abiHex(Self.word("20"), Self.word("2"), Self.word("1")), .abiInvalidLength, path: "#0")
        // The padding after a byte string must be there.
        expectFailure([.bytes], abiHex(Self.word("20"), Self.word("3"), "616263"), .abiDataTooShort, path: "#0")
    }

    @Test func paddingMustBeZero() throws {
        expectFailure([.uint(bits: 8)], abiHex(Self.word("100")), .abiDirtyPadding, path: "#0")
        expectFailure([.uint(bits: 248)], abiHex("01" + String(repeating: "0", count: 62)), .abiDirtyPadding, path: "#0")
        expectFailure([.address], abiHex(Self.word("1" + String(repeating: "0", count: 40))), .abiDirtyPadding, path: "#0")
        expectFailure([.fixedBytes(3)], abiHex("61626364" + String(repeating: "0", count: 56)), .abiDirtyPadding, path: "#0")
        expectFailure([.bool, .string], abiHex(Self.word("1"), Self.word("40"), Self.word("3"), "61626301" + String(repeating: "0", count: 56)),
                      .abiDirtyPadding, path: "#1")
        #expect(try ABI.decode([.uint(bits: 8)], from: abiHex(Self.word("ff"))) == [.uint(255)])
        #expect(try ABI.decode([.fixedBytes(32)], from: abiHex(String(repeating: "ab", count: 32))) == [.fixedBytes([UInt8](repeating: 0xAB, count: 32))])
    }

    @Test func boolsAreZeroOrOne() {
        expectFailure([.bool], abiHex(Self.word("2")), .abiInvalidBool, path: "#0")
        expectFailure([.dynamicArray(.bool)], abiHex(Self.word("20"), Self.word("2"), Self.word("1"), "80" + String(repeating: "0", count: 62)),
                      .abiInvalidBool, path: "#0[1]")
    }

    @Test func signedIntegersMustBeSignExtended() throws {
        expectFailure([.int(bits: 8)], abiHex(Self.word("80")), .abiInvalidSignExtension, path: "#0")
        expectFailure([.int(bits: 8)], abiHex(String(repeating: "f", count: 62) + "7f"), .abiInvalidSignExtension, path: "#0")
        expectFailure([.int(bits: 128)], abiHex(String(repeating: "f", count: 31) + "e" + String(repeating: "f", count: 32)), .abiInvalidSignExtension, path: "#0")
        #expect(try ABI.decode([.int(bits: 8)], from: abiHex(String(repeating: "f", count: 62) + "80")) == [.int(-128)])
    }

    @Test func stringsMustBeUTF8() throws {
        expectFailure([.string], abiHex(Self.word("20"), Self.word("2"), "c328" + String(repeating: "0", count: 60)), .abiInvalidUTF8, path: "#0")
        #expect(try ABI.decode([.bytes], from: abiHex(Self.word("20"), Self.word("2"), "c328" + String(repeating: "0", count: 60))) == [.bytes([0xC3, 0x28])])
    }

    @Test func offsetsSharingOneTailCannotMakeDecodingWorkGrowFasterThanTheInput() throws {
        // uint256[][]: 200 inner arrays whose offsets all name the same 200-element array. Decoding it in full would read
        // 200 × 201 words from 13 KB; the budget (twice the data) stops it early.
        let inner = 200, outer = 200
        var words = [Self.word("20"), Self.word(String(outer, radix: 16))]
        words += Array(repeating: Self.word(String(outer * 32, radix: 16)), count: outer)
        words += [Self.word(String(inner, radix: 16))] + (0..<inner).map { Self.word(String($0, radix: 16)) }
        let data = abiHex(words.joined())
        let error = #expect(throws: ContractError.self) { try ABI.decode([.dynamicArray(.dynamicArray(.uint256))], from: data) }
        #expect(error?.code == .abiDecodingBudgetExceeded)
        // Two arrays sharing a small tail still decode (the budget is twice the data).
        let shared = abiHex(Self.word("20"), Self.word("2"), Self.word("40"), Self.word("40"), Self.word("1"), Self.word("7"))
        #expect(try ABI.decode([.dynamicArray(.dynamicArray(.uint256))], from: shared) == [.array([.array([.uint(7)]), .array([.uint(7)])])])
    }

    @Test func valuesNestedPastTheLimitAreRefusedNotRecursedInto() {
        var type = ABIType.uint256
        for _ in 0..<70 { type = .array(type, count: 1) }
        expectFailure([type], abiHex(Self.word("1")), .abiNestingTooDeep,
                      path: "#0" + String(repeating: "[0]", count: ABIType.maximumDepth))
        let error = #expect(throws: ContractError.self) { try ABI.encode([ABIValue.uint(1)].nested(70), as: [type]) }
        #expect(error?.code == .abiNestingTooDeep)
    }

    @Test func bytesAfterTheLastTailAreAllowedAsSolidityAllowsThem() throws {
        #expect(try ABI.decode([.uint256], from: abiHex(Self.word("5"), Self.word("ff"))) == [.uint(5)])
    }
}

extension [ABIValue] {
    /// The values wrapped in `depth` one-element arrays.
    func nested(_ depth: Int) -> [ABIValue] {
        var value = self[0]
        for _ in 0..<depth { value = .array([value]) }
        return [value]
    }
}
