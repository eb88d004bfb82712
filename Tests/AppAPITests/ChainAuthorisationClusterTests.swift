@testable import AppAPI
import ChainRuntime
import Foundation
@testable import LedgerCore
import Testing

/// Authorisation by the chain, end to end: every node of a cluster refuses the same transactions with the same
/// code, and a platform's accounts are the chain's accounts.
@Suite struct ChainAuthorisationClusterTests {
    func create(_ record: ManufacturingRecord, uploader: String) -> RecordOperation {
        RecordOperation(kind: .create, recordID: record.recordID, version: 1, recordBytes: record.canonicalEncoding,
                        digest: record.digest(), uploader: uploader)
    }

    @Test func aFourNodeClusterRefusesUnregisteredKeysAndForeignFactoriesOnEveryNodeWithTheSameCode() async throws {
        var c = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 41)
        c.clock = .simulated
        c.executors = [RecordsExecutor(), AccessExecutor()]
        let cluster = try await Cluster.start(c)
        var founder = SigningAccount(key: cluster.genesisKey, chainID: c.chainID, hashAlgorithm: c.hashAlgorithm)
        var alice = cluster.account(1)
        var stranger = cluster.account(2)
        let registered = try await cluster.submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .putAccount(user: "alice", roles: [.operator], scope: .factories(["F-KM-02"]), enabled: true),
            .addKey(user: "alice", key: alice.key.publicKey)])), timeout: .seconds(120))
        #expect(registered.status == Receipt.success, "\(String(decoding: registered.output, as: UTF8.self))")
        let nodes = cluster.nodeIDs

        // A key the chain does not know: refused on admission by every node, with the same code, before it takes space.
        let unknown = try stranger.transaction(kind: RecordsExecutor.kind,
                                               body: RecordOperation.body([create(RecordsFixture.production(1), uploader: "alice")]))
        for id in nodes {
            let node = try await cluster.node(id)
            let refused = await #expect(throws: ChainError.self) { _ = try await node.enqueue(unknown) }
            #expect(refused?.code == .senderNotPermitted, "node \(id.rawValue): \(String(describing: refused))")
            #expect(refused?.details["cause"] == String(AppError.Code.signerNotRegistered.rawValue))
            #expect(await node.mempoolCount == 0)
        }

        // A registered key acting outside its account: sent to each node in turn, committed as a failure with the same
        // code in every node's receipt, and nothing written.
        var sent = [(Digest, UInt64)]()
        for (k, id) in nodes.enumerated() {
            let foreign = try alice.transaction(kind: RecordsExecutor.kind,
                                                body: RecordOperation.body([create(RecordsFixture.production(10 + k, factory: "F-SH-01"), uploader: "alice")]))
            sent.append((try await cluster.node(id).enqueue(foreign), UInt64(AppError.Code.permissionDenied.rawValue)))
        }
        let impostor = try alice.transaction(kind: RecordsExecutor.kind,
                                             body: RecordOperation.body([create(RecordsFixture.production(20), uploader: "root")]))
        sent.append((try await cluster.node(nodes[1]).enqueue(impostor), UInt64(AppError.Code.uploaderNotSigner.rawValue)))
        let own = try alice.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body([create(RecordsFixture.production(21), uploader: "alice")]))
        sent.append((try await cluster.node(nodes[2]).enqueue(own), Receipt.success))
        for id in nodes {
            let node = try await cluster.node(id)
            for (txID, expected) in sent {
                let receipt = try await node.waitForReceipt(txID, timeout: .seconds(120))
                #expect(receipt.status == expected, "node \(id.rawValue): \(String(decoding: receipt.output, as: UTF8.self))")
            }
        }
        for id in nodes {
            let store = try await cluster.node(id).ledger
            for k in 0..<nodes.count { #expect(try store.stateValue(forKey: RecordStateEntry.key("P-\(10 + k)")) == nil) }
            #expect(try store.stateValue(forKey: RecordStateEntry.key("P-20")) == nil)
            #expect(try store.stateValue(forKey: RecordStateEntry.key("P-21")) != nil)
        }
        await cluster.shutdown()
    }

    @Test func aPlatformsAccountsAreOnChainAndEveryChangeReachesIt() async throws {
        let f = try await RecordsFixture.open()
        let store = f.platform.records.store
        let reader = StoreStateReader(store: store)
        let aliceToken = try await f.user("alice", roles: [.operator], scope: .factories(["F-KM-02"]))
        let onChain = try #require(try ChainAccount.account(user: "alice", state: reader))
        #expect(onChain.roles == [.operator] && onChain.scope == .factories(["F-KM-02"]) && onChain.enabled && onChain.keys.count == 1)
        #expect(try ChainAccount.account(user: "root", state: reader)?.roles == [.superAdmin])

        // The uploader recorded is the account whose key signed the transaction.
        let receipt = try await f.platform.records.upload(RecordsFixture.production(1), token: aliceToken)
        let block = try store.block(atHeight: Height(receipt.height))
        let tx = try #require(block.transactions.first { $0.id(using: store.hashAlgorithm) == receipt.transactionID })
        #expect(try ChainAccount.account(signedBy: tx.sender, state: reader)?.user == "alice")
        #expect(try RecordOperation.operations(inBody: tx.payload.body).map(\.uploader) == ["alice"])
        #expect(tx.sender == onChain.keys[0])

        // Changing, disabling and deleting the account change it on chain; its key then signs nothing.
        _ = try await f.platform.identity.modifyAdministrator(user: "alice", scope: .factories(["F-KM-02", "F-KM-03"]), token: f.rootToken)
        #expect(try ChainAccount.account(user: "alice", state: reader)?.scope == .factories(["F-KM-02", "F-KM-03"]))
        _ = try await f.platform.identity.disableAdministrator(user: "alice", token: f.rootToken)
        #expect(try ChainAccount.account(user: "alice", state: reader)?.enabled == false)
        try await f.platform.identity.deleteAdministrator(user: "alice", token: f.rootToken)
        #expect(try ChainAccount.account(user: "alice", state: reader) == nil)
        #expect(try ChainAccount.account(signedBy: onChain.keys[0], state: reader) == nil)

        // A transaction handed to the node directly, from a key the chain does not know, is refused.
        var outsider = SigningAccount(key: try .generate(.ed25519), chainID: f.platform.trustAnchor.chainID)
        let forged = try outsider.transaction(kind: RecordsExecutor.kind,
                                              body: RecordOperation.body([create(RecordsFixture.production(2), uploader: "root")]))
        let refused = await #expect(throws: ChainError.self) { _ = try await f.platform.node.enqueue(forged) }
        #expect(refused?.code == .senderNotPermitted && refused?.details["cause"] == String(AppError.Code.signerNotRegistered.rawValue))
        await f.close()
    }

    @Test func accountsWithoutAChainKeyAreRegisteredWhenTheFolderOpens() async throws {
        let first = try await RecordsFixture.open()
        _ = try await first.user("alice", roles: [.operator], scope: .factories(["F-KM-02"]))
        let dir = first.directory
        await first.platform.close()
        // As a folder written before accounts had chain keys.
        let db = try SQLiteConnection(path: dir + "/identity.sqlite", mode: .readWrite)
        try db.execute("UPDATE identity_accounts SET chain_key = NULL")
        let f = try await RecordsFixture.open(directory: dir)
        let token = try await f.platform.identity.login(user: "alice", password: RecordsFixture.password, oneTimeCode: nil).token
        let receipt = try await f.platform.records.upload(RecordsFixture.production(1), token: token)
        #expect(receipt.version == 1)
        let alice = try #require(try ChainAccount.account(user: "alice", state: StoreStateReader(store: f.platform.records.store)))
        #expect(alice.keys.count == 2, "the new key is added beside the one whose private half is gone")
        await f.close()
    }

    @Test func aRotatedKeyIsRevokedOnChainAndFoundNowhereInTheFolder() async throws {
        let f = try await RecordsFixture.open()
        let aliceToken = try await f.user("alice", roles: [.operator], scope: .factories(["F-KM-02"]))
        let old = try await f.platform.identity.authenticate(token: aliceToken).signingKey()
        _ = try await f.platform.records.upload(RecordsFixture.production(1), token: aliceToken)

        let new = try await f.platform.identity.rotateChainKey(user: "alice", token: f.rootToken)
        let reader = StoreStateReader(store: f.platform.records.store)
        #expect(try ChainAccount.account(user: "alice", state: reader)?.keys == [new])
        #expect(try ChainAccount.account(signedBy: old.publicKey, state: reader) == nil)

        // The old key signs nothing any more; the account goes on with the new one.
        var thief = SigningAccount(key: old, chainID: f.platform.trustAnchor.chainID, nextNonce: await f.platform.node.nextNonce(for: old.publicKey))
        let stolen = try thief.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body([create(RecordsFixture.production(2), uploader: "alice")]))
        let refused = await #expect(throws: ChainError.self) { _ = try await f.platform.node.enqueue(stolen) }
        #expect(refused?.details["cause"] == String(AppError.Code.signerNotRegistered.rawValue))
        #expect(try await f.platform.records.upload(RecordsFixture.production(3), token: aliceToken).version == 1)

        // Rotation needs admin.manage; an operator cannot rotate, not even its own key.
        let denied = await #expect(throws: AppError.self) { _ = try await f.platform.identity.rotateChainKey(user: "alice", token: aliceToken) }
        #expect(denied?.code == .permissionDenied)

        // Neither private key is anywhere in the folder in clear.
        await f.platform.close()
        let current = try await RecordsFixture.open(directory: f.directory)
        let secrets = [old.rawRepresentation, try await current.platform.identity.authenticate(
            token: try await current.platform.identity.login(user: "alice", password: RecordsFixture.password, oneTimeCode: nil).token).chainKey ?? []]
        await current.platform.close()
        for file in try FileManager.default.subpathsOfDirectory(atPath: f.directory) {
            guard let data = FileManager.default.contents(atPath: f.directory + "/" + file) else { continue }
            let bytes = [UInt8](data), text = String(decoding: bytes, as: UTF8.self).lowercased()
            for secret in secrets {
                #expect(secret.count == 32)
                #expect(bytes.firstRange(of: secret) == nil, "a chain private key in clear in \(file)")
                #expect(!text.contains(Hex.encode(secret)), "a chain private key in hex in \(file)")
            }
        }
        try? FileManager.default.removeItem(atPath: f.directory)
    }

    @Test func rotatingTheKeyRegistersAgainAnAccountTheChainLost() async throws {
        let f = try await RecordsFixture.open()
        let aliceToken = try await f.user("alice", roles: [.operator], scope: .factories(["F-KM-02"]))
        // As after restoring a ledger older than the account: the chain no longer knows alice.
        let root = try await f.platform.identity.authenticate(token: f.rootToken).signingKey()
        try await f.platform.records.commit([.deleteAccount(user: "alice")], signedBy: root)
        let refused = await #expect(throws: AppError.self) { _ = try await f.platform.records.upload(RecordsFixture.production(1), token: aliceToken) }
        #expect(refused?.code == .chainRejected && refused?.details["cause"] == String(ChainError.Code.senderNotPermitted.rawValue))
        #expect(refused?.details["reason"] == String(AppError.Code.signerNotRegistered.rawValue))

        let key = try await f.platform.identity.rotateChainKey(user: "alice", token: f.rootToken)
        let alice = try #require(try ChainAccount.account(user: "alice", state: StoreStateReader(store: f.platform.records.store)))
        #expect(alice.keys == [key] && alice.roles == [.operator] && alice.scope == .factories(["F-KM-02"]))
        #expect(try await f.platform.records.upload(RecordsFixture.production(1), token: aliceToken).version == 1)
        await f.close()
    }
}
