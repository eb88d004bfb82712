import Foundation
import LedgerCore

/// A simulated network in one process: node transports attach to it, and
/// its fault controls drop, delay, duplicate, reorder (through delay jitter),
/// cut, partition and slow links, and corrupt a Byzantine node's messages.
/// Every fault decision draws from one `SplitMix64` seeded at creation, so
/// the sequence of decisions replays; the interleaving of concurrent senders
/// does not (real tasks run concurrently), which is as deterministic as a
/// network of actors can be.
///
/// ```swift
/// let network = InMemoryNetwork(seed: 7)
/// let a = try network.attach(0), b = try network.attach(1)
/// network.cut(0, 1)          // messages between 0 and 1 are lost
/// network.heal(0, 1)
/// network.slowLink(0, 1, delayMillis: 50)
/// ```
/// - Note: Thread-safe: all state is guarded by `lock` (an `NSLock`); delayed
///   messages are delivered by one pump task the network owns, cancelled by
///   ``shutdown()``.
public final class InMemoryNetwork: @unchecked Sendable {
    /// Random link faults applied to every message.
    public struct Faults: Hashable, Sendable {
        /// Optional, default 0; range 0...1. Probability a message is lost.
        public var dropRate: Double
        /// Optional, default 0; range 0...1. Probability a message is delivered twice.
        public var duplicateRate: Double
        /// Optional, default 0. Least delay of every message, in milliseconds.
        public var minimumDelayMillis: UInt64
        /// Optional, default 0; ≥ ``minimumDelayMillis``. Greatest delay; a spread
        /// between the two reorders messages.
        public var maximumDelayMillis: UInt64

        /// Every parameter is optional; see the properties for ranges.
        public init(dropRate: Double = 0, duplicateRate: Double = 0, minimumDelayMillis: UInt64 = 0, maximumDelayMillis: UInt64 = 0) {
            self.dropRate = dropRate
            self.duplicateRate = duplicateRate
            self.minimumDelayMillis = minimumDelayMillis
            self.maximumDelayMillis = maximumDelayMillis
        }

        /// No faults.
        public static let none = Faults()

        func validate() throws(NetError) {
            for (name, v) in [("dropRate", dropRate), ("duplicateRate", duplicateRate)] where !(0...1).contains(v) {
                throw NetError(.invalidFaultSetting, "field '\(name)': \(v), expected 0...1", details: ["field": name])
            }
            guard maximumDelayMillis >= minimumDelayMillis else {
                throw NetError(.invalidFaultSetting, "field 'maximumDelayMillis': \(maximumDelayMillis) is below minimumDelayMillis \(minimumDelayMillis)",
                               details: ["field": "maximumDelayMillis"])
            }
        }
    }

    /// Counters of what the network did.
    public struct Statistics: Hashable, Sendable {
        /// Messages handed to the network.
        public var sent = 0
        /// Messages delivered (duplicates included).
        public var delivered = 0
        /// Messages lost (drop rate, cut links, partitions, detached nodes).
        public var dropped = 0
        /// Messages sent twice.
        public var duplicated = 0
        /// Messages whose bytes were altered in transit.
        public var corrupted = 0
    }

    /// The largest message, in bytes (64 MiB).
    public static let maximumMessageBytes = 64 << 20

    private struct Pending: Comparable {
        var due: ContinuousClock.Instant
        var sequence: UInt64
        var from: NodeID
        var to: NodeID
        var bytes: [UInt8]
        static func < (a: Pending, b: Pending) -> Bool { (a.due, a.sequence) < (b.due, b.sequence) }
        static func == (a: Pending, b: Pending) -> Bool { a.sequence == b.sequence }
    }

    private struct LinkKey: Hashable {
        var a: NodeID
        var b: NodeID
        init(_ x: NodeID, _ y: NodeID) { (a, b) = x < y ? (x, y) : (y, x) }
    }

    private let lock = NSLock()
    // Guarded by lock:
    private var rng: SplitMix64
    private var faults: Faults
    private var endpoints: [NodeID: AsyncStream<TransportEvent>.Continuation] = [:]
    private var cutLinks = Set<LinkKey>()
    private var slowLinks: [LinkKey: UInt64] = [:]
    private var groups: [NodeID: Int] = [:]
    private var corruption: [NodeID: Double] = [:]
    private var pending: [Pending] = []
    private var sequence: UInt64 = 0
    private var stats = Statistics()
    private var pump: Task<Void, Never>?
    private var wake: AsyncStream<Void>.Continuation?
    private var isShutDown = false

    /// - Parameters:
    ///   - seed: Optional, default 0. Decides every random fault.
    ///   - faults: Optional, default ``Faults/none``.
    public init(seed: UInt64 = 0, faults: Faults = .none) {
        rng = SplitMix64(seed: seed)
        self.faults = faults
    }

    deinit { pump?.cancel() }

    // MARK: Endpoints

    /// Attaches a node and returns its transport. Peers that can reach it see
    /// ``TransportEvent/connected(_:)``, and it sees one for each of them.
    /// - Parameter node: Required. Not currently attached.
    /// - Throws: `.duplicateEndpoint` (3052), `.transportClosed` (3051) after ``shutdown()``.
    /// - Note: Thread-safe. Detach by closing the transport.
    public func attach(_ node: NodeID) throws(NetError) -> InMemoryTransport {
        let (stream, continuation) = AsyncStream.makeStream(of: TransportEvent.self, bufferingPolicy: .unbounded)
        lock.lock()
        defer { lock.unlock() }
        guard !isShutDown else { throw NetError(.transportClosed, "the network is shut down") }
        guard endpoints[node] == nil else {
            throw NetError(.duplicateEndpoint, "node \(node.rawValue) is already attached", details: ["node": String(node.rawValue)])
        }
        endpoints[node] = continuation
        for peer in endpoints.keys.sorted() where peer != node && reachable(node, peer) {
            endpoints[peer]?.yield(.connected(node))
            continuation.yield(.connected(peer))
        }
        return InMemoryTransport(node: node, network: self, events: stream)
    }

    func detach(_ node: NodeID) {
        lock.lock()
        defer { lock.unlock() }
        guard let c = endpoints[node] else { return }
        for peer in endpoints.keys.sorted() where peer != node && reachable(node, peer) {
            endpoints[peer]?.yield(.disconnected(node))
        }
        endpoints[node] = nil
        c.finish()
    }

    /// The attached nodes, ascending.
    public var attachedNodes: [NodeID] {
        lock.lock()
        defer { lock.unlock() }
        return endpoints.keys.sorted()
    }

    /// Detaches every node and stops the delivery task. Idempotent.
    public func shutdown() {
        lock.lock()
        isShutDown = true
        let all = endpoints
        endpoints = [:]
        pending = []
        let task = pump
        pump = nil
        wake?.finish()
        wake = nil
        lock.unlock()
        for (_, c) in all { c.finish() }
        task?.cancel()
    }

    // MARK: Fault controls

    /// Replaces the random link faults.
    /// - Throws: `.invalidFaultSetting` (3053).
    public func setFaults(_ faults: Faults) throws(NetError) {
        try faults.validate()
        lock.lock()
        self.faults = faults
        lock.unlock()
    }

    /// Cuts the link between `a` and `b` (both directions); messages on it are lost.
    public func cut(_ a: NodeID, _ b: NodeID) {
        changeReachability { cutLinks.insert(LinkKey(a, b)) }
    }

    /// Restores the link between `a` and `b`.
    public func heal(_ a: NodeID, _ b: NodeID) {
        changeReachability { cutLinks.remove(LinkKey(a, b)) }
    }

    /// Splits the network: nodes of different groups cannot talk; nodes not
    /// listed form one more group together.
    /// - Parameter groups: Required. Disjoint lists of node IDs.
    public func partition(_ groups: [[NodeID]]) {
        changeReachability {
            self.groups = [:]
            for (i, g) in groups.enumerated() { for n in g { self.groups[n] = i + 1 } }
        }
    }

    /// Cuts `node` off from every other node.
    public func isolate(_ node: NodeID) { partition([[node]]) }

    /// Ends every partition and restores every cut link.
    public func healAll() {
        changeReachability {
            groups = [:]
            cutLinks = []
        }
    }

    /// Adds `delayMillis` to every message between `a` and `b` (0 restores the link's speed).
    public func slowLink(_ a: NodeID, _ b: NodeID, delayMillis: UInt64) {
        lock.lock()
        slowLinks[LinkKey(a, b)] = delayMillis == 0 ? nil : delayMillis
        lock.unlock()
    }

    /// Makes `node` Byzantine on the wire: each message it sends is corrupted
    /// (bytes flipped) with probability `rate` (0 stops it).
    public func setCorruption(of node: NodeID, rate: Double) {
        lock.lock()
        corruption[node] = rate <= 0 ? nil : min(1, rate)
        lock.unlock()
    }

    /// Whether `a` and `b` are both attached and can talk.
    public func canReach(_ a: NodeID, _ b: NodeID) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return reachable(a, b)
    }

    /// What the network did so far.
    public var statistics: Statistics {
        lock.lock()
        defer { lock.unlock() }
        return stats
    }

    private func reachable(_ a: NodeID, _ b: NodeID) -> Bool {
        endpoints[a] != nil && endpoints[b] != nil && !cutLinks.contains(LinkKey(a, b)) && groups[a, default: 0] == groups[b, default: 0]
    }

    private func changeReachability(_ change: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        let nodes = endpoints.keys.sorted()
        var before = Set<LinkKey>()
        for (i, a) in nodes.enumerated() { for b in nodes[(i + 1)...] where reachable(a, b) { before.insert(LinkKey(a, b)) } }
        change()
        for (i, a) in nodes.enumerated() {
            for b in nodes[(i + 1)...] {
                let now = reachable(a, b)
                let was = before.contains(LinkKey(a, b))
                if now && !was {
                    endpoints[a]?.yield(.connected(b))
                    endpoints[b]?.yield(.connected(a))
                } else if was && !now {
                    endpoints[a]?.yield(.disconnected(b))
                    endpoints[b]?.yield(.disconnected(a))
                }
            }
        }
    }

    // MARK: Delivery

    func peers(of node: NodeID) -> [NodeID] {
        lock.lock()
        defer { lock.unlock() }
        return endpoints.keys.sorted().filter { $0 != node && reachable(node, $0) }
    }

    func isAttached(_ node: NodeID) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return endpoints[node] != nil
    }

    func send(_ bytes: [UInt8], from: NodeID, to: NodeID) throws(NetError) {
        guard bytes.count <= Self.maximumMessageBytes else {
            throw NetError(.messageTooLarge, "message of \(bytes.count) bytes exceeds \(Self.maximumMessageBytes)")
        }
        guard from != to else { return }
        lock.lock()
        defer { lock.unlock() }
        guard endpoints[from] != nil else { throw NetError(.transportClosed, "node \(from.rawValue)'s transport is closed") }
        guard endpoints[to] != nil else {
            throw NetError(.peerUnreachable, "node \(to.rawValue) is not attached", details: ["node": String(to.rawValue)])
        }
        stats.sent += 1
        guard reachable(from, to) else {
            stats.dropped += 1
            return
        }
        if faults.dropRate > 0, chance() < faults.dropRate {
            stats.dropped += 1
            return
        }
        var payload = bytes
        if let rate = corruption[from], chance() < rate, !payload.isEmpty {
            let flips = 1 + Int(rng.next() % 4)
            for _ in 0..<flips { payload[Int(rng.next() % UInt64(payload.count))] ^= UInt8(truncatingIfNeeded: 1 + rng.next() % 255) }
            stats.corrupted += 1
        }
        let copies = faults.duplicateRate > 0 && chance() < faults.duplicateRate ? 2 : 1
        if copies == 2 { stats.duplicated += 1 }
        for _ in 0..<copies {
            var delay = slowLinks[LinkKey(from, to)] ?? 0
            if faults.maximumDelayMillis > 0 {
                delay += faults.minimumDelayMillis + rng.next() % (faults.maximumDelayMillis - faults.minimumDelayMillis + 1)
            }
            if delay == 0 && pending.isEmpty {
                endpoints[to]?.yield(.message(from: from, bytes: payload))
                stats.delivered += 1
            } else {
                sequence += 1
                pending.append(Pending(due: .now + .milliseconds(Int64(delay)), sequence: sequence, from: from, to: to, bytes: payload))
                startPumpIfNeeded()
                wake?.yield()
            }
        }
    }

    private func chance() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }

    private func startPumpIfNeeded() {
        guard pump == nil, !isShutDown else { return }
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wake = continuation
        pump = Task { [weak self] in
            var iterator = stream.makeAsyncIterator()
            while !Task.isCancelled {
                guard let wait = self?.deliverDue() else { return }
                if let wait {
                    try? await Task.sleep(for: wait)
                } else if await iterator.next() == nil {
                    return
                }
            }
        }
    }

    /// Delivers every due message; returns how long until the next one (nil when none is pending).
    private func deliverDue() -> Duration?? {
        lock.lock()
        defer { lock.unlock() }
        if isShutDown { return .none }
        let now = ContinuousClock.now
        pending.sort()
        var k = 0
        while k < pending.count, pending[k].due <= now {
            let p = pending[k]
            if reachable(p.from, p.to) {
                endpoints[p.to]?.yield(.message(from: p.from, bytes: p.bytes))
                stats.delivered += 1
            } else {
                stats.dropped += 1
            }
            k += 1
        }
        pending.removeFirst(k)
        guard let next = pending.first else { return .some(nil) }
        return .some(max(.milliseconds(1), next.due - now))
    }
}

/// One node's endpoint on an ``InMemoryNetwork``.
///
/// - Note: `Sendable`; all state is in the network (guarded by its lock).
public struct InMemoryTransport: Transport {
    public let localNode: NodeID
    public let events: AsyncStream<TransportEvent>
    private let network: InMemoryNetwork

    init(node: NodeID, network: InMemoryNetwork, events: AsyncStream<TransportEvent>) {
        localNode = node
        self.network = network
        self.events = events
    }

    public func send(_ bytes: [UInt8], to node: NodeID) async throws(NetError) {
        try network.send(bytes, from: localNode, to: node)
    }

    /// - Throws: `.messageTooLarge` (3054), `.transportClosed` (3051); a peer detached meanwhile (`.peerUnreachable`)
    ///   is skipped, as an unreachable peer is.
    public func broadcast(_ bytes: [UInt8]) async throws(NetError) {
        for peer in network.peers(of: localNode) {
            do throws(NetError) { try network.send(bytes, from: localNode, to: peer) } catch where error.code == .peerUnreachable { continue }
        }
    }

    public func connectedPeers() async -> [NodeID] { network.peers(of: localNode) }

    public func reconnect(to node: NodeID) async throws(NetError) {
        guard network.isAttached(localNode) else { throw NetError(.transportClosed, "node \(localNode.rawValue)'s transport is closed") }
        guard network.canReach(localNode, node) else {
            throw NetError(.peerUnreachable, "node \(node.rawValue) cannot be reached", details: ["node": String(node.rawValue)])
        }
    }

    public func close() async { network.detach(localNode) }
}
