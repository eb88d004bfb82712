import Foundation
@testable import LedgerCore
@testable import LedgerStorage
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
        store.close()   // the new handle is opened before the old one is released: the store lock must be free
        store = try LedgerStore(path: dir.path("ledger.sqlite"))
        #expect(try store.header(atHeight: 3) == blocks[3].header)
    }
    @Test func transitionsChainedOnUnappendedBlocksAppendInOrderAndMatchSequentialOnes() throws {
        let dir = try TemporaryDirectory()
        let chained = try LedgerStore(path: dir.path("chained.sqlite"))
        let sequential = try LedgerStore(path: dir.path("sequential.sqlite"))
        var chain = try TestChain()
        var other = try TestChain()
        try chain.extend(chained, blocks: 2, changes: sampleChanges)
        try other.extend(sequential, blocks: 2, changes: sampleChanges)
        // Three blocks executed ahead of the store: each update starts from the one before, unwritten.
        var pending = [StateTransition]()
        var built = [(Block, [Receipt], StateChangeSet)]()
        var root = chained.head!.stateRoot
        for h in 2..<5 {
            let changes = sampleChanges(Height(UInt64(h)))
            let t = try chained.stateTransition(applying: changes, from: root, pending: pending)
            #expect(t.parentRoot == root)
            let (block, receipts) = try chain.next(changes: changes, stateRoot: t.update.root)
            pending.append(t)
            built.append((block, receipts, changes))
            root = t.update.root
        }
        #expect(chained.head?.height == 1)
        for ((block, receipts, changes), t) in zip(built, pending) {
            try chained.append(block, receipts: receipts, stateChanges: changes, stateTransition: t)
            let (b, r) = try other.next(changes: changes, stateRoot: try sequential.stateRoot(applying: changes))
            try sequential.append(b, receipts: r, stateChanges: changes)
        }
        #expect(chained.head?.stateRoot == sequential.head?.stateRoot)
        #expect(chained.head?.stateRoot == root)
        for k in 0..<10 {
            let key = Array("k\(k)".utf8)
            let proof = try chained.stateProof(key: key)
            try proof.verify(key: key, value: try sequential.stateValue(forKey: key), root: root, algorithm: .sha256)
        }
        #expect(try chained.checkIntegrity(.full).blocksChecked == 5)
    }

    /// The node's pattern: block N+1 is executed over N's unwritten nodes, N is appended, then N+2 is
    /// executed over N+1's, whose nodes now link to rows N's append wrote; every append finds them.
    /// Three and twenty blocks ahead of the store (a PoW node executes a confirmation depth ahead).
    @Test(arguments: [3, 20])
    func transitionsComputedWhileEarlierOnesAreAppendedLinkToTheirRows(ahead: Int) throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"), configuration: .init(stateRetention: .recent(heights: 3)))
        let reference = try LedgerStore.inMemory()
        var chain = try TestChain()
        var other = try TestChain()
        var pending = [(Block, [Receipt], StateChangeSet, StateTransition)]()
        var root = StateTree.emptyRoot(.sha256)
        for h in 0..<60 {
            let changes = sampleChanges(Height(UInt64(h)))
            let t = try store.stateTransition(applying: changes, from: root, pending: pending.map(\.3))
            let (block, receipts) = try chain.next(changes: changes, stateRoot: t.update.root)
            pending.append((block, receipts, changes, t))
            root = t.update.root
            if pending.count == ahead {
                let (b, r, c, oldest) = pending.removeFirst()
                try store.append(b, receipts: r, stateChanges: c, stateTransition: oldest)
            }
            let (rb, rr) = try other.next(changes: changes, stateRoot: try reference.stateRoot(applying: changes))
            try reference.append(rb, receipts: rr, stateChanges: changes)
        }
        for (b, r, c, t) in pending { try store.append(b, receipts: r, stateChanges: c, stateTransition: t) }
        #expect(store.head?.stateRoot == reference.head?.stateRoot)
        for k in 0..<10 {
            let key = Array("k\(k)".utf8)
            try store.stateProof(key: key).verify(key: key, value: try reference.stateValue(forKey: key), root: root, algorithm: .sha256)
        }
        #expect(try store.checkIntegrity(.full).blocksChecked == 60)
    }

    /// A transition built by hand carries no row locations: the append computes the update again and stores the same tree.
    @Test func aTransitionMadeByHandIsComputedAgainAtAppend() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 3, changes: sampleChanges)
        let changes = sampleChanges(3)
        let computed = try store.stateTransition(applying: changes)
        let byHand = StateTransition(parentRoot: computed.parentRoot, update: computed.update)
        let (block, receipts) = try chain.next(changes: changes, stateRoot: computed.update.root)
        try store.append(block, receipts: receipts, stateChanges: changes, stateTransition: byHand)
        #expect(try store.checkIntegrity(.full).blocksChecked == 4)
        let key = Array("k9".utf8)
        try store.stateProof(key: key).verify(key: key, value: try store.stateValue(forKey: key), root: block.header.stateRoot, algorithm: .sha256)
    }

    @Test func transitionFromARootNeitherStoredNorPendingFailsWithStateNodeMissing() throws {
        let store = try LedgerStore.inMemory()
        var chain = try TestChain()
        try chain.extend(store, blocks: 2, changes: sampleChanges)
        let ahead = try store.stateTransition(applying: sampleChanges(2), from: store.head!.stateRoot)
        // The next block's update without the pending one it starts from.
        let error = #expect(throws: LedgerError.self) {
            _ = try store.stateTransition(applying: sampleChanges(3), from: ahead.update.root, pending: [])
        }
        #expect(error?.code == .stateNodeMissing)
        #expect(store.head?.height == 1)
    }

    @Test func pageCacheAndCheckpointSettingsReachTheConnection() throws {
        let dir = try TemporaryDirectory()
        let store = try LedgerStore(path: dir.path("ledger.sqlite"),
                                    configuration: .init(pageCacheKibibytes: 12_345, walCheckpointPages: 2_222))
        #expect(store.configuration.pageCacheKibibytes == 12_345)
        #expect(try store.pragma("cache_size") == "-12345")
        #expect(try store.pragma("wal_autocheckpoint") == "2222")
        let defaults = try LedgerStore(path: dir.path("defaults.sqlite"))
        #expect(try defaults.pragma("cache_size") == "-32768")
        #expect(try defaults.pragma("wal_autocheckpoint") == "8192")
        #expect(LedgerStore.Configuration(pageCacheKibibytes: -5, walCheckpointPages: -1).pageCacheKibibytes == 0)
    }
}
