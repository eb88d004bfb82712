@testable import AppAPI
@testable import ChainRuntime
import Contracts
import Foundation
@testable import LedgerCore
import Testing

/// The chain's event bus carries system events beside contract logs: record changes (derived from the records
/// transactions), block commits, contract state changes; all in one order, resumable from any checkpoint.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SystemEventFeedTests {
    @Test func recordChangesBlocksAndContractStatesShareOneResumableFeed() async throws {
        var c = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 97)
        c.clock = .simulated
        c.executors = [RecordsExecutor(), AccessExecutor(), ContractExecutor(precompiles: [RecordsPrecompile()])]
        let cluster = try await Cluster.start(c)
        var founder = SigningAccount(key: cluster.genesisKey, chainID: c.chainID, hashAlgorithm: c.hashAlgorithm)
        var alice = cluster.account(1)
        func commit(_ tx: Transaction) async throws {
            let receipt = try await cluster.submit(tx, timeout: .seconds(120))
            #expect(receipt.status == Receipt.success, "\(String(decoding: receipt.output, as: UTF8.self))")
        }
        try await commit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .putAccount(user: "alice", roles: [.recordManager], scope: .factories(["F-KM-02"]), enabled: true),
            .addKey(user: "alice", key: alice.key.publicKey)])))
        let one = RecordsFixture.production(1), two = RecordsFixture.production(2)
        try await commit(try alice.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body([
            RecordQueryEndpointTests.create(one, uploader: "alice"), RecordQueryEndpointTests.create(two, uploader: "alice")])))
        let changed = try one.applying(["propara.pro_temperature": "80.0"])
        try await commit(try alice.transaction(kind: RecordsExecutor.kind, body: RecordOperation.body([
            RecordOperation(kind: .update, recordID: one.recordID, version: 2, recordBytes: changed.canonicalEncoding, digest: changed.digest(),
                            uploader: "alice", condition: .expectedVersion(1), changedFields: ["propara.pro_temperature"])])))
        let (_, initCode) = try RecordsPrecompileTests.batchCheck()
        try await commit(try founder.transaction(kind: ContractExecutor.kind,
                                                 body: ContractOperation.deploy(name: "batch-check", initCode: initCode, gasLimit: 3_000_000).encoded))
        try await commit(try founder.transaction(kind: ContractExecutor.kind, body: ContractOperation.pause(name: "batch-check").encoded))
        let node = try await cluster.node(0)
        let store = await node.ledger
        let derivers: [any LogDeriver] = [RecordChangeLogs()]

        // Record changes, in chain order, and one record's alone by its topic; none without the deriver.
        let records = try LogFeed.history(store: store, filter: LogFilter(emitters: [RecordChangeLogs.emitter]), derivers: derivers)
        let changes = try records.events.map { try RecordChangeLogs.decode($0.log) }
        #expect(changes.map { "\($0.recordID)@\($0.version)" } == ["\(one.recordID)@1", "\(two.recordID)@1", "\(one.recordID)@2"])
        #expect(changes[2].digest == changed.digest() && changes[0].factoryUID == "F-KM-02" && changes[0].kind == .production)
        #expect(records.events[0].checkpoint.transactionIndex == records.events[1].checkpoint.transactionIndex)
        let onlyOne = try LogFeed.history(store: store, filter: LogFilter(emitters: [RecordChangeLogs.emitter],
                                                                          topics: [nil, [RecordChangeLogs.topic(recordID: one.recordID)]]),
                                          derivers: derivers)
        #expect(onlyOne.events.map(\.checkpoint) == [records.events[0].checkpoint, records.events[2].checkpoint])
        #expect(try LogFeed.history(store: store, filter: LogFilter(emitters: [RecordChangeLogs.emitter])).events.isEmpty)

        // One "block committed" event per block, after its transactions' logs, naming the block.
        let head = store.head!.height.rawValue
        let blocks = try LogFeed.history(store: store, filter: LogFilter(emitters: [], includeBlocks: true))
        #expect(blocks.events.map(\.checkpoint) == (1...head).map { LogCheckpoint.end(of: $0) })
        for event in blocks.events {
            let height = event.checkpoint.height
            #expect(event.log.emitter == LogFeed.blockEmitter && event.log.topics == [LogFeed.blockCommittedTopic])
            #expect(event.log.data == UInt256Words.word(height) + (try store.blockHash(atHeight: Height(height))).bytes
                        + UInt256Words.word(UInt64(try store.receipts(atHeight: Height(height)).count)))
        }

        // Contract state changes: deployed (active), then paused.
        let states = try LogFeed.history(store: store, filter: LogFilter(emitters: [ContractExecutor.systemEmitter]))
        #expect(states.events.map { $0.log.data[63] } == [ContractStatus.active.rawValue, ContractStatus.paused.rawValue])
        // A transaction whose events cannot be derived (a damaged ledger) fails the read instead of leaving them out.
        struct Damaged: LogDeriver {
            var payloadKinds: Set<String> { [RecordsExecutor.kind] }
            var emitters: Set<[UInt8]> { [RecordChangeLogs.emitter] }
            func logs(of transaction: Transaction, receipt: Receipt, matching filter: LogFilter) throws(LedgerError) -> [ReceiptLog?] {
                throw LedgerError(.malformedPayload, "damaged")
            }
        }
        let damaged = #expect(throws: ChainError.self) {
            _ = try LogFeed.history(store: store, filter: LogFilter(emitters: [RecordChangeLogs.emitter]), derivers: [Damaged()])
        }
        #expect(damaged?.code == .logFeedReadFailed && damaged?.details["cause"] == "1901", "\(String(describing: damaged))")
        let garbage = Transaction(chainID: c.chainID, sender: alice.key.publicKey, nonce: 9, timestamp: Timestamp(millisecondsSince1970: 1),
                                  payload: TransactionPayload(kind: RecordsExecutor.kind, body: [0xC1, 0xFF]))
        #expect(throws: LedgerError.self) {
            _ = try RecordChangeLogs().logs(of: garbage, receipt: Receipt(transactionID: Digest(repeating: 0), status: Receipt.success),
                                            matching: LogFilter())
        }
        // A deriver the filter's emitters exclude changes nothing (and is not asked).
        #expect(try LogFeed.history(store: store, filter: LogFilter(emitters: [ContractExecutor.systemEmitter]), derivers: derivers).events
                    == states.events)

        // All of them in one feed; a subscriber resuming from any checkpoint gets exactly the rest, in order.
        let all = LogFilter(emitters: [RecordChangeLogs.emitter, ContractExecutor.systemEmitter], includeBlocks: true)
        let everything = try LogFeed.history(store: store, filter: all, derivers: derivers).events
        #expect(everything.count == records.events.count + blocks.events.count + states.events.count)
        #expect(everything.map(\.checkpoint) == everything.map(\.checkpoint).sorted())
        for k in [0, 3, everything.count - 2] {
            var received = [LogEvent]()
            for try await event in LogFeed.subscribe(node: node, filter: all, after: everything[k].checkpoint, derivers: derivers) {
                received.append(event)
                if received.count == everything.count - k - 1 { break }
            }
            #expect(received == Array(everything[(k + 1)...]))
        }
        // Pages of two give the same events.
        var paged = [LogEvent](), after: LogCheckpoint? = nil
        repeat {
            let page = try LogFeed.history(store: store, filter: all, after: after, limit: 2, derivers: derivers)
            paged += page.events
            after = page.next
        } while after != nil
        #expect(paged == everything)
        await cluster.shutdown()
    }
}
