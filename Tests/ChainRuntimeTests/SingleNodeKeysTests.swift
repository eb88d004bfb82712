import ChainRuntime
import Foundation
import LedgerCore
import Testing

/// A production single-node chain draws its keys from the CSPRNG and keeps them sealed in a keystore:
/// two folders never share keys (a seeded chain's keys are the seed's, for tests only), and the same
/// keystore reopens the same chain.
struct SingleNodeKeysTests {
    @Test func twoFoldersGetTheirOwnKeysAndAKeystoreReopensItsChain() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-single-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let passphrase = try Passphrase("single-node-test")
        func configuration(_ folder: String) throws -> NodeConfiguration {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
            let keystore = try Keystore(directory: root + "/\(folder)/keystore", passphrase: passphrase, configuration: .init(scryptLogN: 10))
            return try .singleNode(storePath: root + "/\(folder)/ledger.sqlite", keystore: keystore)
        }
        let a = try configuration("a"), b = try configuration("b"), aAgain = try configuration("a")
        #expect(a.signingKey.publicKey != b.signingKey.publicKey)
        #expect(a.genesis.header.hash(using: .sha256) != b.genesis.header.hash(using: .sha256))
        #expect(aAgain.signingKey.publicKey == a.signingKey.publicKey)
        #expect(aAgain.genesis.header.hash(using: .sha256) == a.genesis.header.hash(using: .sha256))
        // The keys are sealed: neither raw key is in any file of the folder.
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/a/keystore") {
            let bytes = try #require(FileManager.default.contents(atPath: root + "/a/keystore/" + name))
            #expect(bytes.range(of: Data(a.signingKey.rawRepresentation)) == nil)
            #expect(bytes.range(of: Data(Hex.encode(a.signingKey.rawRepresentation).utf8)) == nil)
        }
    }
}
