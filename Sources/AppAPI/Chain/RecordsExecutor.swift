import LedgerCore

/// Executes records transactions (payload kind `"record"`): creates and
/// updates of manufacturing records, checked against the world state.
///
/// **Body format**: see ``RecordOperation`` (`[1, [op…]]`). One transaction
/// may hold many operations (a batch); it commits wholly or not at all.
///
/// **Output** of a successful transaction: its ``OperationsCommitment``, RLP `[1, opsRoot, opCount]`, in the
/// execution receipt (and so under the block's receipt root); ``UploadReceipt`` proves one operation against it.
///
/// **State**: key `rec/<recordID>` → `[version, digest, kind, factory]`
/// (``RecordStateEntry``). The record bytes live in the block; the state
/// keeps what conditions need.
///
/// **Checks** (each failure is a failed receipt with no writes, A-U-3):
/// the block is stamped at or before the body's deadline (`.deadlineExceeded`
/// 5108: the same on every node, since it reads only the block's timestamp);
/// the record decodes and its ID, kind and digest match the operation
/// (`.digestMismatch` 5011, `.malformedRecordEncoding` 5013); a create's ID
/// is new (`.recordExists` 5101) with version 1; an update's record exists
/// (`.recordNotFound` 5203), keeps its kind and factory (`.immutableField`
/// 5303), has version current + 1 and meets its condition
/// (`.conditionFailed` 5301); the uploader is 1–64 bytes
/// (`.malformedRecordTransaction` 5106).
///
/// **Signer** (A-ID-3, checked by every node): the transaction's key must be registered to an enabled account on
/// chain (``ChainAccount``, changed only through ``AccessExecutor``): `.signerNotRegistered` (5419),
/// `.accountDisabled` (5403); every operation's uploader is that account's user name (`.uploaderNotSigner` 5420),
/// and the account may upload (a create) or update (an update) records of that kind for that factory
/// (`.permissionDenied` 5409). The mempool refuses an unregistered or disabled signer before it takes space.
///
/// ```swift
/// let node = try await Node<RaftEngine>(configuration: c, transport: t, executors: [RecordsExecutor()])
/// ```
/// - Note: Stateless and `Sendable`; deterministic.
public struct RecordsExecutor: TransactionExecutor {
    /// The payload kind: `"record"`.
    public static let kind = "record"

    /// Stateless; register one per node with the chain's other executors.
    public init() {}

    public var payloadKinds: [String] { [Self.kind] }

    /// Refuses a signer whose key is registered to no enabled account on chain.
    public func admit(_ transaction: Transaction, genesisProducer: PublicKey, state: any StateReader) throws(LedgerError) {
        _ = try ChainAccount.enabledSigner(of: transaction, state: state)
    }

    public func execute(_ transaction: Transaction, context: ExecutionContext, state: any StateReader) throws(LedgerError) -> ExecutionOutcome {
        let ops: [RecordOperation]
        let deadline: Timestamp?
        var leafHashes = [Digest]()
        let hasher = MerkleHasher(context.hashAlgorithm)
        do {
            (deadline, ops) = try RecordOperation.decodeBody(transaction.payload.body) { leafHashes.append(hasher.hashLeaf(raw: UnsafeRawBufferPointer($0))) }
        } catch {
            return .failure(AppError(.malformedRecordTransaction, "records transaction: \(error.message)", details: error.details))
        }
        if let deadline, context.timestamp > deadline {
            return .failure(AppError(.deadlineExceeded,
                                     "block time \(RecordTime(millisecondsSince1970: context.timestamp.rawValue)) is after the transaction's deadline "
                                     + "\(RecordTime(millisecondsSince1970: deadline.rawValue)); nothing was written",
                                     details: ["deadline": String(deadline.rawValue), "blockTime": String(context.timestamp.rawValue)]))
        }
        guard !ops.isEmpty else { return .failure(AppError(.malformedRecordTransaction, "records transaction holds no operation")) }
        let signer = try ChainAccount.enabledSigner(of: transaction, state: state)
        var permitted = Set<String>()
        var writes = StateChangeSet()
        var overlay = [String: RecordStateEntry]()
        var cost: UInt64 = 0
        for (index, op) in ops.enumerated() {
            func fail(_ code: AppError.Code, _ message: String) -> ExecutionOutcome {
                .failure(AppError(code, "operation \(index) (\(op.kind.rawValue) '\(op.recordID)' v\(op.version)): \(message)",
                                  details: ["operation": String(index), "recordID": op.recordID]))
            }
            guard (1...64).contains(op.uploader.utf8.count) else { return fail(.malformedRecordTransaction, "uploader must be 1-64 bytes") }
            guard context.hashAlgorithm.hash(op.recordBytes) == op.digest else {
                return fail(.digestMismatch, "record digest \(op.digest.hex) differs from the record's canonical digest")
            }
            let record: ManufacturingRecord
            do { record = try ManufacturingRecord(canonicalEncoding: op.recordBytes) } catch {
                return fail(error.code, error.message)
            }
            guard record.recordID == op.recordID else { return fail(.malformedRecordTransaction, "record ID is '\(record.recordID)'") }
            guard op.uploader == signer.user else {
                return fail(.uploaderNotSigner, "the uploader is '\(op.uploader)', the signing key's account is '\(signer.user)'")
            }
            let permission: Permission = op.kind == .create ? .uploadRecords : .updateRecords
            let grant = permission.rawValue + "|" + record.kind.rawValue + "|" + record.factoryUID
            if !permitted.contains(grant) {
                guard signer.allows(permission, factory: record.factoryUID, kind: record.kind) else {
                    return fail(.permissionDenied, "'\(signer.user)' may not \(permission.rawValue) \(record.kind.rawValue) records of factory '\(record.factoryUID)'")
                }
                permitted.insert(grant)
            }
            let key = RecordStateEntry.key(op.recordID)
            let current: RecordStateEntry?
            if let o = overlay[op.recordID] {
                current = o
            } else if let bytes = try state.value(forKey: key) {
                do { current = try RecordStateEntry(decoding: bytes) } catch { return fail(.malformedRecordTransaction, error.message) }
            } else {
                current = nil
            }
            switch op.kind {
            case .create:
                guard current == nil else { return fail(.recordExists, "a record with this ID is already on chain") }
                guard op.version == 1, op.condition == .none, op.changedFields.isEmpty else {
                    return fail(.malformedRecordTransaction, "a create has version 1, no condition and no changed fields")
                }
            case .update:
                guard let current else { return fail(.recordNotFound, "no record with this ID") }
                guard current.kind == record.kind, current.factoryUID == record.factoryUID else {
                    return fail(.immutableField, "kind or factory differs from the current version")
                }
                guard op.version == current.version + 1 else {
                    return fail(.conditionFailed, "the record is at version \(current.version), the update was prepared for version \(op.version - 1)")
                }
                switch op.condition {
                case .none: break
                case .expectedVersion(let v):
                    guard v == current.version else { return fail(.conditionFailed, "expected version \(v), current is \(current.version)") }
                case .field(let name, let expected):
                    guard context.hashAlgorithm.hash(op.previousBytes) == current.digest,
                          let previous = try? ManufacturingRecord(canonicalEncoding: op.previousBytes) else {
                        return fail(.conditionFailed, "the previous record bytes do not match the current version")
                    }
                    let actual = previous.fieldValues[name]
                    guard actual == expected else {
                        return fail(.conditionFailed, "field '\(name)' is '\(actual ?? "absent")', the condition expects '\(expected)'")
                    }
                }
                guard !op.changedFields.isEmpty else { return fail(.invalidUpdate, "an update names at least one changed field") }
            }
            let entry = RecordStateEntry(version: op.version, digest: op.digest, kind: record.kind, factoryUID: record.factoryUID)
            overlay[op.recordID] = entry
            writes.set(key, to: entry.encoded)
            cost += UInt64(op.recordBytes.count)
        }
        // The receipt's output commits to the operations (Architecture.md, AppAPI decision 6), so that an upload receipt
        // proves one operation without carrying the transaction.
        return ExecutionOutcome(output: OperationsCommitment(leafHashes: leafHashes, algorithm: context.hashAlgorithm).encoded,
                                costUnits: cost, writes: writes)
    }
}
