import LedgerCore

/// Picks the node a client sends its next request to (N-L-2…N-L-4), skips unhealthy ones, and fails over.
///
/// Strategies:
/// - ``Strategy/roundRobin``: each healthy node in turn;
/// - ``Strategy/weightedRoundRobin(_:)``: in proportion to weights, spread out (smooth weighted round robin);
/// - ``Strategy/leastConnections``: the node with the fewest requests in flight from this client;
/// - ``Strategy/consistentHashing``: the same key (a sender, a record ID) to the same node while it is healthy,
///   moving only that node's keys when it fails (a ring of 64 points per node, FNV-1a with a final mix);
/// - ``Strategy/leastLoad``: the lowest ``LoadReport/score`` the nodes last reported (unreported nodes first).
///
/// **Health.** A node that fails ``Configuration/failuresToOpen`` requests in a row is taken out for
/// ``Configuration/openFor`` (circuit open); afterwards one request may try it (half open): a success closes the
/// circuit, a failure opens it again. A pick never returns a node the caller excludes (those already tried for
/// this request), so a request fails over node by node until none is left.
///
/// A value type without clocks or randomness of its own: the same calls give the same picks, which tests rely on.
///
/// ```swift
/// var balancer = LoadBalancer(nodes: [0, 1, 2, 3], strategy: .leastConnections)
/// let node = balancer.pick(now: .now)!
/// balancer.started(node)
/// balancer.finished(node, success: true, now: .now)
/// ```
public struct LoadBalancer: Sendable {
    /// How a node is chosen.
    public enum Strategy: Hashable, Sendable {
        /// Each healthy node in turn.
        case roundRobin
        /// In proportion to the weights (a node without one weighs 1; weights 1...1,000).
        case weightedRoundRobin([NodeID: Int])
        /// The fewest requests in flight.
        case leastConnections
        /// By the key given to ``LoadBalancer/pick(key:excluding:now:)``.
        case consistentHashing
        /// The lowest reported load.
        case leastLoad
    }

    /// Health settings.
    public struct Configuration: Hashable, Sendable {
        /// Consecutive failures that take a node out. Default 3; at least 1.
        public var failuresToOpen = 3
        /// How long a node stays out before one request tries it again. Default 5 s.
        public var openFor: Duration = .seconds(5)
        /// The defaults listed on each property.
        public init() {}
    }

    struct Health: Hashable, Sendable {
        var inFlight = 0
        var failures = 0
        var openUntil: ContinuousClock.Instant?
        var load: LoadReport?
        var weight = 0
        var sent = 0
    }

    /// The nodes, ascending.
    public let nodes: [NodeID]
    /// The strategy.
    public let strategy: Strategy
    /// The health settings.
    public let configuration: Configuration
    private var health: [NodeID: Health]
    private var next = 0
    private let ring: [(point: UInt64, node: NodeID)]

    /// - Parameters:
    ///   - nodes: Required, non-empty. The nodes to choose among.
    ///   - strategy: Optional, default ``Strategy/roundRobin``.
    ///   - configuration: Optional, default ``Configuration/init()``.
    public init(nodes: [NodeID], strategy: Strategy = .roundRobin, configuration: Configuration = .init()) {
        self.nodes = Array(Set(nodes)).sorted()
        self.strategy = strategy
        self.configuration = configuration
        health = Dictionary(uniqueKeysWithValues: self.nodes.map { ($0, Health()) })
        var ring = [(point: UInt64, node: NodeID)]()
        if case .consistentHashing = strategy {
            for node in self.nodes {
                for v in 0..<64 { ring.append((Self.fnv1a(Array("node-\(node.rawValue)-\(v)".utf8)), node)) }
            }
            ring.sort { $0.point < $1.point || ($0.point == $1.point && $0.node < $1.node) }
        }
        self.ring = ring
    }

    /// Requests sent to each node so far (``started(_:)`` calls).
    public var sent: [NodeID: Int] { health.mapValues(\.sent) }

    /// Whether `node` may take a request now (circuit closed, or open past its time: half open).
    public func isAvailable(_ node: NodeID, now: ContinuousClock.Instant) -> Bool {
        guard let h = health[node] else { return false }
        guard let until = h.openUntil else { return true }
        return now >= until
    }

    /// The node for the next request, or nil when every node is excluded or out.
    /// - Parameters:
    ///   - key: Optional. For ``Strategy/consistentHashing``: what the request is about (ignored otherwise).
    ///   - excluding: Optional, default none. Nodes already tried for this request.
    ///   - now: Required. The time, for circuits.
    public mutating func pick(key: [UInt8]? = nil, excluding: Set<NodeID> = [], now: ContinuousClock.Instant) -> NodeID? {
        let candidates = nodes.filter { !excluding.contains($0) && isAvailable($0, now: now) }
        guard !candidates.isEmpty else { return nil }
        switch strategy {
        case .roundRobin:
            for step in 0..<nodes.count {
                let node = nodes[(next + step) % nodes.count]
                if candidates.contains(node) {
                    next = (nodes.firstIndex(of: node)! + 1) % nodes.count
                    return node
                }
            }
            return candidates.first
        case .weightedRoundRobin(let weights):
            // Smooth weighted round robin: every candidate gains its weight, the highest is picked and pays the total.
            var total = 0
            var best: NodeID?
            for node in candidates {
                let w = min(1_000, max(1, weights[node] ?? 1))
                total += w
                health[node]!.weight += w
                if best == nil || health[node]!.weight > health[best!]!.weight { best = node }
            }
            health[best!]!.weight -= total
            return best
        case .leastConnections:
            return candidates.min { (health[$0]!.inFlight, health[$0]!.sent, $0) < (health[$1]!.inFlight, health[$1]!.sent, $1) }
        case .consistentHashing:
            let point = Self.fnv1a(key ?? [])
            let start = ring.firstIndex { $0.point >= point } ?? 0
            for step in 0..<ring.count {
                let node = ring[(start + step) % ring.count].node
                if candidates.contains(node) { return node }
            }
            return candidates.first
        case .leastLoad:
            return candidates.min { a, b in
                let sa = health[a]!.load?.score ?? -1, sb = health[b]!.load?.score ?? -1
                return (sa, health[a]!.inFlight, a) < (sb, health[b]!.inFlight, b)
            }
        }
    }

    /// A request to `node` started.
    public mutating func started(_ node: NodeID) {
        health[node]?.inFlight += 1
        health[node]?.sent += 1
    }

    /// A request to `node` ended: `success` when the node answered (even with a refusal), false when it could not be
    /// reached or did not answer in time.
    public mutating func finished(_ node: NodeID, success: Bool, now: ContinuousClock.Instant) {
        guard var h = health[node] else { return }
        h.inFlight = max(0, h.inFlight - 1)
        if success {
            h.failures = 0
            h.openUntil = nil
        } else {
            h.failures += 1
            if h.failures >= max(1, configuration.failuresToOpen) { h.openUntil = now + configuration.openFor }
        }
        health[node] = h
    }

    /// Records the load `node` reported.
    public mutating func report(_ load: LoadReport, for node: NodeID) {
        health[node]?.load = load
    }

    /// FNV-1a, then MurmurHash3's 64-bit finaliser: FNV alone leaves the high bits of short, similar keys close
    /// together, which would crowd a ring's points.
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}
