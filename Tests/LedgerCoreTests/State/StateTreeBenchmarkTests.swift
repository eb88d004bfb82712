import Foundation
import Testing
import LedgerCore

/// Throughput figures for Documentation/Performance.md. Off by default; run with
/// `FORGECHAIN_STATE_BENCH=1 swift test -c release --filter StateTreeBenchmark`.
struct StateTreeBenchmarkTests {
    static let enabled = ProcessInfo.processInfo.environment["FORGECHAIN_STATE_BENCH"] == "1"

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func rate(_ count: Int, _ seconds: Double) -> String {
        String(format: "%10.0f/s", Double(count) / seconds)
    }

    @Test("State tree throughput: batch updates, reads, proof generation and verification (in-memory store)",
          .enabled(if: enabled), arguments: [10_000, 100_000])
    func measureThroughput(keys: Int) throws {
        for algorithm in keys == 10_000 ? HashAlgorithm.allCases : [.sha256] {
            let tree = StateTree(algorithm)
            let store = InMemoryStateNodeStore()
            let pairs = StateFixtures.pairs(count: keys, seed: 77)
            var root = tree.emptyRoot
            let load = try Self.seconds { root = try StateFixtures.build(tree, pairs, batch: 10_000, store: store) }
            var rng = SplitMix64(seed: 78)

            // Batches of 1,000 changes: 500 updates of present keys, 500 new keys; previewed, not stored.
            let rounds = 20
            let batches: [[StateChange]] = (0..<rounds).map { r in
                (0..<500).map { _ in
                    let p = pairs[Int(rng.next() % UInt64(keys))]
                    return .set(p.key, p.value + [1])
                } + (0..<500).map { i in .set(Array("new-\(r)-\(i)".utf8), [UInt8(i & 0xff)]) }
            }
            var nodesWritten = 0
            var times: [Double] = []
            for batch in batches {
                times.append(try Self.seconds { nodesWritten += try tree.update(root: root, changes: batch, store: store).nodes.count })
            }
            times.sort()
            let median = times[rounds / 2]

            let readKeys = (0..<20_000).map { _ in pairs[Int(rng.next() % UInt64(keys))].key }
            let reads = try Self.seconds { for k in readKeys { _ = try tree.value(forKey: k, root: root, store: store) } }
            let proofKeys = (0..<20_000).map { i in i % 2 == 0 ? readKeys[i] : StateFixtures.key(i) }
            var proofs: [StateProof] = []
            proofs.reserveCapacity(proofKeys.count)
            let generate = try Self.seconds { for k in proofKeys { proofs.append(try tree.proof(forKey: k, root: root, store: store)) } }
            let verify = try Self.seconds { for p in proofs { try p.verify(root: root, algorithm: algorithm) } }
            let meanDepth = Double(proofs.reduce(0) { $0 + $1.depth }) / Double(proofs.count)
            let meanSize = Double(proofs.reduce(0) { $0 + $1.encoded.count }) / Double(proofs.count)

            print("""
            state-bench \(algorithm) keys=\(keys) nodes=\(store.count) bulk-load \(Self.rate(keys, load)) keys
              update 1,000-change batch: median \(String(format: "%.2f", median * 1000)) ms = \(Self.rate(1000, median)) changes, \(nodesWritten / rounds) new nodes/batch
              reads \(Self.rate(readKeys.count, reads))  proofs \(Self.rate(proofs.count, generate))  verify \(Self.rate(proofs.count, verify))
              mean proof depth \(String(format: "%.1f", meanDepth)), mean encoded proof \(String(format: "%.0f", meanSize)) bytes
            """)
            #expect(median > 0)
        }
    }
}
