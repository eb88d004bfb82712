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
        var client = cluster.account(1)
        let perRound = max(10, transactions * 10)
        func round(_ label: String, to node: NodeID) async throws {
            var txs = [Transaction]()
            for i in 0..<perRound {
                txs.append(try client.set(key: Array("\(label)-\(i)".utf8), value: Array("inspection passed".utf8)))
            }
            let ids = try await cluster.enqueue(txs, to: node).map { try $0.get() }
            _ = try await cluster.waitForReceipts(ids, on: node)
            await show("\(label): \(perRound) transactions committed", cluster)
        }
        do {
            try await round("round-1", to: 0)
            let victim = NodeID(UInt32(nodes - 1))
            await cluster.crash(victim)
            print("Crashed node \(victim.rawValue).")
            try await round("round-2 (node \(victim.rawValue) down)", to: 0)
            try await round("round-3 (node \(victim.rawValue) down)", to: 1)
            let top = try await cluster.node(0).head.height
            try await cluster.restart(victim)
            print("Restarted node \(victim.rawValue) on its store; catching up to height \(top)...")
            try await cluster.waitForHeight(top, nodes: [victim], timeout: .seconds(60))
            await show("caught up", cluster)
            let roots = try await Set(cluster.runningNodes.asyncMap { try await cluster.node($0).ledger.header(atHeight: top).stateRoot })
            print(roots.count == 1 ? "Every node holds the same state root at height \(top): \(roots.first!.hex.prefix(16))…"
                                   : "State roots differ at height \(top)!")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    static func show(_ label: String, _ cluster: Cluster) async {
        let heads = await cluster.heads()
        let text = heads.sorted { $0.key < $1.key }.map { "n\($0.key.rawValue)=\($0.value.height)" }.joined(separator: " ")
        print("\(label); heights: \(text)")
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out = [T]()
        for e in self { out.append(try await transform(e)) }
        return out
    }
}
