import Foundation
import LedgerCore
import Net

/// Whose time a ``Cluster`` runs on.
public enum ClusterClock: Sendable, Hashable {
    /// Each node ticks every `tickInterval` of wall-clock time, and messages cross an `InMemoryNetwork`.
    case realTime
    /// The cluster advances one tick at a time for every node, as fast as the machine allows while a node
    /// has work or a caller waits (at the wall clock's pace otherwise), and
    /// carries the nodes' messages itself (network faults, link cuts and partitions decided by the
    /// seed); every timeout (commit waits, ``Cluster/waitForHeight(_:nodes:timeout:)``, elections,
    /// view changes) counts ticks, so a busy machine slows a test down instead of failing it.
    /// ``Cluster/run(ticks:)`` and ``Cluster/run(until:timeout:)`` step it explicitly.
    case simulated
}

/// How to build an in-memory ``Cluster``.
public struct ClusterConfiguration: Sendable {
    /// Required; range 1...16. Number of nodes (all validators), IDs `0..<nodes`.
    public var nodes: Int
    /// Optional, default `.raft`. The consensus engine every node runs.
    public var consensus: ConsensusEngineKind
    /// Optional, default 0. Decides keys, engine seeds and network faults.
    public var seed: UInt64
    /// Optional, default nil: a new temporary folder, removed by ``Cluster/shutdown()``.
    /// Otherwise each node's store is `directory/node-<id>/ledger.sqlite` (kept).
    public var directory: String?
    /// Optional, default 53.
    public var chainID: UInt64 = 53
    /// Optional, default SHA-256.
    public var hashAlgorithm: HashAlgorithm = .default
    /// Optional, default 10 ms. Each node's tick.
    public var tickInterval: Duration = .milliseconds(10)
    /// Optional, default 1,000; range 1...1,000,000. Transactions per block.
    public var maximumTransactionsPerBlock = 1_000
    /// Optional, default nil (the node default). Mempool bounds of every node.
    public var mempool: MempoolConfiguration?
    /// Optional, default `.none`. Random link faults.
    public var faults: InMemoryNetwork.Faults = .none
    /// Optional, default nil. Periodic backups of each node into `<node folder>/backups`.
    public var backupEveryBlocks: UInt64?
    /// Optional. Adjusts each node's configuration before it starts (timings, durability...).
    public var customize: (@Sendable (inout NodeConfiguration) -> Void)?
    /// Optional, default `[KeyValueExecutor()]`. The executors every node runs (AppAPI adds its records executor).
    public var executors: [any TransactionExecutor] = [KeyValueExecutor()]
    /// Optional, default ``ClusterClock/realTime``. On ``ClusterClock/simulated`` the cluster advances time
    /// itself (``tickInterval`` of simulated time per tick) and `network` stays idle: use the cluster's own
    /// fault controls (``Cluster/cut(_:_:)``, ``Cluster/partition(_:)``...).
    public var clock: ClusterClock = .realTime

    /// - Parameters:
    ///   - nodes: Required. The number of nodes; every one is a validator.
    ///   - consensus: Optional, default Raft.
    ///   - seed: Optional, default 0. Decides the keys and the network's random choices.
    ///   - directory: Optional, default a new temporary folder. Where the nodes' stores live.
    public init(nodes: Int, consensus: ConsensusEngineKind = .raft, seed: UInt64 = 0, directory: String? = nil) {
        self.nodes = nodes
        self.consensus = consensus
        self.seed = seed
        self.directory = directory
    }
}

/// A whole chain in one process: N full nodes (``Node``), each with its own
/// SQLite store in a folder, one consensus engine chosen by configuration, a
/// seed, and fault controls: crash and restart a node, cut and heal links,
/// partition, slow a link, make a node Byzantine. On ``ClusterClock/realTime``
/// the nodes tick on the wall clock over an `InMemoryNetwork`; on
/// ``ClusterClock/simulated`` the cluster ticks them and carries their
/// messages itself, and every timeout counts ticks.
///
/// ```swift
/// var configuration = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 7)
/// configuration.clock = .simulated
/// let cluster = try await Cluster.start(configuration)
/// var client = cluster.account(0)
/// _ = try await cluster.submit(try client.set(key: Array("k".utf8), value: Array("v".utf8)))
/// await cluster.crash(3)
/// let top = try await cluster.node(0).head.height
/// try await cluster.waitForHeight(Height(top.rawValue + 5), nodes: [0, 1, 2])   // 5 more blocks without node 3
/// try await cluster.restart(3)
/// await cluster.shutdown()
/// ```
/// - Note: An actor; safe to call from any task. Call ``shutdown()`` when done.
public actor Cluster {
    /// The configuration.
    public nonisolated let configuration: ClusterConfiguration
    /// The simulated network (its fault controls may be used directly).
    public nonisolated let network: InMemoryNetwork
    /// Every node's ID, ascending.
    public nonisolated let nodeIDs: [NodeID]
    /// The genesis block.
    public nonisolated let genesis: Block
    /// The key that signed ``genesis``: the chain's founding authority (it registers the first accounts of an
    /// access-controlled chain). Derived from the seed, like every key of a cluster.
    package nonisolated let genesisKey: PrivateKey
    /// The consensus schedule every node runs.
    public nonisolated let schedule: ConsensusSchedule
    /// The folder holding every node's store.
    public nonisolated let directory: String

    private let keys: [PrivateKey]
    private let ownsDirectory: Bool
    private var running: [NodeID: any ChainNode] = [:]
    private var byzantine: Set<NodeID> = []

    // Simulated time (``ClusterClock/simulated``):
    private let simulatedClock: SimulatedClock?
    private var driven: [NodeID: any SimulationDriven] = [:]
    private var simulationTask: Task<Void, Never>?
    private var inFlight: [UInt64: [(from: NodeID, to: NodeID, bytes: [UInt8])]] = [:]
    private var rng: SplitMix64
    private var group: [NodeID: Int] = [:]
    private var cutLinks: Set<[UInt32]> = []
    private var slowTicks: [[UInt32]: UInt64] = [:]
    private var corruption: [NodeID: Double] = [:]
    /// Callers in a cluster-level wait: time then runs at full speed.
    private var waitersInCluster = 0

    private init(configuration: ClusterConfiguration, keys: [PrivateKey], genesisKey: PrivateKey, genesis: Block, schedule: ConsensusSchedule,
                 directory: String, ownsDirectory: Bool) {
        self.configuration = configuration
        self.keys = keys
        self.genesis = genesis
        self.genesisKey = genesisKey
        self.schedule = schedule
        self.directory = directory
        self.ownsDirectory = ownsDirectory
        nodeIDs = (0..<configuration.nodes).map { NodeID(UInt32($0)) }
        network = InMemoryNetwork(seed: configuration.seed, faults: configuration.faults)
        rng = SplitMix64(seed: configuration.seed ^ 0x5EED_C10C)
        simulatedClock = configuration.clock == .simulated ? .startingNow(tickInterval: configuration.tickInterval) : nil
    }

    /// Creates the stores and starts every node.
    /// - Parameter configuration: Required.
    /// - Throws: `ChainError` `.invalidClusterConfiguration` (4150), `.unsupportedEngine` (4154), and the node start errors (4050–4057).
    public static func start(_ configuration: ClusterConfiguration) async throws -> Cluster {
        guard (1...16).contains(configuration.nodes) else {
            throw ChainError(.invalidClusterConfiguration, "cluster configuration field 'nodes' is \(configuration.nodes), expected 1...16",
                             details: ["field": "nodes"])
        }
        guard (1...1_000_000).contains(configuration.maximumTransactionsPerBlock) else {
            throw ChainError(.invalidClusterConfiguration, "cluster configuration field 'maximumTransactionsPerBlock' is \(configuration.maximumTransactionsPerBlock), expected 1...1000000",
                             details: ["field": "maximumTransactionsPerBlock"])
        }
        var rng = SplitMix64(seed: configuration.seed)
        func key() throws(LedgerError) -> PrivateKey {
            var raw = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
            return try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
        }
        let keys = try (0..<configuration.nodes).map { _ throws(LedgerError) in try key() }
        let genesisKey = try key()
        let genesis = try ChainGenesis.make(chainID: configuration.chainID, key: genesisKey, hashAlgorithm: configuration.hashAlgorithm)
        let validators = try ValidatorSet((0..<configuration.nodes).map { Validator(id: NodeID(UInt32($0)), publicKey: keys[$0].publicKey) })
        let schedule = ConsensusSchedule(initial: try ClusterEngines.config(configuration.consensus, validators: validators,
                                                                             maximumTransactionsPerBlock: configuration.maximumTransactionsPerBlock))
        let directory: String
        let owns = configuration.directory == nil
        if let d = configuration.directory {
            directory = d
        } else {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-cluster-\(UUID().uuidString)").path
        }
        let cluster = Cluster(configuration: configuration, keys: keys, genesisKey: genesisKey, genesis: genesis, schedule: schedule,
                              directory: directory, ownsDirectory: owns)
        for id in cluster.nodeIDs { try await cluster.launch(id) }
        await cluster.startSimulation()
        return cluster
    }

    /// The configuration node `id` runs with.
    public func nodeConfiguration(_ id: NodeID) -> NodeConfiguration {
        let folder = directory + "/node-\(id.rawValue)"
        var c = NodeConfiguration(node: id, signingKey: keys[Int(id.rawValue)], genesis: genesis, schedule: schedule,
                                  storePath: folder + "/ledger.sqlite")
        c.hashAlgorithm = configuration.hashAlgorithm
        c.tickInterval = configuration.tickInterval
        c.mempool = configuration.mempool
        c.seed = configuration.seed &+ UInt64(id.rawValue) &* 0x9E37_79B9_7F4A_7C15
        c.emptyBlockIntervalTicks = ClusterEngines.emptyBlockIntervalTicks(configuration.consensus)
        if configuration.consensus == .pow {
            // PoWEngine stamps 1 s of block time per tick; with faster ticks block times run ahead of the clock.
            c.maximumClockDriftMillis = 1_000_000_000_000
        }
        if let every = configuration.backupEveryBlocks {
            c.backupSchedule = BackupSchedule(everyBlocks: every, keep: 3, directory: folder + "/backups")
        }
        configuration.customize?(&c)
        return c
    }

    private func launch(_ id: NodeID) async throws {
        let config = nodeConfiguration(id)
        let folder = (config.storePath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        if let b = config.backupSchedule { try FileManager.default.createDirectory(atPath: b.directory, withIntermediateDirectories: true) }
        let transport = try network.attach(id)
        do {
            let node = try await ClusterEngines.makeNode(configuration.consensus, configuration: config, transport: transport,
                                                             executors: configuration.executors, simulatedClock: simulatedClock)
            running[id] = node
            await node.start()
            if let d = node as? any SimulationDriven {
                driven[id] = d
                // Links come up both ways with every running node.
                for (peer, other) in driven.sorted(by: { $0.key < $1.key }) where peer != id {
                    await d.simulatedDeliver(.connected(peer))
                    await other.simulatedDeliver(.connected(id))
                }
            }
        } catch {
            await transport.close()
            throw error
        }
    }

    // MARK: Access

    /// The running node `id`.
    /// - Throws: `.unknownClusterNode` (4151), `.clusterNodeState` (4152) when it is crashed.
    public func node(_ id: NodeID) throws -> any ChainNode {
        guard nodeIDs.contains(id) else { throw ChainError(.unknownClusterNode, "no node \(id.rawValue) in the cluster") }
        guard let n = running[id] else { throw ChainError(.clusterNodeState, "node \(id.rawValue) is crashed") }
        return n
    }

    /// The IDs of the running nodes, ascending.
    public var runningNodes: [NodeID] { running.keys.sorted() }

    /// A client account whose key is derived from the seed and `index`, with nonce 0.
    public nonisolated func account(_ index: UInt64) -> SigningAccount {
        var rng = SplitMix64(seed: configuration.seed ^ 0xC11E_27 &+ index &* 0x9E37_79B9_7F4A_7C15)
        var raw = [UInt8]()
        for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
        let key = try! PrivateKey(scheme: .ed25519, rawRepresentation: raw)   // 32 bytes: always a valid Ed25519 seed
        return SigningAccount(key: key, chainID: configuration.chainID, hashAlgorithm: configuration.hashAlgorithm)
    }

    // MARK: Transactions

    /// Submits to node `to` (default: the lowest running node) and waits for the commit.
    /// - Parameters:
    ///   - transaction: Required.
    ///   - to: Optional, default the lowest running node.
    ///   - timeout: Optional, default 30 s.
    /// - Throws: The node's submit errors (4001–4052), `.clusterNodeState` (4152).
    public func submit(_ transaction: Transaction, to: NodeID? = nil, timeout: Duration = .seconds(30)) async throws -> Receipt {
        let n = try target(to)
        return try await n.submit(transaction, timeout: timeout)
    }

    /// Admits transactions at node `to` without waiting (see ``waitForReceipts(_:on:timeout:)``).
    public func enqueue(_ transactions: [Transaction], to: NodeID? = nil) async throws -> [Result<Digest, ChainError>] {
        try await target(to).enqueue(transactions)
    }

    /// Waits until node `on` (default: the lowest running) holds receipts for every ID.
    public func waitForReceipts(_ ids: [Digest], on: NodeID? = nil, timeout: Duration = .seconds(60)) async throws -> [Receipt] {
        let n = try target(on)
        var out = [Receipt]()
        for id in ids { out.append(try await n.waitForReceipt(id, timeout: timeout)) }
        return out
    }

    private func target(_ id: NodeID?) throws -> any ChainNode {
        if let id { return try node(id) }
        guard let first = running.keys.sorted().first, let n = running[first] else {
            throw ChainError(.clusterNodeState, "no node is running")
        }
        return n
    }

    /// Waits until every node in `nodes` (default: every running node) has committed `height`.
    /// - Parameters:
    ///   - height: Required.
    ///   - nodes: Optional, default the running nodes.
    ///   - timeout: Optional, default 30 s.
    /// - Throws: `.heightTimeout` (4153) with each node's height in `details`, `.clusterNodeState` (4152).
    public func waitForHeight(_ height: Height, nodes: [NodeID]? = nil, timeout: Duration = .seconds(30)) async throws {
        let ids = nodes ?? runningNodes
        waitersInCluster += 1
        defer { waitersInCluster -= 1 }
        let deadline = ContinuousClock.now + timeout
        let deadlineTick = simulatedClock.map { $0.now + ticks(timeout) }
        while true {
            var heights = [NodeID: Height]()
            for id in ids { heights[id] = try await node(id).head.height }
            if heights.values.allSatisfy({ $0 >= height }) { return }
            let expired = deadlineTick.map { simulatedClock!.now >= $0 } ?? (ContinuousClock.now >= deadline)
            guard !expired else {
                var details = [String: String]()
                for (k, v) in heights { details["n\(k.rawValue)"] = v.description }
                throw ChainError(.heightTimeout, "height \(height) not reached in time: " +
                                 ids.map { "n\($0.rawValue)=\(heights[$0]!)" }.joined(separator: " "), details: details)
            }
            if simulatedClock != nil { await Task.yield() } else { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    /// Each running node's head, by ID.
    public func heads() async -> [NodeID: LedgerStore.Head] {
        var out = [NodeID: LedgerStore.Head]()
        for (id, n) in running { out[id] = await n.head }
        return out
    }

    // MARK: Faults

    /// Crashes node `id`: its tasks stop and its transport detaches; its store stays on disk. No-op when already down.
    public func crash(_ id: NodeID) async {
        guard let n = running.removeValue(forKey: id) else { return }
        driven[id] = nil
        await n.stop()
        for (_, other) in driven.sorted(by: { $0.key < $1.key }) { await other.simulatedDeliver(.disconnected(id)) }
    }

    /// Restarts a crashed node on its store: it resumes at its last committed block and catches up.
    /// - Throws: `.clusterNodeState` (4152) when it is running, `.unknownClusterNode` (4151), node start errors
    ///   (a crashed node's stop released its store lock, so the restart takes it at once).
    public func restart(_ id: NodeID) async throws {
        guard nodeIDs.contains(id) else { throw ChainError(.unknownClusterNode, "no node \(id.rawValue) in the cluster") }
        guard running[id] == nil else { throw ChainError(.clusterNodeState, "node \(id.rawValue) is running") }
        try await launch(id)
        if byzantine.contains(id) {
            await (running[id] as? any FaultInjectable)?.setByzantine(forgeProposals: true, invalidTransactions: true, silent: false)
        }
    }

    /// Cuts the link between `a` and `b`.
    public func cut(_ a: NodeID, _ b: NodeID) async {
        guard simulatedClock != nil else { return network.cut(a, b) }
        let before = linkStates()
        cutLinks.insert(Self.link(a, b))
        await announceLinkChanges(from: before)
    }
    /// Heals the link between `a` and `b`.
    public func heal(_ a: NodeID, _ b: NodeID) async {
        guard simulatedClock != nil else { return network.heal(a, b) }
        let before = linkStates()
        cutLinks.remove(Self.link(a, b))
        await announceLinkChanges(from: before)
    }
    /// Splits the cluster into groups that cannot talk (unlisted nodes form one more group).
    public func partition(_ groups: [[NodeID]]) async {
        guard simulatedClock != nil else { return network.partition(groups) }
        let before = linkStates()
        group = [:]
        for (k, g) in groups.enumerated() { for id in g { group[id] = k + 1 } }
        await announceLinkChanges(from: before)
    }
    /// Ends every partition and cut.
    public func healAll() async {
        guard simulatedClock != nil else { return network.healAll() }
        let before = linkStates()
        group = [:]
        cutLinks = []
        await announceLinkChanges(from: before)
    }
    /// Adds `delayMillis` to every message between `a` and `b` (0 restores it).
    public func slowLink(_ a: NodeID, _ b: NodeID, delayMillis: UInt64) {
        guard let clock = simulatedClock else { return network.slowLink(a, b, delayMillis: delayMillis) }
        slowTicks[Self.link(a, b)] = delayMillis == 0 ? nil : max(1, delayMillis / clock.millisPerTick)
    }

    /// Makes node `id` Byzantine: it proposes blocks with a forged transaction,
    /// relays transactions with broken signatures, and a `corruptionRate` share of
    /// its messages is corrupted on the wire.
    /// - Parameters:
    ///   - id: Required. A running node.
    ///   - corruptionRate: Optional, default 0.3; range 0...1.
    public func makeByzantine(_ id: NodeID, corruptionRate: Double = 0.3) async throws {
        let n = try node(id)
        byzantine.insert(id)
        await (n as? any FaultInjectable)?.setByzantine(forgeProposals: true, invalidTransactions: true, silent: false)
        if simulatedClock != nil { corruption[id] = corruptionRate } else { network.setCorruption(of: id, rate: corruptionRate) }
    }

    /// Stops every node, shuts the network down and removes the temporary folder (if the cluster made it).
    public func shutdown() async {
        simulationTask?.cancel()
        simulationTask = nil
        driven = [:]
        for id in running.keys.sorted() { await running[id]?.stop() }
        running = [:]
        network.shutdown()
        if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    // MARK: Simulated time

    /// The current tick of simulated time (0 on real time).
    public var tick: UInt64 { simulatedClock?.now ?? 0 }

    /// Advances simulated time by `ticks` ticks (on real time, sleeps that many tick intervals).
    /// - Parameter ticks: Required; range 0...10,000,000.
    public func run(ticks: UInt64) async {
        guard let clock = simulatedClock else {
            do { try await Task.sleep(for: configuration.tickInterval * Int(min(ticks, 10_000_000))) } catch {
                return   // cancelled: the caller's task is ending
            }
            return
        }
        let target = clock.now + min(ticks, 10_000_000)
        waitersInCluster += 1
        defer { waitersInCluster -= 1 }
        while clock.now < target, simulationTask != nil { await Task.yield() }
    }

    /// Runs until `condition` holds, checking after every tick.
    /// - Parameters:
    ///   - condition: Required. Called on the cluster between ticks.
    ///   - timeout: Optional, default 30 s, in the cluster's time (simulated or real).
    /// - Throws: `.heightTimeout` (4153) when the condition does not hold in time.
    public func run(until condition: @Sendable (Cluster) async throws -> Bool, timeout: Duration = .seconds(30)) async throws {
        waitersInCluster += 1
        defer { waitersInCluster -= 1 }
        let deadline = ContinuousClock.now + timeout
        let deadlineTick = simulatedClock.map { $0.now + ticks(timeout) }
        while try await !condition(self) {
            let expired = deadlineTick.map { simulatedClock!.now >= $0 } ?? (ContinuousClock.now >= deadline)
            if expired { throw ChainError(.heightTimeout, "condition not met within \(timeout)") }
            if simulatedClock != nil { await Task.yield() } else { try await Task.sleep(for: .milliseconds(10)) }
        }
    }

    private func ticks(_ duration: Duration) -> UInt64 {
        simulatedClock.map { SimulatedClock.ticks(duration, millisPerTick: $0.millisPerTick) } ?? 0
    }

    /// Starts the task that advances simulated time (no-op on real time).
    private func startSimulation() {
        guard simulatedClock != nil, simulationTask == nil else { return }
        simulationTask = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                let busy = await self.step()
                if let clock = self.simulatedClock { await Node<RaftEngine>.pace(busy: busy, clock: clock) }
            }
        }
    }

    /// One tick: messages due now are delivered, every running node ticks, and what they sent goes onto
    /// the simulated network (lost, delayed, cut or partitioned as configured).
    /// - Returns: Whether any node has work, or messages are in flight (the loop then does not pause).
    private func step() async -> Bool {
        guard let clock = simulatedClock else { return false }
        clock.advance()
        let now = clock.now
        for m in inFlight.removeValue(forKey: now) ?? [] {
            guard linkUp(m.from, m.to), let target = driven[m.to] else { continue }
            await target.simulatedDeliver(.message(from: m.from, bytes: m.bytes))
        }
        var busy = false
        for id in driven.keys.sorted() {
            if await driven[id]?.simulatedTick() == true { busy = true }
        }
        for id in driven.keys.sorted() {
            guard let node = driven[id] else { continue }
            for (to, bytes) in await node.takeOutbound() { route(bytes, from: id, to: to, now: now) }
        }
        return busy || waitersInCluster > 0
    }

    private func route(_ bytes: [UInt8], from: NodeID, to: NodeID?, now: UInt64) {
        let faults = configuration.faults
        let targets = to.map { [$0] } ?? nodeIDs.filter { $0 != from }
        for t in targets {
            guard linkUp(from, t) else { continue }
            if faults.dropRate > 0, Double(rng.next() % 1_000_000) / 1_000_000 < faults.dropRate { continue }
            var message = bytes
            if let rate = corruption[from], rate > 0, !message.isEmpty, Double(rng.next() % 1_000_000) / 1_000_000 < rate {
                message[Int(rng.next() % UInt64(message.count))] ^= 0xFF
            }
            var delay: UInt64 = 1 + (slowTicks[Self.link(from, t)] ?? 0)
            if let clock = simulatedClock, faults.maximumDelayMillis > 0 {
                let spread = max(faults.minimumDelayMillis, faults.maximumDelayMillis) - faults.minimumDelayMillis
                delay += (faults.minimumDelayMillis + (spread > 0 ? rng.next() % (spread + 1) : 0)) / clock.millisPerTick
            }
            let copies = faults.duplicateRate > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < faults.duplicateRate ? 2 : 1
            for _ in 0..<copies { inFlight[now + delay, default: []].append((from, t, message)) }
        }
    }

    private static func link(_ a: NodeID, _ b: NodeID) -> [UInt32] { [min(a.rawValue, b.rawValue), max(a.rawValue, b.rawValue)] }

    private func linkUp(_ a: NodeID, _ b: NodeID) -> Bool {
        group[a, default: 0] == group[b, default: 0] && !cutLinks.contains(Self.link(a, b))
    }

    private func linkStates() -> [[UInt32]: Bool] {
        var out = [[UInt32]: Bool]()
        for a in nodeIDs { for b in nodeIDs where a < b { out[Self.link(a, b)] = linkUp(a, b) } }
        return out
    }

    /// Tells both ends of each link that went down or came up, as a transport would.
    private func announceLinkChanges(from before: [[UInt32]: Bool]) async {
        for (key, wasUp) in before.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let a = NodeID(key[0]), b = NodeID(key[1])
            let up = linkUp(a, b)
            guard up != wasUp else { continue }
            await driven[a]?.simulatedDeliver(up ? .connected(b) : .disconnected(b))
            await driven[b]?.simulatedDeliver(up ? .connected(a) : .disconnected(a))
        }
    }
}

/// A node the cluster drives on simulated time.
protocol SimulationDriven: Actor {
    func simulatedTick() -> Bool?
    func simulatedDeliver(_ event: TransportEvent)
    func takeOutbound() -> [(NodeID?, [UInt8])]
}

extension Node: SimulationDriven {}
