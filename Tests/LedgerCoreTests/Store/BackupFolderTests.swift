import Foundation
import LedgerCore
import Testing

/// A backup folder that cannot be created fails the backup with that cause, not with a later error about the file.
struct BackupFolderTests {
    @Test func aBackupFolderThatCannotBeCreatedFailsTheBackupNamingTheFolder() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        try chain.extend(store, blocks: 2)
        // A regular file where a parent folder should be: no folder can be made below it.
        #expect(FileManager.default.createFile(atPath: dir.path("not-a-folder"), contents: Data([1])))
        let folder = dir.path("not-a-folder") + "/backups"
        let scheduler = BackupScheduler(store: store, schedule: BackupSchedule(everyBlocks: 1, keep: 2, directory: folder))
        let error = #expect(throws: LedgerError.self) { try scheduler.runIfDue() }
        #expect(error?.code == .backupFailed)
        #expect(error?.details["path"] == folder, "\(String(describing: error))")
        #expect(error?.message.contains("cannot create the backup folder") == true, "\(String(describing: error))")
    }
}
