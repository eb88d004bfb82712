import ChainRuntime
import Foundation
import LedgerCore
import Logging
import Synchronization

/// The record index of a node that runs the records executor, and the record queries it answers on the node's
/// control endpoints (K-T-4, N-S-4): `forgechain node run` starts one when its executors include `records`, and a
/// `ForgeChainClient` asks it with `ForgeChainClient.queryRecords(_:signedBy:chainID:)`.
///
/// The index (``RecordIndex``, its own SQLite file in the node's data folder) follows the node's ledger: it
/// catches up after every commit and before each query, as the platform's does. Each request is signed by a key
/// the chain lists for an account (``ChainAccount``); the node checks the signature and the account's rights in its
/// committed state, and answers exactly what ``RecordService/query(_:token:)`` would answer an administrator with
/// the same roles and scope (or refuses with the same codes).
///
/// | op | body (JSON text, signed) | answer `data` |
/// |---|---|---|
/// | `records.query` | a ``RecordQuery`` | a ``RecordPage`` |
/// | `records.get` | `{"record_id":"P-1","proof":true}` | the current ``StoredRecord`` with its ``UploadReceipt`` when `proof` |
///
/// Refusals: `.requestSignatureInvalid` (5430), `.requestExpired` (5431), `.signerNotRegistered` (5419),
/// `.accountDisabled` (5403), `.permissionDenied` (5409), `.invalidQuery` (5201), `.recordNotFound` (5203, also for a
/// record the signer may not see), `.indexFailure` (5204); `ChainError` `.invalidControlRequest` (4200) for a
/// request that does not decode.
///
/// ```swift
/// let records = try await RecordQueryEndpoint.start(node: node, indexPath: data + "/records-index.sqlite", chainID: 531407)
/// let clients = try await NodeControlServer.start(node: node, port: 7500, tls: tls, operations: records.operations)
/// ```
/// - Note: Thread-safe; requests are answered concurrently. Close it before the node stops.
public final class RecordQueryEndpoint: Sendable {
    let follower: IndexFollower
    /// The chain whose requests it accepts (signatures cover it).
    public let chainID: UInt64
    let organisation: FactoryScope
    private let following = Mutex<Task<Void, Never>?>(nil)
    private let clock: @Sendable () -> UInt64

    private init(follower: IndexFollower, chainID: UInt64, organisation: FactoryScope, clock: @escaping @Sendable () -> UInt64) {
        self.follower = follower
        self.chainID = chainID
        self.organisation = organisation
        self.clock = clock
    }

    /// Opens (creating when missing) the record index of `node`'s ledger and starts following its commits (the
    /// first catch-up runs in the background).
    /// - Parameters:
    ///   - node: Required. A running node with the records executor.
    ///   - indexPath: Required. The index file (`DATA/records-index.sqlite`); derived from the chain, rebuilt when missing.
    ///   - chainID: Required. The chain's ID (a request signed for another chain is refused).
    ///   - organisation: Optional, default `.all`. The factories this node's organisation is entitled to (A-Q-2).
    ///   - logger: Optional, default label `forgechain.records`.
    ///   - clock: Optional, default the wall clock. Milliseconds since 1970, for the requests' time window.
    /// - Throws: `AppError` `.indexFailure` (5204) when the index cannot be opened.
    public static func start(node: any ChainNode, indexPath: String, chainID: UInt64, organisation: FactoryScope = .all,
                             logger: Logger = Logger(label: "forgechain.records"),
                             clock: @escaping @Sendable () -> UInt64 = { Timestamp.now().rawValue }) async throws(AppError) -> RecordQueryEndpoint {
        let store = await node.ledger
        let index = try RecordIndex(path: indexPath, ledger: store)
        let follower = IndexFollower(index: index, store: store, hub: ChangeHub(), telemetry: RecordTelemetry(logger: logger, factory: nil))
        let endpoint = RecordQueryEndpoint(follower: follower, chainID: chainID, organisation: organisation, clock: clock)
        let commits = await node.commits()
        // The first catch-up (the whole chain, for a new index) runs in the background: the node's sockets do not
        // wait for it, and a query meanwhile catches up itself or reports how far behind the page is.
        endpoint.following.withLock {
            $0 = Task {
                follower.attemptReporting()
                for await _ in commits where follower.failure == nil { follower.attemptReporting() }
            }
        }
        return endpoint
    }

    /// The height indexed so far.
    /// - Throws: `AppError` `.indexFailure` (5204).
    public var indexedHeight: UInt64 { get throws(AppError) { try follower.index.indexedHeight } }

    /// Stops following the node and merges the index's write-ahead log into its file. Idempotent.
    public func close() {
        following.withLock {
            $0?.cancel()
            $0 = nil
        }
        follower.close()
        do { try follower.index.checkpoint() } catch {
            follower.telemetry.logger.warning("record index not checkpointed at close; the next open replays its log",
                                              metadata: ["code": "\(error.code.rawValue)"])
        }
    }

    /// The operations to add to the node's control endpoints (`NodeControlServer.start(node:host:port:tls:traffic:operations:logger:)`).
    public var operations: [String: NodeControlServer.Operation] {
        ["records.query": { [self] line in await ControlWire.answer { try self.query(line) } },
         "records.get": { [self] line in await ControlWire.answer { try self.record(line) } }]
    }

    /// The body of `records.get`.
    struct RecordRequest: Codable {
        var recordID: String
        var proof: Bool?
        enum CodingKeys: String, CodingKey { case recordID = "record_id", proof }
    }

    /// The reader a signed request is answered for, once its signature and rights are checked.
    private func reader(_ request: SignedRequest) throws(AppError) -> QueryReader {
        let account = try request.signer(chainID: chainID, now: clock(), permission: .queryRecords, state: StoreStateReader(store: follower.store))
        return QueryReader(user: account.user, scope: account.scope,
                           kinds: account.roles.reduce(into: []) { $0.formUnion($1.recordKinds) }, organisation: organisation)
    }

    private func signed(_ line: Data, op: String) throws -> SignedRequest {
        let request = try ControlWire.request(SignedRequest.self, from: line, op: op)
        guard request.op == op else {
            throw ChainError(.invalidControlRequest, "\(op): the signed op is '\(request.op)'", details: ["op": op])
        }
        return request
    }

    func query(_ line: Data) throws -> RecordPage {
        let request = try signed(line, op: "records.query")
        let reader = try reader(request)
        let start = ContinuousClock.now
        let telemetry = follower.telemetry
        do throws(AppError) {
            let query: RecordQuery
            do { query = try JSONDecoder().decode(RecordQuery.self, from: Data(request.body.utf8)) } catch {
                throw AppError(.invalidQuery, "the signed body is not a record query: \(error)", details: ["field": "body"])
            }
            let page = try follower.page(query, for: reader)
            // Counted and logged as the platform's queries are (`forgechain_records_*`).
            telemetry.queried(rows: page.records.count, user: reader.user, duration: ContinuousClock.now - start)
            if page.behind > 0 { telemetry.queriedBehind(page.behind, user: reader.user, error: page.indexError) }
            return page
        } catch {
            telemetry.refused(error, user: reader.user, operation: "query", recordID: nil)
            throw error
        }
    }

    func record(_ line: Data) throws -> StoredRecord {
        let request = try signed(line, op: "records.get")
        let reader = try reader(request)
        let body: RecordRequest
        do { body = try JSONDecoder().decode(RecordRequest.self, from: Data(request.body.utf8)) } catch {
            throw AppError(.invalidQuery, "the signed body is not {\"record_id\":…}: \(error)", details: ["field": "body"])
        }
        _ = follower.freshen(to: follower.headHeight)
        guard var record = try follower.index.current(body.recordID),
              reader.maySee(factory: record.record.factoryUID, kind: record.kind) else {
            throw AppError(.recordNotFound, "no record '\(body.recordID)'", details: ["recordID": body.recordID])
        }
        if body.proof == true {
            record.proof = try UploadReceipt.build(transactionID: record.transactionID,
                                                   operations: [(record.recordID, record.version, record.digest)], store: follower.store).first
        }
        return record
    }
}

extension ForgeChainClient {
    /// One page of records matching `query`, answered by a node's record index (``RecordQueryEndpoint``) for the
    /// chain account `key` signs for: the same page, and the same refusals, as ``RecordService/query(_:token:)`` gives
    /// an administrator with that account's roles and scope.
    /// - Parameters:
    ///   - query: Required. See ``RecordQuery`` for the filters, ranges and defaults.
    ///   - key: Required. A key the chain lists for an enabled account with `records.query`.
    ///   - chainID: Required. The chain's ID.
    /// - Returns: The page; ``RecordPage/indexedHeight`` and ``RecordPage/headHeight`` are the answering node's.
    /// - Throws: The node's refusal as `AppError`: 5430, 5431, 5419, 5403, 5409, 5201, 5204 (see
    ///   ``RecordQueryEndpoint``); `ChainError` `.controlSocketFailed` (4201) when no node answers, `.invalidControlRequest`
    ///   (4200) from a node without the records executor.
    /// - Note: One request to one node (failing over to the next when it does not answer). Example:
    ///   `let page = try await client.queryRecords(RecordQuery(batchNumber: "B-19"), signedBy: key, chainID: 531407)`.
    public func queryRecords(_ query: RecordQuery, signedBy key: PrivateKey, chainID: UInt64) async throws -> RecordPage {
        let body = String(decoding: try ControlWire.encode(query), as: UTF8.self)
        let request = try SignedRequest(op: "records.query", body: body, key: key, chainID: chainID)
        return try ControlWire.value(RecordPage.self, from: try await exchange(try ControlWire.encode(request)))
    }

    /// The current version of record `recordID`, with its receipt (inclusion proof and commit certificate, checked
    /// offline with ``UploadReceipt/verify(against:record:)``) when `proof` is true.
    /// - Parameters:
    ///   - recordID: Required. ``ManufacturingRecord/recordID``.
    ///   - proof: Optional, default true.
    ///   - key: Required. As in `queryRecords(_:signedBy:chainID:)`.
    ///   - chainID: Required.
    /// - Throws: As `queryRecords(_:signedBy:chainID:)`; `.recordNotFound` (5203) for no record or one the account may not see.
    /// - Note: Example: `let stored = try await client.record("P-2025-0201", signedBy: key, chainID: 531407)`.
    public func record(_ recordID: String, proof: Bool = true, signedBy key: PrivateKey, chainID: UInt64) async throws -> StoredRecord {
        let body = String(decoding: try ControlWire.encode(RecordQueryEndpoint.RecordRequest(recordID: recordID, proof: proof)), as: UTF8.self)
        let request = try SignedRequest(op: "records.get", body: body, key: key, chainID: chainID)
        return try ControlWire.value(StoredRecord.self, from: try await exchange(try ControlWire.encode(request)))
    }
}
