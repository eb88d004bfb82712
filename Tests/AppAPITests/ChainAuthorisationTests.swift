@testable import AppAPI
import LedgerCore
import Testing

/// The accounts on chain decide what a signer may do, in the executors themselves (A-ID-3): whatever the front door
/// let through, a records transaction from a key the chain does not know, for a factory outside the signer's scope,
/// or naming someone else as uploader fails in the block, and access transactions change accounts only when an
/// enabled super-admin within its scope (or the genesis key) signs them.
struct ChainAuthorisationTests {
    static func key(_ byte: UInt8) -> PrivateKey { try! PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: byte, count: 32)) }
    let founder = Self.key(1)
    let rootKey = Self.key(2)
    let aliceKey = Self.key(3)
    let strangerKey = Self.key(4)

    func transaction(_ kind: String, _ body: [UInt8], by key: PrivateKey) throws -> Transaction {
        var tx = Transaction(chainID: 53, sender: key.publicKey, nonce: 0, timestamp: Timestamp(millisecondsSince1970: 1),
                             payload: TransactionPayload(kind: kind, body: body))
        try tx.sign(with: key, hashAlgorithm: .sha256)
        return tx
    }

    func context(_ tx: Transaction) -> ExecutionContext {
        ExecutionContext(chainID: 53, height: 1, timestamp: Timestamp(millisecondsSince1970: 2), hashAlgorithm: .sha256,
                         transactionIndex: 0, transactionID: tx.id(using: .sha256), genesisProducer: founder.publicKey)
    }

    /// Runs an access transaction and applies it; returns its status (0, or the failure's code).
    @discardableResult
    func govern(_ ops: [AccessOperation], by key: PrivateKey, on state: inout DictionaryState) throws -> UInt64 {
        let tx = try transaction(AccessExecutor.kind, AccessOperation.body(ops), by: key)
        do {
            let outcome = try AccessExecutor().execute(tx, context: context(tx), state: state)
            state.apply(outcome)
            return outcome.status
        } catch {
            return UInt64(error.numericCode)
        }
    }

    /// Runs a records transaction (applied on success); returns its status.
    @discardableResult
    func upload(_ ops: [RecordOperation], by key: PrivateKey, on state: inout DictionaryState) throws -> UInt64 {
        let tx = try transaction(RecordsExecutor.kind, RecordOperation.body(ops), by: key)
        do {
            let outcome = try RecordsExecutor().execute(tx, context: context(tx), state: state)
            if outcome.status == Receipt.success { state.apply(outcome) }
            return outcome.status
        } catch {
            return UInt64(error.numericCode)
        }
    }

    func create(_ record: ManufacturingRecord, uploader: String) -> RecordOperation {
        RecordOperation(kind: .create, recordID: record.recordID, version: 1, recordBytes: record.canonicalEncoding,
                        digest: record.digest(), uploader: uploader)
    }

    /// root (super-admin, all factories, rootKey) and alice (operator in F-KM-02, aliceKey), registered by the founder.
    func chain() throws -> DictionaryState {
        var state = DictionaryState()
        let status = try govern([.putAccount(user: "root", roles: [.superAdmin], scope: .all, enabled: true),
                                 .addKey(user: "root", key: rootKey.publicKey),
                                 .putAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true),
                                 .addKey(user: "alice", key: aliceKey.publicKey)], by: founder, on: &state)
        #expect(status == Receipt.success)
        return state
    }

    static func code(_ c: AppError.Code) -> UInt64 { UInt64(c.rawValue) }

    @Test func theGenesisKeyRegistersAccountsThatTheChainThenReports() throws {
        let state = try chain()
        let alice = try #require(try ChainAccount.account(signedBy: aliceKey.publicKey, state: state))
        #expect(alice == ChainAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true, keys: [aliceKey.publicKey]))
        #expect(try ChainAccount.account(signedBy: strangerKey.publicKey, state: state) == nil)
    }

    @Test func aRecordSignedByAnUnregisteredKeyFailsAndIsRefusedOnAdmission() throws {
        var state = try chain()
        #expect(try upload([create(RecordsFixture.production(1), uploader: "root")], by: strangerKey, on: &state) == Self.code(.signerNotRegistered))
        #expect(state.values[RecordStateEntry.key("P-1")] == nil)
        let tx = try transaction(RecordsExecutor.kind, RecordOperation.body([create(RecordsFixture.production(1), uploader: "root")]), by: strangerKey)
        let refused = #expect(throws: LedgerError.self) { try RecordsExecutor().admit(tx, genesisProducer: founder.publicKey, state: state) }
        #expect(refused?.numericCode == AppError.Code.signerNotRegistered.rawValue)
        // Registered keys pass admission.
        let ok = try transaction(RecordsExecutor.kind, RecordOperation.body([create(RecordsFixture.production(1), uploader: "alice")]), by: aliceKey)
        try RecordsExecutor().admit(ok, genesisProducer: founder.publicKey, state: state)
    }

    @Test func theUploaderIsTheSignersAccountNeverAnotherName() throws {
        var state = try chain()
        #expect(try upload([create(RecordsFixture.production(1), uploader: "root")], by: aliceKey, on: &state) == Self.code(.uploaderNotSigner))
        #expect(state.values[RecordStateEntry.key("P-1")] == nil)
        #expect(try upload([create(RecordsFixture.production(1), uploader: "alice")], by: aliceKey, on: &state) == Receipt.success)
        #expect(state.values[RecordStateEntry.key("P-1")] != nil)
    }

    @Test func aSignerActsOnlyForItsFactoriesKindsAndPermissions() throws {
        var state = try chain()
        // Another factory.
        #expect(try upload([create(RecordsFixture.production(1, factory: "F-SH-01"), uploader: "alice")], by: aliceKey, on: &state)
                == Self.code(.permissionDenied))
        // A kind operators may not upload.
        #expect(try upload([create(RecordsFixture.inspection(2), uploader: "alice")], by: aliceKey, on: &state) == Self.code(.permissionDenied))
        // One bad operation fails the whole batch.
        #expect(try upload([create(RecordsFixture.production(3), uploader: "alice"), create(RecordsFixture.production(4, factory: "F-SH-01"), uploader: "alice")],
                           by: aliceKey, on: &state) == Self.code(.permissionDenied))
        #expect(state.values[RecordStateEntry.key("P-3")] == nil)
        // Operators upload but do not update.
        let record = RecordsFixture.production(5)
        #expect(try upload([create(record, uploader: "alice")], by: aliceKey, on: &state) == Receipt.success)
        let changed = try record.applying(["propara.pro_temperature": "80.0"])
        let update = RecordOperation(kind: .update, recordID: "P-5", version: 2, recordBytes: changed.canonicalEncoding, digest: changed.digest(),
                                     uploader: "alice", changedFields: ["propara.pro_temperature"])
        #expect(try upload([update], by: aliceKey, on: &state) == Self.code(.permissionDenied))
        var rootUpdate = update
        rootUpdate.uploader = "root"
        #expect(try upload([rootUpdate], by: rootKey, on: &state) == Receipt.success)
    }

    @Test func aDisabledOrDeletedAccountOrARemovedKeySignsNothing() throws {
        var state = try chain()
        #expect(try govern([.putAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: false)], by: rootKey, on: &state)
                == Receipt.success)
        #expect(try upload([create(RecordsFixture.production(1), uploader: "alice")], by: aliceKey, on: &state) == Self.code(.accountDisabled))
        #expect(try govern([.putAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true)], by: rootKey, on: &state)
                == Receipt.success)
        #expect(try upload([create(RecordsFixture.production(1), uploader: "alice")], by: aliceKey, on: &state) == Receipt.success)
        // A rotated key: the new one signs, the old one no longer does.
        let newKey = Self.key(9)
        #expect(try govern([.addKey(user: "alice", key: newKey.publicKey), .removeKey(user: "alice", key: aliceKey.publicKey)], by: rootKey, on: &state)
                == Receipt.success)
        #expect(try upload([create(RecordsFixture.production(2), uploader: "alice")], by: aliceKey, on: &state) == Self.code(.signerNotRegistered))
        #expect(try upload([create(RecordsFixture.production(2), uploader: "alice")], by: newKey, on: &state) == Receipt.success)
        // Deleting the account revokes every key it had.
        #expect(try govern([.deleteAccount(user: "alice")], by: rootKey, on: &state) == Receipt.success)
        #expect(state.values[ChainAccount.key(publicKey: newKey.publicKey)] == nil)
        #expect(try upload([create(RecordsFixture.production(3), uploader: "alice")], by: newKey, on: &state) == Self.code(.signerNotRegistered))
    }

    /// Membership changes (N-D-3, N-D-4): only the genesis key or `node.operate` for every factory schedules one, at
    /// least `minimumLead` blocks ahead, after the changes already on chain, valid and for the chain's engine.
    @Test func consensusChangesAreScheduledOnlyByNodeOperatorsAheadInOrderForTheChainsEngine() throws {
        var state = try chain()
        let set = try ValidatorSet((0..<4).map { Validator(id: NodeID(UInt32($0)), publicKey: Self.key(UInt8(20 + $0)).publicKey) })
        let pbft = ConsensusConfig.pbft(PBFTConfig(validators: set))
        let before = state
        // Block 1 executes them here: height 3 is too soon, 4 is the earliest.
        #expect(try govern([.scheduleConsensus(height: 3, config: pbft)], by: founder, on: &state) == Self.code(.invalidFieldValue))
        #expect(try govern([.scheduleConsensus(height: 10, config: pbft)], by: aliceKey, on: &state) == Self.code(.permissionDenied))
        let invalid = ConsensusConfig.pbft(PBFTConfig(validators: set, viewChangeTimeoutTicks: 1))
        #expect(try govern([.scheduleConsensus(height: 10, config: invalid)], by: founder, on: &state)
                == UInt64(LedgerError.Code.malformedPayload.rawValue), "a view change timeout of one tick is out of range: the body does not decode")
        #expect(state == before)
        #expect(try govern([.scheduleConsensus(height: 4, config: pbft)], by: founder, on: &state) == Receipt.success)
        #expect(try govern([.scheduleConsensus(height: 4, config: pbft)], by: rootKey, on: &state) == Self.code(.invalidFieldValue),
                "a change comes after the last one")
        #expect(try govern([.scheduleConsensus(height: 9, config: .raft(RaftConfig(members: set)))], by: rootKey, on: &state)
                == Self.code(.invalidFieldValue), "one engine per chain")
        #expect(try govern([.scheduleConsensus(height: 9, config: pbft.replacingValidators(try ValidatorSet(set.validators + [
            Validator(id: 4, publicKey: Self.key(24).publicKey)])))], by: rootKey, on: &state) == Receipt.success)
        let changes = try ConsensusSchedule.chainChanges(from: try state.value(forKey: ConsensusSchedule.stateKey))
        #expect(changes.map(\.height) == [4, 9])
        #expect(changes.last?.config.validators?.count == 5)
        // The node names its engine: another engine fails even as the first change.
        let raft = try transaction(AccessExecutor.kind, AccessOperation.body([.scheduleConsensus(height: 20, config: .raft(RaftConfig(members: set)))]),
                                   by: founder)
        var c = context(raft)
        c.consensusEngine = "pbft"
        let refused = #expect(throws: LedgerError.self) { try AccessExecutor().execute(raft, context: c, state: DictionaryState()) }
        #expect(refused?.numericCode == AppError.Code.invalidFieldValue.rawValue)
    }

    @Test func onlyEnabledSuperAdminsWithinTheirScopeOrTheGenesisKeyGovern() throws {
        var state = try chain()
        let before = state
        // Not registered, or registered without admin.manage.
        #expect(try govern([.putAccount(user: "eve", roles: [.superAdmin], scope: .all, enabled: true)], by: strangerKey, on: &state)
                == Self.code(.signerNotRegistered))
        #expect(try govern([.putAccount(user: "alice", roles: [.superAdmin], scope: .all, enabled: true)], by: aliceKey, on: &state)
                == Self.code(.permissionDenied))
        let tx = try transaction(AccessExecutor.kind, AccessOperation.body([.deleteAccount(user: "root")]), by: aliceKey)
        let refused = #expect(throws: LedgerError.self) { try AccessExecutor().admit(tx, genesisProducer: founder.publicKey, state: state) }
        #expect(refused?.numericCode == AppError.Code.permissionDenied.rawValue)
        #expect(state == before)

        // A super-admin limited to F-KM-02 grants within it only, and reaches only accounts within it.
        let limitedKey = Self.key(5)
        #expect(try govern([.putAccount(user: "plant-admin", roles: [.superAdmin], scope: .factories(["F-KM-02"]), enabled: true),
                            .addKey(user: "plant-admin", key: limitedKey.publicKey)], by: rootKey, on: &state) == Receipt.success)
        #expect(try govern([.putAccount(user: "bob", roles: [.operator], scope: .all, enabled: true)], by: limitedKey, on: &state)
                == Self.code(.scopeBeyondCaller))
        #expect(try govern([.putAccount(user: "root", roles: [.viewer], scope: .factories(["F-KM-02"]), enabled: true)], by: limitedKey, on: &state)
                == Self.code(.scopeBeyondCaller))
        #expect(try govern([.putAccount(user: "bob", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true)], by: limitedKey, on: &state)
                == Receipt.success)
        // A key signs for one account only; names are checked; an account has a role.
        #expect(try govern([.addKey(user: "bob", key: aliceKey.publicKey)], by: rootKey, on: &state) == Self.code(.keyInUse))
        #expect(try govern([.addKey(user: "nobody", key: strangerKey.publicKey)], by: rootKey, on: &state) == Self.code(.accountNotFound))
        #expect(try govern([.putAccount(user: "x", roles: [.viewer], scope: .all, enabled: true)], by: rootKey, on: &state)
                == Self.code(.invalidUserName))
        #expect(try govern([.putAccount(user: "carol", roles: [], scope: .all, enabled: true)], by: rootKey, on: &state)
                == Self.code(.invalidFieldValue))
        // Without a genesis key named, no key is the founder.
        let empty = DictionaryState()
        let founding = try transaction(AccessExecutor.kind, AccessOperation.body([.putAccount(user: "root", roles: [.superAdmin], scope: .all, enabled: true)]),
                                       by: founder)
        var anonymous = context(founding)
        anonymous.genesisProducer = nil
        let outcome = #expect(throws: LedgerError.self) { try AccessExecutor().execute(founding, context: anonymous, state: empty) }
        #expect(outcome?.numericCode == AppError.Code.signerNotRegistered.rawValue)
    }
}
