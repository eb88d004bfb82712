@testable import Contracts
import LedgerCrypto
import Testing

@Suite struct EVMTransactionTests {
    typealias W = EVMTestWorld

    static func base() -> EVMTransaction { W.tx(to: W.b, gas: 100_000) }

    static func expectCode(_ code: ContractError.Code, _ tx: EVMTransaction, state: EVMTestState = W.state([:]),
                           block: EVMBlockEnvironment = W.block, evm: EVM = EVM()) {
        do {
            _ = try evm.transact(tx, block: block, state: state)
            Issue.record("transaction accepted, expected code \(code)")
        } catch {
            #expect(error.code == code, "\(error.message)")
        }
    }

    @Test func eachInvalidTransactionHasItsOwnCode() {
        var tx = Self.base(); tx.nonce = 1
        Self.expectCode(.evmNonceTooHigh, tx)
        var state = W.state([:]); state.put(W.sender, balance: UInt256(1_000_000_000_000), nonce: 3)
        Self.expectCode(.evmNonceTooLow, Self.base(), state: state)
        state.put(W.sender, balance: UInt256(1_000_000_000_000), nonce: .max)
        tx = Self.base(); tx.nonce = .max
        Self.expectCode(.evmNonceAtMaximum, tx, state: state)
        tx = Self.base(); tx.value = UInt256(1_000_000_000_000)
        Self.expectCode(.evmInsufficientFunds, tx)
        tx = Self.base(); tx.gasLimit = 21_000; tx.data = [1]
        Self.expectCode(.evmIntrinsicGasTooLow, tx)
        tx = Self.base(); tx.to = nil; tx.data = [UInt8](repeating: 0, count: 49_153); tx.gasLimit = 10_000_000
        Self.expectCode(.evmInitcodeTooLarge, tx)
        tx = Self.base(); tx.gasPrice = UInt256(6)
        Self.expectCode(.evmFeeCapBelowBaseFee, tx)
        tx = Self.base(); tx.gasPrice = nil; tx.maxFeePerGas = UInt256(10); tx.maxPriorityFeePerGas = UInt256(11)
        Self.expectCode(.evmPriorityFeeAboveFeeCap, tx)
        tx = Self.base(); tx.gasLimit = 30_000_001
        Self.expectCode(.evmGasLimitAboveBlock, tx)
        state = W.state([:]); state.put(W.sender, balance: UInt256(1_000_000_000_000), code: [0x00])
        Self.expectCode(.evmSenderHasCode, Self.base(), state: state)
        let blobHash = UInt256(hex: "0x01" + String(repeating: "00", count: 31))!
        tx = Self.base(); tx.gasPrice = nil; tx.maxFeePerGas = UInt256(10); tx.maxPriorityFeePerGas = .one
        tx.blobVersionedHashes = [blobHash]; tx.maxFeePerBlobGas = .zero
        Self.expectCode(.evmBlobFeeCapTooLow, tx)
        tx.maxFeePerBlobGas = UInt256(10); tx.blobVersionedHashes = []
        Self.expectCode(.evmBlobTransactionWithoutBlobs, tx)
        tx.blobVersionedHashes = [blobHash]; tx.to = nil
        Self.expectCode(.evmBlobTransactionCreatesContract, tx)
        tx.to = W.b; tx.blobVersionedHashes = [UInt256(hex: "0x02" + String(repeating: "00", count: 31))!]
        Self.expectCode(.evmBlobVersionedHashInvalid, tx)
        tx.blobVersionedHashes = Array(repeating: blobHash, count: 7)
        Self.expectCode(.evmTooManyBlobs, tx)
        Self.expectCode(.evmGasLimitAboveNodeLimit, Self.base(), evm: EVM(configuration: EVMConfiguration(maxTransactionGas: 50_000)))
        Self.expectCode(.evmGasLimitAboveBlock, Self.base(), evm: EVM(configuration: EVMConfiguration(maxBlockGas: 50_000)))
        tx = Self.base(); tx.gasPrice = nil
        Self.expectCode(.evmFeeFieldsInvalid, tx)
    }

    @Test func intrinsicGasCountsDataCreationAndAccessLists() {
        var tx = Self.base()
        tx.data = [0, 0, 1]
        tx.accessList = [.init(address: W.c, storageKeys: [.zero, .one])]
        #expect(EVM.intrinsicGas(tx) == 21_000 + 8 + 16 + 2_400 + 2 * 1_900)
        tx.to = nil
        tx.accessList = []
        tx.data = [UInt8](repeating: 1, count: 33)
        #expect(EVM.intrinsicGas(tx) == 21_000 + 33 * 16 + 32_000 + 2 * 2)
    }

    @Test func aValidTransferPaysFeesAndBumpsTheNonce() throws {
        var state = W.state([:])
        var tx = W.tx(to: W.c, value: 1_000, gas: 21_000)
        tx.gasPrice = nil; tx.maxFeePerGas = UInt256(20); tx.maxPriorityFeePerGas = UInt256(2)
        let result = try EVM().transact(tx, block: W.block, state: state)
        #expect(result.status == .success && result.gasUsed == 21_000)
        state.apply(result.changes)
        #expect(state.accounts[W.sender]?.nonce == 1)
        // Effective price: base fee 7 + tip 2 = 9; the tip goes to the coinbase, the base fee is burnt.
        #expect(state.accounts[W.sender]?.balance == UInt256(1_000_000_000_000 - 1_000 - 21_000 * 9))
        #expect(state.accounts[W.coinbase]?.balance == UInt256(21_000 * 2))
        #expect(state.accounts[W.c]?.balance == UInt256(1_000))
    }

    @Test func aFailedTransactionChangesOnlyTheFeeAndTheNonce() throws {
        var state = W.state([W.b: "PUSH1 01 PUSH1 00 SSTORE INVALID"], balances: [:])
        let result = try EVM().transact(W.tx(to: W.b, value: 5, gas: 60_000), block: W.block, state: state)
        #expect(result.status == .halt("INVALID") && result.gasUsed == 60_000)
        state.apply(result.changes)
        #expect(state.slots[W.b] == nil && state.accounts[W.b]?.balance == .zero)
        #expect(state.accounts[W.sender]?.balance == UInt256(1_000_000_000_000 - 600_000) && state.accounts[W.sender]?.nonce == 1)
    }

    @Test func aReadOnlyCallNeedsNoNonceOrFees() throws {
        let state = W.state([W.b: "PUSH1 2a PUSH1 00 MSTORE PUSH1 20 PUSH1 00 RETURN"])
        let result = try EVM().call(from: W.c, to: W.b, block: W.block, state: state)
        #expect(result.status == .success && UInt256(bigEndian: result.output) == UInt256(42))
        #expect(result.changes.accounts[W.c] == nil)
    }

    @Test func theStateReaderSeesNoWritesAndItsFailuresEndTheRunWithNothingChanged() throws {
        struct Failing: EVMStateReader {
            func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount? {
                throw ContractError(.hostReadFailed, "disk gone")
            }
            func code(_ address: EVMAddress) throws(ContractError) -> [UInt8] { [] }
            func storage(_ address: EVMAddress, slot: UInt256) throws(ContractError) -> UInt256 { .zero }
            func blockHash(_ number: UInt64) throws(ContractError) -> UInt256? { nil }
        }
        #expect(throws: ContractError.self) { try EVM().transact(Self.base(), block: W.block, state: Failing()) }
    }
}
