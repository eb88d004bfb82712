import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore

/// `forgechain ledger verify|backup|restore|rollback|info`: operator tools
/// for a node's ledger file.
struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Inspect, check, back up, restore and roll back a ledger store.",
        subcommands: [Verify.self, Backup.self, Restore.self, Rollback.self, Info.self]
    )

    /// Prints `error CODE [height H]: message` to stderr and exits with `code`.
    static func fail(_ error: LedgerError, exit code: Int32 = 1) -> ExitCode {
        var message = error.message
        if let h = error.details["height"], message.hasPrefix("height \(h): ") { message.removeFirst("height \(h): ".count) }
        let height = error.details["height"].map { " height \($0)" } ?? ""
        printError("error \(error.numericCode)\(height): \(message)")
        return ExitCode(code)
    }

    /// The store file a path argument names: the path itself, or `PATH/ledger.sqlite` when the path is a data
    /// folder holding one. A folder without one is passed through, and opening it fails with
    /// `.storePathIsFolder` (1519) naming the folder.
    static func storeFile(_ path: String) -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else { return path }
        let inside = (path as NSString).appendingPathComponent("ledger.sqlite")
        return FileManager.default.fileExists(atPath: inside) ? inside : path
    }

    /// Runs `body`; a `LedgerError` becomes the printed code and exit status 1.
    static func reporting(_ body: () throws(LedgerError) -> Void) throws {
        do throws(LedgerError) { try body() } catch { throw fail(error) }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the full integrity check (every block's hash, parent link, roots, index; SQLite integrity_check).",
            discussion: """
                Opens read-only. Exits 0 when the store is sound; otherwise prints 'error CODE height H: message' and exits 1. \
                On a terminal, standard error shows the blocks checked, the rate and the time left.
                """)

        @Argument(help: "The ledger database file, or a data folder (its ledger.sqlite).") var path: String
        @Flag(help: "Only the quick check of the last 16 blocks.") var quick = false

        func run() throws {
            try LedgerCommand.reporting { () throws(LedgerError) in
                let store = try LedgerStore(path: LedgerCommand.storeFile(path),
                                            configuration: .init(readOnly: true, quickCheckBlocks: 0, sqliteQuickCheckOnOpen: false))
                let progress = ProgressReporter(label: "ledger verify", unit: "blocks")
                defer { progress.finish() }
                let report = try store.checkIntegrity(quick ? .quick(lastBlocks: 16) : .full) { progress.update(completed: $0, total: $1) }
                progress.finish()
                print("ok: head \(report.head.map(\.description) ?? "none (empty)"), \(report.blocksChecked) blocks and \(report.transactionsChecked) transactions checked")
            }
        }
    }

    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take an online backup (safe while a node appends).",
            discussion: "Opens the ledger read-only, so it runs beside the node that holds it.")
        @Argument(help: "The ledger database file, or a data folder (its ledger.sqlite).") var path: String
        @Option(name: .customLong("to"), help: "The backup file to write.") var destination: String

        func run() throws {
            try LedgerCommand.reporting { () throws(LedgerError) in
                // Read-only: a writing open would take the store lock and fail beside a live node.
                let store = try LedgerStore(path: LedgerCommand.storeFile(path),
                                            configuration: .init(readOnly: true, quickCheckBlocks: 0, sqliteQuickCheckOnOpen: false))
                let info = try store.backup(to: destination)
                print("backup \(info.path): height \(info.height.map(\.description) ?? "none"), \(info.bytes) bytes")
            }
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a backup and restore it as the ledger file (the node must be stopped).")
        @Argument(help: "The backup file.") var backup: String
        @Option(name: .customLong("to"), help: "The ledger database file to replace, or a data folder (its ledger.sqlite).") var destination: String

        func run() throws {
            try LedgerCommand.reporting { () throws(LedgerError) in
                let destination = LedgerCommand.storeFile(self.destination)
                let report = try LedgerStore.restore(backup: backup, to: destination)
                print("restored \(destination): head \(report.head.map(\.description) ?? "none"), \(report.blocksChecked) blocks checked")
            }
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Roll the ledger back to a height (manual recovery); prints the undone transaction IDs in order.")
        @Argument(help: "The ledger database file, or a data folder (its ledger.sqlite).") var path: String
        @Option(name: .customLong("to"), help: "The height to keep as the new head.") var height: UInt64

        func run() throws {
            try LedgerCommand.reporting { () throws(LedgerError) in
                let store = try LedgerStore(path: LedgerCommand.storeFile(path))
                let undone = try store.rollback(toHeight: Height(height))
                for tx in undone { print(tx.id(using: store.hashAlgorithm).hex) }
                print("rolled back to height \(height); \(undone.count) transactions undone")
            }
        }
    }

    struct Info: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the head, hash algorithm and file size.",
            discussion: "On the folder of a running node or platform (its node.sock answers), the head is the running process's.")
        @Argument(help: "The ledger database file, or a data folder (its ledger.sqlite).") var path: String

        func run() async throws {
            let path = LedgerCommand.storeFile(self.path)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
            if let served = await Self.served(store: path) {
                print("file \(path) (\(size) bytes)")
                print(served.joined(separator: "\n"))
                return
            }
            try LedgerCommand.reporting { () throws(LedgerError) in
                let store = try LedgerStore(path: path, configuration: .init(readOnly: true))
                print("file \(path) (\(size) bytes)")
                print("hash algorithm \(store.hashAlgorithm.rawValue)")
                if let head = store.head {
                    print("head height \(head.height)")
                    print("head hash \(head.hash.hex)")
                    print("state root \(head.stateRoot.hex)")
                } else {
                    print("empty")
                }
            }
        }

        /// The lines after the first, as the process serving the store's folder sees its ledger; nil when no process
        /// answers on `node.sock` beside the store.
        static func served(store path: String) async -> [String]? {
            let socket = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("node.sock")
            guard FileManager.default.fileExists(atPath: socket),
                  let answer = try? await NodeControlClient(path: socket).request(["op": "ledger"], timeout: .seconds(10)),
                  answer["ok"] as? Bool == true, let algorithm = answer["hashAlgorithm"] as? String else { return nil }
            var lines = ["hash algorithm \(algorithm)"]
            if let height = answer["height"] as? Int, let head = answer["head"] as? String, let root = answer["stateRoot"] as? String {
                lines += ["head height \(height)", "head hash \(head)", "state root \(root)"]
            } else {
                lines.append("empty")
            }
            return lines
        }
    }
}
