import ChainRuntime
import Foundation
import LedgerCore

// What the HTTPS gateway (the `Gateway` module) needs of the platform beyond its public API: a record version's
// receipt rebuilt from the ledger, and the committed record changes after a checkpoint read from the ledger (not
// from the in-memory change hub), so that a change stream resumes with no gap and no duplicate.

/// One committed record version and where it sits in the chain.
package struct CommittedRecordChange: Sendable, Hashable {
    /// Block height, transaction index in the block, operation index in the transaction (as `LogCheckpoint` orders logs).
    package var checkpoint: LogCheckpoint
    /// The version written there.
    package var record: StoredRecord
}

extension Platform {
    /// The receipt of version `version` (nil: the current one) of record `recordID`, rebuilt from the ledger.
    /// - Throws: As ``RecordService/history(recordID:token:)`` (5203 for no record or one the caller may not see, 5409,
    ///   token errors); 5203 for a version the record does not have; 5204 when the ledger cannot be read.
    package nonisolated func receipt(recordID: String, version: UInt64?, token: String) async throws -> UploadReceipt {
        let versions = try await records.history(recordID: recordID, token: token)
        guard let chosen = version.map({ v in versions.first { $0.version == v } }) ?? versions.last else {
            throw AppError(.recordNotFound, "record '\(recordID)' has no version \(version.map(String.init) ?? "-")",
                           details: ["recordID": recordID, "version": version.map(String.init) ?? ""])
        }
        guard let receipt = try UploadReceipt.build(transactionID: chosen.transactionID,
                                                    operations: [(chosen.recordID, chosen.version, chosen.digest)],
                                                    store: records.store).first else {
            throw AppError(.recordNotFound, "no receipt for record '\(recordID)' version \(chosen.version)", details: ["recordID": recordID])
        }
        return receipt
    }

    /// The committed record versions after `after` that the token's account may see, in chain order, read from the
    /// ledger: at most `limit` changes and at most 1,000 blocks per call.
    /// - Returns: The changes and the position to continue from (the last change's checkpoint, or the end of the
    ///   last block read).
    /// - Throws: Token errors (54xx), `.permissionDenied` (5409) without `records.query`, `.indexFailure` (5204) when
    ///   the ledger cannot be read, `.malformedRecordTransaction` (5106) for a records transaction that does not decode.
    package nonisolated func committedChanges(after: LogCheckpoint, token: String, limit: Int) async throws
        -> (changes: [CommittedRecordChange], next: LogCheckpoint) {
        let admin = try await identity.authorize(token: token, permission: .queryRecords)
        let store = records.store, organisation = records.organisation, kinds = admin.recordKinds
        let head = store.head?.height.rawValue ?? 0
        guard after.height < head || (after.height == head && after != .end(of: head)) else { return ([], after) }
        var height = max(after == .end(of: after.height) ? after.height + 1 : after.height, 1)
        let last = min(head, height + 999)   // height <= head here, so no overflow
        var changes = [CommittedRecordChange]()
        var position = after
        while height <= last {
            let block: Block, receipts: [Receipt]
            do {
                block = try store.block(atHeight: Height(height))
                receipts = try store.receipts(atHeight: Height(height))
            } catch {
                throw AppError(.indexFailure, "block \(height) could not be read: \(error.message)",
                               details: ["cause": String(error.numericCode), "height": String(height)])
            }
            let committedAt = RecordTime(millisecondsSince1970: block.header.timestamp.millisecondsSince1970)
            for (t, tx) in block.transactions.enumerated() where tx.payload.kind == RecordsExecutor.kind {
                guard t < receipts.count, receipts[t].status == Receipt.success else { continue }
                let ops: [RecordOperation]
                do { ops = try RecordOperation.operations(inBody: tx.payload.body) } catch {
                    throw AppError(.malformedRecordTransaction, "block \(height) transaction \(t) does not decode: \(error.message)",
                                   details: ["height": String(height), "transactionIndex": String(t)])
                }
                for (o, op) in ops.enumerated() {
                    let checkpoint = LogCheckpoint(height: height, transactionIndex: UInt32(t), logIndex: UInt32(o))
                    guard checkpoint > after else { continue }
                    let record = try ManufacturingRecord(canonicalEncoding: op.recordBytes)
                    guard admin.allows(.queryRecords, factory: record.factoryUID), kinds.contains(record.kind),
                          organisation.contains(record.factoryUID) else { continue }
                    let stored = StoredRecord(recordID: op.recordID, version: op.version, record: record, digest: op.digest,
                                              uploader: op.uploader, height: height, transactionID: receipts[t].transactionID,
                                              changedFields: op.changedFields, condition: op.condition.text, committedAt: committedAt)
                    changes.append(CommittedRecordChange(checkpoint: checkpoint, record: stored))
                    if changes.count == limit { return (changes, checkpoint) }
                }
            }
            position = max(position, .end(of: height))
            height += 1
        }
        return (changes, position)
    }
}
