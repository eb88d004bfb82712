import AppAPI
import ArgumentParser
import Foundation
import LedgerCore

/// `forgechain keystore list|rotate`: the sealed keys of a data folder (N-S-2).
struct KeystoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keystore",
        abstract: "The data folder's sealed keys: list the entries, or seal them all under a new passphrase.",
        discussion: """
            The passphrase comes from --passphrase-file, FORGECHAIN_PASSPHRASE, or a prompt on a terminal; the new one \
            for rotate from --new-passphrase-file or FORGECHAIN_NEW_PASSPHRASE. A platform folder has one entry, platform: \
            the chain ID, the node, genesis and client keys, and the key sealing the identity database's TOTP secrets and token key.
            """,
        subcommands: [List.self, Rotate.self]
    )

    /// The folder's keystore, opened with the operator's passphrase (checked by opening the node entry).
    static func open(_ options: DataOptions) throws -> Keystore {
        let keystore = try Keystore(directory: options.data + "/keystore", passphrase: try options.passphrase())
        guard !(try keystore.names()).isEmpty else {
            throw LedgerError(.keystoreEntryMissing, "\(options.data) has no keystore entries (no platform was opened there)",
                              details: ["directory": options.data])
        }
        return keystore
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the entries (names only; the passphrase is checked).")
        @OptionGroup var options: DataOptions
        func run() async throws {
            do {
                let keystore = try KeystoreCommand.open(options)
                for name in try keystore.names() { try keystore.load(name).destroy() }
                try CLI.printJSON(["entries": try keystore.names()])
            } catch { CLI.fail(error) }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal every entry under a new passphrase (every entry is opened and sealed before any file is replaced).")
        @OptionGroup var options: DataOptions
        @Option(help: "A file whose first line is the new passphrase (or FORGECHAIN_NEW_PASSPHRASE).") var newPassphraseFile: String?
        func run() async throws {
            do {
                let keystore = try KeystoreCommand.open(options)
                let new: Passphrase
                if let newPassphraseFile {
                    new = try .file(newPassphraseFile)
                } else {
                    new = try .environment("FORGECHAIN_NEW_PASSPHRASE")
                }
                try keystore.rotate(to: new)
                try CLI.printJSON(["rotated": try keystore.names()])
            } catch { CLI.fail(error) }
        }
    }
}
