import Contracts
import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// Contracts read manufacturing records through the records precompile: records written by the records executor,
/// read by a Vyper contract (`Tests/Fixtures/Contracts/BatchCheck.vy`) run by the contract executor on the same state.
@Suite struct RecordsPrecompileTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/Contracts")

    /// One world state both executors run on.
    struct Chain {
        var state = DictionaryState()
        let recordsKey = try! PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32))
        let founder = try! PrivateKey(scheme: .secp256k1, rawRepresentation: [UInt8](repeating: 9, count: 32))
        let contracts = ContractExecutor(precompiles: [RecordsPrecompile()])
        var height: UInt64 = 1

        init() { state = state.registering(recordsKey.publicKey) }

        func context() -> ExecutionContext {
            ExecutionContext(chainID: 53, height: Height(height), timestamp: Timestamp(millisecondsSince1970: height * 1_000),
                             hashAlgorithm: .sha256, transactionIndex: 0, transactionID: Digest(repeating: 0), genesisProducer: founder.publicKey)
        }

        @discardableResult
        mutating func records(_ operations: [RecordOperation]) throws -> ExecutionOutcome {
            height += 1
            var tx = Transaction(chainID: 53, sender: recordsKey.publicKey, nonce: 0, timestamp: Timestamp(millisecondsSince1970: height),
                                 payload: TransactionPayload(kind: RecordsExecutor.kind, body: RecordOperation.body(operations)))
            try tx.sign(with: recordsKey, hashAlgorithm: .sha256)
            let outcome = try RecordsExecutor().execute(tx, context: context(), state: state)
            #expect(outcome.status == Receipt.success)
            state.apply(outcome)
            return outcome
        }

        @discardableResult
        mutating func contract(_ operation: ContractOperation) throws -> ExecutionOutcome {
            height += 1
            let tx = Transaction(chainID: 53, sender: founder.publicKey, nonce: 0, timestamp: Timestamp(millisecondsSince1970: height),
                                 payload: TransactionPayload(kind: ContractExecutor.kind, body: operation.encoded))
            let outcome = try contracts.execute(tx, context: context(), state: state)
            if outcome.status == Receipt.success { state.apply(outcome) }
            return outcome
        }

        func view(_ target: ContractTarget, _ data: [UInt8]) throws(ContractError) -> [UInt8] {
            try contracts.view(target, data: data, height: height + 1, chainID: 53, state: state)
        }
    }

    static func create(_ record: ManufacturingRecord) -> RecordOperation {
        RecordOperation(kind: .create, recordID: record.recordID, version: 1, recordBytes: record.canonicalEncoding,
                        digest: record.digest(), uploader: "root")
    }

    static func update(_ old: ManufacturingRecord, to new: ManufacturingRecord, version: UInt64) -> RecordOperation {
        RecordOperation(kind: .update, recordID: old.recordID, version: version, recordBytes: new.canonicalEncoding, digest: new.digest(),
                        uploader: "root", condition: .expectedVersion(version - 1), changedFields: ["pro_raw_material.pro_batch_number"],
                        previousBytes: old.canonicalEncoding)
    }

    static func batchCheck() throws -> (interface: ContractInterface, initCode: [UInt8]) {
        let abi = try String(contentsOf: fixtures.appendingPathComponent("BatchCheck.abi.json"), encoding: .utf8)
        let hex = try String(contentsOf: fixtures.appendingPathComponent("BatchCheck.bin"), encoding: .utf8)
        return (try ContractInterface(json: abi), try Hex.decode(hex.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    @Test func thePrecompileAnswersARecordsLatestVersionDigestKindAndFactory() throws {
        var chain = Chain()
        let record = RecordsFixture.production(1)
        try chain.records([Self.create(record)])
        let at = ContractTarget.address(RecordsPrecompile.defaultAddress)
        let types: [ABIType] = [.bool, .uint(bits: 64), .fixedBytes(32), .string, .string]
        let found = try ABI.decode(types, from: chain.view(at, ABI.encodeCall("recordOf(string)", .string(record.recordID))))
        #expect(found == [.bool(true), .uint(1), .fixedBytes(record.digest().bytes), .string("production"), .string("F-KM-02")])
        let missing = try ABI.decode(types, from: chain.view(at, ABI.encodeCall("recordOf(string)", .string("P-404"))))
        #expect(missing[0] == .bool(false) && missing[1] == .uint(0))

        // A field, read from the bytes the digest proves; bytes of another record, a missing field and a bad
        // selector are refused with a reason.
        let field = try ABI.decode([.uint(bits: 64), .string], from: chain.view(at, ABI.encodeCall(
            "fieldOf(string,bytes,string)", .string(record.recordID), .bytes(record.canonicalEncoding), .string("pro_raw_material.pro_batch_number"))))
        #expect(field == [.uint(1), .string("B-17")])
        let other = RecordsFixture.production(2)
        for (call, reason) in [
            (try ABI.encodeCall("fieldOf(string,bytes,string)", .string(record.recordID), .bytes(other.canonicalEncoding), .string("product_uid")),
             "not the latest version (1) of record 'P-1'"),
            (try ABI.encodeCall("fieldOf(string,bytes,string)", .string(record.recordID), .bytes(record.canonicalEncoding), .string("colour")),
             "record 'P-1' has no field 'colour'"),
            (try ABI.encodeCall("fieldOf(string,bytes,string)", .string("P-404"), .bytes(record.canonicalEncoding), .string("product_uid")),
             "record 'P-404' is not on the chain"),
            (try ABI.encodeCall("nothing(string)", .string("P-1")), "unknown function selector"),
            ([0xAB], "shorter than a selector"),
        ] {
            let error = #expect(throws: ContractError.self) { try chain.view(at, call) }
            #expect(error?.code == .contractReverted)
            #expect(error?.details["reason"]?.contains(reason) == true, "\(String(describing: error))")
        }
    }

    @Test func aVyperContractChecksABatchAgainstTheRecordsOnChain() throws {
        var chain = Chain()
        let record = RecordsFixture.production(1)
        try chain.records([Self.create(record)])
        let (interface, initCode) = try Self.batchCheck()
        let deployed = try chain.contract(.deploy(name: "batch-check", initCode: initCode, gasLimit: 3_000_000))
        #expect(deployed.status == Receipt.success)

        // A read-only call finds the record's version through the precompile; an unknown record reverts with the
        // contract's own reason.
        let version = try interface.decodeOutput(UInt64.self, of: "latest_version",
                                                 from: chain.view(.name("batch-check"), interface.encodeCall("latest_version", .string("P-1"))))
        #expect(version == 1)
        let factory = try interface.decodeOutput(String.self, of: "factory_of",
                                                 from: chain.view(.name("batch-check"), interface.encodeCall("factory_of", .string("P-1"))))
        #expect(factory == "F-KM-02")
        let unknown = #expect(throws: ContractError.self) {
            try chain.view(.name("batch-check"), interface.encodeCall("latest_version", .string("P-404")))
        }
        #expect(unknown?.details["reason"] == "record not on chain")

        // A transaction checks the batch field of the latest version, writes and logs; after the record is updated,
        // the old bytes no longer pass and the new ones do.
        let checked = try chain.contract(.call(.name("batch-check"), data: interface.encodeCall(
            "check_batch", .string("P-1"), .bytes(record.canonicalEncoding), .string("B-17")), gasLimit: 1_000_000))
        #expect(checked.status == Receipt.success)
        let log = try #require(checked.logs.first)
        let event = try interface.decodeLog(topics: log.topics.map { UInt256(bigEndian: $0.bytes) }, data: log.data)
        #expect(event.name == "RecordChecked" && event.values == [.string("P-1"), .uint(1), .bool(true)])

        let moved = try record.applying(["pro_raw_material.pro_batch_number": "B-18"])
        try chain.records([Self.update(record, to: moved, version: 2)])
        #expect(try interface.decodeOutput(UInt64.self, of: "latest_version",
                                           from: chain.view(.name("batch-check"), interface.encodeCall("latest_version", .string("P-1")))) == 2)
        let stale = try chain.contract(.call(.name("batch-check"), data: interface.encodeCall(
            "check_batch", .string("P-1"), .bytes(record.canonicalEncoding), .string("B-17")), gasLimit: 1_000_000))
        #expect(stale.status == UInt64(ContractError.Code.contractReverted.rawValue))
        let wrongBatch = try chain.contract(.call(.name("batch-check"), data: interface.encodeCall(
            "check_batch", .string("P-1"), .bytes(moved.canonicalEncoding), .string("B-17")), gasLimit: 1_000_000))
        #expect(wrongBatch.status == Receipt.success)
        let wrongLog = try interface.decodeLog(topics: wrongBatch.logs[0].topics.map { UInt256(bigEndian: $0.bytes) }, data: wrongBatch.logs[0].data)
        #expect(wrongLog.values == [.string("P-1"), .uint(2), .bool(false)])
    }

    @Test func thePrecompileChargesGasAndFailsWithTooLittle() throws {
        let precompile = RecordsPrecompile()
        let input = try ABI.encodeCall("recordOf(string)", .string("P-1"))
        let cost = RecordsPrecompile.baseGas + RecordsPrecompile.gasPerWord * UInt64((input.count + 31) / 32)
        guard case .success(_, let used) = try precompile.run(input: input, gas: cost, state: DictionaryState()) else {
            Issue.record("expected success"); return
        }
        #expect(used == cost)
        #expect(try precompile.run(input: input, gas: cost - 1, state: DictionaryState()) == .failure)
    }
}
