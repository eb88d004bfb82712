import ChainRuntime
import Contracts
@testable import LedgerCore
import Synchronization
import Testing

/// A contract's events through the log feed: history pages, and a live subscription that resumes from its
/// checkpoint after the node it reads is crashed and restarted, with no gap and no duplicate.
@Suite(.timeLimit(.minutes(3))) struct ContractEventFeedTests {
    final class Collected: Sendable {
        let events = Mutex<[LogEvent]>([])
        var count: Int { events.withLock { $0.count } }
        var last: LogCheckpoint? { events.withLock { $0.last?.checkpoint } }
    }

    static func consume(_ stream: AsyncThrowingStream<LogEvent, any Error>, into collected: Collected) -> Task<Void, Never> {
        Task {
            do { for try await event in stream { collected.events.withLock { $0.append(event) } } } catch {}
        }
    }

    @Test func aSubscriberGetsEveryEventOnceAcrossANodeRestart() async throws {
        var configuration = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 61)
        configuration.clock = .simulated
        configuration.executors = [ContractExecutor()]
        let cluster = try await Cluster.start(configuration)
        var founder = SigningAccount(key: cluster.genesisKey, chainID: configuration.chainID, hashAlgorithm: configuration.hashAlgorithm)
        let ids = cluster.nodeIDs
        func submit(_ operation: ContractOperation, to node: NodeID) async throws -> Receipt {
            try await cluster.submit(try founder.transaction(kind: ContractExecutor.kind, body: operation.encoded), to: node, timeout: .seconds(120))
        }
        let deployed = try await submit(.deploy(name: "counter", initCode: TestContracts.deployment(of: TestContracts.counterRuntime(step: 1)),
                                                gasLimit: 200_000), to: ids[0])
        let address = try #require(EVMAddress(bytes: deployed.output))
        let filter = LogFilter(emitters: [address.bytes])

        let reader = ids[1]
        let collected = Collected()
        var consumer = Self.consume(LogFeed.subscribe(node: try await cluster.node(reader), filter: filter), into: collected)
        for _ in 0..<5 { _ = try await submit(.call(.name("counter"), data: [], gasLimit: 100_000), to: ids[0]) }
        try await cluster.run(until: { _ in collected.count >= 5 }, timeout: .seconds(60))

        // The node the subscriber reads goes down; the chain goes on without it.
        await cluster.crash(reader)
        consumer.cancel()
        _ = await consumer.value
        for _ in 0..<5 { _ = try await submit(.call(.name("counter"), data: [], gasLimit: 100_000), to: ids[2]) }
        try await cluster.restart(reader)
        consumer = Self.consume(LogFeed.subscribe(node: try await cluster.node(reader), filter: filter, after: collected.last), into: collected)
        for _ in 0..<2 { _ = try await submit(.call(.name("counter"), data: [], gasLimit: 100_000), to: ids[3]) }
        try await cluster.run(until: { _ in collected.count >= 12 }, timeout: .seconds(120))
        await cluster.run(ticks: 50)
        consumer.cancel()

        let events = collected.events.withLock { $0 }
        #expect(events.map { UInt256(bigEndian: $0.log.data) } == (1...12).map { UInt256(UInt64($0)) }, "every value once, in order")
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.checkpoint < $1.checkpoint })

        // History, in pages of 5, gives the same events.
        let store = try await cluster.node(reader).ledger
        var paged = [LogEvent]()
        var after: LogCheckpoint?
        repeat {
            let page = try LogFeed.history(store: store, filter: filter, after: after, limit: 5)
            #expect(page.events.count <= 5)
            paged += page.events
            after = page.next
        } while after != nil
        #expect(paged == events)
        // The lifecycle logs of the executor are a filter away.
        let lifecycle = try LogFeed.history(store: store, filter: LogFilter(emitters: [ContractExecutor.systemEmitter]))
        #expect(lifecycle.events.count == 1 && lifecycle.events[0].log.topics == [ContractExecutor.stateChangedTopic])
        #expect(throws: ChainError.self) { try LogFeed.history(store: store, filter: filter, limit: 0) }
        await cluster.shutdown()
    }
}
