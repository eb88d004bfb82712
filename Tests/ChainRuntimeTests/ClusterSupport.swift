import ChainRuntime
import Foundation
import LedgerCore

/// Helpers shared by the cluster tests.
enum TestChain {
    /// How long a test waits for commits. Generous on purpose: the whole suite shares Swift's cooperative
    /// pool (one thread per core), and on a 2-core machine the synchronous simulation and conformance tests
    /// can hold it for a minute or two, during which a cluster's nodes barely get a turn.
    static let patience: Duration = .seconds(300)

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

    static func temporaryDirectory(_ name: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
