import Foundation
import Testing
@testable import AppAPI
import LedgerCore

struct SQLiteIdentityRepositoryTests {
    static func config() -> IdentityService.Configuration {
        var c = IdentityService.Configuration()
        c.hasher = PasswordHasher(logN: 10)
        return c
    }

    @Test func accountsTokensAndRevocationsSurviveAReopenAndNoSecretIsStoredInClear() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fc-identity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("ledger.sqlite").path
        let password = "Plant-Admin-Pass-42"

        var token = ""
        var revokedToken = ""
        do {
            let identity = IdentityService(repository: try SQLiteIdentityRepository(path: path), configuration: Self.config())
            _ = try await identity.createAdministrator(user: "plant-admin", password: password, roles: [.superAdmin, .auditor],
                                                       scope: .factories(["F-KM-02", "F-QJ-01"]), token: nil)
            revokedToken = try await identity.login(user: "plant-admin", password: password, oneTimeCode: nil).token
            try await identity.logout(token: revokedToken)
            token = try await identity.login(user: "plant-admin", password: password, oneTimeCode: nil).token
        }
        let identity = IdentityService(repository: try SQLiteIdentityRepository(path: path), configuration: Self.config())
        #expect(try await !identity.needsBootstrap())
        let account = try await identity.authenticate(token: token)   // same token secret after reopen
        #expect(account.roles == [.superAdmin, .auditor])
        #expect(account.scope == .factories(["F-KM-02", "F-QJ-01"]))
        let revoked = await #expect(throws: AppError.self) { _ = try await identity.authenticate(token: revokedToken) }
        #expect(revoked?.code == .tokenRevoked)

        // Scan every byte of the database files: no password, no token.
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            let bytes = try Data(contentsOf: dir.appendingPathComponent(file))
            #expect(bytes.range(of: Data(password.utf8)) == nil, "\(file) holds the password")
            #expect(bytes.range(of: Data(token.utf8)) == nil, "\(file) holds a token")
        }
    }

    @Test func anUnopenableDatabaseIsATypedError() {
        let error = #expect(throws: AppError.self) { _ = try SQLiteIdentityRepository(path: "/nonexistent-dir/x/ledger.sqlite") }
        #expect(error?.code == .identityBackend)
    }
}
