import Foundation
import Testing
import LedgerCore

struct StoreStateProofTests {
    @Test func proofsVerifyForPresentAndAbsentKeysAtEveryRetainedHeight() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        let blocks = try chain.extend(store, blocks: 12, changes: sampleChanges)
        for h in 0..<12 {
            let header = blocks[h].header
            for k in 0..<11 {
                let key = Array("k\(k)".utf8)
                let proof = try store.stateProof(key: key, atHeight: Height(UInt64(h)))
                let expected = try store.stateValue(forKey: key, atHeight: Height(UInt64(h)))
                #expect(proof.value == expected)
                try proof.verify(root: header.stateRoot, algorithm: .sha256)
                #expect(try proof.verifiedValue(forKey: key, root: header.stateRoot, algorithm: .sha256) == expected)
            }
        }
        // k10 is never written: its proof proves absence.
        let absent = try store.stateProof(key: Array("k10".utf8))
        #expect(absent.value == nil)
        try absent.verify(root: store.head!.stateRoot, algorithm: .sha256)
    }

    @Test func alteredProofsFailAgainstTheHeader() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 6, changes: sampleChanges)
        let root = store.head!.stateRoot
        let live = try #require(try store.stateEntries().first)
        let present = try store.stateProof(key: live.key)
        try #require(present.value == live.value)
        var wrongValue = present
        wrongValue.value = Array("forged".utf8)
        #expect(throws: LedgerError.self) { try wrongValue.verify(root: root, algorithm: .sha256) }
        var wrongKey = present
        wrongKey.key = live.key + [0]
        #expect(throws: LedgerError.self) { try wrongKey.verify(root: root, algorithm: .sha256) }
        // A true proof against an older root fails too.
        let oldRoot = try store.header(atHeight: 1).stateRoot
        #expect(throws: LedgerError.self) { try present.verify(root: oldRoot, algorithm: .sha256) }
        let absent = try store.stateProof(key: Array("nope".utf8))
        var claimed = absent
        claimed.value = [1]
        #expect(throws: LedgerError.self) { try claimed.verify(root: root, algorithm: .sha256) }
    }

    @Test func appendRefusesAStateRootThatDoesNotMatchTheChanges() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 2, changes: sampleChanges)
        let c = sampleChanges(2)
        let (block, receipts) = try chain.next(changes: c, stateRoot: HashAlgorithm.sha256.hash([7]))
        let error = #expect(throws: LedgerError.self) { try store.append(block, receipts: receipts, stateChanges: c) }
        #expect(error?.code == .stateRootMismatch)
        #expect(error?.details["height"] == "2")
        #expect(store.head?.height == 1)
        #expect(try store.stateValue(forKey: c.changes[0].key) == store.stateValue(forKey: c.changes[0].key, atHeight: 1))
    }

    @Test func rollbackRestoresTheStateRootAndProofsOfTheKeptHeight() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 8, changes: sampleChanges)
        let rootAt5 = try store.header(atHeight: 5).stateRoot
        try store.rollback(toHeight: 5)
        #expect(store.head?.stateRoot == rootAt5)
        #expect(try store.stateRoot(applying: StateChangeSet()) == rootAt5)
        let proof = try store.stateProof(key: Array("k3".utf8))
        try proof.verify(root: rootAt5, algorithm: .sha256)
        try store.checkIntegrity(.full)
    }
}
