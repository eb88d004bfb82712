import Foundation
@testable import AppAPI
import LedgerCore
import Testing

/// Identity data lives in a file of its own (mode 0600), with TOTP secrets and the token key sealed
/// under the folder's keystore: a ledger backup carries none of it, and a folder that kept identity
/// tables in its ledger has them moved out and wiped there.
struct IdentitySecretsTests {
    static let password = RecordsFixture.password

    /// Each file whose path starts with `prefix` (the database, its -wal and -shm), with its bytes.
    static func files(_ prefix: String) -> [(String, Data)] {
        let folder = (prefix as NSString).deletingLastPathComponent, name = (prefix as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix(name) }.sorted().map { ($0, FileManager.default.contents(atPath: folder + "/" + $0) ?? Data()) }
    }

    static func bytes(_ prefix: String) -> Data { files(prefix).reduce(into: Data()) { $0 += $1.1 } }

    static func expectAbsent(_ secret: [UInt8], from prefix: String, _ what: String) {
        for (name, data) in files(prefix) {
            for form in [Data(secret), Data(Base32.encode(secret).utf8), Data(Hex.encode(secret).utf8)] {
                #expect(data.range(of: form) == nil, "\(what): \(name) holds the secret in clear")
            }
        }
    }

    @Test func aLedgerBackupHoldsNoIdentityAndTheIdentityFileNoSecretInClear() async throws {
        let fixture = try await RecordsFixture.open()
        defer { Task { await fixture.close() } }
        let enrollment = try await fixture.platform.identity.enrollTOTP(user: "root", token: fixture.rootToken)
        let totp = try Base32.decode(enrollment.secretBase32)
        let backup = fixture.directory + "/ledger-backup.sqlite"
        _ = try await fixture.platform.backupLedger(to: backup, token: fixture.rootToken)
        let ledgerCopy = Self.bytes(backup)
        #expect(ledgerCopy.count > 4_096)
        Self.expectAbsent(totp, from: backup, "the ledger backup")
        #expect(ledgerCopy.range(of: Data("$scrypt$".utf8)) == nil, "the ledger backup holds a password hash")
        #expect(ledgerCopy.range(of: Data("identity_accounts".utf8)) == nil)

        let identity = fixture.directory + "/identity.sqlite"
        #expect(try FileManager.default.attributesOfItem(atPath: identity)[.posixPermissions] as? Int == 0o600)
        Self.expectAbsent(totp, from: identity, "identity.sqlite")
        // The token key is stored sealed (nonce, 32 bytes, tag), never as its 32 bytes.
        let db = try SQLiteConnection(path: identity, mode: .readOnly)
        #expect(try db.scalarInt("SELECT length(value) FROM identity_meta WHERE key = 'token_secret'") == 12 + 32 + 16)
        #expect(try db.scalarInt("SELECT length(totp_secret) FROM identity_accounts WHERE user_key = 'root'") == Int64(12 + totp.count + 16))

        // The identity backup is a copy of that file, 0600, and never overwrites one.
        let copy = fixture.directory + "/identity-backup.sqlite"
        try await fixture.platform.backupIdentity(to: copy, token: fixture.rootToken)
        #expect(try FileManager.default.attributesOfItem(atPath: copy)[.posixPermissions] as? Int == 0o600)
        #expect(try SQLiteConnection(path: copy, mode: .readOnly).scalarInt("SELECT count(*) FROM identity_accounts") == 1)
        Self.expectAbsent(totp, from: copy, "the identity backup")
        let again = await #expect(throws: AppError.self) { try await fixture.platform.backupIdentity(to: copy, token: fixture.rootToken) }
        #expect(again?.code == .identityBackend)
        let viewer = try await fixture.user("viewer-1", roles: [.viewer])
        #expect(await (#expect(throws: AppError.self) {
            try await fixture.platform.backupIdentity(to: fixture.directory + "/other.sqlite", token: viewer)
        })?.code == .permissionDenied)
    }

    /// A folder from before identity had its own file: its accounts, TOTP secret and token key in
    /// `ledger.sqlite`, in clear. Opening moves them (the same password and authenticator still log in),
    /// seals the secrets, and leaves no trace of them in the ledger file.
    @Test func identityTablesInTheLedgerMoveOutAndAreWipedThere() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-identity-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let totp = SecureRandom.bytes(count: 20)
        do {
            let old = try SQLiteIdentityRepository(path: dir + "/ledger.sqlite")
            let hash = try PasswordHasher(logN: 10).hash(Self.password)
            try await old.save(AdminAccount(user: "root", roles: [.superAdmin], scope: .all, enabled: true, contact: nil, codeChannel: nil,
                                            passwordHash: hash, totpSecret: totp, lastTOTPCounter: nil, tokensValidAfter: Timestamp(rawValue: 0),
                                            failedLogins: 0, lockedUntil: nil, createdAt: .now()))
            _ = try await old.tokenSecret()
        }
        #expect(Self.bytes(dir + "/ledger.sqlite").range(of: Data(totp)) != nil)

        let fixture = try await RecordsFixture.open(directory: dir, loginCode: TOTP(secret: totp).code(at: UInt64(Date().timeIntervalSince1970)))
        let ledger = try SQLiteConnection(path: dir + "/ledger.sqlite", mode: .readOnly)
        #expect(try ledger.scalarInt("SELECT count(*) FROM sqlite_master WHERE name LIKE 'identity%'") == 0)
        await fixture.platform.close()
        Self.expectAbsent(totp, from: dir + "/ledger.sqlite", "the ledger after the move")
        Self.expectAbsent(totp, from: dir + "/identity.sqlite", "identity.sqlite")
    }
}
