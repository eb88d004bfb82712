import Foundation
@testable import AppAPI
import LedgerCore
import Testing

/// After a working session (administrators with passwords and TOTP, logins, uploads, an update, a
/// logout, a ledger backup), no file of the data folder holds a password, a token, a TOTP secret or
/// a private key in clear, in any of the forms they are shown in (raw, hex, base32, base64).
struct DataFolderScanTests {
    @Test func noSecretIsInClearAnywhereInTheFolder() async throws {
        let fixture = try await RecordsFixture.open()
        defer { Task { await fixture.close() } }
        let platform = fixture.platform
        var secrets: [(String, [UInt8])] = [("root password", Array(RecordsFixture.password.utf8)), ("root token", Array(fixture.rootToken.utf8))]
        let managerPassword = "Manager-Password-77"
        _ = try await platform.identity.createAdministrator(user: "manager", password: managerPassword, roles: [.recordManager],
                                                            scope: .factories(["F-KM-02"]), token: fixture.rootToken)
        secrets.append(("manager password", Array(managerPassword.utf8)))
        let enrollment = try await platform.identity.enrollTOTP(user: "root", token: fixture.rootToken)
        let totp = try Base32.decode(enrollment.secretBase32)
        secrets.append(("root TOTP secret", totp))
        let code = TOTP(secret: totp).code(at: UInt64(Date().timeIntervalSince1970))
        let second = try await platform.identity.login(user: "root", password: RecordsFixture.password, oneTimeCode: code).token
        secrets.append(("second root token", Array(second.utf8)))
        let manager = try await platform.identity.login(user: "manager", password: managerPassword, oneTimeCode: nil).token
        secrets.append(("manager token", Array(manager.utf8)))

        let records = (0..<20).map { RecordsFixture.production($0) }
        _ = try await platform.records.uploadBatch(records, token: manager)
        _ = try await platform.records.update(recordID: "P-3", fields: ["propara.pro_temperature": "72.0"], token: manager)
        try await platform.identity.logout(token: manager)
        _ = try await platform.backupLedger(to: fixture.directory + "/ledger-backup.sqlite", token: fixture.rootToken)

        let keystore = try Keystore(directory: fixture.directory + "/keystore", passphrase: try Passphrase("test-keystore-passphrase"))
        let keys = try PlatformKeys(sealed: try keystore.load("platform").bytesCopy())
        for (name, key) in [("node", keys.node), ("genesis", keys.genesis), ("client", keys.client)] {
            secrets.append(("key \(name)", key.rawRepresentation))
        }
        secrets.append(("identity key", keys.identityKey))
        await platform.close()

        let paths = try #require(FileManager.default.subpathsOfDirectory(atPath: fixture.directory) as [String]?)
        var scanned = 0
        for sub in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: fixture.directory + "/" + sub, isDirectory: &isFolder), !isFolder.boolValue,
                  let bytes = FileManager.default.contents(atPath: fixture.directory + "/" + sub) else { continue }
            scanned += 1
            for (what, secret) in secrets {
                var forms = [Data(secret), Data(Hex.encode(secret).utf8), Data(Data(secret).base64EncodedString().utf8)]
                if what.contains("TOTP") { forms.append(Data(Base32.encode(secret).utf8)) }
                for form in forms { #expect(bytes.range(of: form) == nil, "\(sub) holds the \(what) in clear") }
            }
        }
        #expect(scanned >= 8, "only \(scanned) files scanned")
    }
}
