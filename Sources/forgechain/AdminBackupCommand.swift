import AppAPI
import ArgumentParser

/// `forgechain admin backup FILE`: the identity database of a data folder, copied for safekeeping.
struct AdminBackup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the identity database (accounts, revoked tokens) to a new file, mode 0600.",
        discussion: """
            Ledger backups (`ledger backup`) hold no identity data: accounts and token revocations live in the data \
            folder's identity.sqlite. TOTP secrets and the token key stay sealed under the folder's keystore, which \
            the copy does not hold. Needs an administrator allowed to manage administrators.
            """
    )
    @OptionGroup var options: DataOptions
    @Argument(help: "The backup file to create (must not exist).") var file: String

    func run() async throws {
        try await CLI.run(options) { platform in
            try await platform.backupIdentity(to: file, token: try await options.login(platform))
            try CLI.printJSON(["backup": file])
        }
    }
}
