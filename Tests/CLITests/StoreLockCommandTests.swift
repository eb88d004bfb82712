import AppAPI
import Foundation
import LedgerCore
import Testing

/// A data folder belongs to one node: while a platform holds it, commands that would run a node of their own or
/// write the ledger fail at once with `.storeLocked` (1520), and the read-only ledger commands keep working.
/// Runs the real binary, as ``CLITests`` do.
struct StoreLockCommandTests {
    @Test func commandsOnAFolderAnotherProcessHoldsFailAtOnceWithStoreLocked() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let samples = ForgeChainProcess.samples.appendingPathComponent("production-records.json").path
        let ledger = cli.data + "/ledger.sqlite"

        var options = Platform.Options()
        options.passphrase = try Passphrase(ForgeChainProcess.passphrase)
        let platform = try await Platform.open(.singleNode(directory: cli.data), options: options)
        // Refused by the lock file before SQLite is opened (so never after SQLite's busy wait): code 1520 naming the
        // lock file and its holder, not a busy store. No wall-clock bound: a loaded machine starts processes slowly.
        let imported = try await cli.run(["records", "import", samples], credentials: root)
        #expect(imported.status == 1 && imported.code == 1520, "\(imported)")
        #expect(imported.message.contains(ledger + ".lock") && imported.message.contains("process \(getpid())"), "\(imported)")
        #expect(imported.details["pid"] == String(getpid()) && imported.details["path"] == ledger, "\(imported)")

        let rollback = try await cli.run(["ledger", "rollback", cli.data, "--to", "0"], withData: false)
        #expect(rollback.status == 1 && rollback.stderr.hasPrefix("error 1520: store \(ledger) is in use"), "\(rollback)")
        let restore = try await cli.run(["ledger", "restore", cli.path("none.sqlite"), "--to", cli.data], withData: false)
        #expect(restore.status == 1 && restore.stderr.hasPrefix("error 1520: "), "\(restore)")

        // Read-only commands run beside the live node.
        let info = try await cli.run(["ledger", "info", cli.data], withData: false)
        #expect(info.status == 0 && info.stdout.contains("head height"), "\(info)")
        let verify = try await cli.run(["ledger", "verify", cli.data], withData: false)
        #expect(verify.status == 0, "\(verify)")
        let backup = try await cli.run(["ledger", "backup", cli.data, "--to", cli.path("backup.sqlite")], withData: false)
        #expect(backup.status == 0, "\(backup)")

        // The platform still owns a working chain, and once it is closed the folder is free.
        let session = try await platform.identity.login(user: root.0, password: root.1, oneTimeCode: nil)
        #expect(!session.token.isEmpty)
        await platform.close()
        let again = try await cli.run(["records", "import", samples], credentials: root)
        #expect(again.status == 0, "\(again)")
    }
}
