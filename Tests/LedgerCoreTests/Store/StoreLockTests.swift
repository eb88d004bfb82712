import Foundation
import LedgerCore
import Testing

/// A store opened for writing belongs to one handle: a second writing open, in this process or another, fails at
/// once with `.storeLocked` (1520), and the lock goes with `close()`, with the handle, and with a killed process.
struct StoreLockTests {
    /// The bytes of the store's database file and its write-ahead log.
    static func files(_ path: String) -> [Data?] {
        [path, path + "-wal"].map { FileManager.default.contents(atPath: $0) }
    }

    @Test func aSecondOpenOfTheSameStoreFailsWithStoreLockedAndChangesNothing() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        let store = try LedgerStore(path: path)
        var chain = try TestChain()
        try chain.extend(store, blocks: 3, changes: sampleChanges)
        let before = Self.files(path)

        let error = #expect(throws: LedgerError.self) { try LedgerStore(path: path) }
        #expect(error?.code == .storeLocked)
        #expect(error?.numericCode == 1520)
        #expect(error?.details["path"] == path)
        #expect(error?.details["lockFile"] == path + ".lock")
        #expect(error?.details["pid"] == String(getpid()))
        #expect(error?.message.contains(path + ".lock") == true && error?.message.contains("PID \(getpid())") == true, "\(String(describing: error))")
        // A configuration that would migrate or change the algorithm is refused before anything is read.
        let other = #expect(throws: LedgerError.self) { try LedgerStore(path: path, configuration: .init(hashAlgorithm: .sm3)) }
        #expect(other?.code == .storeLocked)

        #expect(Self.files(path) == before)
        #expect(store.head?.height == 2)
        try chain.extend(store, blocks: 1, changes: sampleChanges)   // the holder keeps writing
        #expect(store.head?.height == 3)
        #expect(String(decoding: FileManager.default.contents(atPath: path + ".lock") ?? Data(), as: UTF8.self) == "\(getpid())\n")
        let mode = try FileManager.default.attributesOfItem(atPath: path + ".lock")[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
    }

    @Test func aStoreOpensAgainOnceTheFirstHandleIsClosedOrReleased() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        var chain = try TestChain()
        let first = try LedgerStore(path: path)
        try chain.extend(first, blocks: 2)
        first.close()
        first.close()   // idempotent

        var second: LedgerStore? = try LedgerStore(path: path)
        #expect(second?.head?.height == 1)
        // The closed handle still reads, and refuses every write.
        #expect(try first.blockHash(atHeight: 1) == second?.head?.hash)
        let (block, receipts) = try chain.next()
        #expect((#expect(throws: LedgerError.self) { try first.append(block, receipts: receipts) })?.code == .storeClosed)
        #expect((#expect(throws: LedgerError.self) { try first.rollback(toHeight: 0) })?.code == .storeClosed)
        #expect((#expect(throws: LedgerError.self) { try first.saveConsensusState([1]) })?.code == .storeClosed)
        try #require(second).append(block, receipts: receipts)
        #expect(String(decoding: FileManager.default.contents(atPath: path + ".lock") ?? Data(), as: UTF8.self) == "\(getpid())\n")

        // Releasing the last reference closes it too.
        second = nil
        let third = try LedgerStore(path: path)
        #expect(third.head?.height == 2)
        third.close()
        #expect(FileManager.default.contents(atPath: path + ".lock")?.isEmpty == true, "a closed store leaves no PID behind")
    }

    @Test func readOnlyOpensAndOnlineBackupsRunBesideTheWriter() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        let store = try LedgerStore(path: path)
        var chain = try TestChain()
        try chain.extend(store, blocks: 4, changes: sampleChanges)

        let reader = try LedgerStore(path: path, configuration: .init(readOnly: true))
        #expect(reader.head == store.head)
        #expect(try reader.checkIntegrity(.full).blocksChecked == 4)
        let info = try reader.backup(to: dir.path("backup.sqlite"))
        #expect(info.height == 3)
        #expect(try LedgerStore.verifyBackup(at: info.path).head == 3)
        try chain.extend(store, blocks: 1, changes: sampleChanges)
        #expect(store.head?.height == 4)
    }

    @Test func restoreRefusesAStoreThatIsOpenForWritingAndReplacesNothing() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        var chain = try TestChain()
        let backup = dir.path("backup.sqlite")
        do {
            let old = try LedgerStore(path: dir.path("old.sqlite"))
            var oldChain = try TestChain()
            try oldChain.extend(old, blocks: 2)
            try old.backup(to: backup)
        }
        let live = try LedgerStore(path: path)
        try chain.extend(live, blocks: 5, changes: sampleChanges)
        let before = Self.files(path)

        let error = #expect(throws: LedgerError.self) { try LedgerStore.restore(backup: backup, to: path) }
        #expect(error?.code == .storeLocked)
        #expect(error?.details["pid"] == String(getpid()))
        #expect(Self.files(path) == before)
        #expect(!FileManager.default.fileExists(atPath: path + ".restoring"))
        #expect(live.head?.height == 4)
        #expect(try live.checkIntegrity(.full).blocksChecked == 5)

        live.close()
        #expect(try LedgerStore.restore(backup: backup, to: path).head == 1)
        #expect(try LedgerStore(path: path).head?.height == 1)   // the restore let go of the lock
    }

    @Test func aStoreHeldByAChildProcessIsRefusedAndOpensAtOnceAfterSIGKILL() throws {
        #expect(FileManager.default.isExecutableFile(atPath: StoreCrashTests.probe.path), "build the crash probe: swift build")
        let dir = try TemporaryDirectory()
        let path = dir.path("ledger.sqlite")
        let process = Process()
        process.executableURL = StoreCrashTests.probe
        process.arguments = [path, "--transactions", "5"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        // The probe reports each appended height: once one line is out, it holds the store.
        var text = ""
        while !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        try #require(text.contains("\n"), "the probe wrote no block")

        let error = #expect(throws: LedgerError.self) { try LedgerStore(path: path) }
        #expect(error?.code == .storeLocked)
        #expect(error?.details["pid"] == String(process.processIdentifier), "\(String(describing: error))")
        #expect(error?.message.contains("process \(process.processIdentifier)") == true, "\(String(describing: error))")

        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        let clock = ContinuousClock()
        var store: LedgerStore?
        let elapsed = try clock.measure { store = try LedgerStore(path: path, configuration: .init(quickCheckBlocks: 1, sqliteQuickCheckOnOpen: false)) }
        #expect(elapsed < .seconds(2), "opening after the kill took \(elapsed)")
        #expect(store?.head != nil)
    }
}
