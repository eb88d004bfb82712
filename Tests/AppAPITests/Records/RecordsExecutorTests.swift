import Testing
@testable import AppAPI
import LedgerCore

/// A state for executor tests: a dictionary.
struct DictionaryState: StateReader, Equatable {
    var values: [[UInt8]: [UInt8]] = [:]
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { values[key] }
    mutating func apply(_ outcome: ExecutionOutcome) {
        for change in outcome.writes.changes { values[change.key] = change.value }
    }

    /// This state with `key` registered on chain to `user` (roles, scope and enabled flag as given).
    func registering(_ key: PublicKey, user: String = "root", roles: Set<Role> = [.superAdmin], scope: FactoryScope = .all,
                     enabled: Bool = true) -> DictionaryState {
        var copy = self
        copy.values[ChainAccount.key(user: user)] = ChainAccount(user: user, roles: roles, scope: scope, enabled: enabled, keys: [key]).encoded
        copy.values[ChainAccount.key(publicKey: key)] = ChainAccount.binding(user)
        return copy
    }
}

struct RecordsExecutorTests {
    let key = try! PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32))

    func run(_ ops: [RecordOperation], on state: DictionaryState) throws -> ExecutionOutcome {
        try run(body: RecordOperation.body(ops), on: state)
    }

    func run(body: [UInt8], on state: DictionaryState, blockTime: UInt64 = 2) throws -> ExecutionOutcome {
        var tx = Transaction(chainID: 53, sender: key.publicKey, nonce: 0, timestamp: Timestamp(millisecondsSince1970: 1),
                             payload: TransactionPayload(kind: RecordsExecutor.kind, body: body))
        try tx.sign(with: key, hashAlgorithm: .sha256)
        let context = ExecutionContext(chainID: 53, height: 1, timestamp: Timestamp(millisecondsSince1970: blockTime), hashAlgorithm: .sha256,
                                       transactionIndex: 0, transactionID: tx.id(using: .sha256))
        // The key signs for "root", a super-admin, unless the state registers it otherwise.
        let signed = state.values[ChainAccount.key(publicKey: key.publicKey)] == nil ? state.registering(key.publicKey) : state
        return try RecordsExecutor().execute(tx, context: context, state: signed)
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

    @Test func aSuccessfulTransactionOutputsTheRootAndCountOfItsOperationEncodings() throws {
        let ops = (0..<5).map { create(RecordsFixture.production($0)) }
        let outcome = try run(ops, on: DictionaryState())
        #expect(outcome.status == Receipt.success)
        let commitment = try OperationsCommitment(decoding: outcome.output)
        #expect(commitment.count == 5)
        #expect(commitment.root == MerkleTree(leaves: ops.map(\.encoded), algorithm: .sha256).root)
        #expect(outcome.output == RLP.encode(.list([.uint(1), .digest(commitment.root), .uint(5)])))
        // The leaves are the bytes as they stand in the body: decoding an operation and encoding it again gives them back.
        var encodings = [[UInt8]]()
        let decoded = try RecordOperation.decodeBody(RecordOperation.body(ops, deadline: Timestamp(millisecondsSince1970: 9))) { encodings.append(Array($0)) }
        #expect(encodings == ops.map(\.encoded))
        #expect(decoded.operations.map(\.encoded) == encodings)
        // Another operation list, another root.
        #expect(try OperationsCommitment(decoding: try run(Array(ops.prefix(4)), on: DictionaryState()).output).root != commitment.root)
        #expect(throws: LedgerError.self) { try OperationsCommitment(decoding: RLP.encode(.list([.uint(2), .digest(commitment.root), .uint(5)]))) }
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

    @Test func aBlockStampedAfterTheDeadlineFailsTheTransactionWithoutWrites() throws {
        let deadline = Timestamp(millisecondsSince1970: 1_740_816_000_000)
        let body = RecordOperation.body([create(RecordsFixture.production(1)), create(RecordsFixture.production(2))], deadline: deadline)
        let late = try run(body: body, on: DictionaryState(), blockTime: deadline.rawValue + 1)
        #expect(late.status == UInt64(AppError.Code.deadlineExceeded.rawValue))
        #expect(late.writes.changes.isEmpty)
        #expect(String(decoding: late.output, as: UTF8.self).contains("deadline"))
        let onTime = try run(body: body, on: DictionaryState(), blockTime: deadline.rawValue)
        #expect(onTime.status == Receipt.success)
        #expect(onTime.writes.changes.count == 2)
        // An update after its deadline leaves the record at its version.
        var state = DictionaryState()
        state.apply(onTime)
        let changed = try RecordsFixture.production(1).applying(["propara.pro_temperature": "80.0"])
        let update = RecordOperation(kind: .update, recordID: "P-1", version: 2, recordBytes: changed.canonicalEncoding, digest: changed.digest(),
                                     uploader: "root", changedFields: ["propara.pro_temperature"])
        let stale = try run(body: RecordOperation.body([update], deadline: deadline), on: state, blockTime: deadline.rawValue + 60_000)
        #expect(stale.status == UInt64(AppError.Code.deadlineExceeded.rawValue) && stale.writes.changes.isEmpty)
    }

    @Test func bodiesWithAndWithoutADeadlineDecodeToTheSameOperations() throws {
        let ops = [create(RecordsFixture.production(1)), create(RecordsFixture.inspection(2))]
        let v2 = try RecordOperation.decodeBody(RecordOperation.body(ops, deadline: Timestamp(millisecondsSince1970: 77)))
        #expect(v2.deadline == Timestamp(millisecondsSince1970: 77) && v2.operations == ops)
        let v1 = try RecordOperation.decodeBody(RecordOperation.body(ops))
        #expect(v1.deadline == nil && v1.operations == ops)
        // The format-1 body is the RLP of [1, [op…]] built from items: the direct writer changed no byte.
        let reference = RLP.encode(.list([.uint(1), .list(try ops.map { try RLP.decode($0.encoded) })]))
        #expect(RecordOperation.body(ops) == reference)
        let unknown = #expect(throws: LedgerError.self) { try RecordOperation.decodeBody(RLP.encode(.list([.uint(3), .list([])]))) }
        #expect(unknown?.code == .malformedPayload)
    }

    @Test func theDirectEncodingEqualsTheItemEncodingAndDecodingIsAsStrictAsRLP() throws {
        let long = String(repeating: "long text past the 55-byte short form; ", count: 3)
        let records: [ManufacturingRecord] = [
            RecordsFixture.production(1), RecordsFixture.inspection(2),
            .equipment(EquipmentRecord(deviceID: "P", recordedTime: RecordTime(millisecondsSince1970: 0), status: .idle,
                                       readings: ["a": "1", "b": "", "z": long], factoryUID: "F-1", location: nil, extensions: ["x": "\u{7f}"])),
            .production(ProductionRecord(productionTime: RecordTime(millisecondsSince1970: 127), productionLocation: long, productUID: "P-中文",
                                         rawMaterial: .init(supplier: "s", batchNumber: "B", qualityReport: String(repeating: "q", count: 300)),
                                         processParameters: .init(temperature: "7", humidity: "0", pressure: "\u{80}"),
                                         operatorInfo: .init(name: "n", id: "i", record: ""), factoryUID: "F", deviceID: nil,
                                         extensions: Dictionary(uniqueKeysWithValues: (0..<40).map { ("k\($0)", "v\($0)") }))),
        ]
        for record in records {
            #expect(record.canonicalEncoding == RLP.encode(record.canonicalItem))
            #expect(try ManufacturingRecord(canonicalEncoding: record.canonicalEncoding) == record)
            let state = RecordStateEntry(version: 300, digest: record.digest(), kind: record.kind, factoryUID: record.factoryUID)
            #expect(try RecordStateEntry(decoding: state.encoded) == state)
        }
        // Every single-byte change: whatever RLP.decode refuses, the record reader refuses too.
        let bytes = records[3].canonicalEncoding
        var rng = SplitMix64(seed: 5)
        for i in 0..<bytes.count {
            var damaged = bytes
            damaged[i] = UInt8(truncatingIfNeeded: rng.next())
            if damaged == bytes { continue }
            if (try? RLP.decode(damaged)) == nil {
                #expect(throws: AppError.self, "byte \(i)") { try ManufacturingRecord(canonicalEncoding: damaged) }
            }
        }
        for bad in [bytes + [0], Array(bytes.dropLast()), [0x81, 0x05], [0xc1, 0x81, 0x05], [0xb8, 0x01, 0x41], []] {
            #expect(throws: AppError.self) { try ManufacturingRecord(canonicalEncoding: bad) }
        }
    }
}
