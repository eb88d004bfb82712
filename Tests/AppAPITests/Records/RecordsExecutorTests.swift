import Testing
@testable import AppAPI
import LedgerCore

/// A state for executor tests: a dictionary.
struct DictionaryState: StateReader {
    var values: [[UInt8]: [UInt8]] = [:]
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { values[key] }
    mutating func apply(_ outcome: ExecutionOutcome) {
        for change in outcome.writes.changes { values[change.key] = change.value }
    }
}

struct RecordsExecutorTests {
    let key = try! PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32))

    func run(_ ops: [RecordOperation], on state: DictionaryState) throws -> ExecutionOutcome {
        var tx = Transaction(chainID: 53, sender: key.publicKey, nonce: 0, timestamp: Timestamp(millisecondsSince1970: 1),
                             payload: TransactionPayload(kind: RecordsExecutor.kind, body: RecordOperation.body(ops)))
        try tx.sign(with: key, hashAlgorithm: .sha256)
        let context = ExecutionContext(chainID: 53, height: 1, timestamp: Timestamp(millisecondsSince1970: 2), hashAlgorithm: .sha256,
                                       transactionIndex: 0, transactionID: tx.id(using: .sha256))
        return try RecordsExecutor().execute(tx, context: context, state: state)
    }

    func create(_ record: ManufacturingRecord) -> RecordOperation {
        RecordOperation(kind: .create, recordID: record.recordID, version: 1, recordBytes: record.canonicalEncoding,
                        digest: record.digest(), uploader: "root")
    }

    @Test func createWritesTheRecordsVersionDigestKindAndFactory() throws {
        let record = RecordsFixture.production(1)
        let outcome = try run([create(record)], on: DictionaryState())
        #expect(outcome.status == Receipt.success)
        var state = DictionaryState()
        state.apply(outcome)
        let entry = try RecordStateEntry(decoding: try #require(state.values[RecordStateEntry.key("P-1")]))
        #expect(entry.version == 1 && entry.digest == record.digest() && entry.kind == .production && entry.factoryUID == "F-KM-02")
    }

    @Test func creatingAnExistingRecordFailsWithoutWrites() throws {
        var state = DictionaryState()
        state.apply(try run([create(RecordsFixture.production(1))], on: state))
        let again = try run([create(RecordsFixture.production(2)), create(RecordsFixture.production(1))], on: state)
        #expect(again.status == UInt64(AppError.Code.recordExists.rawValue))
        #expect(again.writes.changes.isEmpty)
    }

    @Test func aDigestThatDoesNotMatchTheRecordFails() throws {
        var op = create(RecordsFixture.production(1))
        op.digest = HashAlgorithm.sha256.hash([1, 2, 3])
        let outcome = try run([op], on: DictionaryState())
        #expect(outcome.status == UInt64(AppError.Code.digestMismatch.rawValue))
        #expect(outcome.writes.changes.isEmpty)
    }

    @Test func anUpdateWhoseConditionFailsWritesNothing() throws {
        var state = DictionaryState()
        let record = RecordsFixture.production(1)
        state.apply(try run([create(record)], on: state))
        let changed = try record.applying(["propara.pro_temperature": "80.0"])
        let stale = RecordOperation(kind: .update, recordID: "P-1", version: 2, recordBytes: changed.canonicalEncoding, digest: changed.digest(),
                                    uploader: "root", condition: .expectedVersion(5), changedFields: ["propara.pro_temperature"])
        let outcome = try run([stale], on: state)
        #expect(outcome.status == UInt64(AppError.Code.conditionFailed.rawValue))
        #expect(outcome.writes.changes.isEmpty)
        let predicate = RecordOperation(kind: .update, recordID: "P-1", version: 2, recordBytes: changed.canonicalEncoding, digest: changed.digest(),
                                        uploader: "root", condition: .field("propara.pro_temperature", equals: "99"),
                                        changedFields: ["propara.pro_temperature"], previousBytes: record.canonicalEncoding)
        #expect(try run([predicate], on: state).status == UInt64(AppError.Code.conditionFailed.rawValue))
        var good = predicate
        good.condition = .field("propara.pro_temperature", equals: "71.5")
        #expect(try run([good], on: state).status == Receipt.success)
    }

    @Test func canonicalEncodingRoundTripsForEveryKind() throws {
        let equipment = ManufacturingRecord.equipment(EquipmentRecord(deviceID: "PRESS-04", recordedTime: RecordTime(millisecondsSince1970: 5),
                                                                      status: .running, readings: ["rpm": "1200"], factoryUID: "F-1", location: "line 3"))
        for record in [RecordsFixture.production(3), RecordsFixture.inspection(4), equipment] {
            #expect(try ManufacturingRecord(canonicalEncoding: record.canonicalEncoding) == record)
        }
        #expect(equipment.recordID == "PRESS-04@1970-01-01T00:00:00.005Z")
        #expect(RecordsFixture.inspection(4).recordID.hasPrefix("inspection:P-4@"))
    }

    @Test func anUpdateMayNotChangeTheRecordID() throws {
        let error = #expect(throws: AppError.self) { try RecordsFixture.production(1).applying(["product_uid": "P-9"]) }
        #expect(error?.code == .immutableField)
        let unknown = #expect(throws: AppError.self) { try RecordsFixture.production(1).applying(["colour": "red"]) }
        #expect(unknown?.code == .unknownField)
    }
}
