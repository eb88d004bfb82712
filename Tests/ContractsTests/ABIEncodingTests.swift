@testable import Contracts
import LedgerCrypto
import Testing

/// The examples of the Solidity ABI specification ("Examples" and "Use of Dynamic Types"), byte for byte, both ways.
@Suite struct ABIEncodingTests {
    @Test func bazEncodesAnIntegerAndABool() throws {
        let data = try ABI.encodeCall("baz(uint32,bool)", .uint(69), .bool(true))
        #expect(data == abiHex("0xcdcd77c0",
                               "0x0000000000000000000000000000000000000000000000000000000000000045",
                               "0x0000000000000000000000000000000000000000000000000000000000000001"))
        #expect(try ABI.decode([.uint(bits: 32), .bool], from: Array(data.dropFirst(4))) == [.uint(69), .bool(true)])
    }

    @Test func barEncodesAFixedArrayOfFixedBytesInPlace() throws {
        let data = try ABI.encodeCall("bar(bytes3[2])", .array([.fixedBytes(Array("abc".utf8)), .fixedBytes(Array("def".utf8))]))
        #expect(data == abiHex("0xfce353f6",
                               "0x6162630000000000000000000000000000000000000000000000000000000000",
                               "0x6465660000000000000000000000000000000000000000000000000000000000"))
    }

    static let sam = abiHex("0xa5643bf2",
                            "0x0000000000000000000000000000000000000000000000000000000000000060",
                            "0x0000000000000000000000000000000000000000000000000000000000000001",
                            "0x00000000000000000000000000000000000000000000000000000000000000a0",
                            "0x0000000000000000000000000000000000000000000000000000000000000004",
                            "0x6461766500000000000000000000000000000000000000000000000000000000",
                            "0x0000000000000000000000000000000000000000000000000000000000000003",
                            "0x0000000000000000000000000000000000000000000000000000000000000001",
                            "0x0000000000000000000000000000000000000000000000000000000000000002",
                            "0x0000000000000000000000000000000000000000000000000000000000000003")

    @Test func samPutsBytesAndADynamicArrayInTheTail() throws {
        let values: [ABIValue] = [.bytes(Array("dave".utf8)), .bool(true), .array([.uint(1), .uint(2), .uint(3)])]
        let data = try ABI.encodeCall("sam(bytes,bool,uint256[])", values[0], values[1], values[2])
        #expect(data == Self.sam)
        #expect(try ABI.decode([.bytes, .bool, .dynamicArray(.uint256)], from: Array(data.dropFirst(4))) == values)
    }

    static let f = abiHex("0x8be65246",
                          "0x0000000000000000000000000000000000000000000000000000000000000123",
                          "0x0000000000000000000000000000000000000000000000000000000000000080",
                          "0x3132333435363738393000000000000000000000000000000000000000000000",
                          "0x00000000000000000000000000000000000000000000000000000000000000e0",
                          "0x0000000000000000000000000000000000000000000000000000000000000002",
                          "0x0000000000000000000000000000000000000000000000000000000000000456",
                          "0x0000000000000000000000000000000000000000000000000000000000000789",
                          "0x000000000000000000000000000000000000000000000000000000000000000d",
                          "0x48656c6c6f2c20776f726c642100000000000000000000000000000000000000")

    @Test func fMixesStaticAndDynamicParameters() throws {
        let values: [ABIValue] = [.uint(0x123), .array([.uint(0x456), .uint(0x789)]), .fixedBytes(Array("1234567890".utf8)),
                                  .bytes(Array("Hello, world!".utf8))]
        let types = try ABI.parseSignature("f(uint256,uint32[],bytes10,bytes)").types
        #expect(try ABI.encodeCall("f(uint256,uint32[],bytes10,bytes)", values[0], values[1], values[2], values[3]) == Self.f)
        #expect(try ABI.decode(types, from: Array(Self.f.dropFirst(4))) == values)
    }

    static let g = abiHex("0x2289b18c",
                          "0x0000000000000000000000000000000000000000000000000000000000000040",
                          "0x0000000000000000000000000000000000000000000000000000000000000140",
                          "0x0000000000000000000000000000000000000000000000000000000000000002",
                          "0x0000000000000000000000000000000000000000000000000000000000000040",
                          "0x00000000000000000000000000000000000000000000000000000000000000a0",
                          "0x0000000000000000000000000000000000000000000000000000000000000002",
                          "0x0000000000000000000000000000000000000000000000000000000000000001",
                          "0x0000000000000000000000000000000000000000000000000000000000000002",
                          "0x0000000000000000000000000000000000000000000000000000000000000001",
                          "0x0000000000000000000000000000000000000000000000000000000000000003",
                          "0x0000000000000000000000000000000000000000000000000000000000000003",
                          "0x0000000000000000000000000000000000000000000000000000000000000060",
                          "0x00000000000000000000000000000000000000000000000000000000000000a0",
                          "0x00000000000000000000000000000000000000000000000000000000000000e0",
                          "0x0000000000000000000000000000000000000000000000000000000000000003",
                          "0x6f6e650000000000000000000000000000000000000000000000000000000000",
                          "0x0000000000000000000000000000000000000000000000000000000000000003",
                          "0x74776f0000000000000000000000000000000000000000000000000000000000",
                          "0x0000000000000000000000000000000000000000000000000000000000000005",
                          "0x7468726565000000000000000000000000000000000000000000000000000000")

    @Test func gNestsDynamicArraysAndStringsWithOffsetsRelativeToEachArray() throws {
        let values: [ABIValue] = [.array([.array([.uint(1), .uint(2)]), .array([.uint(3)])]),
                                  .array([.string("one"), .string("two"), .string("three")])]
        #expect(try ABI.encodeCall("g(uint256[][],string[])", values[0], values[1]) == Self.g)
        #expect(try ABI.decode([.dynamicArray(.dynamicArray(.uint256)), .dynamicArray(.string)], from: Array(Self.g.dropFirst(4))) == values)
    }

    @Test func signedIntegersAreSignExtendedTwosComplement() throws {
        let data = try ABI.encode([.int(-1), .int(-128), .int(127), .int(Int64.min)], as: [.int(bits: 8), .int(bits: 8), .int(bits: 8), .int256])
        #expect(data == abiHex(String(repeating: "ff", count: 32),
                               String(repeating: "ff", count: 31) + "80",
                               String(repeating: "00", count: 31) + "7f",
                               String(repeating: "ff", count: 24) + "8000000000000000"))
        let back = try ABI.decode([.int(bits: 8), .int(bits: 8), .int(bits: 8), .int256], from: data)
        #expect(back.map(\.intValue) == [-1, -128, 127, Int(Int64.min)])
        #expect(back[0].description == "-1" && ABIValue.int(.max).description == "-1")
        #expect(ABIValue.uint(.max).description == "115792089237316195423570985008687907853269984665640564039457584007913129639935")
    }

    @Test func valuesThatDoNotFitTheirTypeAreRefusedNamingTheArgument() {
        let cases: [([ABIValue], [ABIType], String)] = [
            ([.uint(256)], [.uint(bits: 8)], "#0"),
            ([.int(128)], [.int(bits: 8)], "#0"),
            ([.int(-129)], [.int(bits: 8)], "#0"),
            ([.uint(UInt256(w0: 0, w1: 0, w2: 0, w3: 1 << 63))], [.int256], "#0"),
            ([.int(-1)], [.uint256], "#0"),
            ([.string("x")], [.uint256], "#0"),
            ([.bool(true), .fixedBytes([1, 2])], [.bool, .fixedBytes(3)], "#1"),
            ([.array([.uint(1)])], [.array(.uint256, count: 2)], "#0"),
            ([.tuple([.uint(1), .array([.bool(true), .uint(2)])])], [.tuple([.uint256, .dynamicArray(.bool)])], "#0.1[1]"),
            ([.tuple([.uint(1)])], [.tuple([.uint256, .bool])], "#0"),
        ]
        for (values, types, path) in cases {
            let error = #expect(throws: ContractError.self) { try ABI.encode(values, as: types) }
            #expect(error?.code == .abiValueMismatch && error?.details["path"] == path, "\(types): \(String(describing: error))")
        }
        #expect((#expect(throws: ContractError.self) { try ABI.encode([.uint(1)], as: []) })?.code == .abiValueMismatch)
    }

    @Test func conversionsBetweenIntegerKindsAndByteKindsEncodeTheSameBytes() throws {
        #expect(try ABI.encode([.uint(5)], as: [.int(bits: 16)]) == ABI.encode([.int(5)], as: [.int(bits: 16)]))
        #expect(try ABI.encode([.int(5)], as: [.uint(bits: 16)]) == ABI.encode([.uint(5)], as: [.uint(bits: 16)]))
        #expect(try ABI.encode([.bytes([1, 2])], as: [.fixedBytes(2)]) == ABI.encode([.fixedBytes([1, 2])], as: [.fixedBytes(2)]))
        #expect(try ABI.encode([.fixedBytes([1, 2])], as: [.bytes]) == ABI.encode([.bytes([1, 2])], as: [.bytes]))
    }

    @Test func aFunctionIsEncodedAsBytes24ButKeepsItsNameInSignatures() throws {
        let pointer = [UInt8](repeating: 0x5A, count: 20) + ABI.selector("done(uint256)")
        #expect(try ABI.encode([.fixedBytes(pointer)], as: [.function]) == ABI.encode([.fixedBytes(pointer)], as: [.fixedBytes(24)]))
        #expect(try ABI.decode([.function], from: ABI.encode([.fixedBytes(pointer)], as: [.function])) == [.fixedBytes(pointer)])
        #expect(try ABI.parseSignature("later(function,uint256)").types == [.function, .uint256])
        #expect((#expect(throws: ContractError.self) { try ABI.encode([.fixedBytes([1])], as: [.function]) })?.code == .abiValueMismatch)
    }

    @Test func nestedStaticAndDynamicValuesRoundTrip() throws {
        let owner = EVMAddress(hex: "0x095e7baea6a6c7c4c2dfeb977efac326af552d87")!
        let types = try [ABIType("(string,uint64,(address,bytes32)[],int24[3])[]"), ABIType("bytes"), ABIType("(bool,uint8)[2]"),
                         ABIType("string[][2]")]
        let part: ABIValue = .tuple([.address(owner), .fixedBytes([UInt8](repeating: 0xAB, count: 32))])
        let values: [ABIValue] = [
            .array([.tuple([.string("B-17 ✓"), .uint(42), .array([part, part]), .array([.int(-8_388_608), .int(0), .int(8_388_607)])]),
                    .tuple([.string(""), .uint(UInt64.max), .array([]), .array([.int(1), .int(-2), .int(3)])])]),
            .bytes(Array(0..<100)),
            .array([.tuple([.bool(false), .uint(255)]), .tuple([.bool(true), .uint(0)])]),
            .array([.array([.string("a"), .string(String(repeating: "z", count: 64))]), .array([])]),
        ]
        let data = try ABI.encode(values, as: types)
        #expect(data.count % 32 == 0)
        #expect(try ABI.decode(types, from: data) == values)
    }
}
