import ChainRuntime
import Foundation
import LedgerCore

/// Upload, query, update and history of manufacturing records, with
/// permissions on every call (A-UP-*, A-Q-*, A-U-*). Get it from ``Platform/records``.
///
/// Every call takes the caller's access token (the Appendix A `token`, from
/// ``IdentityService/login(user:password:oneTimeCode:)``). The token is checked
/// and dropped: only the user name goes on chain and into the log.
///
/// | call | permission | timeout | codes |
/// |---|---|---|---|
/// | ``upload(_:token:expectedDigest:timeout:)`` | `records.upload` for the record's factory and kind | default 30 s | 5011, 5101–5103, 5107, 5109, 5409, 5406–5408 |
/// | ``submit(_:token:expectedDigests:timeout:)`` | same, per record | returns at once; confirmation default 30 s per transaction | same |
/// | ``uploadBatch(_:token:timeout:progress:)`` | same | default 30 s per transaction | same, 5105 |
/// | ``query(_:token:)`` | `records.query`; filters outside scope → 5409 | none (local index) | 5201, 5202, 5204, 5205, 5409 |
/// | ``update(recordID:fields:condition:token:timeout:)`` | `records.update` for the record's factory and kind; a record the caller may not see → 5203 | default 30 s | 5001–5004, 5203, 5301–5303, 5102, 5109, 5409 |
/// | ``history(recordID:token:)`` | `records.query` for the record's factory and kind; a record the caller may not see → 5203 | none | 5203, 5409 |
/// | ``changes(token:)`` | `records.query`; only changes inside scope; ends when the token is revoked or the account disabled | stream | 5409 |
///
/// Call frequency is not limited by the service; the node's mempool bounds
/// pending work (a full mempool fails with 5103 carrying cause 4001: retry later).
///
/// **Timeouts roll back (A-U-3).** An upload's or update's timeout is not only
/// how long the call waits: it is written into the signed transaction as a
/// deadline (transaction `k` of a submission, from 0, gets submission time +
/// (`k` + 1) × timeout), and ``RecordsExecutor`` fails the transaction, writing
/// nothing, in any block stamped after it. So when a call answers
/// `.confirmationTimeout` (5102) the records were not written and never will
/// be: send them again if needed. The service answers 5102 only once it is
/// sure (on the single-node platform as soon as the deadline passes; on a
/// cluster once a block stamped after the deadline is committed, waiting at
/// most the timeout again, 1–10 s); if it cannot be sure by then (no quorum,
/// a stalled node) it answers `.confirmationUndecided` (5109): nothing has
/// changed yet, but a block proposed before the deadline may still commit it.
/// - Note: An actor: safe to call concurrently; queries do not wait for uploads.
public actor RecordService {
    nonisolated let node: any ChainNode
    nonisolated let store: LedgerStore
    nonisolated let index: RecordIndex
    nonisolated let identity: IdentityService
    nonisolated let hub = ChangeHub()
    nonisolated let log: PlatformLog
    nonisolated let telemetry: RecordTelemetry
    nonisolated let organisation: FactoryScope
    nonisolated let commitTimeout: Duration
    nonisolated let settlement: Settlement.Rule
    /// The largest transaction body a batch is packed into.
    public nonisolated let maximumTransactionBodyBytes: Int
    /// Catches the record index up, and logs, counts and retries a catch-up that fails.
    nonisolated let indexFollower: IndexFollower
    /// The chain's founding key (the genesis key): it signs the access transactions that register the first
    /// administrator and accounts written before accounts had chain keys.
    private let founder: PrivateKey
    /// Each administrator's chain key with its next nonce, once it signed here.
    private var signers: [PublicKey: SigningAccount] = [:]
    private let chainID: UInt64
    private var follower: Task<Void, Never>?
    private var closed = false

    /// The most records one submission takes.
    public static let maximumBatch = 100_000

    init(node: any ChainNode, store: LedgerStore, index: RecordIndex, identity: IdentityService, founder: PrivateKey, chainID: UInt64,
         log: PlatformLog, telemetry: RecordTelemetry, organisation: FactoryScope, commitTimeout: Duration, maximumTransactionBodyBytes: Int,
         settlement: Settlement.Rule) {
        self.settlement = settlement
        self.telemetry = telemetry
        self.node = node
        self.store = store
        self.index = index
        self.identity = identity
        self.founder = founder
        self.chainID = chainID
        self.log = log
        self.organisation = organisation
        self.commitTimeout = commitTimeout
        self.maximumTransactionBodyBytes = maximumTransactionBodyBytes
        indexFollower = IndexFollower(index: index, store: store, hub: hub, telemetry: telemetry)
        // Streams and delegates are authorised with a token: a revocation or an account change reaches them at once.
        identity.accessChanges.observe { [weak hub] change in
            if let hub { Self.revise(hub, after: change, organisation: organisation) }
        }
    }

    /// Catches the index up now and after every commit. A failure is logged, counted and retried by
    /// ``indexFollower`` (meanwhile queries report how far behind the index is); the commits that arrive while it
    /// retries need no catch-up of their own.
    func startFollowing() async {
        let commits = await node.commits()
        follower = Task { [weak self] in
            for await _ in commits {
                guard let self else { return }
                guard self.indexFollower.failure == nil else { continue }
                self.indexFollower.attemptReporting()
            }
        }
        indexFollower.attemptReporting()
    }

    func close() {
        closed = true
        follower?.cancel()
        follower = nil
        indexFollower.close()
        hub.close()
    }

    /// Brings the index up to the node's head and publishes the changes, in commit order.
    /// - Throws: `.indexFailure` (5204), `.recordDamaged` (5205); the failure is also logged, counted and retried.
    nonisolated func syncIndex() throws(AppError) {
        try indexFollower.attempt()
    }

    // MARK: Permissions (A-Q-2)

    private nonisolated func permit(_ account: AdminAccount, permission: Permission, factory: String, kind: RecordKind) throws(AppError) {
        guard account.allows(permission, factory: factory) else {
            throw AppError(.permissionDenied, "'\(account.user)' lacks \(permission.rawValue) for factory '\(factory)'",
                           details: ["permission": permission.rawValue, "user": account.user, "factory": factory])
        }
        guard account.recordKinds.contains(kind) else {
            throw AppError(.permissionDenied, "'\(account.user)' may not work with \(kind.rawValue) records",
                           details: ["permission": permission.rawValue, "user": account.user, "kind": kind.rawValue])
        }
        guard organisation.contains(factory) else {
            throw AppError(.permissionDenied, "this node's organisation is not entitled to factory '\(factory)'",
                           details: ["factory": factory, "scope": "node"])
        }
    }

    private nonisolated func visible(_ account: AdminAccount) -> @Sendable (RecordChange) -> Bool {
        Self.visibility(of: account, organisation: organisation)
    }

    /// The changes `account` may see: its factories and kinds, inside the node's organisation.
    private static func visibility(of account: AdminAccount, organisation: FactoryScope) -> @Sendable (RecordChange) -> Bool {
        let scope = account.scope, kinds = account.recordKinds, org = organisation
        return { scope.contains($0.factoryUID) && kinds.contains($0.kind) && org.contains($0.factoryUID) }
    }

    /// Whether `account` may see a record of `factory` and `kind` at all (`records.query` there, the kind, the
    /// node's organisation). A record it may not see is answered as one that does not exist.
    private nonisolated func maySee(_ account: AdminAccount, factory: String, kind: RecordKind) -> Bool {
        account.allows(.queryRecords, factory: factory) && account.recordKinds.contains(kind) && organisation.contains(factory)
    }

    /// The answer for an ID with no record, and for a record the caller may not see: the two look alike.
    private nonisolated func notFound(_ recordID: String) -> AppError {
        AppError(.recordNotFound, "no record '\(recordID)'", details: ["recordID": recordID])
    }

    /// Logs (with the real reason) and answers a record the caller may not see, as ``notFound(_:)``.
    private nonisolated func hidden(_ recordID: String, from admin: AdminAccount, operation: String) -> AppError {
        log.write(user: admin.user, operation: operation, subject: recordID, code: AppError.Code.permissionDenied.rawValue,
                  note: "answered=\(AppError.Code.recordNotFound.rawValue)")
        telemetry.refused(AppError(.permissionDenied, "record outside the caller's scope"), user: admin.user, operation: operation, recordID: recordID)
        return notFound(recordID)
    }

    /// Ends or narrows the streams and delegates that `change` concerns: a revoked token's, and a changed
    /// account's (ended when it is disabled, deleted, its tokens revoked or `records.query` gone; else it sees
    /// what its new scope and roles allow from the next change on).
    private static func revise(_ hub: ChangeHub, after change: AccessChange, organisation: FactoryScope) {
        switch change {
        case .tokenRevoked(let id):
            hub.revise(where: { $0.id == id }) { _ in nil }
        case .accountChanged(let user, let account):
            let name = user.lowercased()
            hub.revise(where: { $0.user.lowercased() == name }) { grant in
                guard let account, account.allows(.queryRecords), grant.issuedAt >= account.tokensValidAfter else { return nil }
                return visibility(of: account, organisation: organisation)
            }
        }
    }

    // MARK: Upload (A-UP-1, 3, 4, 5)

    /// Uploads one record and returns after it is committed.
    /// - Parameters:
    ///   - record: Required. A validated record (from ``RecordIngest`` or built in code).
    ///   - token: Required. The caller's access token.
    ///   - expectedDigest: Optional, default none. The digest the caller computed (SHA-256 of the canonical
    ///     encoding by default); a different one fails with `.digestMismatch` (5011) before anything is sent.
    ///   - timeout: Optional, default the platform's commit timeout (30 s); range 1 ms...10 min (clamped). It is the
    ///     transaction's on-chain deadline: on `.confirmationTimeout` (5102) the record was not written and never will be.
    /// - Returns: The receipt; ``UploadReceipt/verify(against:record:)`` checks it offline.
    /// - Throws: see the table on ``RecordService``.
    /// - Note: Example: `let receipt = try await platform.records.upload(record, token: session.token)`.
    public func upload(_ record: ManufacturingRecord, token: String, expectedDigest: Digest? = nil,
                       timeout: Duration? = nil) async throws -> UploadReceipt {
        let handle = try await submit([record], token: token, expectedDigests: [expectedDigest], timeout: timeout)
        return try await handle.confirmation[0]
    }

    /// Uploads many records and returns after all are committed: ``submit(_:token:expectedDigests:timeout:)``, then its confirmation.
    /// - Parameters:
    ///   - records: Required. 1...100,000 records with distinct IDs.
    ///   - token: Required.
    ///   - timeout: Optional, default 30 s, per transaction (see ``submit(_:token:expectedDigests:timeout:)``).
    ///   - progress: Optional, default nil. Called as each transaction of the batch settles (commits or fails for
    ///     good), with the records settled so far and the batch's record count (for a progress display; the
    ///     service prints nothing). Called from the confirmation task, in order, once per transaction.
    /// - Returns: One receipt per record, in order.
    public func uploadBatch(_ records: [ManufacturingRecord], token: String, timeout: Duration? = nil,
                            progress: (@Sendable (_ settled: Int, _ total: Int) -> Void)? = nil) async throws -> [UploadReceipt] {
        try await submit(records, token: token, expectedDigests: nil, timeout: timeout, progress: progress).confirmation
    }

    /// What ``uploadNew(_:token:timeout:progress:)`` did with a batch.
    public struct UploadResult: Sendable {
        /// One receipt per record uploaded now, in the batch's order.
        public var receipts: [UploadReceipt]
        /// The IDs of records that were already on chain with the same content (skipped), in the batch's order.
        public var alreadyOnChain: [String]
    }

    /// Uploads the records of a batch that are not on chain yet, so that an import run again after a failure (a
    /// killed process, a lost connection) ends with each record on chain exactly once: a record whose ID is on
    /// chain with the same canonical digest at its creation is skipped; one whose ID is on chain with other
    /// content is refused as ``uploadBatch(_:token:timeout:progress:)`` refuses it.
    /// - Parameters:
    ///   - records: Required. 1...100,000 records with distinct IDs.
    ///   - token: Required.
    ///   - timeout: Optional, default 30 s, per transaction (see ``submit(_:token:expectedDigests:timeout:)``).
    ///   - progress: Optional, default nil. As in ``uploadBatch(_:token:timeout:progress:)``, over the records uploaded now.
    /// - Returns: The receipts of the records uploaded now and the IDs of those skipped.
    /// - Throws: As ``uploadBatch(_:token:timeout:progress:)``: `.recordExists` (5101) only for an ID on chain
    ///   with other content. Nothing of the batch is submitted then.
    ///
    /// ```swift
    /// let result = try await platform.records.uploadNew(records, token: token)
    /// print(result.receipts.count, "uploaded,", result.alreadyOnChain.count, "already on chain")
    /// ```
    public func uploadNew(_ records: [ManufacturingRecord], token: String, timeout: Duration? = nil,
                          progress: (@Sendable (_ settled: Int, _ total: Int) -> Void)? = nil) async throws -> UploadResult {
        let (admin, ops) = try await creations(records, token: token, expectedDigests: nil)
        let onChain = try index.creationDigests(ops.map(\.recordID))
        if let clash = ops.first(where: { op in onChain[op.recordID].map { $0 != op.digest } ?? false }) {
            throw refusedAsExisting(clash.recordID, user: admin.user, message: "is already on chain with other content")
        }
        let fresh = ops.filter { onChain[$0.recordID] == nil }
        let skipped = ops.filter { onChain[$0.recordID] != nil }.map(\.recordID)
        guard !fresh.isEmpty else { return UploadResult(receipts: [], alreadyOnChain: skipped) }
        let receipts = try await send(fresh, admin: admin, operation: "upload", timeout: timeout, progress: progress).confirmation
        return UploadResult(receipts: receipts, alreadyOnChain: skipped)
    }

    /// Checks permissions and digests, packs the records into as few
    /// transactions as the size limit allows (a transaction commits wholly or
    /// not at all), admits them to the node and returns at once.
    /// - Parameters:
    ///   - records: Required. 1...100,000 records with distinct IDs not on chain yet.
    ///   - token: Required.
    ///   - expectedDigests: Optional, default none. nil or one optional digest per record.
    ///   - timeout: Optional, default 30 s; range 1 ms...10 min (clamped). Transaction `k` of the submission (from 0)
    ///     carries the on-chain deadline submission time + (`k` + 1) × `timeout` and can never commit after it.
    /// - Returns: The handle: ``SubmissionHandle/confirmation`` (async) or ``SubmissionHandle/wait(timeout:)`` (sync).
    /// - Throws: 5011, 5101, 5105, 5107, 5409, token errors 5406–5408; `.chainRejected` (5103) when the node refuses
    ///   a transaction (its records and the later ones of the batch are not submitted; the earlier ones are).
    public func submit(_ records: [ManufacturingRecord], token: String, expectedDigests: [Digest?]? = nil,
                       timeout: Duration? = nil) async throws -> SubmissionHandle {
        try await submit(records, token: token, expectedDigests: expectedDigests, timeout: timeout, progress: nil)
    }

    /// ``submit(_:token:expectedDigests:timeout:)`` with the progress callback of ``uploadBatch(_:token:timeout:progress:)``.
    private func submit(_ records: [ManufacturingRecord], token: String, expectedDigests: [Digest?]?, timeout: Duration?,
                        progress: (@Sendable (Int, Int) -> Void)?) async throws -> SubmissionHandle {
        let (admin, ops) = try await creations(records, token: token, expectedDigests: expectedDigests)
        if let dup = try index.existing(ops.map(\.recordID)).sorted().first {
            throw refusedAsExisting(dup, user: admin.user, message: "is already on chain")
        }
        return try await send(ops, admin: admin, operation: "upload", timeout: timeout, progress: progress)
    }

    /// The checks every upload makes before looking at the chain: open, batch size, digests count, the token's
    /// permission, each record's permission and digest; then the index brought up to date.
    private func creations(_ records: [ManufacturingRecord], token: String, expectedDigests: [Digest?]?) async throws
        -> (AdminAccount, [RecordOperation]) {
        guard !closed else { throw AppError(.platformClosed, "the platform is closed") }
        guard (1...Self.maximumBatch).contains(records.count) else {
            throw AppError(.invalidBatch, "a submission holds 1...\(Self.maximumBatch) records, got \(records.count)", details: ["field": "records"])
        }
        if let expectedDigests, expectedDigests.count != records.count {
            throw AppError(.invalidBatch, "\(expectedDigests.count) expected digests for \(records.count) records", details: ["field": "expectedDigests"])
        }
        let admin = try await identity.authorize(token: token, permission: .uploadRecords)
        let ops = try creations(records, admin: admin, expectedDigests: expectedDigests)
        try syncIndex()
        return (admin, ops)
    }

    /// The `.recordExists` (5101) refusal of an upload, logged and counted.
    private func refusedAsExisting(_ recordID: String, user: String, message: String) -> AppError {
        log.write(user: user, operation: "upload", subject: recordID, code: AppError.Code.recordExists.rawValue)
        let error = AppError(.recordExists, "record '\(recordID)' \(message); use update to change it", details: ["recordID": recordID])
        telemetry.refused(error, user: user, operation: "upload", recordID: recordID)
        return error
    }

    /// Checks permissions (once per factory and kind), digests and duplicates, and builds the create operations.
    private nonisolated func creations(_ records: [ManufacturingRecord], admin: AdminAccount, expectedDigests: [Digest?]?) throws(AppError) -> [RecordOperation] {
        let alg = store.hashAlgorithm
        var ops = [RecordOperation]()
        ops.reserveCapacity(records.count)
        var seen = Set<String>()
        seen.reserveCapacity(records.count)
        var permitted = Set<String>()
        for (i, record) in records.enumerated() {
            do throws(AppError) {
                let scope = record.kind.rawValue + "|" + record.factoryUID
                if !permitted.contains(scope) {
                    try permit(admin, permission: .uploadRecords, factory: record.factoryUID, kind: record.kind)
                    permitted.insert(scope)
                }
                let bytes = record.canonicalEncoding
                let digest = alg.hash(bytes)
                if let expected = expectedDigests?[i], expected != digest {
                    throw AppError(.digestMismatch, "record '\(record.recordID)': supplied digest \(expected.hex) differs from the canonical digest \(digest.hex)",
                                   details: ["expected": expected.hex, "actual": digest.hex])
                }
                guard seen.insert(record.recordID).inserted else {
                    throw AppError(.recordExists, "record '\(record.recordID)' appears twice in the batch", details: ["recordID": record.recordID])
                }
                ops.append(RecordOperation(kind: .create, recordID: record.recordID, version: 1, recordBytes: bytes, digest: digest, uploader: admin.user))
            } catch {
                var e = error
                e.details["record"] = String(i)
                log.write(user: admin.user, operation: "upload", subject: record.recordID, code: e.numericCode)
                telemetry.refused(e, user: admin.user, operation: "upload", recordID: record.recordID)
                throw e
            }
        }
        return ops
    }

    /// Packs `ops` into groups that each fit one transaction body; each operation is encoded once, here.
    private func pack(_ ops: [RecordOperation]) -> [Group] {
        var groups = [Group](), current = Group(), size = 32
        for op in ops {
            let encoded = op.encoded
            if !current.operations.isEmpty, size + encoded.count > maximumTransactionBodyBytes {
                groups.append(current)
                current = Group()
                size = 32
            }
            current.operations.append(op)
            current.encoded.append(encoded)
            size += encoded.count
        }
        if !current.operations.isEmpty { groups.append(current) }
        return groups
    }

    /// The operations of one transaction and their encodings.
    struct Group {
        var operations: [RecordOperation] = []
        var encoded: [[UInt8]] = []
    }

    /// Signs one transaction per group, in nonce order; group `k` (from 0) carries the deadline
    /// `start + (k + 1) × timeout`, so each transaction has `timeout` more than the one before it.
    private func sign(_ groups: [Group], with account: inout SigningAccount, start: Timestamp, timeout: Duration) throws -> [(Transaction, Timestamp)] {
        let millis = Self.milliseconds(timeout)
        var out = [(Transaction, Timestamp)]()
        out.reserveCapacity(groups.count)
        for (k, group) in groups.enumerated() {
            let deadline = start.adding(milliseconds: millis.multipliedReportingOverflow(by: UInt64(k + 1)).partialValue)
            out.append((try account.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body(encodedOperations: group.encoded, deadline: deadline),
                                                timestamp: start),
                        deadline))
        }
        return out
    }

    /// `timeout` in whole milliseconds, clamped to the documented 1 ms...10 min.
    static func milliseconds(_ timeout: Duration) -> UInt64 {
        let ms = timeout.components.seconds * 1_000 + timeout.components.attoseconds / 1_000_000_000_000_000
        return UInt64(min(600_000, max(1, ms)))
    }

    /// Logs and describes a transaction the node refused; `sent` transactions before it stay in flight.
    private func refused(_ error: any Error, group: [RecordOperation], sent: [Pending], user: String, operation: String) -> AppError {
        let code = (error as? any CodedError)?.numericCode ?? 9999
        log.write(user: user, operation: operation, subject: group[0].recordID, code: AppError.Code.chainRejected.rawValue, note: "cause=\(code)")
        var details = ["cause": String(code), "submitted": String(sent.reduce(0) { $0 + $1.operations.count })]
        // The executor's own code when it refused the signer (4012): 5419 unregistered, 5403 disabled.
        if let reason = (error as? ChainError)?.details["cause"] { details["reason"] = reason }
        let refusal = AppError(.chainRejected, "the node refused the transaction for '\(group[0].recordID)': \((error as? any CodedError)?.message ?? "\(error)")",
                               details: details)
        telemetry.refused(refusal, user: user, operation: operation, recordID: group[0].recordID)
        return refusal
    }

    /// A transaction the node accepted: its ID, its operations and its deadline.
    struct Pending: Sendable {
        var transactionID: Digest
        var operations: [RecordOperation]
        var deadline: Timestamp
    }

    /// The signed transactions of one submission, with what the confirmation needs.
    struct Prepared {
        var transactions: [Transaction]
        var groups: [[RecordOperation]]
        var deadlines: [Timestamp]
        var firstNonce: UInt64
        var signer: PublicKey
        var grace: Duration
    }

    /// Packs and signs `ops` with `key` (synchronous half of ``send(_:admin:operation:timeout:progress:)``).
    private func prepare(_ ops: [RecordOperation], key: PrivateKey, timeout: Duration?) async throws -> Prepared {
        var account = await signer(key)
        let groups = pack(ops)
        let firstNonce = account.nextNonce
        let wait = timeout ?? commitTimeout
        let signed = try sign(groups, with: &account, start: node.now, timeout: wait)
        signers[key.publicKey] = account
        return Prepared(transactions: signed.map(\.0), groups: groups.map(\.operations), deadlines: signed.map(\.1), firstNonce: firstNonce,
                        signer: key.publicKey, grace: .milliseconds(min(10_000, max(1_000, Self.milliseconds(wait)))))
    }

    /// `key` with its next nonce: the one this service tracks, or the node's committed one the first time.
    private func signer(_ key: PrivateKey) async -> SigningAccount {
        if let known = signers[key.publicKey] { return known }
        let account = SigningAccount(key: key, chainID: chainID, hashAlgorithm: store.hashAlgorithm, nextNonce: await node.nextNonce(for: key.publicKey))
        // Another call may have signed with the key meanwhile.
        if let known = signers[key.publicKey] { return known }
        signers[key.publicKey] = account
        return account
    }

    /// The transactions the node accepted, by their IDs (the first `ids.count` of `prepared`).
    private func pending(_ prepared: Prepared, ids: [Digest]) -> [Pending] {
        ids.indices.map { Pending(transactionID: ids[$0], operations: prepared.groups[$0], deadline: prepared.deadlines[$0]) }
    }

    /// Rewinds the nonce past the refused transaction (it and the ones after it were never sent) and describes the refusal.
    private func refusal(_ error: any Error, prepared: Prepared, ids: [Digest], user: String, operation: String) -> AppError {
        signers[prepared.signer]?.nextNonce = prepared.firstNonce + UInt64(ids.count)
        return refused(error, group: prepared.groups[ids.count], sent: pending(prepared, ids: ids), user: user, operation: operation)
    }

    /// The handle of the accepted transactions.
    private func handle(_ prepared: Prepared, ids: [Digest], count: Int, user: String, operation: String,
                        progress: (@Sendable (Int, Int) -> Void)?) -> SubmissionHandle {
        telemetry.submitted(records: count, transactions: ids.count, user: user, operation: operation)
        return SubmissionHandle(recordIDs: prepared.groups.flatMap { $0.map(\.recordID) }, transactionIDs: ids,
                                operation: confirmation(of: pending(prepared, ids: ids), count: count, user: user, operation: operation,
                                                        grace: prepared.grace, progress: progress))
    }

    /// Packs `ops` into transactions with deadlines, enqueues them in nonce order, and returns the handle.
    ///
    /// The async part is kept minimal (packing, signing, error reporting and the confirmation closure live in
    /// synchronous helpers, and no await sits inside an expression). With Swift 6.3.1, unoptimised async functions
    /// that keep a `Digest` (a `SIMD32`) across an await got contexts smaller than the code wrote to
    /// (AddressSanitizer with `SWIFT_DEBUG_ENABLE_TASK_SLAB_ALLOCATOR=false`: an 8-byte write past this function's
    /// 1,040-byte context), which corrupted the heap or the task allocator; AppAPI is therefore built with `-O` in
    /// debug builds too (Package.swift), and small async bodies keep the exposure small if that ever changes.
    private func send(_ ops: [RecordOperation], admin: AdminAccount, operation: String, timeout: Duration?,
                      progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> SubmissionHandle {
        let user = admin.user
        let prepared = try await prepare(ops, key: try admin.signingKey(), timeout: timeout)
        var ids = [Digest]()
        for tx in prepared.transactions {
            let id: Digest
            do { id = try await node.enqueue(tx) } catch { throw refusal(error, prepared: prepared, ids: ids, user: user, operation: operation) }
            ids.append(id)
        }
        return handle(prepared, ids: ids, count: ops.count, user: user, operation: operation, progress: progress)
    }

    /// The work a ``SubmissionHandle`` runs: settles every transaction (committed, failed, or past its deadline
    /// for good), brings the index up to date and builds one ``UploadReceipt`` per record; on any failure it
    /// throws the first one, after every transaction is settled, with the count of records that did commit.
    private func confirmation(of transactions: [Pending], count: Int, user: String, operation: String,
                              grace: Duration, progress: (@Sendable (Int, Int) -> Void)?) -> @Sendable () async throws -> [UploadReceipt] {
        let store = self.store, settler = Settler(node: node, store: store, rule: settlement)
        let tally = TallyBox(ConfirmationTally(user: user, operation: operation, log: log))
        let telemetry = self.telemetry
        return { [weak self] in
            var settled = 0
            for pending in transactions {
                // Awaited into a local first: nothing else spans the suspension.
                let outcome = await settler.settle(pending, grace: grace)
                tally.note(outcome, for: pending)
                settled += pending.operations.count
                progress?(settled, count)
            }
            // The receipts come from the ledger: records on chain are confirmed whatever the index does. A catch-up
            // failure here is already logged, counted and retried by syncIndex, and queries say how far behind it is.
            do throws(AppError) { try self?.syncIndex() } catch {
                telemetry.logger.notice("receipts returned while the record index is behind the ledger",
                                        metadata: ["code": "\(error.code.rawValue)", "operation": "\(operation)"])
            }
            return try Self.receipts(tally, count: count, store: store, telemetry: telemetry, user: user, operation: operation)
        }
    }

    /// The confirmation's receipts, with the committed records counted and a failure logged.
    private static func receipts(_ tally: TallyBox, count: Int, store: LedgerStore, telemetry: RecordTelemetry, user: String,
                                 operation: String) throws(AppError) -> [UploadReceipt] {
        do {
            let receipts = try tally.receipts(count: count, store: store)
            telemetry.committed(records: receipts.count, user: user, operation: operation)
            return receipts
        } catch {
            telemetry.committed(records: error.details["committedRecords"].flatMap { Int($0) } ?? 0, user: user, operation: operation)
            telemetry.refused(error, user: user, operation: operation, recordID: error.details["recordID"])
            throw error
        }
    }

    // MARK: Test hooks

    /// Test hook: skips the next nonce of the key `token`'s account signs with, so the transactions it sends after
    /// it wait in the mempool behind the gap (a node that cannot commit them in time). Returns the skipped nonce for
    /// ``fillNonceGapForTesting(_:token:)``.
    package func openNonceGapForTesting(token: String) async throws -> UInt64 {
        let key = try await identity.authenticate(token: token).signingKey()
        var account = await signer(key)
        defer { account.nextNonce += 1; signers[key.publicKey] = account }
        return account.nextNonce
    }

    /// Test hook: sends, with the skipped `nonce`, a records transaction holding no operation (it fails, but takes
    /// the nonce), so the transactions behind the gap can commit.
    package func fillNonceGapForTesting(_ nonce: UInt64, token: String) async throws -> Digest {
        var filler = await signer(try await identity.authenticate(token: token).signingKey())
        filler.nextNonce = nonce
        return try await node.enqueue(try filler.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body([])))
    }

    // MARK: Access registry

    /// Commits account changes on chain (``AccessRegistry``): one access transaction signed by `signer`, or by the
    /// founding key; waits for its receipt.
    /// - Throws: `AppError` `.chainRejected` (5103) when the node refuses it, or the receipt's failure code.
    func commit(_ operations: [AccessOperation], signedBy signer: PrivateKey?) async throws {
        guard !closed else { throw AppError(.platformClosed, "the platform is closed") }
        var account = await self.signer(signer ?? founder)
        let tx = try account.transaction(kind: AccessExecutor.kind, body: AccessOperation.body(operations), timestamp: node.now)
        signers[account.key.publicKey] = account
        let receipt: Receipt
        do {
            receipt = try await node.submit(tx, timeout: commitTimeout)
        } catch {
            // Not admitted or not committed in time: the nonce is read from the chain again next time.
            signers[account.key.publicKey] = nil
            let code = (error as? any CodedError)?.numericCode ?? 9999
            throw AppError(.chainRejected, "the account change was not committed: \((error as? any CodedError)?.message ?? "\(error)")",
                           details: ["cause": String(code)])
        }
        guard receipt.status == Receipt.success else {
            let code = UInt32(truncatingIfNeeded: receipt.status)
            throw AppError(AppError.Code(rawValue: code), String(decoding: receipt.output, as: UTF8.self), details: ["onChain": "true"])
        }
    }

    /// The account `user` as the committed state holds it.
    func chainAccount(_ user: String) async throws -> ChainAccount? {
        try ChainAccount.account(user: user, state: StoreStateReader(store: store))
    }

    // MARK: Query (A-Q-1..4)

    /// One page of current records matching `query`, inside the caller's permissions, from the record index
    /// brought up to the ledger's committed head first.
    ///
    /// When the index cannot catch up (its file is locked by another process, read-only or damaged), the query still
    /// answers, from the index as it is, and the page says so: ``RecordPage/behind`` is the number of committed blocks
    /// it does not reflect and ``RecordPage/indexError`` the catch-up failure (`.indexFailure`, 5204, with the storage
    /// code in `details["cause"]`). The failure is logged and counted
    /// (`forgechain_record_index_catch_up_failures_total`, `forgechain_records_stale_queries_total`) and the catch-up
    /// is retried in the background (0.1 s, doubling to 5 s between tries) until it succeeds; while it is being
    /// retried, queries do not wait for it.
    /// - Parameters:
    ///   - query: Required. See ``RecordQuery`` for every filter, range and default.
    ///   - token: Required. Needs `records.query`.
    /// - Returns: The page, with ``RecordPage/indexedHeight`` and ``RecordPage/headHeight`` (the head when the query
    ///   started); encode it with ``Envelope`` for JSON or XML (A-Q-4).
    /// - Throws: `.permissionDenied` (5409) when `query.factoryUID` is outside the caller's or the node's scope, or
    ///   `query.kind` is not granted by the caller's roles (an error, not an empty page); 5201, 5202, 5204 (the index
    ///   cannot be read at all), 5205 (a record that does not read back from the ledger as indexed); token errors.
    /// - Note: Answered from the local index (no timeout); p99 under 20 ms for 100 rows over 100,000 records when the
    ///   index is up to date. Example:
    ///   ```swift
    ///   let page = try await platform.records.query(RecordQuery(batchNumber: "B-17"), token: token)
    ///   if page.behind > 0 { print("stale by \(page.behind) blocks:", page.indexError?.description ?? "-") }
    ///   ```
    public nonisolated func query(_ query: RecordQuery, token: String) async throws -> RecordPage {
        let admin = try await identity.authorize(token: token, permission: .queryRecords)
        let start = ContinuousClock.now
        do {
            let page = try answer(query, admin: admin)
            telemetry.queried(rows: page.records.count, user: admin.user, duration: ContinuousClock.now - start)
            if page.behind > 0 { telemetry.queriedBehind(page.behind, user: admin.user, error: page.indexError) }
            return page
        } catch {
            telemetry.refused(error, user: admin.user, operation: "query", recordID: nil)
            throw error
        }
    }

    /// The page of ``query(_:token:)`` once the caller is authorised.
    private nonisolated func answer(_ query: RecordQuery, admin: AdminAccount) throws(AppError) -> RecordPage {
        try indexFollower.page(query, for: QueryReader(user: admin.user, scope: admin.scope, kinds: admin.recordKinds, organisation: organisation))
    }

    /// Every version of a record, oldest first (A-U-2 history).
    ///
    /// A record the caller may not see (another factory, a kind its roles do not grant, a factory outside the
    /// node's organisation) is answered exactly as an ID with no record: 5203 "no record '…'", so a refusal never
    /// tells that a record exists. The platform log and `forgechain_records_refused_total` keep the real reason (5409).
    /// - Parameters:
    ///   - recordID: Required. ``ManufacturingRecord/recordID``, for example `P-2025-0201`.
    ///   - token: Required. Needs `records.query` for the record's factory and kind.
    /// - Returns: The versions, oldest first.
    /// - Throws: `.recordNotFound` (5203) for no record or one the caller may not see, `.recordDamaged` (5205),
    ///   `.permissionDenied` (5409) when the token lacks `records.query` altogether, token errors.
    ///
    /// ```swift
    /// let versions = try await platform.records.history(recordID: "P-2025-0201", token: session.token)
    /// ```
    public nonisolated func history(recordID: String, token: String) async throws -> [StoredRecord] {
        let admin = try await identity.authorize(token: token, permission: .queryRecords)
        try syncIndex()
        let versions = try index.history(recordID)
        guard let last = versions.last else { throw notFound(recordID) }
        guard maySee(admin, factory: last.record.factoryUID, kind: last.kind) else { throw hidden(recordID, from: admin, operation: "history") }
        return versions
    }

    // MARK: Update (A-U-1..4)

    /// Appends a new version of a record with `fields` changed, if `condition`
    /// holds; the old version stays on chain and in ``history(recordID:token:)``.
    /// Any failure (condition, permission, validation, commit timeout) leaves
    /// the record unchanged and reports why (A-U-3).
    /// - Parameters:
    ///   - recordID: Required. The record to change, for example `P-2025-0201`.
    ///   - fields: Required, 1...64 entries. Dotted wire name → new value
    ///     (`["propara.pro_temperature": "72.0"]`); the ID fields and the factory may not change.
    ///   - condition: Optional, default `.none`. `.expectedVersion(n)` or `.field(name, equals: value)`.
    ///   - token: Required. Needs `records.update` for the record's factory and kind.
    ///   - timeout: Optional, default 30 s; range 1 ms...10 min (clamped). The update's on-chain deadline: on
    ///     `.confirmationTimeout` (5102) the record is unchanged and stays so.
    /// - Returns: The new version's receipt.
    /// - Throws: `.recordNotFound` (5203) for no record or one the caller may not see (answered alike, as in
    ///   ``history(recordID:token:)``), `.conditionFailed` (5301), `.invalidUpdate` (5302),
    ///   `.immutableField` (5303), 5001–5004, `.confirmationTimeout` (5102), `.confirmationUndecided` (5109),
    ///   `.permissionDenied` (5409), token errors.
    public func update(recordID: String, fields: [String: String], condition: UpdateCondition = .none, token: String,
                       timeout: Duration? = nil) async throws -> UploadReceipt {
        guard !closed else { throw AppError(.platformClosed, "the platform is closed") }
        let admin = try await identity.authorize(token: token, permission: .updateRecords)
        guard (1...64).contains(fields.count) else {
            throw AppError(.invalidUpdate, "an update names 1...64 fields, got \(fields.count)", details: ["field": "fields"])
        }
        try syncIndex()
        guard let current = try index.current(recordID) else { throw notFound(recordID) }
        guard maySee(admin, factory: current.record.factoryUID, kind: current.kind) else {
            throw hidden(recordID, from: admin, operation: "update")
        }
        func refuse(_ e: AppError) -> AppError {
            log.write(user: admin.user, operation: "update", subject: recordID, code: e.numericCode)
            telemetry.refused(e, user: admin.user, operation: "update", recordID: recordID)
            return e
        }
        do { try permit(admin, permission: .updateRecords, factory: current.record.factoryUID, kind: current.kind) } catch { throw refuse(error) }
        var previous = [UInt8]()
        switch condition {
        case .none: break
        case .expectedVersion(let v):
            guard v == current.version else {
                throw refuse(AppError(.conditionFailed, "'\(recordID)' is at version \(current.version), the update expects \(v)",
                                      details: ["recordID": recordID, "currentVersion": String(current.version)]))
            }
        case .field(let name, let expected):
            let actual = current.record.fieldValues[name]
            guard actual == expected else {
                throw refuse(AppError(.conditionFailed, "field '\(name)' of '\(recordID)' is '\(actual ?? "absent")', the update expects '\(expected)'",
                                      details: ["recordID": recordID, "field": name]))
            }
            previous = current.record.canonicalEncoding
        }
        let updated: ManufacturingRecord
        do { updated = try current.record.applying(fields) } catch { throw refuse(error) }
        guard updated != current.record else {
            throw refuse(AppError(.invalidUpdate, "the update changes nothing in '\(recordID)'", details: ["recordID": recordID]))
        }
        let bytes = updated.canonicalEncoding
        let op = RecordOperation(kind: .update, recordID: recordID, version: current.version + 1, recordBytes: bytes,
                                 digest: store.hashAlgorithm.hash(bytes), uploader: admin.user, condition: condition,
                                 changedFields: fields.keys.sorted(), previousBytes: previous)
        return try await send([op], admin: admin, operation: "update", timeout: timeout).confirmation[0]
    }

    // MARK: Notifications (A-U-4)

    /// Every committed change from now on that the caller may see (its factories and kinds).
    ///
    /// The stream stays bound to the token and its account: it ends at once when the token is revoked
    /// (``IdentityService/logout(token:)``, a password change) or the account is disabled, deleted or loses
    /// `records.query`; a change of the account's scope or roles applies from the next change on. Changes committed
    /// before the revocation and not read yet stay readable; nothing committed after it arrives. The token's expiry
    /// does not end the stream.
    /// - Parameter token: Required. Needs `records.query`.
    /// - Returns: A stream that ends when the platform closes or the token's rights end; it buffers the newest 4,096 changes.
    /// - Throws: `.permissionDenied` (5409), token errors.
    ///
    /// ```swift
    /// for await change in try await platform.records.changes(token: session.token) {
    ///     handle(change)   // the loop ends at logout, on disable, or when the platform closes
    /// }
    /// ```
    public nonisolated func changes(token: String) async throws -> AsyncStream<RecordChange> {
        let grant = try await identity.authorized(token: token, permission: .queryRecords).token
        let (key, stream) = hub.subscribe(grant: grant, filter: { _ in false })
        try await activate(key, token: token)
        return stream
    }

    /// Registers a webhook-style delegate for every committed change the caller may see (replacing an earlier registration of it).
    ///
    /// Bound to the token and its account as ``changes(token:)`` is: when the token is revoked or the account
    /// disabled, deleted or stripped of `records.query`, the delegate is dropped at once and called no more (register it
    /// again with a new token).
    /// - Parameters:
    ///   - delegate: Required. Held weakly.
    ///   - token: Required. Needs `records.query`.
    /// - Throws: `.permissionDenied` (5409), token errors.
    public nonisolated func addDelegate(_ delegate: any RecordChangeDelegate, token: String) async throws {
        let grant = try await identity.authorized(token: token, permission: .queryRecords).token
        let key = hub.addDelegate(delegate, grant: grant, filter: { _ in false })
        try await activate(key, token: token)
    }

    /// Checks `token` again once its pending subscription is registered, and starts it with the account's current
    /// rights: a revocation before this check fails it, one after it reaches the subscription through the hub.
    private nonisolated func activate(_ key: UUID, token: String) async throws {
        do {
            let admin = try await identity.authorize(token: token, permission: .queryRecords)
            hub.activate(key, filter: visible(admin))
        } catch {
            hub.end(key)
            throw error
        }
    }

    /// Stops calls to `delegate`.
    public nonisolated func removeDelegate(_ delegate: any RecordChangeDelegate) {
        hub.removeDelegate(delegate)
    }

    /// Drops the record index and derives it again from the chain.
    /// - Parameter token: Required. Needs `node.operate`.
    /// - Returns: The number of record versions indexed.
    /// - Throws: `.indexFailure` (5204), `.permissionDenied` (5409).
    public nonisolated func rebuildIndex(token: String) async throws -> Int {
        _ = try await identity.authorize(token: token, permission: .operateNode)
        let versions = try indexFollower.exclusive { () throws(AppError) in try index.rebuild(from: store) }
        telemetry.indexRebuilt(versions: versions)
        return versions
    }
}
extension RecordService: AccessRegistry {}
