@testable import Contracts
import Foundation
import LedgerCrypto
import Testing

/// The Vyper traceability contract's ABI (Tests/Fixtures/Contracts/Traceability.abi.json, vyper 0.4.3 output): the
/// selectors vyper itself reports (`vyper -f method_identifiers`), call data as eth-abi 6.0.0 encodes it, results and
/// logs decoded.
@Suite struct ABITraceabilityContractTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Contracts")

    let contract: ContractInterface
    init() throws {
        let json = try Data(contentsOf: Self.fixtures.appendingPathComponent("Traceability.abi.json"))
        contract = try ContractInterface(json: Array(json))
    }

    static let registrar = EVMAddress(hex: "0x095e7baea6a6c7c4c2dfeb977efac326af552d87")!

    @Test func selectorsMatchWhatVyperReports() {
        let expected = ["set_paused(bool)": "0ff5ce72", "register_batch(string,uint256,bytes32[],bytes32[])": "c2352314",
                        "add_record(string,bytes32,bytes32)": "c434056b", "get_batch(string)": "1a0487b7",
                        "record_count(string)": "37575933", "owner()": "8da5cb5b", "paused()": "5c975abb", "batch_count()": "8fae7b6d"]
        #expect(contract.functions.count == expected.count)
        for function in contract.functions {
            #expect(Hex.encode(function.selector) == expected[function.signature], "\(function.signature)")
        }
        #expect(contract.constructorInputs.isEmpty && contract.events.map(\.name) == ["BatchRegistered", "RecordAdded", "PausedChanged"])
    }

    @Test func callsWithStringsIntegersAndArraysEncodeAsEthABIDoes() throws {
        let records: ABIValue = .array([.fixedBytes([UInt8](repeating: 0x11, count: 32)), .fixedBytes([UInt8](repeating: 0x22, count: 32))])
        let digests: ABIValue = .array([.fixedBytes([UInt8](repeating: 0xAA, count: 32)), .fixedBytes([UInt8](repeating: 0xBB, count: 32))])
        let data = try contract.encodeCall("register_batch", .string("B-17"), .uint(42), records, digests)
        #expect(Hex.encode(data) == "c2352314"
                + "0000000000000000000000000000000000000000000000000000000000000080"
                + "000000000000000000000000000000000000000000000000000000000000002a"
                + "00000000000000000000000000000000000000000000000000000000000000c0"
                + "0000000000000000000000000000000000000000000000000000000000000120"
                + "0000000000000000000000000000000000000000000000000000000000000004"
                + "422d313700000000000000000000000000000000000000000000000000000000"
                + "0000000000000000000000000000000000000000000000000000000000000002"
                + String(repeating: "11", count: 32) + String(repeating: "22", count: 32)
                + "0000000000000000000000000000000000000000000000000000000000000002"
                + String(repeating: "aa", count: 32) + String(repeating: "bb", count: 32))
        #expect(try contract.encodeCall("set_paused", .bool(true)) == abiHex("0ff5ce72", String(repeating: "0", count: 63) + "1"))
        let add = try contract.encodeCall("add_record", .string("B-17"), .fixedBytes([UInt8](repeating: 1, count: 32)),
                                          .fixedBytes([UInt8](repeating: 2, count: 32)))
        #expect(try contract.decodeCall(add).arguments[0] == .string("B-17"))
        let bytecode = try Hex.decode(String(decoding: try Data(contentsOf: Self.fixtures.appendingPathComponent("Traceability.bin")), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "0x", with: ""))
        #expect(try contract.encodeConstructor(bytecode: bytecode) == bytecode && !bytecode.isEmpty)
    }

    /// `get_batch` returns four unnamed values: a struct reads them in order.
    struct BatchView: Decodable, Equatable {
        var quantity: UInt64
        var registrar: EVMAddress
        var records: [[UInt8]]
        var digests: [[UInt8]]
        init(quantity: UInt64, registrar: EVMAddress, records: [[UInt8]], digests: [[UInt8]]) {
            self.quantity = quantity; self.registrar = registrar; self.records = records; self.digests = digests
        }
        init(from decoder: any Decoder) throws {
            var values = try decoder.unkeyedContainer()
            quantity = try values.decode(UInt64.self)
            registrar = try values.decode(EVMAddress.self)
            records = try values.decode([[UInt8]].self)
            digests = try values.decode([[UInt8]].self)
        }
    }

    @Test func resultsAndLogsDecode() throws {
        // get_batch's return data as eth-abi encodes (42, registrar, [0x11…], [0xaa…]).
        let returned = abiHex("000000000000000000000000000000000000000000000000000000000000002a",
                              "000000000000000000000000095e7baea6a6c7c4c2dfeb977efac326af552d87",
                              "0000000000000000000000000000000000000000000000000000000000000080",
                              "00000000000000000000000000000000000000000000000000000000000000c0",
                              "0000000000000000000000000000000000000000000000000000000000000001",
                              String(repeating: "11", count: 32),
                              "0000000000000000000000000000000000000000000000000000000000000001",
                              String(repeating: "aa", count: 32))
        #expect(try contract.decodeOutput(BatchView.self, of: "get_batch", from: returned)
                == BatchView(quantity: 42, registrar: Self.registrar, records: [[UInt8](repeating: 0x11, count: 32)],
                             digests: [[UInt8](repeating: 0xAA, count: 32)]))

        let registered = try contract.event("BatchRegistered")
        #expect(registered.topic0.description == "0x4844332abb4ab4b4f48331cd01996758b2b956b44e3b38aa5d0e29e85f77009d")
        let key = UInt256(bigEndian: Keccak256.hash(Array("B-17".utf8)).bytes)
        let log = try contract.decodeLog(topics: [registered.topic0, key, Self.registrar.word],
                                         data: ABI.encode([.string("B-17"), .uint(42), .uint(2)], as: [.string, .uint256, .uint256]))
        #expect(log.name == "BatchRegistered" && log["batch_key"] == .fixedBytes(key.bigEndianBytes))
        #expect(log["registrar"] == .address(Self.registrar) && log["batch_id"] == .string("B-17") && log["record_count"] == .uint(2))
        // The contract's assertions revert with Error(string).
        let paused = ABIRevert.errorSelector + (try ABI.encode([.string("paused")], as: [.string]))
        #expect(try contract.decodeRevert(paused) == .error("paused"))
    }
}
