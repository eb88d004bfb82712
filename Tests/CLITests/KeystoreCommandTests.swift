import Foundation
import Testing

/// `forgechain keystore list|rotate`: the folder's keys are listed only with the right passphrase, and
/// after a rotation the folder opens with the new passphrase and no longer with the old one.
struct KeystoreCommandTests {
    @Test func rotationSealsTheFolderUnderTheNewPassphrase() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let list = try await cli.run(["keystore", "list"])
        #expect(list.status == 0, "\(list)")
        #expect((list.data as? [String: Any])?["entries"] as? [String] == ["platform"])
        let wrong = try await cli.run(["keystore", "list"], environment: ["FORGECHAIN_PASSPHRASE": "not-it"])
        #expect(wrong.status == 1 && wrong.code == 1363, "\(wrong)")

        let rotated = try await cli.run(["keystore", "rotate"], environment: ["FORGECHAIN_NEW_PASSPHRASE": "Rotated-Keystore-2026"])
        #expect(rotated.status == 0, "\(rotated)")
        let withOld = try await cli.run(["admin", "list"], credentials: root)
        #expect(withOld.status == 1 && withOld.code == 1363, "\(withOld)")
        let withNew = try await cli.run(["admin", "list"], credentials: root, environment: ["FORGECHAIN_PASSPHRASE": "Rotated-Keystore-2026"])
        #expect(withNew.status == 0, "\(withNew)")
        let missing = try await cli.run(["keystore", "rotate"], environment: ["FORGECHAIN_PASSPHRASE": "Rotated-Keystore-2026"])
        #expect(missing.status == 1 && missing.code == 1367, "\(missing)")
    }
}
