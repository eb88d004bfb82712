import ChainRuntime
import Foundation
import LedgerCore

/// `forgechain demo --cluster N`.
enum ClusterDemo {
    // Not optimised: Swift 6.1 crashes splitting this coroutine in release builds (signal 11 in CoroSplit).
    @_optimize(none)
    static func run(nodes: Int, transactions: Int) async throws {
        print("Starting a \(nodes)-node PBFT cluster in memory (one SQLite store per node in a temporary folder)...")
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: nodes, consensus: .pbft, seed: 1407))
        let result = await Result(catching: { try await scenario(cluster, nodes: nodes, perRound: max(10, transactions * 10)) })
        await cluster.shutdown()
        try result.get()
    }

    static func scenario(_ cluster: Cluster, nodes: Int, perRound: Int) async throws {
        var client = cluster.account(1)
        try await round(cluster, &client, "round-1", perRound, to: 0)
        let victim = NodeID(UInt32(nodes - 1))
        await cluster.crash(victim)
        print("Crashed node \(victim.rawValue).")
        try await round(cluster, &client, "round-2 (node \(victim.rawValue) down)", perRound, to: 0)
        try await round(cluster, &client, "round-3 (node \(victim.rawValue) down)", perRound, to: 1)
        let top = try await cluster.node(0).head.height
        try await cluster.restart(victim)
        print("Restarted node \(victim.rawValue) on its store; catching up to height \(top)...")
        try await cluster.waitForHeight(top, nodes: [victim], timeout: .seconds(60))
        await show("caught up", cluster)
        var roots = Set<Digest>()
        for id in await cluster.runningNodes {
            let store = try await cluster.node(id).ledger
            roots.insert(try store.header(atHeight: top).stateRoot)
        }
        print(roots.count == 1 ? "Every node holds the same state root at height \(top): \(roots.first!.hex.prefix(16))…"
                               : "State roots differ at height \(top)!")
    }

    static func round(_ cluster: Cluster, _ client: inout SigningAccount, _ label: String, _ count: Int, to node: NodeID) async throws {
        var txs = [Transaction]()
        for i in 0..<count {
            txs.append(try client.set(key: Array("\(label)-\(i)".utf8), value: Array("inspection passed".utf8)))
        }
        let results = try await cluster.enqueue(txs, to: node)
        let ids = try results.map { try $0.get() }
        _ = try await cluster.waitForReceipts(ids, on: node)
        // Every running node has it in its store too (a backup may trail the receiving node by a block).
        try await cluster.waitForHeight(try await cluster.node(node).head.height, timeout: .seconds(60))
        await show("\(label): \(count) transactions committed", cluster)
    }

    static func show(_ label: String, _ cluster: Cluster) async {
        let heads = await cluster.heads()
        let text = heads.sorted { $0.key < $1.key }.map { "n\($0.key.rawValue)=\($0.value.height)" }.joined(separator: " ")
        print("\(label); heights: \(text)")
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
