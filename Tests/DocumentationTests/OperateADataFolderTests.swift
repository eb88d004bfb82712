import Foundation
import LedgerCore
import LedgerCoreTesting
import Testing

// The code of `Sources/LedgerStorage/LedgerStorage.docc/OperateADataFolder.md`, verbatim.

/// Writes `blocks` blocks of 10 transactions to the store at `path` (standing in for a node).
func appendSampleBlocks(_ blocks: Int, to path: String) throws {
    let store = try LedgerStore(path: path)
    for prepared in try Workloads.ledgerChain(blocks: blocks, transactionsPerBlock: 10) {
        try store.append(prepared.block, receipts: prepared.receipts, stateChanges: prepared.stateChanges)
    }
}

struct OperateADataFolderTests {
    @Test func backupVerifyRollbackRestoreAndScheduleOnOneFolder() throws {
        let folder = DocumentationSamples.temporaryFolder("data")
        try FileManager.default.createDirectory(atPath: folder + "/backups", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try appendSampleBlocks(5, to: folder + "/ledger.sqlite")   // heights 0...4

        let ledgerPath = folder + "/ledger.sqlite"
        let backupPath = folder + "/backups/ledger-4.sqlite"
        do {
            let store = try LedgerStore(path: ledgerPath)

            // Back up while the store stays open (a node may keep appending): one consistent snapshot.
            let info = try store.backup(to: backupPath)
            print("backup at height \(info.height!), \(info.bytes) bytes")

            // Verify the backup: the full check, read-only.
            let report = try LedgerStore.verifyBackup(at: backupPath)
            print("backup sound: head \(report.head!), \(report.blocksChecked) blocks checked")

            // Roll back to height 2; the undone transactions come back in chain order.
            let undone = try store.rollback(toHeight: Height(2))
            print("rolled back \(undone.count) transactions; head now \(store.head!.height)")
            #expect(undone.count == 20 && store.head?.height == Height(2))

            // Verify the live store: every block's hash, links, roots and indexes.
            let check = try store.checkIntegrity(.full)
            print("store sound: head \(check.head!), \(check.transactionsChecked) transactions checked")
        }   // the store is closed here: restore needs the file closed

        // Restore the backup over the ledger (the node must be stopped).
        let restored = try LedgerStore.restore(backup: backupPath, to: ledgerPath)
        print("restored: head \(restored.head!)")
        #expect(restored.head == Height(4))

        // A schedule for a running store: every 100 blocks, keep the last 3 files.
        let store = try LedgerStore(path: ledgerPath)
        let scheduler = BackupScheduler(store: store, schedule: BackupSchedule(everyBlocks: 100, keep: 3, directory: folder + "/backups"))
        if let taken = try scheduler.runIfDue() {   // call after appends or from a timer
            print("scheduled backup \(taken.path)")
        }
        #expect(scheduler.backups().count <= 3)

        // A damaged file fails verification before anything is replaced.
        let damaged = folder + "/backups/damaged.sqlite"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: backupPath))
        bytes.removeLast(bytes.count / 2)
        try bytes.write(to: URL(fileURLWithPath: damaged))
        #expect(throws: LedgerError.self) { try LedgerStore.restore(backup: damaged, to: ledgerPath) }
    }
}
