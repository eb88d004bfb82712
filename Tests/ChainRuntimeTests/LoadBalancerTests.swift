@testable import ChainRuntime
import LedgerCore
import Testing

/// Each strategy's distribution, and failover around a node whose circuit is open.
struct LoadBalancerTests {
    let nodes: [NodeID] = [0, 1, 2, 3]
    let t0 = ContinuousClock.now

    /// Picks `count` times, each request finishing at once with `success(node)`; returns the picks per node.
    func distribution(_ balancer: inout LoadBalancer, count: Int, key: (Int) -> [UInt8]? = { _ in nil },
                      success: (NodeID) -> Bool = { _ in true }) -> [NodeID: Int] {
        var out = [NodeID: Int]()
        for i in 0..<count {
            var tried = Set<NodeID>()
            while let node = balancer.pick(key: key(i), excluding: tried, now: t0) {
                balancer.started(node)
                let ok = success(node)
                balancer.finished(node, success: ok, now: t0)
                if ok { out[node, default: 0] += 1; break }
                tried.insert(node)
            }
        }
        return out
    }

    @Test func roundRobinTakesEachNodeInTurn() {
        var b = LoadBalancer(nodes: nodes, strategy: .roundRobin)
        #expect((0..<8).map { _ in b.pick(now: t0)! } == [0, 1, 2, 3, 0, 1, 2, 3])
        #expect(distribution(&b, count: 400) == [0: 100, 1: 100, 2: 100, 3: 100])
    }

    @Test func weightedRoundRobinFollowsTheWeightsSpreadOut() {
        var b = LoadBalancer(nodes: nodes, strategy: .weightedRoundRobin([0: 5, 1: 1, 2: 1, 3: 1]))
        let first = (0..<8).map { _ in b.pick(now: t0)! }
        #expect(first.filter { $0 == 0 }.count == 5)
        #expect(first == [0, 0, 1, 0, 2, 0, 3, 0], "smooth: the heavy node's turns are spread between the others'")
        #expect(distribution(&b, count: 800) == [0: 500, 1: 100, 2: 100, 3: 100])
    }

    @Test func leastConnectionsAvoidsBusyNodes() {
        var b = LoadBalancer(nodes: nodes, strategy: .leastConnections)
        // Three long requests on 0, 1, 2: the next goes to 3, then to whichever is free.
        for n: NodeID in [0, 1, 2] { b.started(n) }
        #expect(b.pick(now: t0) == 3)
        b.started(3)
        b.finished(1, success: true, now: t0)
        #expect(b.pick(now: t0) == 1)
    }

    @Test func consistentHashingKeepsAKeyOnItsNodeAndMovesOnlyADeadNodesKeys() {
        var b = LoadBalancer(nodes: nodes, strategy: .consistentHashing)
        let keys = (0..<1_000).map { Array("sender-\($0)".utf8) }
        let home = keys.map { b.pick(key: $0, now: t0)! }
        #expect(keys.indices.allSatisfy { b.pick(key: keys[$0], now: t0) == home[$0] }, "stable")
        let spread = Dictionary(grouping: home, by: { $0 }).mapValues(\.count)
        #expect(spread.count == 4 && spread.values.allSatisfy { $0 > 120 }, "every node takes a share: \(spread)")
        // Node 2 dies: its keys move, the others' stay.
        let moved = keys.indices.map { b.pick(key: keys[$0], excluding: [2], now: t0)! }
        #expect(keys.indices.allSatisfy { home[$0] == 2 ? moved[$0] != 2 : moved[$0] == home[$0] })
    }

    @Test func leastLoadPrefersTheLightestReport() {
        var b = LoadBalancer(nodes: nodes, strategy: .leastLoad)
        let busy = LoadReport(cpuPercent: 90, memoryBytes: 1 << 30, bandwidthBytesPerSecond: 1e6, openConnections: 5, heightLag: 0, mempool: 100)
        let idle = LoadReport(cpuPercent: 5, memoryBytes: 1 << 28, bandwidthBytesPerSecond: 1e3, openConnections: 0, heightLag: 0, mempool: 0)
        let lagging = LoadReport(cpuPercent: 1, memoryBytes: 1 << 28, bandwidthBytesPerSecond: 0, openConnections: 0, heightLag: 4, mempool: 0)
        for (n, r) in [(NodeID(0), busy), (1, busy), (2, idle), (3, lagging)] { b.report(r, for: n) }
        #expect(b.pick(now: t0) == 2)
        #expect(idle.score < lagging.score && lagging.score < busy.score)
    }

    @Test func aFailingNodeIsTakenOutThenTriedAgainAfterItsTime() {
        var b = LoadBalancer(nodes: nodes, strategy: .roundRobin)
        // Node 1 fails every request: each request fails over, none is lost, and after three failures node 1 is out.
        let picks = distribution(&b, count: 100, success: { $0 != 1 })
        #expect(picks.values.reduce(0, +) == 100 && picks[1] == nil)
        #expect(!b.isAvailable(1, now: t0) && b.isAvailable(1, now: t0 + .seconds(6)), "out for openFor (5 s), then half open")
        #expect(b.sent[1] == 3, "only three requests were spent on the dead node")
        // Half open: one success closes the circuit.
        let later = t0 + .seconds(6)
        var tried = Set<NodeID>()
        while let node = b.pick(excluding: tried, now: later), node != 1 { tried.insert(node) }
        b.started(1)
        b.finished(1, success: true, now: later)
        #expect(b.isAvailable(1, now: later))
        // Every node out: no pick.
        var none = LoadBalancer(nodes: nodes)
        for n in nodes { for _ in 0..<3 { none.started(n); none.finished(n, success: false, now: t0) } }
        #expect(none.pick(now: t0) == nil)
    }
}
