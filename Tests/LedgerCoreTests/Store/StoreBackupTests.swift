import Foundation
import Testing
import LedgerCore

struct StoreBackupTests {
    @Test func backupTakenDuringAppendsRestoresToAConsistentHeight() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        try chain.extend(store, blocks: 50, transactions: 20, changes: sampleChanges)
        // The writer runs on its own thread, so it and the backups really overlap
        // even when the test pool is saturated by other suites.
        let finished = DispatchSemaphore(value: 0)
        let start = chain
        let writer = Thread {
            var chain = start
            for _ in 0..<250 {
                _ = try? chain.extend(store, blocks: 1, transactions: 20, changes: sampleChanges)
                usleep(1_000)
            }
            finished.signal()
        }
        writer.start()
        var infos = [BackupInfo]()
        let deadline = Date(timeIntervalSinceNow: 60)
        while store.head!.height == 49 {
            guard Date() < deadline else {
                Issue.record("the writer thread appended no block within 60 s")
                break
            }
            usleep(1_000)
        }
        repeat {
            infos.append(try store.backup(to: dir.path("backup-\(infos.count).sqlite"), pagesPerStep: 8))
            usleep(40_000)
        } while store.head!.height < 299 && infos.count < 3
        finished.wait()
        #expect(store.head?.height == 299)
        // At least one backup was taken while blocks were being appended.
        #expect(infos.contains { $0.height! > 49 && $0.height! < 299 }, "\(infos.map(\.height))")
        for (i, info) in infos.enumerated() {
            let h = try #require(info.height)
            let report = try LedgerStore.verifyBackup(at: info.path)
            #expect(report.head == h)
            #expect(report.blocksChecked == Int(h.rawValue) + 1)
            let target = dir.path("restored-\(i).sqlite")
            try LedgerStore.restore(backup: info.path, to: target)
            let restored = try LedgerStore(path: target)
            #expect(restored.head?.height == h)
            #expect(restored.head?.hash == (try store.blockHash(atHeight: h)))
            #expect(try restored.stateEntries().map(\.value) == store.stateEntries(atHeight: h).map(\.value))
            // A restored store keeps appending.
            guard h < 299 else { continue }
            let block = try store.block(atHeight: h.next)
            try restored.append(block, receipts: try store.receipts(atHeight: h.next), stateChanges: sampleChanges(h.next))
        }
    }

    @Test func restoreReplacesADamagedStore() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        var chain = try TestChain()
        do {
            let store = try LedgerStore(path: path)
            try chain.extend(store, blocks: 20)
            try store.backup(to: dir.path("b.sqlite"))
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.removeLast(8192)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect((#expect(throws: LedgerError.self) { try LedgerStore(path: path) })?.code == .truncatedFile)
        let report = try LedgerStore.restore(backup: dir.path("b.sqlite"), to: path)
        #expect(report.head == 19)
        #expect(try LedgerStore(path: path).head?.height == 19)
    }

    @Test func damagedBackupFailsVerificationAndIsNotRestored() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        var chain = try TestChain()
        let store = try LedgerStore(path: path)
        try chain.extend(store, blocks: 30)
        let info = try store.backup(to: dir.path("b.sqlite"))
        try rawSQL(info.path, "DELETE FROM blocks WHERE height = 7")
        let error = #expect(throws: LedgerError.self) { try LedgerStore.verifyBackup(at: info.path) }
        #expect(error?.code == .missingBlock)
        #expect(error?.details["height"] == "7")
        let target = dir.path("other.sqlite")
        #expect(throws: LedgerError.self) { try LedgerStore.restore(backup: info.path, to: target) }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test func scheduleBacksUpEveryNBlocksAndKeepsTheLastK() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        let scheduler = BackupScheduler(store: store, schedule: BackupSchedule(everyBlocks: 10, keep: 2, directory: dir.path("backups")))
        var chain = try TestChain()
        var taken = [Height]()
        for _ in 0..<35 {
            try chain.extend(store, blocks: 1)
            if let info = try scheduler.runIfDue() { taken.append(try #require(info.height)) }
        }
        #expect(taken == [9, 19, 29])
        #expect(scheduler.backups().map { ($0 as NSString).lastPathComponent } == ["ledger-000000000019.sqlite", "ledger-000000000029.sqlite"])
        for file in scheduler.backups() { try LedgerStore.verifyBackup(at: file) }
    }

    @Test func scheduleBacksUpAfterTSecondsWhenThereAreNewBlocks() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        let scheduler = BackupScheduler(store: store, schedule: BackupSchedule(everySeconds: 60, keep: 3, directory: dir.path("backups")))
        var chain = try TestChain()
        let t0 = ContinuousClock.now
        try chain.extend(store, blocks: 3)
        #expect(try scheduler.runIfDue(now: t0) == nil)                  // the clock starts
        #expect(try scheduler.runIfDue(now: t0 + .seconds(30)) == nil)
        #expect(try scheduler.runIfDue(now: t0 + .seconds(61))?.height == 2)
        #expect(try scheduler.runIfDue(now: t0 + .seconds(200)) == nil)  // nothing new
        try chain.extend(store, blocks: 1)
        #expect(try scheduler.runIfDue(now: t0 + .seconds(201))?.height == 3)
    }

    @Test func inMemoryStoreCannotBeBackedUpToAFile() throws {
        let store = try LedgerStore.inMemory()
        let error = #expect(throws: LedgerError.self) { try store.backup(to: "/tmp/never.sqlite") }
        #expect(error?.code == .backupFailed)
    }
}
