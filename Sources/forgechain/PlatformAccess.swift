import AppAPI
import Foundation
import LedgerCore

/// What the operator commands (`records import|query|history|update`, `admin create|list|disable|delete|passwd`) call: the folder's platform
/// opened in this process, or the process serving the folder, reached over its control socket (`DATA/node.sock`).
/// Both answer with the same values and error codes.
protocol PlatformAccess: Sendable {
    func login(user: String, password: String, oneTimeCode: String?) async throws -> String
    func needsBootstrap() async throws -> Bool
    func createAdministrator(user: String, password: String, roles: Set<Role>, scope: FactoryScope, contact: String?, channel: CodeChannel?,
                             token: String?) async throws -> AdminSummary
    func listAdministrators(token: String) async throws -> [AdminSummary]
    func disableAdministrator(user: String, token: String) async throws -> AdminSummary
    func deleteAdministrator(user: String, token: String) async throws
    func changePassword(user: String, currentPassword: String?, newPassword: String, token: String) async throws
    func history(recordID: String, token: String) async throws -> [StoredRecord]
    func update(recordID: String, fields: [String: String], expectedVersion: UInt64, token: String) async throws -> UploadReceipt
    func query(_ query: RecordQuery, token: String) async throws -> RecordPage
    func uploadNew(_ records: [ManufacturingRecord], token: String,
                   progress: (@Sendable (_ settled: Int, _ total: Int) -> Void)?) async throws -> RecordService.UploadResult
}

/// The folder's platform, opened by this command.
struct LocalPlatform: PlatformAccess {
    let platform: Platform

    func login(user: String, password: String, oneTimeCode: String?) async throws -> String {
        try await platform.identity.login(user: user, password: password, oneTimeCode: oneTimeCode).token
    }
    func needsBootstrap() async throws -> Bool { try await platform.identity.needsBootstrap() }
    func createAdministrator(user: String, password: String, roles: Set<Role>, scope: FactoryScope, contact: String?, channel: CodeChannel?,
                             token: String?) async throws -> AdminSummary {
        try await platform.identity.createAdministrator(user: user, password: password, roles: roles, scope: scope, contact: contact,
                                                        channel: channel, token: token)
    }
    func listAdministrators(token: String) async throws -> [AdminSummary] { try await platform.identity.listAdministrators(token: token) }
    func disableAdministrator(user: String, token: String) async throws -> AdminSummary {
        try await platform.identity.disableAdministrator(user: user, token: token)
    }
    func deleteAdministrator(user: String, token: String) async throws { try await platform.identity.deleteAdministrator(user: user, token: token) }
    func changePassword(user: String, currentPassword: String?, newPassword: String, token: String) async throws {
        try await platform.identity.changePassword(user: user, currentPassword: currentPassword, newPassword: newPassword, token: token)
    }
    func history(recordID: String, token: String) async throws -> [StoredRecord] { try await platform.records.history(recordID: recordID, token: token) }
    func update(recordID: String, fields: [String: String], expectedVersion: UInt64, token: String) async throws -> UploadReceipt {
        try await platform.records.update(recordID: recordID, fields: fields, condition: .expectedVersion(expectedVersion), token: token)
    }
    func query(_ query: RecordQuery, token: String) async throws -> RecordPage { try await platform.records.query(query, token: token) }
    func uploadNew(_ records: [ManufacturingRecord], token: String,
                   progress: (@Sendable (_ settled: Int, _ total: Int) -> Void)?) async throws -> RecordService.UploadResult {
        try await platform.records.uploadNew(records, token: token, progress: progress)
    }
}

extension PlatformControlClient: PlatformAccess {}

extension CLI {
    /// Runs `body` against the folder's platform: through the process serving the folder when its `node.sock`
    /// answers (`forgechain platform run`), else opened here (and closed after). On failure prints the envelope to
    /// standard error and exits 1; `body` returns the exit status.
    static func runOnPlatformWithStatus(_ options: DataOptions, _ body: (any PlatformAccess) async throws -> Int32) async throws {
        let remote: PlatformControlClient?
        do { remote = try await PlatformControlClient.serving(directory: options.data) } catch { fail(error) }
        guard let remote else {
            try await runWithStatus(options) { platform in try await body(LocalPlatform(platform: platform)) }
            return
        }
        let status: Int32
        do { status = try await body(remote) } catch { fail(error) }
        if status != 0 { Foundation.exit(status) }
    }

    /// ``runOnPlatformWithStatus(_:_:)`` for a body that either succeeds (exit 0) or throws.
    static func runOnPlatform(_ options: DataOptions, _ body: (any PlatformAccess) async throws -> Void) async throws {
        try await runOnPlatformWithStatus(options) { (access) async throws -> Int32 in
            try await body(access)
            return 0
        }
    }
}

extension DataOptions {
    /// Logs in with the given credentials and returns the token.
    func login(_ access: any PlatformAccess) async throws -> String {
        guard let user = resolvedUser, let password = resolvedPassword else {
            throw AppError(.invalidCredentials, "credentials needed: --user and --password (or FORGECHAIN_USER and FORGECHAIN_PASSWORD)",
                           details: ["field": "user"])
        }
        return try await access.login(user: user, password: password, oneTimeCode: resolvedOTP)
    }

    /// ``login(_:)-(any PlatformAccess)`` on a platform opened here.
    func login(_ platform: Platform) async throws -> String {
        try await login(LocalPlatform(platform: platform))
    }
}
