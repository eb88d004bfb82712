import ChainRuntime
@testable import Contracts
import Foundation
@testable import LedgerCore
import Testing

/// The Vyper traceability contract (Tests/Fixtures/Contracts, vyper 0.4.3 output) on four PBFT nodes: deployed,
/// called with strings, integers and arrays through its JSON ABI, read without a transaction on every node, and
/// its events received by a subscriber across a restart of the node it reads, with no gap and no duplicate.
@Suite(.timeLimit(.minutes(3))) struct TraceabilityClusterTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Contracts")

    /// `get_batch`'s four values, as the ABI tests read them.
    typealias Batch = ABITraceabilityContractTests.BatchView

    static func word(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    @Test func theTraceabilityContractRunsOnFourNodesAndItsEventsSurviveARestart() async throws {
        let abi = try ContractInterface(json: Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("Traceability.abi.json"))))
        let hex = try String(contentsOf: Self.fixtures.appendingPathComponent("Traceability.bin"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let bytecode = try Hex.decode(hex.hasPrefix("0x") ? String(hex.dropFirst(2)) : hex)

        var configuration = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 1407)
        configuration.clock = .simulated
        configuration.executors = [ContractExecutor()]
        let cluster = try await Cluster.start(configuration)
        var founder = SigningAccount(key: cluster.genesisKey, chainID: configuration.chainID, hashAlgorithm: configuration.hashAlgorithm)
        let ids = cluster.nodeIDs
        func send(_ operation: ContractOperation, to node: NodeID) async throws -> Receipt {
            try await cluster.submit(try founder.transaction(kind: ContractExecutor.kind, body: operation.encoded), to: node, timeout: .seconds(120))
        }
        func call(_ data: [UInt8], to node: NodeID) async throws -> Receipt {
            try await send(.call(.name("traceability"), data: data, gasLimit: 1_000_000), to: node)
        }

        let deployed = try await send(.deploy(name: "traceability", initCode: try abi.encodeConstructor(bytecode: bytecode), gasLimit: 3_000_000), to: ids[0])
        #expect(deployed.status == Receipt.success, "\(String(decoding: deployed.output, as: UTF8.self))")
        let address = try #require(EVMAddress(bytes: deployed.output))
        let reader = ids[1]
        let filter = LogFilter(emitters: [address.bytes],
                               topics: [[Digest(word: try abi.event("BatchRegistered").topic0), Digest(word: try abi.event("RecordAdded").topic0)]])
        let collected = ContractEventFeedTests.Collected()
        var consumer = ContractEventFeedTests.consume(LogFeed.subscribe(node: try await cluster.node(reader), filter: filter), into: collected)

        // A string, an integer and two arrays.
        let registered = try await call(try abi.encodeCall("register_batch", .string("B-17"), .uint(42),
                                                           .array([.fixedBytes(Self.word(0x11)), .fixedBytes(Self.word(0x22))]),
                                                           .array([.fixedBytes(Self.word(0xAA)), .fixedBytes(Self.word(0xBB))])), to: ids[0])
        #expect(registered.status == Receipt.success, "\(String(decoding: registered.output, as: UTF8.self))")
        #expect(try await call(try abi.encodeCall("add_record", .string("B-17"), .fixedBytes(Self.word(0x33)), .fixedBytes(Self.word(0xCC))),
                               to: ids[2]).status == Receipt.success)
        // The contract's own rule, with its reason in the receipt.
        let duplicate = try await call(try abi.encodeCall("register_batch", .string("B-17"), .uint(1), .array([]), .array([])), to: ids[3])
        #expect(duplicate.status == UInt64(ContractError.Code.contractReverted.rawValue))
        #expect(String(decoding: duplicate.output, as: UTF8.self).contains("batch exists"))
        try await cluster.run(until: { _ in collected.count >= 2 }, timeout: .seconds(60))

        // The subscriber's node goes down; two more records; it comes back and the subscriber resumes.
        await cluster.crash(reader)
        consumer.cancel()
        _ = await consumer.value
        for b: UInt8 in [0x44, 0x55] {
            #expect(try await call(try abi.encodeCall("add_record", .string("B-17"), .fixedBytes(Self.word(b)), .fixedBytes(Self.word(b &+ 0x88))),
                                   to: ids[2]).status == Receipt.success)
        }
        try await cluster.restart(reader)
        consumer = ContractEventFeedTests.consume(LogFeed.subscribe(node: try await cluster.node(reader), filter: filter, after: collected.last),
                                                  into: collected)
        #expect(try await call(try abi.encodeCall("add_record", .string("B-17"), .fixedBytes(Self.word(0x66)), .fixedBytes(Self.word(0xEE))),
                               to: ids[0]).status == Receipt.success)
        try await cluster.run(until: { _ in collected.count >= 5 }, timeout: .seconds(120))
        await cluster.run(ticks: 50)
        consumer.cancel()

        let decoded = try collected.events.withLock { $0 }.map { event in
            try abi.decodeLog(topics: event.log.topics.map { UInt256(bigEndian: $0.bytes) }, data: event.log.data)
        }
        #expect(decoded.map(\.name) == ["BatchRegistered", "RecordAdded", "RecordAdded", "RecordAdded", "RecordAdded"])
        #expect(decoded.dropFirst().map { $0.values.last?.intValue } == [2, 3, 4, 5], "record indexes, once each, in order")

        // Read without a transaction on every node: the same batch everywhere.
        let head = try #require(await cluster.heads().values.map(\.height).max())
        try await cluster.waitForHeight(head)
        let query = try abi.encodeCall("get_batch", .string("B-17"))
        for id in ids {
            let store = try await cluster.node(id).ledger
            let output = try ContractExecutor().view(.name("traceability"), data: query, height: head.rawValue + 1,
                                                     chainID: configuration.chainID, state: StoreStateReader(store: store))
            let batch = try abi.decodeOutput(Batch.self, of: "get_batch", from: output)
            #expect(batch == Batch(quantity: 42, registrar: EVMAddress(publicKey: cluster.genesisKey.publicKey),
                                   records: [0x11, 0x22, 0x33, 0x44, 0x55, 0x66].map(Self.word),
                                   digests: [0xAA, 0xBB, 0xCC, 0xCC, 0xDD, 0xEE].map(Self.word)), "node \(id.rawValue)")
        }
        await cluster.shutdown()
    }
}
