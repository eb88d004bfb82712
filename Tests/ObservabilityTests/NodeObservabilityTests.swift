import CSQLite
import ChainRuntime
import Foundation
import LedgerCore
import LedgerCoreTesting
import Logging
import Metrics
import MetricsTestKit
import Net
import Testing

/// Logs and metrics of the node and its store, captured with in-memory
/// handlers given through `NodeConfiguration` and `LedgerStore.Configuration`.
@Suite struct NodeObservabilityTests {
    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-obs-node-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func commitsAreCountedPerBlockRefusalsByCodeAndStoreDamageIsLogged() async throws {
        let capture = LogCapture()
        let metrics = TestMetrics()
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = try NodeConfiguration.seededSingleNode(storePath: dir + "/ledger.sqlite", seed: 11)
        config.logger = capture.logger(label: "forgechain.node")
        config.metricsFactory = metrics
        // On simulated time: the receipt wait below counts ticks, so a busy machine slows the test, never fails it.
        let node = try await Node<RaftEngine>.simulatedSolo(configuration: config, transport: try InMemoryNetwork().attach(0),
                                                           executors: [KeyValueExecutor()])
        await node.start()

        var account = SigningAccount(key: try PrivateKey.generate(.ed25519), chainID: config.genesis.header.chainID)
        let body = "Secret-Transaction-Body-Value"
        let transactions = try (0..<300).map { i in try account.set(key: Array("obs-\(i)".utf8), value: Array("\(body)-\(i)".utf8)) }
        let admitted = await node.enqueue(transactions)
        #expect(admitted.allSatisfy { if case .success = $0 { true } else { false } })
        var stranger = SigningAccount(key: try PrivateKey.generate(.ed25519), chainID: 999)
        let foreign = try (0..<3).map { _ in try stranger.set(key: Array("k".utf8), value: Array("v".utf8)) }
        let refused = await node.enqueue(foreign)
        #expect(refused.allSatisfy { if case .failure(let e) = $0 { e.code == .wrongChain } else { false } })
        _ = try await node.waitForReceipt(transactions[299].id(using: config.hashAlgorithm), timeout: .seconds(60))
        let head = await node.head
        await node.stop()

        let dims = [("node", "0")]
        let committed = try metrics.expectCounter("forgechain_transactions_committed_total", dims)
        #expect(committed.totalValue == 300)
        let blocks = metrics.counterTotal(label: "forgechain_blocks_committed_total", dimensions: dims)
        #expect(blocks >= 1 && blocks <= Int64(head.height.rawValue))
        // One increment per block that held transactions, never one per transaction.
        let commitRecords = capture.records("block committed")
        let nonEmpty = commitRecords.filter { $0.metadata["transactions"] != "0" }
        #expect(committed.values.count == nonEmpty.count && committed.values.count < 300)
        #expect(commitRecords.count == Int(blocks) && commitRecords.allSatisfy { $0.level == .debug && $0.metadata["node"] == "0" })
        #expect(nonEmpty.compactMap { Int($0.metadata["transactions"]?.description ?? "") }.reduce(0, +) == 300)
        #expect(try metrics.expectGauge("forgechain_committed_height", dims).lastValue == Double(head.height.rawValue))
        #expect(try metrics.expectTimer("forgechain_block_append_seconds", dims).values.count == Int(blocks))
        #expect(try metrics.expectTimer("forgechain_commit_latency_seconds", dims).values.count == Int(blocks))
        let refusedCounter = try metrics.expectCounter("forgechain_transactions_refused_total",
                                                       dims + [("source", "client"), ("code", String(ChainError.Code.wrongChain.rawValue))])
        #expect(refusedCounter.totalValue == 3 && refusedCounter.values.count == 1, "one update per batch")
        let refusal = capture.records("transactions refused")
        #expect(refusal.count == 1 && refusal.first?.metadata["codes"] == .dictionary([String(ChainError.Code.wrongChain.rawValue): "3"]))
        #expect(capture.records("node started").count == 1 && capture.records("node stopped").count == 1)
        #expect(capture.records.allSatisfy { !$0.text.contains(body) && !$0.text.contains(Hex.encode(config.signingKey.rawRepresentation)) })

        // Damage the head block's row: the store's open check finds it and logs it at error with code and height.
        try Self.rawSQL(dir + "/ledger.sqlite", "UPDATE blocks SET parent_hash = zeroblob(32) WHERE height = \(head.height.rawValue)")
        var storeConfiguration = LedgerStore.Configuration()
        storeConfiguration.logger = capture.logger(label: "forgechain.store")
        let damaged = #expect(throws: LedgerError.self) { try LedgerStore(path: dir + "/ledger.sqlite", configuration: storeConfiguration) }
        let findings = capture.records.filter { $0.label == "forgechain.store" && $0.message.hasPrefix("store integrity finding") }
        #expect(findings.count == 1)
        #expect(findings.first?.level == .error)
        #expect(findings.first?.metadata["code"]?.description == damaged.map { String($0.numericCode) })
        #expect(findings.first?.metadata["height"]?.description == head.height.description)
        #expect(findings.first?.metadata["check"] == "open")
    }

    @Test func aCrashedRaftLeaderIsSeenAsAViewChangeAndALeaderChange() async throws {
        let capture = LogCapture()
        let metrics = TestMetrics()
        var c = ClusterConfiguration(nodes: 3, consensus: .raft, seed: 7)
        c.clock = .simulated
        let logger = capture.logger(label: "forgechain.node")
        c.customize = { config in
            config.logger = logger
            config.metricsFactory = metrics
        }
        let cluster = try await Cluster.start(c)
        var client = cluster.account(0)
        _ = try await cluster.submit(try client.set(key: Array("a".utf8), value: Array("1".utf8)), timeout: .seconds(60))
        var leader: NodeID?
        for id in cluster.nodeIDs {
            if try await cluster.node(id).consensusStatus.role == .leader { leader = id }
        }
        let old = try #require(leader)
        let viewsBefore = metrics.counterTotal(label: "forgechain_view_changes_total")
        let leadersBefore = metrics.counterTotal(label: "forgechain_leader_changes_total")
        await cluster.crash(old)
        let survivors = cluster.nodeIDs.filter { $0 != old }
        _ = try await cluster.submit(try client.set(key: Array("b".utf8), value: Array("2".utf8)), to: survivors[0], timeout: .seconds(60))
        await cluster.shutdown()

        #expect(metrics.counterTotal(label: "forgechain_view_changes_total") > viewsBefore)
        #expect(metrics.counterTotal(label: "forgechain_leader_changes_total") > leadersBefore)
        let views = capture.records("view changed").filter { $0.metadata["node"] != "\(old.rawValue)" }
        #expect(!views.isEmpty && views.allSatisfy { $0.level == .info })
        let elected = capture.records("leader changed").filter { $0.level == .info && $0.metadata["previousLeader"] == "\(old.rawValue)" }
        #expect(!elected.isEmpty, "a survivor logs the new leader: \(capture.records("leader changed"))")
        let gauges = survivors.compactMap { try? metrics.expectGauge("forgechain_peers_alive", [("node", "\($0.rawValue)")]) }
        #expect(gauges.count == 2 && gauges.allSatisfy { ($0.values.max() ?? 0) >= 1 }, "each survivor saw the other alive")
    }

    /// Runs SQL directly on a store file through the C API (to damage it on purpose).
    static func rawSQL(_ path: String, _ sql: String) throws {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw CocoaError(.fileReadUnknown) }
        defer { sqlite3_close(db) }
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw CocoaError(.fileWriteUnknown, userInfo: ["sqlite": String(cString: sqlite3_errmsg(db))])
        }
    }
}
