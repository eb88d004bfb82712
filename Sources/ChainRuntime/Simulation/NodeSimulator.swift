import CoreMetrics
import Foundation
import LedgerCore
import Logging
import Synchronization

/// Faults a node simulation injects during its fault phase.
package struct NodeFaults: OptionSet, Hashable, Sendable {
    package let rawValue: UInt16
    package init(rawValue: UInt16) { self.rawValue = rawValue }
    /// Messages are lost.
    package static let drop = NodeFaults(rawValue: 1)
    /// Messages arrive late (and so out of order), some twice.
    package static let delay = NodeFaults(rawValue: 2)
    /// The network splits into two groups.
    package static let partition = NodeFaults(rawValue: 4)
    /// Nodes crash (queued writes are lost) and restart from their store.
    package static let crash = NodeFaults(rawValue: 8)
    /// Appends fail (disk full, fsync error): nothing is written and the node is told.
    package static let failedAppend = NodeFaults(rawValue: 16)
    /// Appends take several ticks (messages queued behind them wait too).
    package static let slowAppend = NodeFaults(rawValue: 32)
    /// Each node's clock is off by up to ±2 s.
    package static let clockSkew = NodeFaults(rawValue: 64)

    /// Parses `drop,delay,partition,crash,append,slow,skew,all`.
    /// - Throws: `ChainError` `.invalidNodeConfiguration` (4050) naming the unknown word.
    package init(parsing text: String) throws(ChainError) {
        self = []
        for word in text.split(separator: ",").map({ $0.lowercased() }) where !word.isEmpty {
            switch word {
            case "drop", "drops": insert(.drop)
            case "delay", "delays", "duplicate", "reorder": insert(.delay)
            case "partition", "partitions": insert(.partition)
            case "crash", "crashes": insert(.crash)
            case "append", "failed-append", "disk": insert(.failedAppend)
            case "slow", "slow-append": insert(.slowAppend)
            case "skew", "clock-skew": insert(.clockSkew)
            case "all": formUnion([.drop, .delay, .partition, .crash, .failedAppend, .slowAppend, .clockSkew])
            case "none": break
            default:
                throw ChainError(.invalidNodeConfiguration,
                                 "field 'faults': unknown fault '\(word)'; expected drop, delay, partition, crash, append, slow, skew, all",
                                 details: ["field": "faults", "value": word])
            }
        }
    }
}

/// A node deliberately broken, to show that a checker fires (tests of the checkers).
package enum NodeSabotage: Sendable, Hashable {
    /// The node's writer reports appends done without writing them (an fsync that lies).
    case lyingWriter(node: Int)
    /// The node runs a configuration in which it is the only validator, so it commits blocks of its own.
    case soleValidator(node: Int)
    /// The node hands out receipts whose status differs from what it executed.
    case alteredReceipts(node: Int)
    /// The node reports a state root other than its execution's.
    case alteredStateRoot(node: Int)
}

/// Options of a whole-node simulation.
package struct NodeSimulationOptions: Sendable {
    /// Default 4; range 1...16.
    package var nodes = 4
    /// Default none.
    package var faults: NodeFaults = []
    /// Default 300. Ticks during which faults are injected.
    package var faultTicks: UInt64 = 300
    /// Default 0: the engine's bound (``NodeSimulator/healingTicks(_:)``). Ticks after healing within which
    /// every correct node must commit ``requiredProgress`` new blocks.
    package var quietTicks: UInt64 = 0
    /// Default 2.
    package var requiredProgress: UInt64 = 2
    /// Default 0.25; range 0...1. The drop rate is drawn from `0...maximumDropRate`.
    package var maximumDropRate = 0.25
    /// Default 6. Extra delay of a delayed message, in ticks.
    package var maximumDelayTicks: UInt64 = 6
    /// Default 1; range 0...100. Client transactions submitted per tick (to a random running node).
    package var transactionsPerTick = 1
    /// Default 0. Nodes down from the first tick and never restarted.
    package var permanentCrashes = 0
    /// Default false. Allows more crashed nodes than the engine tolerates (to show the liveness checker fire).
    package var allowExcessFaults = false
    /// Default nil.
    package var sabotage: NodeSabotage?
    /// Default `[KeyValueExecutor()]`: what every node executes (client transactions are key-value sets).
    package var executors: [any TransactionExecutor] = [KeyValueExecutor()]
    /// Default nil: every node. How many nodes (the first ones) the genesis makes validators; the rest observe
    /// until a membership change on chain makes them validators.
    package var genesisValidators: Int?
    /// Default nil: a key drawn from the seed. The key that signs the genesis block (the chain's founding
    /// authority, which signs governance transactions).
    package var genesisKey: PrivateKey?
    /// Default nil. Asked every tick with the highest committed height and every node as a validator (its ID and
    /// key); a transaction it returns is submitted to a random running node (governance, such as a membership
    /// change; returning the same one again is harmless).
    package var governance: (@Sendable (_ tick: UInt64, _ height: Height, _ allNodes: ValidatorSet) -> Transaction?)?

    package init() {}
}

/// A checker's finding.
package struct NodeViolation: Sendable, Hashable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// Two correct nodes committed different blocks at one height.
        case agreement
        /// Two correct nodes report different state roots at one height.
        case stateRoot
        /// A transaction whose receipt a node handed out is missing from a correct node's ledger.
        case lostTransaction
        /// A receipt handed out does not match its block (receipt root) or the store.
        case receipt
        /// A correct node made no progress within the bound after healing.
        case liveness
    }
    package var kind: Kind
    package var tick: UInt64
    package var node: Int
    package var height: Height
    package var message: String
    package var description: String { "\(kind) at tick \(tick), node \(node), height \(height): \(message)" }
}

/// The outcome of one seeded whole-node run.
package struct NodeSimulationReport: Sendable, CustomStringConvertible {
    package var seed: UInt64
    package var ticks: UInt64 = 0
    package var violations: [NodeViolation] = []
    /// The same seed gives the same digest.
    package var traceDigest: Digest = .zero
    package var committedHeights: [Height] = []
    package var messagesSent = 0
    package var messagesDropped = 0
    package var crashes = 0
    package var partitions = 0
    package var failedAppends = 0
    package var slowAppends = 0
    /// Client transactions admitted by a node.
    package var submitted = 0
    /// Transactions whose receipt some node handed out.
    package var acknowledged = 0
    /// Each node's state at the end (tip, pipeline, mempool, engine status), for diagnosing a failure.
    package var nodeStates: [String] = []
    /// Per node, the validators of the configuration deciding its next block (empty when it is down).
    package var validators: [[NodeID]] = []
    /// Per node, its consensus role at the end (nil when it is down).
    package var roles: [ConsensusRole?] = []
    /// PoW: acknowledged transactions whose block a heavier chain replaced.
    package var reorganisedAcknowledgements = 0
    package var passed: Bool { violations.isEmpty }
    package var description: String {
        let v = violations.first.map { "; first violation: \($0)" } ?? ""
        return "seed \(seed): \(passed ? "passed" : "FAILED") heights=\(committedHeights.map(\.rawValue)) submitted=\(submitted) "
            + "acknowledged=\(acknowledged) sent=\(messagesSent) dropped=\(messagesDropped) crashes=\(crashes) partitions=\(partitions) "
            + "failedAppends=\(failedAppends)\(v)"
    }
}

/// Simulated time shared by a run's clocks (each node adds its own skew).
final class SimulatedClock: Sendable {
    private let tick = Mutex<UInt64>(0)
    /// The node simulator's tick 0: 2025-11-24, fixed so a seed replays.
    static let simulationBase: UInt64 = 1_764_000_000_000
    /// Milliseconds since 1970 at tick 0.
    let base: UInt64
    /// Simulated milliseconds per tick.
    let millisPerTick: UInt64

    init(base: UInt64 = SimulatedClock.simulationBase, millisPerTick: UInt64 = 1_000) {
        self.base = base
        self.millisPerTick = millisPerTick
    }

    /// A clock for a cluster or a self-ticking node: tick 0 is the wall clock now, each tick `tickInterval`.
    static func startingNow(tickInterval: Duration) -> SimulatedClock {
        SimulatedClock(base: Timestamp.now().rawValue, millisPerTick: max(1, millis(tickInterval)))
    }

    /// Whole milliseconds of `duration` (0 for a negative one).
    static func millis(_ duration: Duration) -> UInt64 {
        let c = duration.components
        return UInt64(max(0, c.seconds * 1_000 + c.attoseconds / 1_000_000_000_000_000))
    }

    /// How many ticks of `millisPerTick` milliseconds `duration` spans, rounded up, at least one.
    static func ticks(_ duration: Duration, millisPerTick: UInt64) -> UInt64 {
        let per = max(1, millisPerTick)
        return max(1, (millis(duration) + per - 1) / per)
    }

    var now: UInt64 { tick.withLock { $0 } }
    func advance() { tick.withLock { $0 += 1 } }

    /// How far simulated time is ahead of the wall clock, in milliseconds (negative when behind).
    var leadMillis: Int64 { Int64(base + now * millisPerTick) - Int64(Timestamp.now().rawValue) }

    /// The most a clock driven by a cluster or a self-ticking node may run ahead of the wall clock:
    /// transactions a caller stamps with the wall clock then stay well inside the mempool's 10-minute
    /// window, whatever the speed of the simulation.
    static let maximumLeadMillis: Int64 = 300_000
    func timestamp(skew: Int64) -> Timestamp {
        let ms = Int64(base + now * millisPerTick) + skew
        return Timestamp(millisecondsSince1970: UInt64(max(0, ms)))
    }
}

/// Messages a node on simulated time sent, until its cluster takes them.
final class OutboundBuffer {
    var items: [(NodeID?, [UInt8])] = []
}

/// A node's writer on simulated time: jobs run when the simulator says (at the end of each tick,
/// later when slow), appends may fail, and sends wait behind the writes queued before them.
final class SimulatedWriter: NodeWriter {
    private var jobs: [(job: CommitWriter.Job, readyAt: UInt64)] = []
    private var outcomes: [CommitWriter.Outcome] = []
    private let deliver: (NodeID?, [UInt8]) -> Void
    /// Decides, per append, its extra latency in ticks and whether it fails.
    var plan: (CommitWriter.Job) -> (delay: UInt64, fail: Bool) = { _ in (0, false) }
    /// An fsync that lies: appends are reported done and not written.
    var lies = false
    /// Records each append's duration (`forgechain_block_append_seconds`), as `CommitWriter` does.
    var appendTimer: CoreMetrics.Timer?
    private let clock: SimulatedClock

    init(clock: SimulatedClock, deliver: @escaping (NodeID?, [UInt8]) -> Void) {
        self.clock = clock
        self.deliver = deliver
    }

    func submit(_ job: CommitWriter.Job) {
        let p = plan(job)
        let ready = max(clock.now + p.delay, jobs.last?.readyAt ?? 0)
        if p.fail, case .append(_, let block, _, _, _, _) = job { failing.insert(block.header.height) }
        jobs.append((job, ready))
    }
    /// Heights whose queued append is to fail.
    private var failing = Set<Height>()

    func emit(_ bytes: [UInt8], to peer: NodeID?) {
        if jobs.isEmpty { deliver(peer, bytes) } else { jobs.append((.send(peer, bytes), jobs.last?.readyAt ?? clock.now)) }
    }

    var isIdle: Bool { jobs.isEmpty }

    func takeOutcomes() -> [CommitWriter.Outcome] {
        defer { outcomes = [] }
        return outcomes
    }

    /// Runs the jobs that are due, in order.
    func run() {
        while let first = jobs.first, first.readyAt <= clock.now {
            jobs.removeFirst()
            switch first.job {
            case .send(let peer, let bytes):
                deliver(peer, bytes)
            case .append(_, let block, _, _, _, _) where failing.contains(block.header.height):
                failing.remove(block.header.height)
                outcomes.append(.appendFailed(block.header.height, LedgerError(.sqlite, "disk full (injected)")))
            case .append(_, let block, _, _, _, _) where lies:
                outcomes.append(.appended(block.header.height))
            default:
                if let o = CommitWriter.perform(first.job, appendTimer: appendTimer, deliver: deliver) { outcomes.append(o) }
            }
        }
    }
}

/// Whole nodes, each a ``NodeCore`` with its driver, mempool, block execution and an in-memory
/// SQLite store, on simulated time over a seeded network that drops, delays, duplicates and
/// partitions; nodes crash (losing their queued writes) and restart from their store; appends fail
/// or are slow; clocks are skewed. One seed decides everything, so a run replays exactly (the trace
/// digest says so). Checkers: agreement, identical state roots per height, no acknowledged
/// transaction lost, every receipt matches its block and the store, and liveness after healing.
///
/// - Note: Single-threaded and synchronous.
package final class NodeSimulator<Engine: ConsensusEngine> {
    package let seed: UInt64
    package let options: NodeSimulationOptions
    package let kind: ConsensusEngineKind

    private struct SimNode {
        var store: LedgerStore
        var driver: NodeDriver<Engine>?
        var writer: SimulatedWriter?
        var configuration: NodeConfiguration
        var group = 0
        var restartAt: UInt64?
        var permanentlyDown = false
        var skew: Int64 = 0
        /// How many times the node started: a request made before a crash is not answered after it.
        var starts = 0
    }

    private var nodes: [SimNode] = []
    private var rng: SplitMix64
    private let clock = SimulatedClock()
    private var inFlight: [UInt64: [(from: Int, to: Int, bytes: [UInt8])]] = [:]
    private var outgoing: [(from: Int, to: NodeID?, bytes: [UInt8])] = []
    /// Proposed blocks to validate, by the tick the verdict is due (1-2 ticks after the request, as a
    /// node validates off its actor), with the driver that asked (a crashed node's requests lapse).
    private var validationsDue: [UInt64: [(node: Int, start: Int, request: ValidationRequest)]] = [:]
    private let trace: StreamingHash
    private var dropRate = 0.0
    private let genesis: Block
    /// Every node as a validator (for governance that adds some).
    private let allNodes: ValidatorSet
    private let hashAlgorithm: HashAlgorithm = .sha256
    private let chainID: UInt64 = 53
    private var decided: [Height: Digest] = [:]
    private var roots: [Height: Digest] = [:]
    private var acknowledged: [Digest: (height: Height, hash: Digest, receipt: Receipt)] = [:]
    /// The nodes that handed out each transaction's receipt.
    private var acknowledgedBy: [Digest: Set<Int>] = [:]
    private var clientCounter: UInt64 = 0
    private var report: NodeSimulationReport
    /// Blocks may be reorganised (PoW): agreement and lost transactions are checked at the end, below this depth.
    private let finalityDepth: UInt64?

    /// The liveness window after healing: the engines' view-change and election bounds with the
    /// node's catch-up sync on top (a sync request is retried every 100 ticks).
    package static func healingTicks(_ kind: ConsensusEngineKind) -> UInt64 {
        switch kind {
        case .raft: 600
        case .pbft, .pos: 800
        case .pow: 1_000
        }
    }

    /// - Parameters:
    ///   - kind: The engine kind `Engine` is (its cluster configuration is used).
    ///   - seed: Decides keys, fault rates and times, delays and the workload.
    ///   - options: The run's options.
    /// - Throws: `ChainError` `.invalidNodeConfiguration` (4050) for options out of range; store and engine start errors.
    package init(kind: ConsensusEngineKind, seed: UInt64, options: NodeSimulationOptions) throws {
        guard (1...16).contains(options.nodes) else {
            throw ChainError(.invalidNodeConfiguration, "field 'nodes' is \(options.nodes), expected 1...16", details: ["field": "nodes"])
        }
        self.kind = kind
        self.seed = seed
        self.options = options
        var rng = SplitMix64(seed: seed)
        func key() throws(LedgerError) -> PrivateKey {
            var raw = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
            return try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
        }
        let keys = try (0..<options.nodes).map { _ throws(LedgerError) in try key() }
        allNodes = try ValidatorSet((0..<options.nodes).map { Validator(id: NodeID(UInt32($0)), publicKey: keys[$0].publicKey) })
        let validators = try ValidatorSet(Array(allNodes.validators.prefix(options.genesisValidators ?? options.nodes)))
        let tolerance = kind == .pow ? max(0, options.nodes - 1) : validators.maximumCrashed
        if !options.allowExcessFaults && options.permanentCrashes > (kind == .raft || kind == .pow ? tolerance : validators.maximumFaulty) {
            throw ChainError(.invalidNodeConfiguration, "field 'permanentCrashes' is \(options.permanentCrashes), above what \(kind) tolerates",
                             details: ["field": "permanentCrashes"])
        }
        let drawn = try key()
        genesis = try ChainGenesis.make(chainID: chainID, key: options.genesisKey ?? drawn, hashAlgorithm: hashAlgorithm,
                                        timestamp: Timestamp(millisecondsSince1970: SimulatedClock.simulationBase))
        let schedule = ConsensusSchedule(initial: try ClusterEngines.config(kind, validators: validators, maximumTransactionsPerBlock: 64))
        finalityDepth = kind == .pow ? 8 : nil
        trace = StreamingHash(hashAlgorithm)
        report = NodeSimulationReport(seed: seed)
        dropRate = options.faults.contains(.drop) ? Double(rng.next() % 1_000) / 1_000 * options.maximumDropRate : 0
        for i in 0..<options.nodes {
            var c = NodeConfiguration(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, schedule: schedule, storePath: ":memory:")
            c.hashAlgorithm = hashAlgorithm
            c.seed = seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            c.emptyBlockIntervalTicks = ClusterEngines.emptyBlockIntervalTicks(kind)
            c.maximumClockDriftMillis = kind == .pow ? 1_000_000_000_000 : 15_000
            c.logger.logLevel = ProcessInfo.processInfo.environment["FORGECHAIN_SIM_LOG"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
            if case .soleValidator(let n) = options.sabotage, n == i {
                c.schedule = ConsensusSchedule(initial: try ClusterEngines.config(kind, validators: try ValidatorSet([validators.validators[i]]),
                                                                                  maximumTransactionsPerBlock: 64))
            }
            let store = try LedgerStore.inMemory(configuration: LedgerStore.Configuration(hashAlgorithm: hashAlgorithm))
            try store.append(genesis)
            var node = SimNode(store: store, configuration: c)
            if options.faults.contains(.clockSkew) { node.skew = Int64(rng.next() % 4_001) - 2_000 }
            nodes.append(node)
        }
        var order = Array(0..<options.nodes)
        for _ in 0..<min(options.permanentCrashes, options.nodes) {
            let i = order.remove(at: Int(rng.next() % UInt64(order.count)))
            nodes[i].permanentlyDown = true
        }
        self.rng = rng
        for i in nodes.indices where !nodes[i].permanentlyDown { try start(i) }
    }

    // MARK: Running

    /// Runs the fault phase, heals, runs the quiet phase, and checks.
    package func run() -> NodeSimulationReport {
        let healAt = options.faultTicks
        let quiet = options.quietTicks > 0 ? options.quietTicks : Self.healingTicks(kind)
        let end = healAt + quiet
        var targets = [UInt64]()
        while clock.now < end {
            clock.advance()
            let now = clock.now
            if now == healAt + 1 {
                heal()
                let top = nodes.indices.filter { !nodes[$0].permanentlyDown }.map { nodes[$0].store.head?.height.rawValue ?? 0 }.max() ?? 0
                targets = nodes.map { _ in top + options.requiredProgress }
            }
            if now <= healAt { injectFaults() }
            for i in nodes.indices where nodes[i].restartAt == now { restart(i) }
            validate()
            deliver()
            for i in nodes.indices { nodes[i].driver?.handle(.tick(now: timestamp(i))) }
            submitClientTransactions()
            for i in nodes.indices where nodes[i].driver != nil {
                nodes[i].writer?.run()
                nodes[i].driver?.writesProgressed()
                collect(i)
            }
            route()
        }
        if targets.isEmpty { targets = nodes.map { _ in options.requiredProgress } }
        for i in nodes.indices where !nodes[i].permanentlyDown {
            let h = nodes[i].store.head?.height ?? 0
            if h.rawValue < targets[i] {
                violate(.liveness, i, h, "committed height \(h) after healing, needed \(targets[i]) within \(quiet) ticks")
            }
        }
        checkFinal()
        report.ticks = clock.now
        report.committedHeights = nodes.map { $0.store.head?.height ?? 0 }
        report.nodeStates = nodes.indices.map { "node \($0): " + (nodes[$0].driver?.diagnostics ?? "down") }
        report.validators = nodes.map { n in
            guard let core = n.driver?.core, let head = n.store.head else { return [] }
            return core.schedule.config(atHeight: head.height.next).validators?.ids ?? []
        }
        report.roles = nodes.map { $0.driver?.core.engine.status.role }
        report.acknowledged = acknowledged.count
        report.traceDigest = trace.finalize()
        return report
    }

    private func timestamp(_ i: Int) -> Timestamp { clock.timestamp(skew: nodes[i].skew) }

    private func start(_ i: Int) throws {
        let configured = nodes[i].configuration
        let store = nodes[i].store
        // A restarted node runs the membership changes its store has committed, as a real node does.
        var c = configured
        c.schedule = try ChainSchedule.effective(configured.schedule, store: store, logger: configured.logger)
        let skew = nodes[i].skew
        let clock = self.clock
        let writer = SimulatedWriter(clock: clock) { [unowned self] peer, bytes in
            self.outgoing.append((i, peer, bytes))
        }
        if case .lyingWriter(let n) = options.sabotage, n == i { writer.lies = true }
        let faults = options.faults
        var planRNG = SplitMix64(seed: rng.next())
        let faultEnd = options.faultTicks
        writer.plan = { [unowned self] job in
            guard case .append = job, clock.now <= faultEnd else { return (0, false) }
            let fail = faults.contains(.failedAppend) && planRNG.next() % 25 == 0
            let slow: UInt64 = faults.contains(.slowAppend) && planRNG.next() % 5 == 0 ? 1 + planRNG.next() % 5 : 0
            if fail { self.report.failedAppends += 1 }
            if slow > 0 { self.report.slowAppends += 1 }
            return (slow, fail)
        }
        let processor = BlockProcessor(store: store, chainID: chainID, hashAlgorithm: hashAlgorithm,
                                       maximumClockDriftMillis: c.maximumClockDriftMillis, executors: options.executors,
                                       genesisProducer: genesis.header.producer, consensusEngine: c.schedule.engine.rawValue, clock: { clock.timestamp(skew: skew) }, logger: c.logger)
        let p = processor
        let context = ConsensusContext(node: c.node, signingKey: c.signingKey, genesis: genesis, chainID: chainID, hashAlgorithm: hashAlgorithm,
                                       schedule: c.schedule, proposalValidator: .deferred, seed: c.seed, storage: StoreConsensusStorage(store: store, logger: c.logger))
        let engine = try Node<Engine>.makeEngine(context: context, store: store)
        guard let head = store.head else { throw ChainError(.storeFailure, "node \(i)'s store is empty") }
        let core = NodeCore(configuration: c, engine: engine, mempool: try Mempool(configuration: MempoolConfiguration(chainID: chainID, hashAlgorithm: hashAlgorithm)),
                            head: head, now: timestamp(i), nextNonce: { p.nextNonce(for: $0) }, refusal: { p.admissionRefusal(for: $0) })
        let driver = try NodeDriver(core: core, processor: processor, store: store, writer: writer, signingKey: c.signingKey,
                                    clock: { clock.timestamp(skew: skew) },
                                    makeEngine: { s throws(ChainError) in
                                        var context = context
                                        context.schedule = try ChainSchedule.effective(configured.schedule, store: s, logger: configured.logger)
                                        return try Node<Engine>.makeEngine(context: context, store: s)
                                    })
        nodes[i].starts += 1
        let asker = nodes[i].starts
        driver.validateElsewhere = { [unowned self] request in
            self.validationsDue[clock.now + 1 + self.rng.next() % 2, default: []].append((i, asker, request))
        }
        nodes[i].driver = driver
        nodes[i].writer = writer
        // Links come up: the node hears of every peer, and every running peer of it.
        for j in nodes.indices where j != i {
            driver.handle(.received(.connected(NodeID(UInt32(j))), now: timestamp(i)))
            nodes[j].driver?.handle(.received(.connected(NodeID(UInt32(i))), now: timestamp(j)))
        }
    }

    private func restart(_ i: Int) {
        nodes[i].restartAt = nil
        guard nodes[i].driver == nil, !nodes[i].permanentlyDown else { return }
        do { try start(i) } catch {
            violate(.liveness, i, nodes[i].store.head?.height ?? 0, "restart failed: \(error)")
        }
        record([0x52, UInt8(truncatingIfNeeded: i)])
    }

    private func crash(_ i: Int) {
        nodes[i].driver = nil
        nodes[i].writer = nil   // queued writes and messages are lost
        for j in nodes.indices where j != i {
            nodes[j].driver?.handle(.received(.disconnected(NodeID(UInt32(i))), now: timestamp(j)))
        }
    }

    // MARK: Faults

    private func heal() {
        for i in nodes.indices {
            nodes[i].group = 0
            if nodes[i].driver == nil && !nodes[i].permanentlyDown { nodes[i].restartAt = clock.now }
        }
        record([0x48])
    }

    private func injectFaults() {
        let faults = options.faults
        if faults.contains(.partition) {
            let partitioned = nodes.contains { $0.group != 0 }
            if partitioned, rng.next() % 60 == 0 {
                for i in nodes.indices { nodes[i].group = 0 }
                record([0x50, 0])
            } else if !partitioned, rng.next() % 80 == 0, nodes.count > 1 {
                var any = false
                for i in nodes.indices {
                    nodes[i].group = Int(rng.next() % 2)
                    any = any || nodes[i].group == 1
                }
                if !any { nodes[Int(rng.next() % UInt64(nodes.count))].group = 1 }
                report.partitions += 1
                record([0x50, 1] + nodes.map { UInt8($0.group) })
            }
        }
        if faults.contains(.crash), rng.next() % 70 == 0 {
            let down = nodes.filter { $0.driver == nil }.count
            let limit = options.allowExcessFaults ? nodes.count : (kind == .pow ? nodes.count - 1 : (nodes.count - 1) / (kind == .raft ? 2 : 3))
            let up = nodes.indices.filter { nodes[$0].driver != nil }
            if down < limit, !up.isEmpty {
                let i = up[Int(rng.next() % UInt64(up.count))]
                crash(i)
                nodes[i].restartAt = clock.now + 10 + rng.next() % 80
                report.crashes += 1
                record([0x43, UInt8(truncatingIfNeeded: i)])
            }
        }
    }

    // MARK: Network

    /// Moves what nodes sent this tick onto the network (losses and delays decided here).
    private func route() {
        let faulty = clock.now <= options.faultTicks
        let batch = outgoing
        outgoing = []
        for (from, to, bytes) in batch {
            let targets = to.map { [Int($0.rawValue)] } ?? nodes.indices.filter { $0 != from }
            for t in targets where t < nodes.count {
                report.messagesSent += 1
                if faulty && dropRate > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < dropRate {
                    report.messagesDropped += 1
                    continue
                }
                var copies = 1
                if faulty && options.faults.contains(.delay) && rng.next() % 50 == 0 { copies = 2 }
                for _ in 0..<copies {
                    var delay: UInt64 = 1
                    if faulty && options.faults.contains(.delay) { delay += rng.next() % (options.maximumDelayTicks + 1) }
                    inFlight[clock.now + delay, default: []].append((from, t, bytes))
                }
                record([0x4D, UInt8(truncatingIfNeeded: from), UInt8(truncatingIfNeeded: t)] + RLP.bigEndianBytes(UInt64(bytes.count)))
            }
        }
    }

    /// Answers the validation requests due now, in the order they were made.
    private func validate() {
        guard let due = validationsDue.removeValue(forKey: clock.now) else { return }
        for (i, asker, request) in due {
            guard let driver = nodes[i].driver, nodes[i].starts == asker else { continue }
            driver.handle(.validated(request, driver.processor.validate(request.block, parent: request.parent)))
        }
    }

    private func deliver() {
        guard let bucket = inFlight.removeValue(forKey: clock.now) else { return }
        for (from, to, bytes) in bucket {
            guard let driver = nodes[to].driver, nodes[to].group == nodes[from].group else {
                report.messagesDropped += 1
                continue
            }
            let inbound = NodeInbound<Engine.Message>.decode(.message(from: NodeID(UInt32(from)), bytes: bytes),
                                                             mempool: driver.core.mempool.configuration)
            driver.handle(.received(inbound, now: timestamp(to)))
        }
    }

    // MARK: Workload

    private func submitClientTransactions() {
        let up = nodes.indices.filter { nodes[$0].driver != nil }
        guard !up.isEmpty else { return }
        if let governance = options.governance,
           let tx = governance(clock.now, nodes.compactMap { $0.store.head?.height }.max() ?? 0, allNodes) {
            do { _ = try nodes[up[Int(rng.next() % UInt64(up.count))]].driver?.admit(tx) } catch {
                // Refused when already pending or committed (a resubmission), as a client would be told.
            }
        }
        for _ in 0..<options.transactionsPerTick {
            clientCounter += 1
            let i = up[Int(rng.next() % UInt64(up.count))]
            // A fresh client key per transaction (nonce 0), so a transaction lost with a crashed node's
            // mempool never holds back the ones after it. 32 bytes are always a valid Ed25519 seed and a
            // key-value set of this size always signs, so the `try?`s below skip nothing in practice.
            var raw = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
            guard let key = try? PrivateKey(scheme: .ed25519, rawRepresentation: raw) else { continue }
            var account = SigningAccount(key: key, chainID: chainID, hashAlgorithm: hashAlgorithm)
            guard let tx = try? account.set(key: Array("k\(clientCounter % 97)".utf8), value: Array("v\(clientCounter)".utf8),
                                            timestamp: timestamp(i)) else { continue }
            do {
                _ = try nodes[i].driver?.admit(tx)
                report.submitted += 1
            } catch {
                // Refused at the front door (mempool full, clock skew beyond the window): the client saw the error.
            }
        }
    }

    // MARK: Checkers

    private func collect(_ i: Int) {
        guard let driver = nodes[i].driver else { return }
        for (c, e) in driver.takeDelivered() {
            var execution = e
            if case .alteredReceipts(let n) = options.sabotage, n == i, !execution.receipts.isEmpty {
                execution.receipts[0].status = execution.receipts[0].status == Receipt.success ? 1 : Receipt.success
            }
            if case .alteredStateRoot(let n) = options.sabotage, n == i {
                execution.stateRoot = hashAlgorithm.hash(execution.stateRoot.bytes)
            }
            observe(i, c, execution)
        }
    }

    private func observe(_ i: Int, _ c: CommittedBlock, _ e: ExecutedBlock) {
        record([0x43, UInt8(truncatingIfNeeded: i)] + RLP.bigEndianBytes(c.height.rawValue) + c.hash.bytes)
        if finalityDepth == nil {
            if let d = decided[c.height], d != c.hash {
                violate(.agreement, i, c.height, "committed \(c.hash.hex.prefix(16)), another node committed \(d.hex.prefix(16))")
            } else {
                decided[c.height] = c.hash
            }
            if let r = roots[c.height], r != e.stateRoot {
                violate(.stateRoot, i, c.height, "state root \(e.stateRoot.hex.prefix(16)), another node's is \(r.hex.prefix(16))")
            } else {
                roots[c.height] = e.stateRoot
            }
        }
        if Receipt.root(of: e.receipts, using: hashAlgorithm) != c.block.header.receiptRoot {
            violate(.receipt, i, c.height, "the receipts handed out do not match the block's receipt root")
        }
        for r in e.receipts {
            acknowledged[r.transactionID] = (c.height, c.hash, r)
            acknowledgedBy[r.transactionID, default: []].insert(i)
        }
    }

    /// At the end: every acknowledged transaction is in every correct running node's ledger (in the
    /// block acknowledged, unless blocks can be reorganised), with the receipt handed out; PoW agreement below the finality depth.
    private func checkFinal() {
        let live = nodes.indices.filter { !nodes[$0].permanentlyDown && nodes[$0].driver != nil }
        let shortest = live.map { nodes[$0].store.head?.height.rawValue ?? 0 }.min() ?? 0
        for (txID, at) in acknowledged.sorted(by: { $0.key.hex < $1.key.hex }) {
            if let depth = finalityDepth {
                // PoW: a receipt is not final. One whose block a deeper chain replaced is counted, not checked
                // (its transaction went back to a mempool, which a crash may lose); agreement is checked below.
                if at.height.rawValue + depth > shortest { continue }
                if let first = live.first, blockHash(first, at.height) != at.hash {
                    report.reorganisedAcknowledgements += 1
                    continue
                }
            }
            // A node a block or two behind at the end is the liveness checker's concern, not this one's,
            // unless it handed out the receipt itself.
            for i in live where (nodes[i].store.head?.height ?? 0) >= at.height || acknowledgedBy[txID, default: []].contains(i) {
                do throws(LedgerError) {
                    guard let location = try nodes[i].store.location(ofTransaction: txID),
                          let stored = try nodes[i].store.receipt(forTransaction: txID) else {
                        violate(.lostTransaction, i, at.height, "acknowledged transaction \(txID.hex.prefix(16)) is not in the ledger")
                        continue
                    }
                    if finalityDepth == nil, location.height != at.height {
                        violate(.lostTransaction, i, at.height, "acknowledged at height \(at.height), the ledger has it at \(location.height)")
                    } else if finalityDepth == nil, stored != at.receipt {
                        violate(.receipt, i, at.height, "the receipt handed out for \(txID.hex.prefix(16)) differs from the ledger's")
                    }
                } catch {
                    violate(.lostTransaction, i, at.height, "reading transaction \(txID.hex.prefix(16)): \(error.message)")
                }
            }
        }
        guard let depth = finalityDepth, let first = live.first, shortest > depth else { return }
        for h in 1...(shortest - depth) {
            let a = blockHash(first, Height(h))
            for i in live.dropFirst() where blockHash(i, Height(h)) != a {
                violate(.agreement, i, Height(h), "final block differs from node \(first)'s")
            }
        }
    }

    /// Node `i`'s block hash at `height`; a failed read is itself a violation (and nil).
    private func blockHash(_ i: Int, _ height: Height) -> Digest? {
        do { return try nodes[i].store.blockHash(atHeight: height) } catch {
            violate(.agreement, i, height, "reading the block hash: \(error.message)")
            return nil
        }
    }

    private func violate(_ kind: NodeViolation.Kind, _ i: Int, _ height: Height, _ message: String) {
        guard report.violations.count < 100 else { return }
        report.violations.append(NodeViolation(kind: kind, tick: clock.now, node: i, height: height, message: message))
    }

    private func record(_ bytes: [UInt8]) {
        trace.update(RLP.bigEndianBytes(clock.now))
        trace.update(bytes)
    }
}

/// Runs many seeds of the node simulator on worker threads.
package enum NodeSimulationBatch {
    package struct Result: Sendable {
        package var passed = 0
        package var failed = 0
        /// The failing report with the lowest seed.
        package var firstFailure: NodeSimulationReport?
        package var failingSeeds: [UInt64] = []
    }

    /// - Parameters:
    ///   - kind: The engine every node runs.
    ///   - seeds: The seeds, each one run.
    ///   - options: Every run's options.
    ///   - parallelism: Worker threads, at least 1.
    ///   - progress: Called with (finished, total) after each seed, from any thread.
    package static func run(_ kind: ConsensusEngineKind, seeds: [UInt64], options: NodeSimulationOptions, parallelism: Int,
                            progress: (@Sendable (Int, Int) -> Void)? = nil) -> Result {
        let reports = Mutex<[NodeSimulationReport]>([])
        let next = Mutex(0)
        let workers = max(1, min(parallelism, seeds.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let k: Int = next.withLock { n in defer { n += 1 }; return n }
                guard k < seeds.count else { return }
                let report = runOne(kind, seed: seeds[k], options: options)
                let done = reports.withLock { r in r.append(report); return r.count }
                progress?(done, seeds.count)
            }
        }
        var result = Result()
        for r in reports.withLock({ $0 }).sorted(by: { $0.seed < $1.seed }) {
            if r.passed { result.passed += 1 } else {
                result.failed += 1
                result.failingSeeds.append(r.seed)
                if result.firstFailure == nil { result.firstFailure = r }
            }
        }
        return result
    }

    /// One seed; a run that cannot start is reported as a failure with the reason.
    package static func runOne(_ kind: ConsensusEngineKind, seed: UInt64, options: NodeSimulationOptions) -> NodeSimulationReport {
        do {
            switch kind {
            case .raft: return try NodeSimulator<RaftEngine>(kind: kind, seed: seed, options: options).run()
            case .pbft: return try NodeSimulator<PBFTEngine>(kind: kind, seed: seed, options: options).run()
            case .pos: return try NodeSimulator<PoSEngine>(kind: kind, seed: seed, options: options).run()
            case .pow: return try NodeSimulator<PoWEngine>(kind: kind, seed: seed, options: options).run()
            }
        } catch {
            var r = NodeSimulationReport(seed: seed)
            r.violations = [NodeViolation(kind: .liveness, tick: 0, node: 0, height: 0, message: "the run could not start: \(error)")]
            return r
        }
    }
}
