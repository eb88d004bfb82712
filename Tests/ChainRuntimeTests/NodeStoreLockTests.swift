import ChainRuntime
import Foundation
import LedgerCore
import LedgerCoreTesting
import Net
import Testing

/// A node owns its store file: a second node on it fails at once with `.storeLocked` (1520), and a stopped node
/// lets go of it even while its object lives on.
@Suite struct NodeStoreLockTests {
    @Test func aSecondNodeOnTheSameStoreFailsAtOnceAndOpensOnceTheFirstIsStopped() async throws {
        let dir = try TestChain.temporaryDirectory("node-lock")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let configuration = try NodeConfiguration.seededSingleNode(storePath: dir + "/ledger.sqlite", seed: 1407)
        let first = try await Node<RaftEngine>(configuration: configuration, transport: try InMemoryNetwork().attach(0))
        await first.start()

        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: LedgerError.self) {
            _ = try await Node<RaftEngine>(configuration: configuration, transport: try InMemoryNetwork().attach(0))
        }
        #expect(error?.code == .storeLocked && error?.details["pid"] == String(getpid()), "\(String(describing: error))")
        #expect(clock.now - start < .seconds(2))

        await first.stop()
        let second = try await Node<RaftEngine>(configuration: configuration, transport: try InMemoryNetwork().attach(0))
        #expect(await second.head == (await first.head))
        #expect(try await first.ledger.blockHash(atHeight: 0) == configuration.genesis.headerHash)   // still readable
        await second.stop()
    }

    @Test func aNodeOnMemoryUsesAnInMemoryStoreWithoutALockFile() async throws {
        let configuration = try NodeConfiguration.seededSingleNode(storePath: ":memory:", seed: 1407)
        let node = try await Node<RaftEngine>(configuration: configuration, transport: try InMemoryNetwork().attach(0))
        #expect(await node.ledger.path == nil)
        #expect(try await node.ledger.blockHash(atHeight: 0) == configuration.genesis.headerHash)
        #expect(!FileManager.default.fileExists(atPath: ":memory:.lock"))
        await node.stop()
    }
}
