import AppAPI
import ArgumentParser
import Foundation
import LedgerCore

/// `forgechain admin create|passwd|disable|delete|rotate-key|enroll-totp|list`: administrator accounts in a data folder (A-ID-1..4).
struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage the administrators of a data folder.",
        discussion: """
            On a folder with no administrator, the first `admin create USER --role super-admin` needs no credentials.
            Every other command logs in with --user/--password/--otp (or FORGECHAIN_USER, FORGECHAIN_PASSWORD, FORGECHAIN_OTP).
            A super-admin limited to some factories creates and changes only administrators within its own scope (5418).
            A refused login answers 5401 whatever the reason (unknown user, wrong password, locked or disabled account).
            Results print as a JSON envelope {code, message, data, details}; failures exit 1.
            """,
        subcommands: [Create.self, Passwd.self, Disable.self, Delete.self, RotateKey.self, EnrollTOTP.self, List.self, AdminBackup.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an administrator.")
        @OptionGroup var options: DataOptions
        @Argument(help: "The new user name (3-64 of A-Z a-z 0-9 . _ @ -).") var name: String
        @Option(name: .customLong("role"), help: "A role: super-admin, record-manager, operator, auditor, viewer (repeatable).") var roles: [String] = []
        @Option(help: "Factories the roles apply to: * or F-1,F-2; within your own scope.") var scope: String = "*"
        @Option(help: "The new password (or FORGECHAIN_NEW_PASSWORD).") var newPassword: String?
        @Option(help: "Phone or e-mail for one-time codes.") var contact: String?
        @Option(help: "sms or email (with --contact).") var channel: String?

        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                let roles = try Set(roles.map { name throws(AppError) in try Role(name: name) })
                guard let password = newPassword ?? ProcessInfo.processInfo.environment["FORGECHAIN_NEW_PASSWORD"] else {
                    throw AppError(.missingField, "the new administrator's password: --new-password or FORGECHAIN_NEW_PASSWORD", details: ["field": "new-password"])
                }
                let bootstrap = try await platform.needsBootstrap()
                // On a folder with no administrator there is nobody to log in as: credentials left in the
                // environment (FORGECHAIN_USER) or given as flags are ignored, not tried and refused.
                let token = bootstrap ? nil : try await options.login(platform)
                let summary = try await platform.createAdministrator(
                    user: name, password: password, roles: roles, scope: FactoryScope(text: scope), contact: contact,
                    channel: channel.flatMap { CodeChannel(rawValue: $0) }, token: token)
                try CLI.printJSON(summary)
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change an administrator's password.")
        @OptionGroup var options: DataOptions
        @Argument(help: "The user whose password changes.") var name: String
        @Option(help: "The new password (or FORGECHAIN_NEW_PASSWORD).") var newPassword: String?

        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                guard let password = newPassword ?? ProcessInfo.processInfo.environment["FORGECHAIN_NEW_PASSWORD"] else {
                    throw AppError(.missingField, "--new-password or FORGECHAIN_NEW_PASSWORD", details: ["field": "new-password"])
                }
                let token = try await options.login(platform)
                let own = options.resolvedUser?.lowercased() == name.lowercased()
                try await platform.changePassword(user: name, currentPassword: own ? options.resolvedPassword : nil,
                                                           newPassword: password, token: token)
                try CLI.printJSON(["user": name])
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an administrator (revokes its tokens).")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                try CLI.printJSON(try await platform.disableAdministrator(user: name, token: try await options.login(platform)))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an administrator.")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                try await platform.deleteAdministrator(user: name, token: try await options.login(platform))
                try CLI.printJSON(["deleted": name])
            }
        }
    }

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Replace the key an administrator signs transactions with; the old key is revoked on chain.")
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            try await CLI.run(options) { platform in
                let key = try await platform.identity.rotateChainKey(user: name, token: try await options.login(platform))
                try CLI.printJSON(["user": name, "scheme": key.scheme.rawValue, "publicKey": Hex.encode(key.rawRepresentation)])
            }
        }
    }

    struct EnrollTOTP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll-totp", abstract: "Enrol an authenticator app (TOTP) for an administrator, or replace its secret.",
            discussion: """
                Your own: log in as that administrator (with --otp when it has a second factor already). Another \
                administrator's: log in as a super-admin whose scope covers it. Prints the new secret once.
                """)
        @OptionGroup var options: DataOptions
        @Argument var name: String
        func run() async throws {
            try await CLI.run(options) { platform in
                let e = try await platform.identity.enrollTOTP(user: name, token: try await options.login(platform))
                try CLI.printJSON(["user": name, "secret": e.secretBase32, "uri": e.provisioningURI])
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the administrators.")
        @OptionGroup var options: DataOptions
        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                try CLI.printJSON(try await platform.listAdministrators(token: try await options.login(platform)))
            }
        }
    }
}
