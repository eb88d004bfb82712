import Foundation
@testable import AppAPI
import LedgerCore
import Testing

/// A single-node folder keeps its node, genesis and client keys in its keystore, sealed under the
/// passphrase: no key is on disk in clear, a folder written with a clear key file has it moved in and
/// removed, and a wrong or missing passphrase opens nothing.
struct PlatformKeystoreTests {
    static let passphrase = "platform-keystore-test"

    static func options(_ passphrase: String? = Self.passphrase) throws -> Platform.Options {
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.clock = .simulated
        if let passphrase { options.passphrase = try Passphrase(passphrase) }
        return options
    }

    static func folder() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-keystore-\(UUID().uuidString)").path
    }

    /// Every file under `directory`, its bytes.
    static func files(_ directory: String) throws -> [(String, Data)] {
        let paths = try #require(FileManager.default.subpathsOfDirectory(atPath: directory) as [String]?)
        return paths.compactMap { sub in
            var isFolder: ObjCBool = false
            let path = directory + "/" + sub
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { return nil }
            return FileManager.default.contents(atPath: path).map { (sub, $0) }
        }
    }

    /// The raw key, its hex (both cases) and its base64: none may appear in any file of the folder.
    static func expectNowhereInClear(_ key: [UInt8], in directory: String) throws {
        let forms = [Data(key), Data(Hex.encode(key).utf8), Data(Hex.encode(key).uppercased().utf8), Data(Data(key).base64EncodedString().utf8)]
        for (name, bytes) in try files(directory) {
            for form in forms { #expect(bytes.range(of: form) == nil, "a key in clear in \(name)") }
        }
    }

    @Test func keysAreSealedAndNeverInClearAndDifferBetweenFolders() async throws {
        let a = Self.folder(), b = Self.folder()
        defer { for d in [a, b] { try? FileManager.default.removeItem(atPath: d) } }
        let first = try await Platform.open(.singleNode(directory: a), options: try Self.options())
        let anchorA = first.trustAnchor
        _ = try await first.identity.createAdministrator(user: "root", password: "Correct-Horse-Battery-9", roles: [.superAdmin], token: nil)
        await first.close()
        let second = try await Platform.open(.singleNode(directory: b), options: try Self.options())
        let anchorB = second.trustAnchor
        await second.close()
        #expect(anchorA.validators != anchorB.validators)

        #expect(!FileManager.default.fileExists(atPath: a + "/platform-keys.json"))
        let keystore = try Keystore(directory: a + "/keystore", passphrase: try Passphrase(Self.passphrase))
        #expect(try keystore.names() == ["platform"])
        let keys = try PlatformKeys(sealed: try keystore.load("platform").bytesCopy())
        #expect(keys.node.publicKey == anchorA.validators.validators[0].publicKey)
        for key in [keys.node, keys.genesis, keys.client] { try Self.expectNowhereInClear(key.rawRepresentation, in: a) }
        try Self.expectNowhereInClear(keys.identityKey, in: a)

        // Reopening with the same passphrase continues the same chain.
        let again = try await Platform.open(.singleNode(directory: a), options: try Self.options())
        #expect(again.trustAnchor == anchorA)
        await again.close()
    }

    @Test func aWrongOrMissingPassphraseOpensNothing() async throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        await (try await Platform.open(.singleNode(directory: dir), options: try Self.options())).close()
        let before = try Self.files(dir + "/keystore").map(\.1)
        let wrong = await #expect(throws: LedgerError.self) {
            try await Platform.open(.singleNode(directory: dir), options: try Self.options("not the passphrase"))
        }
        #expect(wrong?.code == .keystoreWrongPassphrase)
        if ProcessInfo.processInfo.environment["FORGECHAIN_PASSPHRASE"] == nil {
            let missing = await #expect(throws: LedgerError.self) {
                try await Platform.open(.singleNode(directory: dir), options: try Self.options(nil))
            }
            #expect(missing?.code == .keystoreLocked)
            #expect(missing?.message.contains("FORGECHAIN_PASSPHRASE") == true)
        }
        #expect(try Self.files(dir + "/keystore").map(\.1) == before)
    }

    /// A folder from before the keystore: its clear `platform-keys.json` is sealed into the keystore at
    /// open, the chain keeps its keys, and the clear file is gone.
    @Test func aClearKeyFileIsMovedIntoTheKeystoreAndRemoved() async throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let node = try PrivateKey.generate(.ed25519), genesis = try PrivateKey.generate(.ed25519), client = try PrivateKey.generate(.ed25519)
        let clear = PlatformKeys.ClearFile(chainID: 53_1407, nodeKey: Hex.encode(node.rawRepresentation),
                                           genesisKey: Hex.encode(genesis.rawRepresentation), clientKey: Hex.encode(client.rawRepresentation))
        try JSONEncoder().encode(clear).write(to: URL(fileURLWithPath: dir + "/platform-keys.json"))

        let platform = try await Platform.open(.singleNode(directory: dir), options: try Self.options())
        #expect(platform.trustAnchor.validators.validators[0].publicKey == node.publicKey)
        await platform.close()
        #expect(!FileManager.default.fileExists(atPath: dir + "/platform-keys.json"))
        for key in [node, genesis, client] { try Self.expectNowhereInClear(key.rawRepresentation, in: dir) }
        let reopened = try await Platform.open(.singleNode(directory: dir), options: try Self.options())
        #expect(reopened.trustAnchor.validators.validators[0].publicKey == node.publicKey)
        await reopened.close()
    }
}
