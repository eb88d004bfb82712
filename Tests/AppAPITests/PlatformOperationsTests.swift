import Foundation
@testable import AppAPI
import LedgerCore
import Testing

/// Node operations through a platform handle need a token with `node.operate`: the node itself is not
/// part of the platform's public surface (`Platform.node` is package-only; API/AppAPI.txt lists no
/// `node`), and the one operation offered, a ledger backup, checks the permission.
struct PlatformOperationsTests {
    @Test func aLedgerBackupNeedsTheOperatePermission() async throws {
        let f = try await RecordsFixture.open()
        defer { Task { await f.close() } }
        _ = try await f.platform.records.uploadBatch([RecordsFixture.production(1)], token: f.rootToken)
        for role in [Role.viewer, .recordManager, .operator, .auditor] {
            let token = try await f.user("user-\(role.rawValue)", roles: [role])
            let error = await #expect(throws: AppError.self) {
                try await f.platform.backupLedger(to: f.directory + "/refused-\(role.rawValue).sqlite", token: token)
            }
            #expect(error?.code == .permissionDenied)
            #expect(!FileManager.default.fileExists(atPath: f.directory + "/refused-\(role.rawValue).sqlite"))
        }
        let info = try await f.platform.backupLedger(to: f.directory + "/backup.sqlite", token: f.rootToken)
        #expect(info.height == (await f.platform.node.head.height))
        #expect(info.bytes > 0)
        #expect(try LedgerStore(path: f.directory + "/backup.sqlite", configuration: .init(readOnly: true)).head?.height == info.height)
        let api = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("API/AppAPI.txt").path, encoding: .utf8)
        #expect(!api.contains("Platform.node |"), "API/AppAPI.txt still lists Platform.node")
    }
}
