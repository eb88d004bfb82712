@testable import Contracts
import Foundation
import LedgerCrypto
import Testing

/// The Vyper traceability contract (vyper 0.4.3 bytecode from Tests/Fixtures/Contracts) deployed on the interpreter
/// and driven only through its JSON ABI: calls with strings, integers and arrays, results into a Swift struct, its
/// logs decoded, and its `assert … , "reason"` reverts read back as `Error(string)`.
@Suite struct ABIVyperContractRunTests {
    typealias W = EVMTestWorld

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: ABITraceabilityContractTests.fixtures.appendingPathComponent(name))
    }

    @Test func theTraceabilityContractRunsOnABIEncodedCalls() throws {
        let contract = try ContractInterface(json: Array(try Self.fixture("Traceability.abi.json")))
        let bytecode = try Hex.decode(String(decoding: try Self.fixture("Traceability.bin"), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "0x", with: ""))
        var state = W.state([:])
        let evm = EVM()

        let deployed = try evm.transact(W.tx(to: nil, data: try contract.encodeConstructor(bytecode: bytecode), gas: 3_000_000),
                                        block: W.block, state: state)
        state.apply(deployed.changes)
        let address = try #require(deployed.createdAddress)
        #expect(deployed.status == .success)

        func send(_ data: [UInt8], nonce: UInt64) throws -> EVMExecutionResult {
            let result = try evm.transact(W.tx(to: address, data: data, gas: 2_000_000, nonce: nonce), block: W.block, state: state)
            state.apply(result.changes)
            return result
        }

        let records: ABIValue = .array([.fixedBytes([UInt8](repeating: 0x11, count: 32)), .fixedBytes([UInt8](repeating: 0x22, count: 32))])
        let digests: ABIValue = .array([.fixedBytes([UInt8](repeating: 0xAA, count: 32)), .fixedBytes([UInt8](repeating: 0xBB, count: 32))])
        let registered = try send(try contract.encodeCall("register_batch", .string("B-17"), .uint(42), records, digests), nonce: 1)
        #expect(registered.status == .success, "\(String(describing: try? contract.decodeRevert(registered.output)))")
        let log = try contract.decodeLog(try #require(registered.logs.first))
        #expect(log.name == "BatchRegistered" && log["batch_id"] == .string("B-17") && log["quantity"] == .uint(42))
        #expect(log["registrar"] == .address(W.sender) && log["record_count"] == .uint(2))
        #expect(log["batch_key"] == .fixedBytes(Keccak256.hash(Array("B-17".utf8)).bytes))

        let read = try send(try contract.encodeCall("get_batch", .string("B-17")), nonce: 2)
        let batch = try contract.decodeOutput(ABITraceabilityContractTests.BatchView.self, of: "get_batch", from: read.output)
        #expect(batch == ABITraceabilityContractTests.BatchView(
            quantity: 42, registrar: W.sender,
            records: [[UInt8](repeating: 0x11, count: 32), [UInt8](repeating: 0x22, count: 32)],
            digests: [[UInt8](repeating: 0xAA, count: 32), [UInt8](repeating: 0xBB, count: 32)]))
        let count = try send(try contract.encodeCall("batch_count"), nonce: 3)
        #expect(try contract.decodeOutput(Int.self, of: "batch_count", from: count.output) == 1)

        let again = try send(try contract.encodeCall("register_batch", .string("B-17"), .uint(1), .array([]), .array([])), nonce: 4)
        #expect(again.status != .success)
        #expect(try contract.decodeRevert(again.output) == .error("batch exists"))
    }
}
