@testable import AppAPI
import Foundation
@testable import LedgerCore
import Testing

/// A record index that cannot catch up with the ledger is not hidden: the call that needs it fails with 5204, a
/// query answers from the index as it is and says how far behind it is, and the catch-up is retried until the
/// index reaches the head again.
@Suite struct RecordIndexFreshnessTests {
    @Test func aQueryOverAnIndexThatCannotCatchUpReportsHowFarBehindItIsAndTheIndexCatchesUpOnceTheFaultIsGone() async throws {
        let f = try await RecordsFixture.open()
        let records = f.platform.records
        _ = try await records.upload(RecordsFixture.production(1), token: f.rootToken)
        let fresh = try await records.query(RecordQuery(), token: f.rootToken)
        #expect(fresh.records.map(\.recordID) == ["P-1"])
        #expect(fresh.behind == 0 && fresh.indexError == nil && fresh.indexedHeight == fresh.headHeight && fresh.headHeight > 0)

        // Another connection makes every write of the index's progress fail, as a damaged index file would.
        let db = try SQLiteConnection(path: f.directory + "/records-index.sqlite", mode: .readWrite)
        try db.execute("CREATE TRIGGER injected_fault BEFORE INSERT ON records_meta BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
        // A committed block the index now has to catch up with.
        let gap = try await records.openNonceGapForTesting(token: f.rootToken)
        let filler = try await records.fillNonceGapForTesting(gap, token: f.rootToken)
        _ = try await records.node.waitForReceipt(filler, timeout: .seconds(60))

        // A call that needs the index fails with the catch-up's code.
        let refused = await #expect(throws: AppError.self) { _ = try await records.upload(RecordsFixture.production(2), token: f.rootToken) }
        #expect(refused?.code == .indexFailure, "\(String(describing: refused))")

        // A query answers from the index as it is, and says so.
        let stale = try await records.query(RecordQuery(), token: f.rootToken)
        #expect(stale.records.map(\.recordID) == ["P-1"])
        #expect(stale.behind >= 1 && stale.indexedHeight >= fresh.indexedHeight && stale.indexedHeight < stale.headHeight)
        #expect(stale.indexError?.code == .indexFailure, "\(String(describing: stale.indexError))")
        #expect(stale.indexError?.details["cause"] == String(LedgerError.Code.sqlite.rawValue))
        let json = try #require(try JSONSerialization.jsonObject(with: Envelope.success(stale).jsonData()) as? [String: Any])
        let data = try #require(json["data"] as? [String: Any])
        #expect((data["behind"] as? Int).map(UInt64.init) == stale.behind)
        #expect((data["index_error"] as? [String: Any])?["code"] as? Int == Int(AppError.Code.indexFailure.rawValue))
        #expect(records.indexFollower.failure?.code == .indexFailure)

        // Once the fault is gone, the background retry brings the index to the head without any further call.
        try db.execute("DROP TRIGGER injected_fault")
        let head = try #require(records.store.head).height.rawValue
        let deadline = ContinuousClock.now + .seconds(60)
        while try records.index.indexedHeight < head, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try records.index.indexedHeight >= head)
        #expect(records.indexFollower.failure == nil)
        let caughtUp = try await records.query(RecordQuery(), token: f.rootToken)
        #expect(caughtUp.behind == 0 && caughtUp.indexError == nil && caughtUp.indexedHeight >= head)
        _ = try await records.upload(RecordsFixture.production(2), token: f.rootToken)
        #expect(try await records.query(RecordQuery(), token: f.rootToken).records.map(\.recordID) == ["P-1", "P-2"])
        await f.close()
    }

    /// Records that committed are confirmed even when the index then fails to catch up: the receipts come
    /// from the ledger, and the index's lag shows in queries until it catches up.
    @Test func recordsOnChainAreConfirmedWhileTheIndexCannotCatchUp() async throws {
        let f = try await RecordsFixture.open()
        let records = f.platform.records
        _ = try await records.upload(RecordsFixture.production(0), token: f.rootToken)
        #expect(try await records.query(RecordQuery(), token: f.rootToken).behind == 0)
        // The index is at the head, so the submission's own check passes; the fault hits the catch-up after the commit.
        let db = try SQLiteConnection(path: f.directory + "/records-index.sqlite", mode: .readWrite)
        try db.execute("CREATE TRIGGER injected_fault BEFORE INSERT ON records_meta BEGIN SELECT RAISE(ABORT, 'injected fault'); END")
        let handle = try await records.submit([RecordsFixture.production(1), RecordsFixture.production(2)], token: f.rootToken)
        let receipts = try await handle.confirmation
        #expect(receipts.map(\.recordID) == ["P-1", "P-2"])
        for receipt in receipts { try receipt.verify(against: f.platform.trustAnchor) }
        let stale = try await records.query(RecordQuery(), token: f.rootToken)
        #expect(stale.behind >= 1 && stale.indexError?.code == .indexFailure)
        try db.execute("DROP TRIGGER injected_fault")
        let deadline = ContinuousClock.now + .seconds(60)
        while try await records.query(RecordQuery(), token: f.rootToken).records.count < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await records.query(RecordQuery(), token: f.rootToken).records.map(\.recordID) == ["P-0", "P-1", "P-2"])
        await f.close()
    }
}
