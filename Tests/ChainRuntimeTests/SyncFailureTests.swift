@testable import ChainRuntime
import Foundation
import LedgerCoreTesting
@testable import LedgerCore
import Net
import Testing

/// A node whose store cannot read the blocks a peer asked for says so (`syncFailed` with the store's code), so the
/// peer can tell a failed store from a chain that has no such blocks, and asks another peer.
@Suite(.serialized) struct SyncFailureTests {
    @Test func aSyncRequestTheStoreFailsToReadIsAnsweredWithTheStoresCodeNotAnEmptyBatch() async throws {
        let dir = try TestChain.temporaryDirectory("sync-failure")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let network = InMemoryNetwork()
        let configuration = try NodeConfiguration.seededSingleNode(storePath: dir + "/ledger.sqlite", seed: 1409)
        let node = try await Node<RaftEngine>(configuration: configuration, transport: try network.attach(0))
        await node.start()
        var alice = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 5, count: 32)), chainID: 53)
        for i in 0..<2 { _ = try await node.submit(try TestChain.kv(&alice, "k\(i)", "v"), timeout: TestChain.realTimePatience) }
        let head = await node.head.height
        #expect(head >= 2)

        // A peer that is not a validator asks for blocks.
        let peer = try network.attach(1)
        // The sync replies the peer receives (status beacons and consensus messages left out).
        let replies = AsyncStream<NodeMessage> { continuation in
            Task {
                for await event in peer.events {
                    guard case .message(let from, let bytes) = event, from == NodeID(0), let m = try? NodeMessage(decoding: bytes) else { continue }
                    switch m {
                    case .syncResponse, .syncFailed: continuation.yield(m)
                    default: continue
                    }
                }
                continuation.finish()
            }
        }
        func syncReply() async throws -> NodeMessage {
            try await TestChain.first(replies, "a sync reply", within: .seconds(30)) { _ in true }
        }

        // Past the head: an empty batch, which means "no blocks from there on".
        try await peer.send(NodeMessage.syncRequest(from: head.next, count: 8).encoded, to: 0)
        #expect(try await syncReply() == .syncResponse([]))

        // Another writer damages block 1's certificate: reading 1... fails, and the answer says why.
        try SQLiteConnection(path: dir + "/ledger.sqlite", mode: .readWrite).execute("UPDATE certificates SET encoded = x'C0' WHERE height = 1")
        let storeErrorsBefore = await node.metrics.storeErrors
        try await peer.send(NodeMessage.syncRequest(from: 1, count: 8).encoded, to: 0)
        #expect(try await syncReply() == .syncFailed(from: 1, code: LedgerError.Code.storeCorrupted.rawValue))
        #expect(await node.metrics.storeErrors == storeErrorsBefore + 1, "the failed read is counted (and logged) as a store error")
        await node.stop()
        network.shutdown()
    }

    @Test func syncFailedIsMessageKindSixAndRoundTrips() throws {
        let message = NodeMessage.syncFailed(from: 12, code: 1510)
        #expect(message.encoded == RLP.encode(.list([.uint(6), .uint(12), .uint(1510)])))
        #expect(try NodeMessage(decoding: message.encoded) == message)
        #expect(try NodeMessage(decoding: NodeMessage.syncFailed(from: 0, code: .max).encoded) == .syncFailed(from: 0, code: .max))
        // A code wider than 32 bits, a missing field and an unknown kind are refused.
        #expect(throws: LedgerError.self) { try NodeMessage(decoding: RLP.encode(.list([.uint(6), .uint(12), .uint(1 << 32)]))) }
        #expect(throws: LedgerError.self) { try NodeMessage(decoding: RLP.encode(.list([.uint(6), .uint(12)]))) }
        #expect(throws: LedgerError.self) { try NodeMessage(decoding: RLP.encode(.list([.uint(7), .uint(12), .uint(1510)]))) }
    }

    @Test func aPeerThatCouldNotServeSyncIsLeftAloneAndAnotherPeerAheadIsAsked() throws {
        var h = try NodeCoreTests.Harness()
        for peer in [NodeID(1), NodeID(2)] {
            _ = h.core.handle(.received(.connected(peer), now: h.at(1)))
        }
        _ = h.core.handle(.received(.other(from: 1, .status(height: 40, head: .zero)), now: h.at(1)))
        _ = h.core.handle(.received(.other(from: 2, .status(height: 30, head: .zero)), now: h.at(1)))
        #expect(h.core.syncOutstanding?.peer == 1, "the peer furthest ahead is asked first")

        let actions = h.core.handle(.received(.other(from: 1, .syncFailed(from: 1, code: 1501)), now: h.at(2)))
        let retry = NodeMessage.syncRequest(from: 1, count: h.core.configuration.syncBatchBlocks).encoded
        #expect(actions.contains { if case .send(let bytes, let to) = $0 { bytes == retry && to == 2 } else { false } })
        #expect(h.core.syncOutstanding?.peer == 2)
        #expect(h.core.metrics.syncFailuresReceived == 1)
    }
}
