import Foundation
import Synchronization
import Testing
@testable import AppAPI
import LedgerCore

/// Collects changes delivered to a delegate.
actor ChangeCollector: RecordChangeDelegate {
    var changes: [RecordChange] = []
    func recordDidChange(_ change: RecordChange) async { changes.append(change) }
}

@Suite(.serialized) struct PlatformRecordsTests {
    @Test func anUploadReturnsAReceiptThatVerifiesOfflineAndFailsWhenAltered() async throws {
        let f = try await RecordsFixture.open()
        let record = RecordsFixture.production(1)
        let receipt = try await f.platform.records.upload(record, token: f.rootToken, expectedDigest: record.digest())
        #expect(receipt.recordDigest == record.digest(using: .sha256))
        try receipt.verify(against: f.platform.trustAnchor, record: record)

        // JSON round trip (what `records verify` reads).
        let decoded = try JSONDecoder().decode(UploadReceipt.self, from: JSONEncoder().encode(receipt))
        try decoded.verify(against: f.platform.trustAnchor)

        var badProof = receipt
        badProof.inclusionProof = InclusionProof(leafIndex: 0, treeSize: receipt.inclusionProof.treeSize + 1,
                                                 path: receipt.inclusionProof.path + [HashAlgorithm.sha256.hash([9])])
        #expect((#expect(throws: AppError.self) { try badProof.verify(against: f.platform.trustAnchor) })?.details["check"] == "inclusionProof")
        var badCertificate = receipt
        badCertificate.certificate.votes[0].signature = badCertificate.certificate.votes[0].signature.tampered()
        #expect((#expect(throws: AppError.self) { try badCertificate.verify(against: f.platform.trustAnchor) })?.details["check"] == "certificate")
        var badHeader = receipt
        badHeader.header.stateRoot = HashAlgorithm.sha256.hash([1])
        #expect((#expect(throws: AppError.self) { try badHeader.verify(against: f.platform.trustAnchor) })?.details["check"] == "header")
        var otherRecord = RecordsFixture.production(2)
        if case .production(var p) = otherRecord { p.productUID = "P-1"; otherRecord = .production(p) }
        #expect((#expect(throws: AppError.self) { try receipt.verify(against: f.platform.trustAnchor, record: otherRecord) })?.details["check"] == "record")
        await f.close()
    }

    @Test func aWrongSuppliedDigestOrADuplicateIsRefusedBeforeAnythingIsWritten() async throws {
        let f = try await RecordsFixture.open()
        let head = await f.platform.node.head.height
        let bad = await #expect(throws: AppError.self) {
            try await f.platform.records.upload(RecordsFixture.production(1), token: f.rootToken, expectedDigest: HashAlgorithm.sha256.hash([0]))
        }
        #expect(bad?.code == .digestMismatch)
        _ = try await f.platform.records.upload(RecordsFixture.production(1), token: f.rootToken)
        let dup = await #expect(throws: AppError.self) { try await f.platform.records.upload(RecordsFixture.production(1), token: f.rootToken) }
        #expect(dup?.code == .recordExists)
        #expect(try f.platform.records.index.history("P-1").count == 1)
        #expect(await f.platform.node.head.height > head)
        await f.close()
    }

    @Test func submitReturnsAHandleWhoseConfirmationIsAwaitedOrWaitedForAndPacksABatch() async throws {
        let f = try await RecordsFixture.open()
        let records = (0..<600).map { RecordsFixture.production($0) }
        let handle = try await f.platform.records.submit(records, token: f.rootToken)
        #expect(handle.recordIDs.count == 600)
        #expect(handle.transactionIDs.count < 4, "600 records of ~300 bytes fit in one or two 512 KiB transactions")
        let receipts = try await handle.confirmation
        #expect(receipts.count == 600)
        try receipts[599].verify(against: f.platform.trustAnchor, record: records[599])
        let sync = try await Task.detached { try handle.wait(timeout: .seconds(60)) }.value
        #expect(sync.map(\.recordID) == receipts.map(\.recordID))
        #expect(try f.platform.records.index.count() == 600)
        await f.close()
    }

    @Test func uploadBatchReportsProgressAsEachTransactionSettles() async throws {
        final class Calls: Sendable { let list = Mutex<[(settled: Int, total: Int)]>([]) }
        let f = try await RecordsFixture.open()
        let records = (0..<600).map { RecordsFixture.production($0) }
        let calls = Calls()
        let receipts = try await f.platform.records.uploadBatch(records, token: f.rootToken,
                                                                progress: { settled, total in calls.list.withLock { $0.append((settled, total)) } })
        #expect(receipts.count == 600)
        let seen = calls.list.withLock { $0 }
        #expect(!seen.isEmpty && seen.allSatisfy { $0.total == 600 }, "\(seen)")
        #expect(seen.last?.settled == 600, "\(seen)")
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.settled < $1.settled }, "\(seen)")
        await f.close()
    }

    @Test func queriesFilterCombineSortAndPageWithAStableCursor() async throws {
        let f = try await RecordsFixture.open()
        var records = (0..<120).map { RecordsFixture.production($0, batch: $0 % 2 == 0 ? "B-EVEN" : "B-ODD") }
        records += (0..<10).map { RecordsFixture.inspection($0) }
        _ = try await f.platform.records.uploadBatch(records, token: f.rootToken)
        let q = f.platform.records
        let even = try await q.query(RecordQuery(batchNumber: "B-EVEN", limit: 1000), token: f.rootToken)
        #expect(even.records.count == 60)
        #expect(even.records.allSatisfy { $0.record.batchNumber == "B-EVEN" })
        let from = RecordTime(millisecondsSince1970: RecordsFixture.baseTime + 10 * 60_000)
        let to = RecordTime(millisecondsSince1970: RecordsFixture.baseTime + 20 * 60_000)
        let window = try await q.query(RecordQuery(from: from, to: to, kind: .production, order: .timeDescending), token: f.rootToken)
        #expect(window.records.map(\.recordID) == (10..<20).reversed().map { "P-\($0)" })
        let combined = try await q.query(RecordQuery(from: from, to: to, batchNumber: "B-ODD", deviceID: "PRESS-04", factoryUID: "F-KM-02",
                                                     location: "Kunming plant 2, line 3", operatorID: "OP-7"), token: f.rootToken)
        #expect(combined.records.map(\.recordID) == [11, 13, 15, 17, 19].map { "P-\($0)" })
        let byProduct = try await q.query(RecordQuery(productUID: "P-3"), token: f.rootToken)
        #expect(Set(byProduct.records.map(\.kind)) == [.production, .qualityInspection])

        var seen = [String](), cursor: String?
        repeat {
            let page = try await q.query(RecordQuery(kind: .production, limit: 25, cursor: cursor), token: f.rootToken)
            seen += page.records.map(\.recordID)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen.count == 120 && Set(seen).count == 120)
        let other = await #expect(throws: AppError.self) {
            try await q.query(RecordQuery(batchNumber: "B-ODD", limit: 25, cursor: try await q.query(RecordQuery(limit: 1), token: f.rootToken).nextCursor),
                              token: f.rootToken)
        }
        #expect(other?.code == .invalidCursor)

        let proved = try await q.query(RecordQuery(productUID: "P-5", includeProofs: true), token: f.rootToken)
        try #require(proved.records.first?.proof).verify(against: f.platform.trustAnchor, record: proved.records[0].record)

        let json = String(decoding: try Envelope.success(window).jsonData(), as: UTF8.self)
        // One expectation per property: joined with && and ||, precedence reduced the check to its last term.
        #expect(json.contains("\"code\":0"), "\(json)")
        #expect(json.contains("\"record_id\":\"P-19\"") && json.contains("\"product_uid\":\"P-19\""), "\(json)")
        #expect(!json.contains("next_cursor"), "a single page has no next cursor: \(json)")
        let xml = String(decoding: try Envelope.success(window).xmlData(), as: UTF8.self)
        #expect(xml.contains("<envelope>") && xml.contains("<product_uid>P-19</product_uid>"))
        await f.close()
    }

    @Test func permissionsLimitQueriesAndUpdatesToTheCallersFactoriesAndKinds() async throws {
        let f = try await RecordsFixture.open(organisation: .factories(["F-KM-02", "F-QJ-01"]))
        _ = try await f.platform.records.uploadBatch([RecordsFixture.production(1), RecordsFixture.production(2, factory: "F-QJ-01"),
                                                     RecordsFixture.inspection(1)], token: f.rootToken)
        let op = try await f.user("line-op", roles: [.operator], scope: .factories(["F-KM-02"]))
        let viewer = try await f.user("viewer1", roles: [.viewer], scope: .factories(["F-QJ-01"]))
        let q = f.platform.records
        let mine = try await q.query(RecordQuery(), token: op)
        #expect(mine.records.map(\.recordID) == ["P-1"], "an operator sees its factory's production records, not inspections or other factories")
        let denied = await #expect(throws: AppError.self) { try await q.query(RecordQuery(factoryUID: "F-QJ-01"), token: op) }
        #expect(denied?.code == .permissionDenied)
        let kind = await #expect(throws: AppError.self) { try await q.query(RecordQuery(kind: .qualityInspection), token: op) }
        #expect(kind?.code == .permissionDenied)
        let node = await #expect(throws: AppError.self) { try await q.query(RecordQuery(factoryUID: "F-XX-09"), token: f.rootToken) }
        #expect(node?.details["scope"] == "node")
        let upload = await #expect(throws: AppError.self) {
            try await q.upload(RecordsFixture.production(3, factory: "F-QJ-01"), token: op)
        }
        #expect(upload?.code == .permissionDenied)
        let update = await #expect(throws: AppError.self) {
            try await q.update(recordID: "P-2", fields: ["propara.pro_temperature": "1"], token: viewer)
        }
        #expect(update?.code == .permissionDenied)
        let history = await #expect(throws: AppError.self) { try await q.history(recordID: "P-2", token: op) }
        #expect(history?.code == .recordNotFound, "another factory's record is answered as one that does not exist")
        #expect(try q.index.history("P-2").count == 1)
        await f.close()
    }

    @Test func anUpdateAppendsAVersionNotifiesAndAFailedConditionLeavesNoTrace() async throws {
        let f = try await RecordsFixture.open()
        let q = f.platform.records
        _ = try await q.upload(RecordsFixture.production(1), token: f.rootToken)
        let stream = try await q.changes(token: f.rootToken)
        let collector = ChangeCollector()
        try await q.addDelegate(collector, token: f.rootToken)
        let receipt = try await q.update(recordID: "P-1", fields: ["propara.pro_temperature": "72.0", "extensions.note": "recalibrated"],
                                         condition: .expectedVersion(1), token: f.rootToken)
        #expect(receipt.version == 2)
        try receipt.verify(against: f.platform.trustAnchor)
        let history = try await q.history(recordID: "P-1", token: f.rootToken)
        #expect(history.map(\.version) == [1, 2])
        #expect(history[1].changedFields == ["extensions.note", "propara.pro_temperature"])
        if case .production(let p) = history[0].record { #expect(p.processParameters.temperature == "71.5") }
        if case .production(let p) = history[1].record { #expect(p.processParameters.temperature == "72.0") }

        var iterator = stream.makeAsyncIterator()
        let change = try #require(await iterator.next())
        #expect(change.before?.version == 1 && change.after.version == 2)
        for _ in 0..<200 where await collector.changes.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await collector.changes.first?.after.version == 2)

        // A failed condition: no transaction, no state change, no new version.
        let head = await f.platform.node.head
        let stateBefore = try f.platform.records.store.stateValue(forKey: RecordStateEntry.key("P-1"))
        let failed = await #expect(throws: AppError.self) {
            try await q.update(recordID: "P-1", fields: ["propara.pro_temperature": "99"], condition: .expectedVersion(1), token: f.rootToken)
        }
        #expect(failed?.code == .conditionFailed)
        let predicate = await #expect(throws: AppError.self) {
            try await q.update(recordID: "P-1", fields: ["propara.pro_temperature": "99"], condition: .field("propara.pro_temperature", equals: "71.5"),
                               token: f.rootToken)
        }
        #expect(predicate?.code == .conditionFailed)
        let invalid = await #expect(throws: AppError.self) {
            try await q.update(recordID: "P-1", fields: ["production_time": "yesterday"], token: f.rootToken)
        }
        #expect(invalid?.code == .invalidFieldValue)
        #expect(try f.platform.records.store.stateValue(forKey: RecordStateEntry.key("P-1")) == stateBefore)
        #expect(try await q.history(recordID: "P-1", token: f.rootToken).count == 2)
        let blocks = try f.platform.records.store.committedBlocks(from: Height(head.height.rawValue + 1), through: await f.platform.node.head.height)
        #expect(blocks.allSatisfy { $0.block.transactions.isEmpty }, "no transaction was sent for the failed updates")
        await f.close()
    }

    @Test func anUpdateOrUploadWhoseCommitTimesOutLeavesNoTraceEvenAfterTheNodeCatchesUp() async throws {
        let f = try await RecordsFixture.open()
        let q = f.platform.records
        _ = try await q.upload(RecordsFixture.production(1), token: f.rootToken)
        let stateBefore = try q.store.stateValue(forKey: RecordStateEntry.key("P-1"))
        let stream = try await q.changes(token: f.rootToken)

        // The node cannot commit what comes next: those transactions wait in its mempool behind a nonce gap.
        let gap = try await q.openNonceGapForTesting(token: f.rootToken)
        let started = ContinuousClock.now
        let update = await #expect(throws: AppError.self) {
            try await q.update(recordID: "P-1", fields: ["propara.pro_temperature": "99.0"], condition: .expectedVersion(1), token: f.rootToken,
                               timeout: .milliseconds(300))
        }
        #expect(update?.code == .confirmationTimeout)
        #expect(update?.details["final"] == "true")
        // Well under the platform's 20 s; not tighter, since the whole suite shares two cores.
        #expect(ContinuousClock.now - started < .seconds(15), "answered at the deadline (0.3 s), not after the platform's 20 s")
        let upload = await #expect(throws: AppError.self) {
            try await q.upload(RecordsFixture.production(2), token: f.rootToken, timeout: .milliseconds(300))
        }
        #expect(upload?.code == .confirmationTimeout)
        #expect(upload?.details["committedRecords"] == "0")

        // The node catches up: both transactions reach a block, stamped after their deadlines, and fail there.
        _ = try await q.fillNonceGapForTesting(gap, token: f.rootToken)
        for error in [update, upload] {
            let txID = try Digest(hex: try #require(error?.details["transactionID"]))
            let receipt = try await f.platform.node.waitForReceipt(txID, timeout: .seconds(60))
            #expect(receipt.status == UInt64(AppError.Code.deadlineExceeded.rawValue))
        }
        try q.syncIndex()
        #expect(try q.store.stateValue(forKey: RecordStateEntry.key("P-1")) == stateBefore)
        #expect(try q.store.stateValue(forKey: RecordStateEntry.key("P-2")) == nil)
        #expect(try await q.history(recordID: "P-1", token: f.rootToken).map(\.version) == [1])
        #expect(try q.index.current("P-2") == nil)
        #expect(try await q.query(RecordQuery(), token: f.rootToken).records.map(\.recordID) == ["P-1"])

        // Nothing was left behind: the record uploads again, and the first change anyone was told of is that upload.
        let again = try await q.upload(RecordsFixture.production(2), token: f.rootToken)
        #expect(again.version == 1)
        var changes = stream.makeAsyncIterator()
        #expect(await changes.next()?.recordID == "P-2")
        await f.close()
    }

    @Test func onAClusterATimeoutIsAnsweredOnceABlockAfterTheDeadlineIsCommitted() async throws {
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.writesLog = false
        options.clock = .simulated
        let platform = try await Platform.open(.cluster(nodes: 4, seed: 9), options: options)
        _ = try await platform.identity.createAdministrator(user: "root", password: RecordsFixture.password, roles: [.superAdmin], token: nil)
        let token = try await platform.identity.login(user: "root", password: RecordsFixture.password, oneTimeCode: nil).token
        let q = platform.records
        let gap = try await q.openNonceGapForTesting(token: token)
        let error = await #expect(throws: AppError.self) {
            // 1.5 s: the deadline, and also how long the service may wait after it for a committed block past it.
            try await q.upload(RecordsFixture.production(1), token: token, timeout: .milliseconds(1_500))
        }
        #expect(error?.code == .confirmationTimeout && error?.details["final"] == "true", "\(String(describing: error))")
        let deadline = try #require(error?.details["deadline"].flatMap(UInt64.init))
        #expect(try #require(Settlement.committedHeadTime(q.store)).rawValue > deadline)
        _ = try await q.fillNonceGapForTesting(gap, token: token)
        let receipt = try await platform.node.waitForReceipt(try Digest(hex: try #require(error?.details["transactionID"])), timeout: .seconds(60))
        #expect(receipt.status == UInt64(AppError.Code.deadlineExceeded.rawValue))
        #expect(try q.store.stateValue(forKey: RecordStateEntry.key("P-1")) == nil)
        await platform.close()
    }

    @Test func settlementWaitsForCertaintyBeforeCallingATransactionExpired() {
        let d = Timestamp(millisecondsSince1970: 1_000)
        let r = Receipt(transactionID: HashAlgorithm.sha256.hash([1]), status: Receipt.success, output: [], logs: [], costUnits: 0)
        typealias S = Settlement
        #expect(S.decide(receipt: r, deadline: d, now: .init(millisecondsSince1970: 5_000), committedHeadTime: nil, rule: .atomicCommits) == .receipt(r))
        #expect(S.decide(receipt: nil, deadline: d, now: d, committedHeadTime: nil, rule: .atomicCommits) == .wait)
        #expect(S.decide(receipt: nil, deadline: d, now: .init(millisecondsSince1970: 1_001), committedHeadTime: nil, rule: .atomicCommits) == .expired)
        // A replicated chain: a block proposed before the deadline may still be decided until one stamped after it commits.
        let later = Timestamp(millisecondsSince1970: 9_000)
        #expect(S.decide(receipt: nil, deadline: d, now: later, committedHeadTime: d, rule: .committedBlockAfterDeadline) == .wait)
        #expect(S.decide(receipt: nil, deadline: d, now: later, committedHeadTime: nil, rule: .committedBlockAfterDeadline) == .wait)
        #expect(S.decide(receipt: nil, deadline: d, now: later, committedHeadTime: .init(millisecondsSince1970: 1_001),
                         rule: .committedBlockAfterDeadline) == .expired)
    }

    @Test func theAccessTokenIsNeverStoredInBlocksStateIndexOrLog() async throws {
        let f = try await RecordsFixture.open()
        // The Appendix A record carries the token in its `token` field: put the real one there.
        let text = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path + "/Examples/data/production-records.json", encoding: .utf8)
        let parsed = try RecordIngest.parse(Data(text.replacingOccurrences(of: "demo-token", with: f.rootToken).utf8), format: .json)
        #expect(parsed.token == f.rootToken)
        _ = try await f.platform.records.uploadBatch(parsed.records.map(\.record), token: try #require(parsed.token))
        _ = try await f.platform.records.update(recordID: parsed.records[0].record.recordID, fields: ["propara.pro_pressure": "99.0"], token: f.rootToken)
        let tokens = [f.rootToken] + (parsed.token.map { [$0] } ?? [])
        let store = f.platform.records.store
        let head = await f.platform.node.head.height
        await f.platform.close()
        var haystack = [UInt8]()
        for name in try FileManager.default.contentsOfDirectory(atPath: f.directory) {
            haystack += (try? Data(contentsOf: URL(fileURLWithPath: f.directory + "/" + name))).map { Array($0) } ?? []
        }
        for height in 1...head.rawValue { haystack += try store.block(atHeight: Height(height)).encoded }
        for (k, v) in try store.stateEntries() { haystack += k + v }
        #expect(haystack.count > 10_000)
        for token in tokens {
            for piece in [token, String(token.suffix(24))] {
                #expect(haystack.firstRange(of: Array(piece.utf8)) == nil, "token material found in the data folder")
            }
        }
        let log = try String(contentsOfFile: f.directory + "/platform.log", encoding: .utf8)
        #expect(log.contains("op=upload") && log.contains("op=update"))
        try? FileManager.default.removeItem(atPath: f.directory)
    }

    @Test func theIndexRebuildsFromTheChainAndAReopenedFolderContinuesTheChain() async throws {
        let f = try await RecordsFixture.open()
        _ = try await f.platform.records.uploadBatch((0..<50).map { RecordsFixture.production($0) }, token: f.rootToken)
        _ = try await f.platform.records.update(recordID: "P-7", fields: ["pro_op_info.pro_op_record": "shift B"], token: f.rootToken)
        let before = try await f.platform.records.query(RecordQuery(limit: 1000), token: f.rootToken)
        #expect(try await f.platform.records.rebuildIndex(token: f.rootToken) == 51)
        let after = try await f.platform.records.query(RecordQuery(limit: 1000), token: f.rootToken)
        #expect(before == after)
        await f.platform.close()

        let again = try await RecordsFixture.open(directory: f.directory)
        #expect(again.platform.trustAnchor == f.platform.trustAnchor)
        let receipt = try await again.platform.records.upload(RecordsFixture.production(99), token: again.rootToken)
        try receipt.verify(against: f.platform.trustAnchor)
        #expect(try await again.platform.records.history(recordID: "P-7", token: again.rootToken).count == 2)
        await again.close()
    }

    @Test func queryPlansUseACompositeIndexForEveryFilter() throws {
        let index = try RecordIndex(path: ":memory:", ledger: LedgerStore.inMemory())
        let queries: [(RecordQuery, String)] = [
            (RecordQuery(batchNumber: "B"), "records_by_batch"),
            (RecordQuery(from: RecordTime(millisecondsSince1970: 1), to: RecordTime(millisecondsSince1970: 9)), "records_by_time"),
            (RecordQuery(productUID: "P"), "records_by_product"), (RecordQuery(deviceID: "D"), "records_by_device"),
            (RecordQuery(factoryUID: "F"), "records_by_factory"), (RecordQuery(location: "L"), "records_by_location"),
            (RecordQuery(operatorID: "O"), "records_by_operator"), (RecordQuery(kind: .equipment), "records_by_kind"),
            (RecordQuery(order: .timeDescending), "records_by_time"),
            (RecordQuery(location: "L", order: .timeDescending,
                         cursor: RecordIndex.encodeCursor(time: 5, id: "P-1", query: RecordQuery(location: "L", order: .timeDescending))),
             "records_by_location"),
        ]
        for (q, name) in queries {
            let plan = try index.queryPlan(q).joined(separator: "; ")
            #expect(plan.contains("SEARCH c USING INDEX \(name)") || plan.contains("SCAN c USING INDEX \(name)"), "\(plan)")
            // The index gives the time order (records sharing one time are ordered by ID after the read).
            #expect(!plan.contains("TEMP B-TREE"), "sorting must come from the index: \(plan)")
            #expect(!plan.contains("SCAN v") && !plan.contains("SCAN b") && !plan.contains("SCAN u"), "joins must be key lookups: \(plan)")
        }
    }
}
