import Foundation
import LedgerCore
import Testing

/// `LedgerStore.append(_:receipts:stateChanges:stateTransition:certificate:)`
/// with the state-tree update computed before the append, and the head's
/// header served from memory.
struct StoreStateTransitionTests {
    @Test func appendWithAPrecomputedTransitionStoresWhatAnAppendWithoutOneStores() throws {
        let dir = try TemporaryDirectory()
        let handed = try LedgerStore(path: dir.path("handed.sqlite"))
        let computed = try LedgerStore(path: dir.path("computed.sqlite"))
        var chain = try TestChain()
        for h in 0..<12 {
            let changes = sampleChanges(Height(UInt64(h)))
            let transition = try handed.stateTransition(applying: changes)
            #expect(transition.parentRoot == handed.head?.stateRoot ?? StateTree.emptyRoot(.sha256))
            let (block, receipts) = try chain.next(changes: changes, stateRoot: transition.update.root)
            try handed.append(block, receipts: receipts, stateChanges: changes, stateTransition: transition)
            try computed.append(block, receipts: receipts, stateChanges: changes)
        }
        #expect(handed.head == computed.head)
        for k in 0..<10 {
            let key = Array("k\(k)".utf8)
            #expect(try handed.stateValue(forKey: key) == computed.stateValue(forKey: key))
            let proof = try handed.stateProof(key: key)
            try proof.verify(key: key, value: try computed.stateValue(forKey: key), root: handed.head!.stateRoot, algorithm: .sha256)
        }
        #expect(try handed.checkIntegrity(.full).blocksChecked == 12)
    }

    @Test func appendRefusesATransitionThatStartsFromAnotherRootAndWritesNothing() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 3, changes: sampleChanges)
        let stale = try store.stateTransition(applying: sampleChanges(3))
        try chain.extend(store, blocks: 1, changes: sampleChanges)
        let head = store.head
        let changes = sampleChanges(10)
        let (block, receipts) = try chain.next(changes: changes, stateRoot: try store.stateRoot(applying: changes))
        let error = #expect(throws: LedgerError.self) {
            try store.append(block, receipts: receipts, stateChanges: changes, stateTransition: stale)
        }
        #expect(error?.code == .stateRootMismatch)
        #expect(store.head == head)
    }

    @Test func headerOfTheHeadMatchesTheStoredBlockAfterAppendRollbackAndReopen() throws {
        let dir = try TemporaryDirectory()
        var store = try LedgerStore(path: dir.path("ledger.sqlite"))
        var chain = try TestChain()
        let blocks = try chain.extend(store, blocks: 6, changes: sampleChanges)
        #expect(try store.header(atHeight: 5) == blocks[5].header)
        #expect(try store.header(atHeight: 2) == blocks[2].header)
        try store.rollback(toHeight: 3)
        #expect(try store.header(atHeight: 3) == blocks[3].header)
        #expect(throws: LedgerError.self) { try store.header(atHeight: 5) }
        store = try LedgerStore(path: dir.path("ledger.sqlite"))
        #expect(try store.header(atHeight: 3) == blocks[3].header)
    }
}
