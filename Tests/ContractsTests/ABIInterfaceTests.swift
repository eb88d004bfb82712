@testable import Contracts
import LedgerCrypto
import Testing

@Suite struct ABIInterfaceTests {
    /// A JSON ABI as solc writes it for a small traceability contract (with `internalType`, struct components,
    /// overloads, events, errors, a payable constructor, fallback and receive).
    static let plantABI = """
    [
     {"type":"constructor","stateMutability":"payable","inputs":[{"name":"plant","type":"string","internalType":"string"},{"name":"lines","type":"uint8","internalType":"uint8"}]},
     {"type":"function","name":"setBatch","stateMutability":"nonpayable","inputs":[{"name":"id","type":"string","internalType":"string"},{"name":"quantity","type":"uint256","internalType":"uint256"}],"outputs":[]},
     {"type":"function","name":"record","stateMutability":"nonpayable","inputs":[{"name":"value","type":"uint256","internalType":"uint256"}],"outputs":[]},
     {"type":"function","name":"record","stateMutability":"nonpayable","inputs":[{"name":"value","type":"string","internalType":"string"}],"outputs":[]},
     {"type":"function","name":"record","stateMutability":"nonpayable","inputs":[{"name":"value","type":"int64","internalType":"int64"}],"outputs":[]},
     {"type":"function","name":"scale","stateMutability":"pure","inputs":[{"name":"x","type":"uint8"}],"outputs":[{"name":"","type":"uint8"}]},
     {"type":"function","name":"scale","stateMutability":"pure","inputs":[{"name":"x","type":"uint16"}],"outputs":[{"name":"","type":"uint16"}]},
     {"type":"function","name":"batch","stateMutability":"view","inputs":[{"name":"id","type":"string","internalType":"string"}],
      "outputs":[{"name":"batch","type":"tuple","internalType":"struct Plant.Batch","components":[
        {"name":"id","type":"string","internalType":"string"},
        {"name":"quantity","type":"uint64","internalType":"uint64"},
        {"name":"owner","type":"address","internalType":"address"},
        {"name":"parts","type":"tuple[]","internalType":"struct Plant.Part[]","components":[
           {"name":"name","type":"string","internalType":"string"},{"name":"delta","type":"int32","internalType":"int32"}]},
        {"name":"digest","type":"bytes32","internalType":"bytes32"},
        {"name":"sealed","type":"bool","internalType":"bool"}]}]},
     {"type":"function","name":"stats","stateMutability":"view","inputs":[],
      "outputs":[{"name":"count","type":"uint256"},{"name":"minimum","type":"int64"},{"name":"label","type":"string"},{"name":"ids","type":"string[]"},{"name":"blob","type":"bytes"}]},
     {"type":"function","name":"totalSupply","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"uint256"}]},
     {"type":"event","name":"BatchRecorded","anonymous":false,"inputs":[{"name":"id","type":"string","indexed":true},{"name":"by","type":"address","indexed":true},{"name":"quantity","type":"uint256","indexed":false}]},
     {"type":"error","name":"NotOwner","inputs":[{"name":"caller","type":"address","internalType":"address"}]},
     {"type":"fallback","stateMutability":"nonpayable"},
     {"type":"receive","stateMutability":"payable"}
    ]
    """

    struct Part: Decodable, Equatable {
        var name: String
        var delta: Int32
    }

    struct Batch: Decodable, Equatable {
        var id: String
        var quantity: UInt64
        var owner: EVMAddress
        var parts: [Part]
        var digest: [UInt8]
        var sealed: Bool
    }

    struct Stats: Decodable, Equatable {
        var count: Int
        var minimum: Int64
        var label: String
        var ids: [String]
        var blob: [UInt8]
        var missing: String?
    }

    let plant: ContractInterface
    init() throws { plant = try ContractInterface(json: Self.plantABI) }

    static let owner = EVMAddress(hex: "0x095e7baea6a6c7c4c2dfeb977efac326af552d87")!

    @Test func readsEveryKindOfEntryOfASolcABI() throws {
        #expect(plant.functions.map(\.signature) == ["setBatch(string,uint256)", "record(uint256)", "record(string)", "record(int64)",
                                                     "scale(uint8)", "scale(uint16)", "batch(string)", "stats()", "totalSupply()"])
        #expect(plant.constructorInputs.map(\.type) == [.string, .uint(bits: 8)] && plant.constructorIsPayable)
        #expect(plant.hasFallback && plant.hasReceive)
        #expect(plant.events.map(\.signature) == ["BatchRecorded(string,address,uint256)"])
        #expect(plant.errors.map(\.signature) == ["NotOwner(address)"])
        let batch = try #require(plant.functions.first { $0.name == "batch" })
        #expect(batch.isReadOnly && batch.outputs[0].internalType == "struct Plant.Batch")
        #expect(batch.outputs[0].type.canonicalName == "(string,uint64,address,(string,int32)[],bytes32,bool)")
        #expect(batch.outputs[0].components[3].components.map(\.name) == ["name", "delta"])
    }

    @Test func encodesACallAsWrittenInSwift() throws {
        let data = try plant.encodeCall("setBatch", .string("B-17"), .uint(42))
        #expect(data == (try ABI.encodeCall("setBatch(string,uint256)", .string("B-17"), .uint(42))))
        #expect(Array(data.prefix(4)) == ABI.selector("setBatch(string,uint256)"))
        let (function, arguments) = try plant.decodeCall(data)
        #expect(function.name == "setBatch" && arguments == [.string("B-17"), .uint(42)])
        let quantity = 42
        #expect(try plant.encodeCall("setBatch", .string("B-17"), .uint(quantity)) == data)
    }

    @Test func overloadsResolveByTheArgumentsKinds() throws {
        #expect(try plant.function("record", for: [.uint(7)]).signature == "record(uint256)")
        #expect(try plant.function("record", for: [.string("x")]).signature == "record(string)")
        #expect(try plant.function("record", for: [.int(-7)]).signature == "record(int64)")
        #expect(try plant.function("scale", for: [.uint(300)]).signature == "scale(uint16)")
        #expect(try plant.function("scale(uint8)", for: [.uint(3)]).signature == "scale(uint8)")
        let ambiguous = #expect(throws: ContractError.self) { try plant.encodeCall("scale", .uint(3)) }
        #expect(ambiguous?.code == .abiAmbiguousOverload && ambiguous?.details["candidates"] == "scale(uint8), scale(uint16)")
        let none = #expect(throws: ContractError.self) { try plant.encodeCall("scale", .uint(70_000)) }
        #expect(none?.code == .abiNoMatchingOverload)
        let count = #expect(throws: ContractError.self) { try plant.encodeCall("setBatch", .string("B-17")) }
        #expect(count?.code == .abiNoMatchingOverload)
        let unknown = #expect(throws: ContractError.self) { try plant.encodeCall("burn", .uint(1)) }
        #expect(unknown?.code == .abiUnknownMember && unknown?.details["name"] == "burn")
        let wrongSignature = #expect(throws: ContractError.self) { try plant.encodeCall("record(bool)", .bool(true)) }
        #expect(wrongSignature?.code == .abiUnknownMember)
        let misfit = #expect(throws: ContractError.self) { try plant.encodeCall("scale(uint8)", .uint(256)) }
        #expect(misfit?.code == .abiValueMismatch && misfit?.details["path"] == "x")
    }

    @Test func constructorArgumentsFollowTheBytecode() throws {
        let bytecode: [UInt8] = [0x60, 0x80, 0x60, 0x40, 0x52]
        let code = try plant.encodeConstructor(bytecode: bytecode, arguments: [.string("Kunming-2"), .uint(3)])
        #expect(code == bytecode + (try ABI.encode([.string("Kunming-2"), .uint(3)], as: [.string, .uint(bits: 8)])))
        #expect(try ContractInterface().encodeConstructor(bytecode: bytecode) == bytecode)
        let error = #expect(throws: ContractError.self) { try plant.encodeConstructor(bytecode: bytecode, arguments: [.uint(1)]) }
        #expect(error?.code == .abiValueMismatch)
    }

    func batchOutput(deltas: [ABIValue] = [.int(-1), .int(2_000_000)]) throws -> [UInt8] {
        let function = try #require(plant.functions.first { $0.name == "batch" })
        let parts: [ABIValue] = zip(["bolt", "gear"], deltas).map { .tuple([.string($0), $1]) }
        let value: ABIValue = .tuple([.string("B-17"), .uint(42), .address(Self.owner), .array(parts),
                                      .fixedBytes([UInt8](repeating: 0xAB, count: 32)), .bool(true)])
        return try ABI.encode([value], as: function.outputs.map(\.type))
    }

    @Test func resultsFillSwiftStructsByComponentName() throws {
        let batch = try plant.decodeOutput(Batch.self, of: "batch", from: batchOutput())
        #expect(batch == Batch(id: "B-17", quantity: 42, owner: Self.owner,
                               parts: [Part(name: "bolt", delta: -1), Part(name: "gear", delta: 2_000_000)],
                               digest: [UInt8](repeating: 0xAB, count: 32), sealed: true))
        let values = try plant.decodeOutput(of: "batch", from: batchOutput())
        #expect(values.count == 1 && values[0].elements?.first == .string("B-17"))

        let statsData = try ABI.encode([.uint(3), .int(-9), .string("line 2"), .array([.string("a"), .string("b")]), .bytes([1, 2, 3])],
                                       as: [.uint256, .int(bits: 64), .string, .dynamicArray(.string), .bytes])
        #expect(try plant.decodeOutput(Stats.self, of: "stats", from: statsData)
                == Stats(count: 3, minimum: -9, label: "line 2", ids: ["a", "b"], blob: [1, 2, 3], missing: nil))

        let supply = try ABI.encode([.uint(UInt64.max)], as: [.uint256])
        #expect(try plant.decodeOutput(UInt64.self, of: "totalSupply", from: supply) == UInt64.max)
        #expect(try plant.decodeOutput(UInt256.self, of: "totalSupply", from: supply) == UInt256(UInt64.max))
        #expect(try plant.decodeOutput(UInt128.self, of: "totalSupply", from: supply) == UInt128(UInt64.max))
        let tooBig = #expect(throws: ContractError.self) { try plant.decodeOutput(Int64.self, of: "totalSupply", from: supply) }
        #expect(tooBig?.code == .abiResultTypeMismatch)
    }

    @Test func resultsThatDoNotFitTheSwiftTypeNameTheField() throws {
        struct NarrowPart: Decodable { var name: String; var delta: Int8 }
        struct NarrowBatch: Decodable { var id: String; var parts: [NarrowPart] }
        let narrow = #expect(throws: ContractError.self) { try plant.decodeOutput(NarrowBatch.self, of: "batch", from: batchOutput()) }
        #expect(narrow?.code == .abiResultTypeMismatch && narrow?.details["path"] == "parts[1].delta")
        struct Misnamed: Decodable { var identifier: String }
        let missing = #expect(throws: ContractError.self) { try plant.decodeOutput(Misnamed.self, of: "batch", from: batchOutput()) }
        #expect(missing?.code == .abiResultTypeMismatch && missing?.details["path"] == "identifier")
        struct WrongKind: Decodable { var sealed: String }
        let kind = #expect(throws: ContractError.self) { try plant.decodeOutput(WrongKind.self, of: "batch", from: batchOutput()) }
        #expect(kind?.code == .abiResultTypeMismatch && kind?.details["path"] == "sealed")
    }

    @Test func malformedResultsNameTheFieldByItsComponentNames() throws {
        // parts[1].delta is an int32; make its word 0x00…00ffffffff (not sign-extended).
        var data = try batchOutput(deltas: [.int(5), .int(-1)])
        let ones = [UInt8](repeating: 0xFF, count: 32)
        let at = try #require((0...(data.count - 32)).first { Array(data[$0..<($0 + 32)]) == ones })
        for i in at..<(at + 28) { data[i] = 0 }
        let error = #expect(throws: ContractError.self) { try plant.decodeOutput(of: "batch", from: data) }
        #expect(error?.code == .abiInvalidSignExtension && error?.details["path"] == "batch.parts[1].delta")
        let ambiguous = #expect(throws: ContractError.self) { try plant.decodeOutput(of: "scale", from: UInt256(1).bigEndianBytes) }
        #expect(ambiguous?.code == .abiAmbiguousOverload)
        #expect(try plant.decodeOutput(of: "scale(uint16)", from: UInt256(300).bigEndianBytes) == [.uint(300)])
    }

    @Test func logsAndRevertsDecodeThroughTheInterface() throws {
        let event = try plant.event("BatchRecorded")
        let topics = try event.topics(matching: [.string("B-17"), .address(Self.owner)]).compactMap { $0 }
        let log = try plant.decodeLog(topics: topics, data: ABI.encode([.uint(42)], as: [.uint256]))
        #expect(log.name == "BatchRecorded" && log["by"] == .address(Self.owner) && log["quantity"] == .uint(42))
        #expect(log["id"] == .fixedBytes(Keccak256.hash(Array("B-17".utf8)).bytes))
        let notOwner = ABI.selector("NotOwner(address)") + Self.owner.word.bigEndianBytes
        #expect(try plant.decodeRevert(notOwner) == .custom(plant.errors[0], [.address(Self.owner)]))
        #expect((#expect(throws: ContractError.self) { try plant.event("Missing") })?.code == .abiUnknownMember)
        let selector = #expect(throws: ContractError.self) { try plant.decodeCall([0xde, 0xad, 0xbe, 0xef]) }
        #expect(selector?.code == .abiUnknownSelector && selector?.details["selector"] == "0xdeadbeef")
    }

    @Test func readsVyperAndOlderSolcFilesAndObjectsHoldingAnABI() throws {
        // Vyper 0.4 writes stateMutability; solc before 0.4.16 wrote constant/payable; a compiler's JSON output nests "abi".
        let vyper = """
        {"abi": [{"stateMutability": "view", "type": "function", "name": "owner", "inputs": [], "outputs": [{"name": "", "type": "address"}]},
                 {"constant": true, "payable": false, "type": "function", "name": "legacy", "inputs": [], "outputs": []},
                 {"payable": true, "name": "pay", "inputs": [], "outputs": []},
                 {"anonymous": false, "inputs": [{"indexed": true, "name": "who", "type": "address"}], "name": "Hello", "type": "event"}],
         "bytecode": "0x00"}
        """
        let interface = try ContractInterface(json: vyper)
        #expect(interface.functions.map(\.stateMutability) == [.view, .view, .payable])
        #expect(interface.events[0].inputs[0].indexed)
        #expect(try interface.decodeOutput(EVMAddress.self, of: "owner", from: Self.owner.word.bigEndianBytes) == Self.owner)
    }

    @Test(arguments: [
        "not json", "{}", "[{\"type\":\"function\",\"inputs\":[]}]",
        "[{\"type\":\"function\",\"name\":\"f\",\"inputs\":[{\"name\":\"x\",\"type\":\"uint7\"}]}]",
        "[{\"type\":\"function\",\"name\":\"f\",\"inputs\":[{\"name\":\"s\",\"type\":\"tuple\"}]}]",
        "[{\"type\":\"function\",\"name\":\"f\",\"stateMutability\":\"sometimes\"}]",
        "[{\"type\":\"event\",\"inputs\":[]}]", "[{\"type\":\"error\"}]", "[{\"type\":\"modifier\",\"name\":\"m\"}]",
        "[{\"type\":\"function\",\"name\":\"f\",\"inputs\":[{\"name\":\"x\"}]}]",
    ])
    func refusesFilesThatAreNotJSONABIs(json: String) {
        let error = #expect(throws: ContractError.self) { try ContractInterface(json: json) }
        #expect(error?.code == .abiInvalidJSON)
    }

    @Test func refusesComponentsNestedPastTheLimit() {
        var parameter = "{\"name\":\"x\",\"type\":\"uint256\"}"
        for _ in 0..<70 { parameter = "{\"name\":\"t\",\"type\":\"tuple\",\"components\":[\(parameter)]}" }
        let error = #expect(throws: ContractError.self) {
            try ContractInterface(json: "[{\"type\":\"function\",\"name\":\"f\",\"inputs\":[\(parameter)],\"outputs\":[]}]")
        }
        #expect(error?.code == .abiNestingTooDeep)
    }
}
