@testable import Contracts
import LedgerCrypto
import Testing

@Suite struct ABISelectorEventTests {
    @Test(arguments: [("transfer(address,uint256)", "a9059cbb"), ("balanceOf(address)", "70a08231"),
                      ("approve(address,uint256)", "095ea7b3"), ("transferFrom(address,address,uint256)", "23b872dd"),
                      ("totalSupply()", "18160ddd"), ("allowance(address,address)", "dd62ed3e"),
                      ("Error(string)", "08c379a0"), ("Panic(uint256)", "4e487b71"),
                      ("baz(uint32,bool)", "cdcd77c0"), ("bar(bytes3[2])", "fce353f6"), ("sam(bytes,bool,uint256[])", "a5643bf2"),
                      ("f(uint256,uint32[],bytes10,bytes)", "8be65246"), ("g(uint256[][],string[])", "2289b18c")])
    func selectorsAreTheFirstFourBytesOfTheSignaturesKeccak(signature: String, selector: String) {
        #expect(Hex.encode(ABI.selector(signature)) == selector)
    }

    @Test func eventTopicsAreTheSignaturesKeccak() {
        #expect(ABI.topic("Transfer(address,address,uint256)").description == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
        #expect(ABI.topic("Approval(address,address,uint256)").description == "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925")
        #expect(Self.transfer.topic0 == ABI.topic("Transfer(address,address,uint256)"))
        #expect(Self.transfer.signature == "Transfer(address,address,uint256)" && Self.transfer.topicCount == 3)
    }

    static let from = EVMAddress(hex: "0x1111111111111111111111111111111111111111")!
    static let to = EVMAddress(hex: "0x2222222222222222222222222222222222222222")!
    static let transfer = ABIEvent(name: "Transfer", inputs: [ABIParameter(name: "from", type: .address, indexed: true),
                                                              ABIParameter(name: "to", type: .address, indexed: true),
                                                              ABIParameter(name: "value", type: .uint256)])

    @Test func aTransferLogDecodesIndexedAddressesFromTopicsAndTheAmountFromData() throws {
        let topics = [Self.transfer.topic0, Self.from.word, Self.to.word]
        let log = try Self.transfer.decode(topics: topics, data: ABI.encode([.uint(1_000)], as: [.uint256]))
        #expect(log.name == "Transfer" && log.values == [.address(Self.from), .address(Self.to), .uint(1_000)])
        #expect(log["to"] == .address(Self.to) && log["value"] == .uint(1_000) && log["nothing"] == nil)
        #expect(try Self.transfer.topics(matching: [nil, .address(Self.to)]) == [Self.transfer.topic0, nil, Self.to.word])
    }

    @Test func indexedDynamicAndCompositeValuesAreTheKeccakOfTheirInPlaceEncoding() throws {
        let event = ABIEvent(name: "Recorded", inputs: [
            ABIParameter(name: "batch", type: .string, indexed: true),
            ABIParameter(name: "parts", type: .dynamicArray(.uint256), indexed: true),
            ABIParameter(name: "tag", type: try ABIType("(string,bool)"), indexed: true),
            ABIParameter(name: "note", type: .string),
        ])
        let topics = try event.topics(matching: [.string("B-17"), .array([.uint(1), .uint(2)]), .tuple([.string("x"), .bool(true)])])
        #expect(topics[1] == UInt256(bigEndian: Keccak256.hash(Array("B-17".utf8)).bytes))
        #expect(topics[2] == UInt256(bigEndian: Keccak256.hash(UInt256(1).bigEndianBytes + UInt256(2).bigEndianBytes).bytes))
        let paddedX = [UInt8(ascii: "x")] + [UInt8](repeating: 0, count: 31)
        #expect(topics[3] == UInt256(bigEndian: Keccak256.hash(paddedX + UInt256(1).bigEndianBytes).bytes))
        let log = try event.decode(topics: topics.compactMap { $0 }, data: ABI.encode([.string("ok")], as: [.string]))
        #expect(log["batch"] == .fixedBytes(topics[1]!.bigEndianBytes) && log["note"] == .string("ok"))
    }

    @Test func anonymousEventsHaveNoSignatureTopic() throws {
        let event = ABIEvent(name: "Tick", inputs: [ABIParameter(name: "n", type: .uint(bits: 64), indexed: true)], anonymous: true)
        #expect(event.topicCount == 1)
        let interface = ContractInterface(events: [Self.transfer, event])
        let log = try interface.decodeLog(topics: [UInt256(9)], data: [])
        #expect(log.name == "Tick" && log.values == [.uint(9)])
    }

    @Test func logsThatDoNotMatchTheEventAreRefused() {
        let interface = ContractInterface(events: [Self.transfer])
        let unknown = #expect(throws: ContractError.self) { try interface.decodeLog(topics: [UInt256(1), UInt256(2), UInt256(3)], data: []) }
        #expect(unknown?.code == .abiUnknownEvent)
        let short = #expect(throws: ContractError.self) { try interface.decodeLog(topics: [Self.transfer.topic0, Self.from.word], data: []) }
        #expect(short?.code == .abiUnknownEvent)
        // An indexed address topic with upper bytes set is dirty, and the error names the parameter.
        let dirty = #expect(throws: ContractError.self) {
            try interface.decodeLog(EVMLog(address: Self.from, topics: [Self.transfer.topic0, UInt256.max, Self.to.word],
                                           data: UInt256(1).bigEndianBytes))
        }
        #expect(dirty?.code == .abiDirtyPadding && dirty?.details["path"] == "from")
    }

    @Test func revertDataDecodesErrorStringsPanicsAndCustomErrors() throws {
        // The Solidity documentation's example: revert("Not enough Ether provided.").
        let reason = abiHex("0x08c379a0",
                            "0x0000000000000000000000000000000000000000000000000000000000000020",
                            "0x000000000000000000000000000000000000000000000000000000000000001a",
                            "0x4e6f7420656e6f7567682045746865722070726f76696465642e000000000000")
        #expect(try ABI.decodeRevert(reason) == .error("Not enough Ether provided."))
        let overflow = ABIRevert.panicSelector + UInt256(0x11).bigEndianBytes
        guard case .panic(let panic) = try ABI.decodeRevert(overflow) else { Issue.record("not a panic"); return }
        #expect(panic.code == UInt256(0x11) && panic.meaning == "arithmetic overflow or underflow")
        #expect(ABIPanic(code: 0x32).meaning == "array index out of bounds" && ABIPanic(code: 0x99).meaning == "unknown panic code")
        #expect(try ABI.decodeRevert([]) == .empty && ABI.decodeRevert([1, 2]) == .unknown([1, 2]))

        let notOwner = ABICustomError(name: "NotOwner", inputs: [ABIParameter(name: "caller", type: .address)])
        let insufficient = ABICustomError(name: "InsufficientBalance", inputs: [ABIParameter(name: "available", type: .uint256),
                                                                                ABIParameter(name: "required", type: .uint256)])
        let interface = ContractInterface(errors: [notOwner, insufficient])
        let data = insufficient.selector + (try ABI.encode([.uint(5), .uint(7)], as: [.uint256, .uint256]))
        #expect(try interface.decodeRevert(data) == .custom(insufficient, [.uint(5), .uint(7)]))
        #expect(try ABI.decodeRevert(data) == .unknown(data))
        // A known selector with malformed data is an error, naming the field.
        let dirty = notOwner.selector + UInt256.max.bigEndianBytes
        let error = #expect(throws: ContractError.self) { try interface.decodeRevert(dirty) }
        #expect(error?.code == .abiDirtyPadding && error?.details["path"] == "caller")
        let truncated = #expect(throws: ContractError.self) { try ABI.decodeRevert(Array(reason.dropLast(32))) }
        #expect(truncated?.code == .abiInvalidLength && truncated?.details["path"] == "reason")
    }
}
