@testable import Contracts
import LedgerCrypto
import Testing

/// Hex words (each with or without `0x`) joined into bytes; the tests' way of writing expected encodings.
func abiHex(_ parts: String...) -> [UInt8] {
    let text = parts.map { $0.hasPrefix("0x") ? String($0.dropFirst(2)) : $0 }.joined()
    return (try? Hex.decode(text)) ?? []
}

@Suite struct ABITypeTests {
    @Test func everyIntegerWidthAndFixedByteSizeParsesAndPrintsCanonically() throws {
        for bits in stride(from: 8, through: 256, by: 8) {
            #expect(try ABIType("uint\(bits)") == .uint(bits: bits))
            #expect(try ABIType("int\(bits)") == .int(bits: bits))
            #expect(ABIType.uint(bits: bits).canonicalName == "uint\(bits)")
        }
        for n in 1...32 {
            #expect(try ABIType("bytes\(n)") == .fixedBytes(n))
            #expect(ABIType.fixedBytes(n).canonicalName == "bytes\(n)")
        }
        #expect(try ABIType("uint") == .uint256 && ABIType.uint256.canonicalName == "uint256")
        #expect(try ABIType("int") == .int256)
        #expect(try ABIType("address") == .address && ABIType("bool") == .bool)
        #expect(try ABIType("bytes") == .bytes && ABIType("string") == .string)
        #expect(try ABIType("function") == .function && ABIType.function.canonicalName == "function" && ABIType.function.headSize == 32)
    }

    @Test func arraysAndTuplesNestAndKeepTheirCanonicalSpelling() throws {
        let type = try ABIType("(string,uint256[],(address,bytes32)[2])[][3]")
        #expect(type == .array(.dynamicArray(.tuple([.string, .dynamicArray(.uint256), .array(.tuple([.address, .fixedBytes(32)]), count: 2)])), count: 3))
        #expect(type.canonicalName == "(string,uint256[],(address,bytes32)[2])[][3]")
        #expect(type.isDynamic)
        #expect(try ABIType("uint[2][]").canonicalName == "uint256[2][]")
        let staticTuple = try ABIType("(uint8,bool,bytes3[2])")
        #expect(!staticTuple.isDynamic && staticTuple.headSize == 4 * 32)
        #expect(try ABIType("string[2]").isDynamic && ABIType("string[2]").headSize == 32)
        #expect(try ABIType("uint256[3][2]").headSize == 6 * 32)
    }

    @Test(arguments: ["uint7", "uint264", "uint0", "int9", "bytes0", "bytes33", "byte", "uint256[0]", "uint256[01]", "address20",
                      "(uint256", "(uint256,)", "()", "(,)", "uint256]", "uint256[", "uint256[-1]", "Uint256", " uint256", "uint256 ",
                      "fixed128x18", "function24", "", "tuple", "bool[2]x", "uint256[1000000000]"])
    func refusesWhatIsNotAnABITypeString(text: String) {
        let error = #expect(throws: ContractError.self) { try ABIType(text) }
        #expect(error?.code == .abiInvalidType)
        #expect(error?.details["type"] == text)
    }

    @Test func refusesNestingDeeperThanTheLimitWithoutExhaustingTheStack() {
        let deepArrays = "uint256" + String(repeating: "[]", count: 65)
        #expect((try? ABIType("uint256" + String(repeating: "[]", count: 64)))?.isDynamic == true)
        #expect((#expect(throws: ContractError.self) { try ABIType(deepArrays) })?.code == .abiNestingTooDeep)
        let deepTuples = String(repeating: "(", count: 10_000) + "bool" + String(repeating: ")", count: 10_000)
        #expect((#expect(throws: ContractError.self) { try ABIType(deepTuples) })?.code == .abiNestingTooDeep)
    }

    @Test func signaturesSplitIntoNameAndTypes() throws {
        let (name, types) = try ABI.parseSignature("sam(bytes,bool,uint[])")
        #expect(name == "sam" && types == [.bytes, .bool, .dynamicArray(.uint256)])
        #expect(ABI.signature(name, types) == "sam(bytes,bool,uint256[])")
        #expect(try ABI.parseSignature("totalSupply()").types.isEmpty)
        for bad in ["sam", "(uint256)", "f(uint256", "f x(uint256)", "f(uint7)"] {
            #expect((#expect(throws: ContractError.self) { try ABI.parseSignature(bad) })?.code == .abiInvalidType, "\(bad)")
        }
    }
}
