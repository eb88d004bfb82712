import ChainRuntime
import Foundation
import LedgerCore

extension ClusterConfiguration {
    /// The same configuration on simulated time (`ClusterClock.simulated`).
    var simulated: ClusterConfiguration {
        var c = self
        c.clock = .simulated
        return c
    }
}

/// Helpers shared by the cluster tests.
enum TestChain {
    /// How long a test waits for commits, in the cluster's time. Simulated clusters count it in ticks
    /// (12,000 of 10 ms), so a busy machine slows them down instead of failing them.
    static let patience: Duration = .seconds(120)
    /// The few tests that keep real time on purpose (the writer thread, wall-clock ticks) wait this long:
    /// the suite shares Swift's cooperative pool (one thread per core) with the simulation sweeps.
    static let realTimePatience: Duration = .seconds(120)

    static func kv(_ account: inout SigningAccount, _ key: String, _ value: String) throws -> Transaction {
        try account.set(key: Array(key.utf8), value: Array(value.utf8))
    }

    /// Submits `count` transactions from `account` to `node` and waits for all receipts.
    static func load(_ cluster: Cluster, account: inout SigningAccount, count: Int, prefix: String, to node: NodeID? = nil) async throws -> [Receipt] {
        var txs = [Transaction]()
        for i in 0..<count { txs.append(try kv(&account, "\(prefix)-\(i)", "v\(i)")) }
        let results = try await cluster.enqueue(txs, to: node)
        let ids = try results.map { try $0.get() }
        return try await cluster.waitForReceipts(ids, on: node, timeout: TestChain.patience)
    }

    /// Every running node's block hashes up to `height`, to compare chains; first waits until every running
    /// node holds `height` in its store (a node that committed may still be writing its last block).
    static func blockHashes(_ cluster: Cluster, through height: Height) async throws -> [NodeID: [Digest]] {
        try await cluster.waitForHeight(height, timeout: patience)
        var out = [NodeID: [Digest]]()
        for id in await cluster.runningNodes {
            let store = try await cluster.node(id).ledger
            out[id] = try (0...height.rawValue).map { try store.blockHash(atHeight: Height($0)) }
        }
        return out
    }

    /// A wait that gave up: the test fails with what it waited for instead of hanging.
    struct TimedOut: Error, CustomStringConvertible {
        var what: String
        var timeout: Duration
        var description: String { "gave up after \(timeout) waiting for \(what)" }
    }

    /// The first element of `stream` that `match` accepts.
    /// - Throws: ``TimedOut`` naming `what` when `timeout` passes, or the stream ends, first.
    static func first<T: Sendable>(_ stream: AsyncStream<T>, _ what: String, within timeout: Duration = patience,
                                   where match: @escaping @Sendable (T) -> Bool) async throws -> T {
        let found = await withTaskGroup(of: T?.self) { group in
            group.addTask {
                for await element in stream where match(element) { return element }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let found else { throw TimedOut(what: what, timeout: timeout) }
        return found
    }

    /// Polls `condition` every 20 ms until it holds.
    /// - Throws: ``TimedOut`` naming `what` when `timeout` passes first.
    static func waitUntil(_ what: String, timeout: Duration = patience, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TimedOut(what: what, timeout: timeout) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
