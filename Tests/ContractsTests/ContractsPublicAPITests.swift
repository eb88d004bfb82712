import Contracts
import Testing

/// What the consumer package (IntegrationTests/Consumer) does with the Contracts product, through its public API
/// only: a call encoded from a JSON ABI, run on the EVM, its result decoded.
@Suite struct ContractsPublicAPITests {
    struct NoState: EVMStateReader {
        func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount? { nil }
        func code(_ address: EVMAddress) throws(ContractError) -> [UInt8] { [] }
        func storage(_ address: EVMAddress, slot: UInt256) throws(ContractError) -> UInt256 { .zero }
        func blockHash(_ number: UInt64) throws(ContractError) -> UInt256? { nil }
    }

    @Test func aCallEncodedFromAJSONABIRunsOnTheEVMAndItsResultDecodes() throws {
        let abi = try ContractInterface(json: #"[{"type":"function","name":"answer","inputs":[{"name":"x","type":"uint256"}],"outputs":[{"name":"","type":"uint256"}],"stateMutability":"pure"}]"#)
        let data = try abi.encodeCall("answer", .uint(6))
        // CALLDATALOAD(4) × 7, stored at 0 and returned.
        let code: [UInt8] = [0x60, 0x04, 0x35, 0x60, 0x07, 0x02, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xF3]
        let contract = EVMAddress(hex: "0x00000000000000000000000000000000000c0de1")!
        let block = EVMBlockEnvironment(coinbase: contract, number: 1, timestamp: 1, gasLimit: 1_000_000, chainID: 1)
        let result = try EVM().execute(EVMMessage(address: contract, caller: contract, code: code, data: data, gas: 100_000),
                                       block: block, state: NoState())
        #expect(try abi.decodeOutput(of: "answer", from: result.output) == [.uint(42)])
    }
}
