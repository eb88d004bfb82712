// InMemoryCluster: a whole chain in one process, the way a plant team's test
// harness would use it.
//
//   swift run InMemoryCluster [pbft|raft|pos|pow] [nodes]
//
// Starts the cluster (each node with its own SQLite store in a temporary
// folder), submits key-value transactions, crashes a node, keeps committing,
// restarts it and waits until it has caught up to the same state root.
import ChainRuntime
import Foundation
import LedgerCore

let arguments = Array(CommandLine.arguments.dropFirst())
let kind = arguments.first.flatMap(ConsensusEngineKind.init(rawValue:)) ?? .pbft
let count = arguments.dropFirst().first.flatMap(Int.init) ?? 4

let cluster = try await Cluster.start(ClusterConfiguration(nodes: count, consensus: kind, seed: 7))
var client = cluster.account(1)

@MainActor func submitBatch(_ n: Int, _ label: String) async throws -> Height {
    var txs = [Transaction]()
    for i in 0..<n { txs.append(try client.set(key: Array("\(label)-\(i)".utf8), value: Array("ok".utf8))) }
    let ids = try await cluster.enqueue(txs).map { try $0.get() }
    _ = try await cluster.waitForReceipts(ids)
    // Every running node has it in its store too (one may trail the node that answered by a block).
    try await cluster.waitForHeight(await cluster.heads().values.map(\.height).max() ?? 0, timeout: .seconds(60))
    let heads = await cluster.heads()
    print("\(label): \(n) transactions committed; heights", heads.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.height)" }.joined(separator: " "))
    return heads.values.map(\.height).max() ?? 0
}

do {
    _ = try await submitBatch(100, "warm-up")
    let victim = NodeID(UInt32(count - 1))
    await cluster.crash(victim)
    print("crashed \(victim)")
    let top = try await submitBatch(300, "while-down")
    try await cluster.restart(victim)
    print("restarted \(victim)")
    try await cluster.waitForHeight(top, timeout: .seconds(60))
    let heads = await cluster.heads()
    for (id, head) in heads.sorted(by: { $0.key < $1.key }) {
        let root = try await cluster.node(id).ledger.header(atHeight: top).stateRoot
        print("\(id): height \(head.height), state root at \(top) = \(root.hex.prefix(16))")
    }
} catch {
    for id in await cluster.runningNodes { print(try await cluster.node(id).health, try await cluster.node(id).metrics) }
    print("error: \(error)")
}
await cluster.shutdown()
