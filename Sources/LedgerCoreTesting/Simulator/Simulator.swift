import Synchronization
import LedgerCore

/// Options of a simulation beyond the fault plan.
public struct SimulationOptions: Sendable {
    /// Optional, default SHA-256.
    public var hashAlgorithm: HashAlgorithm = .sha256
    /// Optional, default 53.
    public var chainID: UInt64 = 53
    /// Optional, default 1; range 0...1,000. Transactions in each block the hosts build.
    public var transactionsPerBlock: Int = 1
    /// Optional, default 0. How many nodes are Byzantine (chosen by the seed).
    public var byzantine: Int = 0
    /// Optional, default all. What Byzantine nodes do.
    public var byzantineBehaviors: ByzantineBehaviors = .all
    /// Optional, default false. Allows more Byzantine or crashed nodes than the engine tolerates
    /// (to show the checkers fire where theory says the engine is unsafe or stuck).
    public var allowExcessFaults = false
    /// Optional, default 0. Nodes crashed from the first tick and never restarted.
    public var permanentCrashes = 0
    /// Optional, default 0. Nodes down from the first tick that start, from an empty store, when
    /// the network heals: they must catch up on the whole chain within the liveness window (served
    /// from the others' `ConsensusStorage` once it is longer than what engines keep in memory).
    /// Counted with ``permanentCrashes`` against the engine's crash tolerance.
    public var lateJoiners = 0
    /// Optional, default nil (the engine's ``SimulatableEngine/simulationConfig(validators:)``).
    /// The configuration schedule of the chain, given its validators.
    public var schedule: (@Sendable (ValidatorSet) -> ConsensusSchedule)?
    /// Optional, default nil (every node uses ``schedule``). Gives one node a configuration of its own:
    /// a misconfiguration, to show the checkers catch a broken quorum. The checkers keep using ``schedule``.
    public var nodeSchedule: (@Sendable (NodeID, ValidatorSet) -> ConsensusSchedule?)?
    /// Optional, default nil (a `BlockValidator` of the chain). The rule engines use for proposals;
    /// replace it to plant a bug.
    public var proposalValidator: ProposalValidator?
    /// Optional, default true. Engines get `ProposalValidator.deferred` and the simulator answers
    /// each `ValidationRequest` with ``proposalValidator``'s verdict at once or a tick later, as a node's
    /// validation off the engine's thread does; false: engines call the validator inside `step`.
    public var deferredValidation = true
    /// Optional, default false. Give validators stakes 1...8 drawn from the seed (else 1 each).
    public var randomStakes = false
    /// Optional, default nil. Receives every status change of every node (K-A-4).
    public var statusChannel: ConsensusStatusChannel?
    /// Optional, default nil. For engines whose commits can be reorganised (PoW): agreement is
    /// checked at the end of the run on blocks at least this deep in every correct node's chain,
    /// instead of at every commit.
    public var reorgFinalityDepth: UInt64?
    /// Optional, default false. Hash every message's encoding into the trace digest (slower); otherwise
    /// the trace holds each message's sender, recipient and time, and every commit, status and fault.
    public var traceMessageContents = false

    /// The defaults listed on each property.
    public init() {}
}

/// A safety or liveness violation found by a checker.
public struct Violation: Hashable, Sendable, CustomStringConvertible {
    /// Which checker fired.
    public enum Kind: String, Hashable, Sendable {
        /// Two correct nodes committed different blocks at one height.
        case agreement
        /// A committed block fails validation, or its certificate does not verify.
        case validity
        /// A node committed out of height order (skipped or repeated a height).
        case gap
        /// A correct node made no progress within the bound after faults healed.
        case liveness
    }
    /// Which checker fired.
    public var kind: Kind
    /// The simulated tick it fired at.
    public var tick: UInt64
    /// The node concerned.
    public var node: NodeID
    /// The height concerned.
    public var height: Height
    /// What was seen.
    public var message: String
    public var description: String { "\(kind) at tick \(tick), \(node), height \(height): \(message)" }
}

/// The outcome of one seeded run.
public struct SimulationReport: Sendable, CustomStringConvertible {
    /// The seed that replays this run.
    public var seed: UInt64
    /// Ticks simulated.
    public var ticks: UInt64
    /// Empty when every check passed.
    public var violations: [Violation]
    /// A digest of everything that happened (messages, commits, statuses, faults): the same seed gives the same digest.
    public var traceDigest: Digest
    /// Committed height of each node at the end, by node index.
    public var committedHeights: [Height]
    /// Messages sent by all nodes.
    public var messagesSent: Int
    /// Messages the network lost.
    public var messagesDropped: Int
    /// Node crashes.
    public var crashes: Int
    /// Network partitions.
    public var partitions: Int
    /// The most blocks any engine held in memory, sampled every 50 ticks (it must not grow with the chain).
    package var peakBlocksInMemory = 0
    /// Reads engines made of their storage (history older than they keep in memory).
    package var storageReads = 0
    /// Blocks the hosts' catch-up applied (fetched from a peer's store, certificate verified).
    package var syncedBlocks = 0
    /// Rollbacks the engines asked for (PoW reorganisations).
    public var rollbacks: Int
    /// Transactions returned by rollbacks (K-R-3).
    public var rolledBackTransactions: Int
    /// Inputs engines rejected (invalid proposals, bad signatures...).
    public var rejections: Int
    /// Byzantine node indices.
    public var byzantineNodes: [Int]
    /// True when no checker fired.
    public var passed: Bool { violations.isEmpty }
    public var description: String {
        let v = violations.first.map { "; first violation: \($0)" } ?? ""
        return "seed \(seed): \(passed ? "passed" : "FAILED") heights=\(committedHeights.map(\.rawValue)) sent=\(messagesSent) dropped=\(messagesDropped) crashes=\(crashes) partitions=\(partitions)\(v) (replay with FORGECHAIN_SEED=\(seed))"
    }
}

/// A deterministic simulator of N consensus engines: virtual time in ticks,
/// one seed that decides everything (fault rates included), a network that
/// drops, delays, duplicates, reorders and partitions, crashes and restarts
/// (persisted state and committed blocks survive, the rest is lost),
/// Byzantine nodes, and checkers for agreement, validity, no gaps and
/// liveness after healing.
///
/// Each node has a host that answers proposal requests with blocks of
/// synthetic transactions signed with Ed25519 keys derived from the seed
/// (Ed25519 signatures are deterministic, so trace digests replay).
///
/// ```swift
/// var sim = try Simulator<RaftEngine>(nodes: 5, seed: 7, faults: .all)
/// let report = sim.run()
/// #expect(report.passed, "\(report)")
/// ```
/// - Note: Single-threaded and synchronous; run different seeds on different threads if needed.
public struct Simulator<Engine: SimulatableEngine> {
    /// The seed the run is made from.
    public let seed: UInt64
    /// The faults injected.
    public let faults: FaultPlan
    /// The run's options.
    public let options: SimulationOptions
    /// The validators, with keys derived from the seed.
    public let validators: ValidatorSet
    /// The consensus schedule every node runs.
    public let schedule: ConsensusSchedule
    /// The chain's genesis block.
    public let genesis: Block

    private struct Node {
        var engine: Engine?
        var context: ConsensusContext
        var key: PrivateKey
        var persisted: [UInt8]?
        /// The node's committed chain, which its engine also reads as its `ConsensusStorage`.
        var store: InMemoryConsensusStorage
        var byzantine = false
        var group = 0
        var restartAt: UInt64?
        var permanentlyDown = false
        var toolkit: ByzantineToolkit?
    }

    private struct Envelope {
        var from: Int
        var to: Int
        var payload: Payload
    }

    /// What travels between simulated nodes: an engine's message, or the hosts' catch-up protocol
    /// (the same shape as a node's block sync: a request from a height, a batch of certified blocks).
    private enum Payload {
        case engine(Engine.Message)
        case syncRequest(from: Height)
        case syncResponse([CommittedBlock])
    }

    /// Blocks per catch-up answer.
    static var syncBatch: Int { 16 }

    private var nodes: [Node]
    private var rng: SplitMix64
    private var inFlight: [UInt64: [Envelope]] = [:]
    /// The host's verdicts on validation requests, by the tick they are delivered at.
    private var verdictsDue: [UInt64: [(node: Int, request: ValidationRequest, error: LedgerError?)]] = [:]
    private let proposalValidator: ProposalValidator
    private var now: UInt64 = 0
    private let trace: StreamingHash
    private let dropRate: Double
    private let duplicateRate: Double
    private let factory: BlockFactory
    private let checker: BlockValidator
    private var decided: [Height: Digest] = [:]
    private var validBlocks = Set<Digest>()
    private var verifiedCertificates = Set<CommitCertificate>()
    private var report: SimulationReport

    /// - Parameters:
    ///   - count: Required; range 1...64.
    ///   - seed: Required. Decides keys, fault rates, fault times, delays and Byzantine choices.
    ///   - faults: Optional, default ``FaultPlan/none``.
    ///   - options: Optional, default ``SimulationOptions/init()``.
    /// - Throws: `LedgerError` `.invalidConsensusConfig` (1701) when `nodes` is out of range or the
    ///   Byzantine or crash count exceeds the engine's tolerance without ``SimulationOptions/allowExcessFaults``;
    ///   the engine's initialisation errors.
    public init(nodes count: Int, seed: UInt64, faults: FaultPlan = .none, options: SimulationOptions = .init()) throws(LedgerError) {
        try ConfigCheck.range(count, 1...64, "nodes")
        self.seed = seed
        self.faults = faults
        self.options = options
        var rng = SplitMix64(seed: seed)
        func key() throws(LedgerError) -> PrivateKey {
            var raw = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
            return try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
        }
        let keys = try (0..<count).map { _ throws(LedgerError) in try key() }
        let genesisKey = try key()
        let senders = try (0..<4).map { _ throws(LedgerError) in try key() }
        validators = try ValidatorSet((0..<count).map {
            Validator(id: NodeID(UInt32($0)), publicKey: keys[$0].publicKey, stake: options.randomStakes ? 1 + rng.next() % 8 : 1)
        })
        if !options.allowExcessFaults {
            try ConfigCheck.range(options.byzantine, 0...Engine.byzantineTolerance(of: validators), "byzantine")
            try ConfigCheck.range(options.permanentCrashes, 0...Engine.crashTolerance(of: validators), "permanentCrashes")
            try ConfigCheck.range(options.permanentCrashes + options.lateJoiners, 0...Engine.crashTolerance(of: validators),
                                  "permanentCrashes + lateJoiners")
        }
        schedule = options.schedule?(validators) ?? ConsensusSchedule(initial: Engine.simulationConfig(validators: validators))
        try schedule.validate()
        let baseTime = Timestamp(millisecondsSince1970: 1_764_000_000_000)
        genesis = try Block.make(parent: nil, transactions: [], producerKey: genesisKey, chainID: options.chainID,
                                 hashAlgorithm: options.hashAlgorithm, timestamp: baseTime)
        factory = BlockFactory(senders: senders, chainID: options.chainID, hashAlgorithm: options.hashAlgorithm,
                               transactionsPerBlock: options.transactionsPerBlock)
        let horizon = baseTime.adding(milliseconds: (faults.faultTicks + max(faults.quietTicks, Engine.healingTicks(validators: validators)) + 10_000) * 1_000)
        checker = BlockValidator(chainID: options.chainID, hashAlgorithm: options.hashAlgorithm,
                                 maximumClockDriftMillis: 0, parallelism: 1)
        let proposalValidator = options.proposalValidator
            ?? ProposalValidation.memoized(BlockValidator(chainID: options.chainID, hashAlgorithm: options.hashAlgorithm, parallelism: 1), now: horizon)
        self.proposalValidator = proposalValidator
        dropRate = faults.kinds.contains(.drop) ? Double(rng.next() % 1_000) / 1_000 * faults.maximumDropRate : 0
        duplicateRate = faults.kinds.contains(.duplicate) ? Double(rng.next() % 1_000) / 1_000 * faults.maximumDuplicateRate : 0
        var byzantine = [Int]()
        var candidates = Array(0..<count)
        for _ in 0..<min(options.byzantine, count) {
            byzantine.append(candidates.remove(at: Int(rng.next() % UInt64(candidates.count))))
        }
        byzantine.sort()
        let coalition = ByzantineCoalition(members: byzantine.map { NodeID(UInt32($0)) }, nodes: (0..<count).map { NodeID(UInt32($0)) })
        var built = [Node]()
        for i in 0..<count {
            let store = InMemoryConsensusStorage()
            let context = ConsensusContext(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, chainID: options.chainID,
                                           hashAlgorithm: options.hashAlgorithm,
                                           schedule: options.nodeSchedule?(NodeID(UInt32(i)), validators) ?? schedule,
                                           proposalValidator: options.deferredValidation ? .deferred : proposalValidator,
                                           seed: seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15,
                                           storage: store)
            var node = Node(engine: try Engine(context: context), context: context, key: keys[i], store: store)
            if byzantine.contains(i) {
                node.byzantine = true
                let f = factory
                let k = keys[i]
                node.toolkit = ByzantineToolkit(node: context.node, signingKey: k, context: context,
                                                rng: SplitMix64(seed: rng.next()),
                                                makeBlock: { parent, data, variant in
                                                    try? f.make(parent: parent, consensusData: data, producer: k, variant: variant &+ 1_000,
                                                                timestamp: parent.timestamp.adding(milliseconds: 1 + variant))
                                                },
                                                coalition: coalition)
            }
            built.append(node)
        }
        var crashOrder = candidates.isEmpty ? Array(0..<count) : candidates
        for _ in 0..<min(options.permanentCrashes, count) where !crashOrder.isEmpty {
            let i = crashOrder.remove(at: Int(rng.next() % UInt64(crashOrder.count)))
            built[i].engine = nil
            built[i].permanentlyDown = true
        }
        for _ in 0..<options.lateJoiners where !crashOrder.isEmpty {
            let i = crashOrder.remove(at: Int(rng.next() % UInt64(crashOrder.count)))
            built[i].engine = nil   // heal() starts it
        }
        nodes = built
        self.rng = rng
        trace = StreamingHash(options.hashAlgorithm)
        report = SimulationReport(seed: seed, ticks: 0, violations: [], traceDigest: .zero, committedHeights: [],
                                  messagesSent: 0, messagesDropped: 0, crashes: 0, partitions: 0, rollbacks: 0,
                                  rolledBackTransactions: 0, rejections: 0, byzantineNodes: byzantine)
    }

    /// Runs the fault phase, heals, runs the quiet phase and checks liveness.
    /// - Returns: The report; ``SimulationReport/violations`` is empty when every check passed.
    public mutating func run() -> SimulationReport {
        let healAt = faults.faultTicks
        let quiet = max(faults.quietTicks, Engine.healingTicks(validators: validators))
        let end = faults.faultTicks + quiet
        var targets = [UInt64]()
        while now < end {
            now += 1
            if now == healAt + 1 || (healAt == 0 && now == 1) {
                heal()
                let top = correctIndices.map { nodes[$0].store.height.rawValue }.max() ?? 0
                targets = nodes.map { _ in top + faults.requiredProgress }
            }
            if now <= healAt { injectFaults() }
            for i in nodes.indices where nodes[i].restartAt == now { restart(i) }
            deliverVerdicts()
            deliver()
            for i in nodes.indices where nodes[i].engine != nil { step(i, .tick) }
            if now % 50 == 0 { sampleMemory() }
        }
        sampleMemory()
        report.storageReads = nodes.reduce(0) { $0 + $1.store.reads }
        for i in correctIndices where !nodes[i].permanentlyDown && nodes[i].store.height.rawValue < targets[i] {
            violate(.liveness, i, nodes[i].store.height,
                    "committed height \(nodes[i].store.height) after healing, needed \(targets[i]) within \(quiet) ticks")
        }
        if let depth = options.reorgFinalityDepth { checkFinalAgreement(depth: depth) }
        report.ticks = now
        report.committedHeights = nodes.map(\.store.height)
        report.traceDigest = trace.finalize()
        return report
    }

    private var correctIndices: [Int] { nodes.indices.filter { !nodes[$0].byzantine } }

    private mutating func sampleMemory() {
        for node in nodes {
            if let e = node.engine as? any ChainMemoryReporting { report.peakBlocksInMemory = max(report.peakBlocksInMemory, e.blocksInMemory) }
        }
    }

    // MARK: Faults

    private mutating func heal() {
        for i in nodes.indices {
            nodes[i].group = 0
            if nodes[i].engine == nil && !nodes[i].permanentlyDown { nodes[i].restartAt = now }
        }
        record([0x48], now)
    }

    private mutating func injectFaults() {
        if faults.kinds.contains(.partition) {
            let partitioned = nodes.contains { $0.group != 0 }
            if partitioned, rng.next() % 60 == 0 {
                for i in nodes.indices { nodes[i].group = 0 }
                record([0x50, 0], now)
            } else if !partitioned, rng.next() % 80 == 0, nodes.count > 1 {
                var any = false
                for i in nodes.indices {
                    nodes[i].group = Int(rng.next() % 2)
                    any = any || nodes[i].group == 1
                }
                if !any { nodes[Int(rng.next() % UInt64(nodes.count))].group = 1 }
                report.partitions += 1
                record([0x50, 1] + nodes.map { UInt8($0.group) }, now)
            }
        }
        if faults.kinds.contains(.crash), rng.next() % 70 == 0 {
            let down = nodes.filter { $0.engine == nil }.count
            let limit = options.allowExcessFaults ? nodes.count : Engine.crashTolerance(of: validators)
            let up = nodes.indices.filter { nodes[$0].engine != nil }
            if down < limit, !up.isEmpty {
                let i = up[Int(rng.next() % UInt64(up.count))]
                nodes[i].engine = nil
                nodes[i].restartAt = now + 10 + rng.next() % 80
                report.crashes += 1
                record([0x43, UInt8(truncatingIfNeeded: i)], now)
            }
        }
    }

    private mutating func restart(_ i: Int) {
        nodes[i].restartAt = nil
        guard nodes[i].engine == nil else { return }
        do {
            // As a node restarts from its store: the head block only, older ones through the storage.
            nodes[i].engine = try Engine(context: nodes[i].context,
                                         recovery: ConsensusRecovery(persistentState: nodes[i].persisted,
                                                                     committed: nodes[i].store.suffix(1)))
        } catch {
            violate(.validity, i, nodes[i].store.height, "restart failed: \(error)")
        }
        record([0x52, UInt8(truncatingIfNeeded: i)], now)
    }

    // MARK: Network

    /// Verdicts for an engine that crashed since it asked reach its successor, which ignores them.
    private mutating func deliverVerdicts() {
        guard let due = verdictsDue.removeValue(forKey: now) else { return }
        for v in due where nodes[v.node].engine != nil { step(v.node, .validated(v.request, error: v.error)) }
    }

    private mutating func deliver() {
        guard var bucket = inFlight.removeValue(forKey: now) else { return }
        if faults.kinds.contains(.reorder) && now <= faults.faultTicks && bucket.count > 1 {
            for k in stride(from: bucket.count - 1, to: 0, by: -1) { bucket.swapAt(k, Int(rng.next() % UInt64(k + 1))) }
        }
        for env in bucket {
            guard nodes[env.to].engine != nil, nodes[env.to].group == nodes[env.from].group else {
                report.messagesDropped += 1
                continue
            }
            switch env.payload {
            case .engine(let message): step(env.to, .receive(from: NodeID(UInt32(env.from)), message))
            case .syncRequest(let from): serveSync(env.to, from: from, to: env.from)
            case .syncResponse(let blocks): applySync(env.to, blocks, from: env.from)
            }
        }
    }

    private mutating func send(_ message: Engine.Message, from: Int, to: Int) {
        var message = message
        if nodes[from].byzantine, var toolkit = nodes[from].toolkit {
            let behaviours = [ByzantineBehaviors.equivocate, .invalidSignatures, .silent].filter { options.byzantineBehaviors.contains($0) }
            if !behaviours.isEmpty {
                switch behaviours[Int(toolkit.rng.next() % UInt64(behaviours.count))] {
                case .silent:
                    nodes[from].toolkit = toolkit
                    return
                case .invalidSignatures:
                    guard let bad = Engine.corruptSignature(message, toolkit: &toolkit) else { nodes[from].toolkit = toolkit; return }
                    message = bad
                default:
                    message = Engine.equivocate(message, to: NodeID(UInt32(to)), toolkit: &toolkit)
                }
            }
            nodes[from].toolkit = toolkit
        }
        transmit(.engine(message), from: from, to: to,
                 trace: [0x4D, UInt8(truncatingIfNeeded: from), UInt8(truncatingIfNeeded: to)] + (options.traceMessageContents ? message.encoded : []))
    }

    /// Puts a payload on the simulated network: dropped, duplicated and delayed as the fault plan says;
    /// `trace` goes into the trace digest when it is not dropped.
    private mutating func transmit(_ payload: Payload, from: Int, to: Int, trace: [UInt8]) {
        let faulty = now <= faults.faultTicks
        report.messagesSent += 1
        if faulty && dropRate > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < dropRate {
            report.messagesDropped += 1
            return
        }
        var copies = 1
        if faulty && duplicateRate > 0 && Double(rng.next() % 1_000_000) / 1_000_000 < duplicateRate { copies = 2 }
        for _ in 0..<copies {
            var delay: UInt64 = 1
            if faulty && faults.kinds.contains(.delay) && faults.maximumDelayTicks > 0 { delay += rng.next() % (faults.maximumDelayTicks + 1) }
            inFlight[now + delay, default: []].append(Envelope(from: from, to: to, payload: payload))
        }
        record(trace, now)
    }

    // MARK: The hosts' catch-up (engines carry no block sync of their own)

    /// An engine is behind: its host asks the peer it names, or every peer, for the blocks after its store's head.
    private mutating func catchUp(_ i: Int, _ request: CatchUpRequest) {
        let from = nodes[i].store.height.next
        let peers = request.peer.map { [Int($0.rawValue)] } ?? nodes.indices.filter { $0 != i }
        for j in peers where j != i && j < nodes.count {
            transmit(.syncRequest(from: from), from: i, to: j,
                     trace: [0x59, UInt8(truncatingIfNeeded: i), UInt8(truncatingIfNeeded: j)] + RLP.bigEndianBytes(from.rawValue))
        }
    }

    /// Answers from this host's store (its committed chain), when it holds anything from `from` on.
    private mutating func serveSync(_ j: Int, from: Height, to i: Int) {
        guard from.rawValue >= 1, from <= nodes[j].store.height else { return }
        var blocks = [CommittedBlock]()
        var h = from
        while blocks.count < Self.syncBatch, let b = nodes[j].store.block(at: h) {
            blocks.append(b)
            h = h.next
        }
        transmit(.syncResponse(blocks), from: j, to: i,
                 trace: [0x5A, UInt8(truncatingIfNeeded: j), UInt8(truncatingIfNeeded: i)] + RLP.bigEndianBytes(from.rawValue) + RLP.bigEndianBytes(UInt64(blocks.count)))
    }

    /// Hands the blocks to an engine that adopts them (its commits reach the checkers as any commit
    /// does); otherwise verifies each block's certificate and link, commits the consecutive valid
    /// prefix and restarts the engine from the store. Asks for more after a full batch.
    private mutating func applySync(_ i: Int, _ blocks: [CommittedBlock], from j: Int) {
        if Engine.adoptsSyncedBlocks {
            let before = nodes[i].store.height
            step(i, .synced(blocks))
            let after = nodes[i].store.height
            guard after > before else { return }
            report.syncedBlocks += Int(after.rawValue - before.rawValue)
            if blocks.count >= Self.syncBatch { catchUp(i, CatchUpRequest(peer: NodeID(UInt32(j)), from: after.next)) }
            return
        }
        var applied = 0
        for c in blocks where c.height > nodes[i].store.height {
            guard c.height == nodes[i].store.height.next,
                  c.block.header.parentHash == (nodes[i].store.last?.hash ?? genesis.headerHash) else { break }
            let set = schedule.config(atHeight: c.height).validators ?? validators
            do throws(LedgerError) {
                try c.certificate.verify(block: c.block, validators: set, hashAlgorithm: options.hashAlgorithm)
            } catch {
                report.rejections += 1
                break
            }
            commit(i, c)
            applied += 1
        }
        guard applied > 0 else { return }
        report.syncedBlocks += applied
        nodes[i].engine = nil
        restart(i)
        if blocks.count >= Self.syncBatch { catchUp(i, CatchUpRequest(peer: NodeID(UInt32(j)), from: nodes[i].store.height.next)) }
    }

    // MARK: Stepping a node

    private mutating func step(_ i: Int, _ first: ConsensusInput<Engine.Message>) {
        var queue = [first]
        var k = 0
        while k < queue.count, nodes[i].engine != nil {
            let input = queue[k]
            k += 1
            guard let effects = nodes[i].engine?.step(input) else { break }
            if let p = effects.persistentState { nodes[i].persisted = p }
            report.rejections += effects.rejections.count
            for r in effects.rollbacks { rollback(i, r) }
            for c in effects.commits { commit(i, c) }
            if let c = effects.catchUp { catchUp(i, c) }
            for m in effects.messages {
                switch m.to {
                case .node(let to):
                    if Int(to.rawValue) < nodes.count { send(m.message, from: i, to: Int(to.rawValue)) }
                case .broadcast:
                    for to in nodes.indices where to != i { send(m.message, from: i, to: to) }
                }
            }
            for request in effects.proposalRequests {
                if let block = buildProposal(i, request) { queue.append(.proposal(block)) }
            }
            for request in effects.validations {
                let error = proposalValidator.validate(request.block, parent: request.parent)
                let delay = rng.next() % 2
                if delay == 0 {
                    queue.append(.validated(request, error: error))
                } else {
                    verdictsDue[now + delay, default: []].append((i, request, error))
                }
            }
            if let s = effects.status {
                options.statusChannel?.publish(s)
                record([0x53] + Array(s.description.utf8), now)
            }
        }
    }

    private mutating func buildProposal(_ i: Int, _ request: ProposalRequest) -> Block? {
        let timestamp = Timestamp(millisecondsSince1970: max(request.parent.timestamp.rawValue + 1,
                                                              genesis.header.timestamp.rawValue + now * 1_000))
        var block = try? factory.make(parent: request.parent, consensusData: request.consensusData, producer: nodes[i].key,
                                      variant: UInt64(i), timestamp: timestamp, maximumTransactions: request.maximumTransactions)
        // A Byzantine host sometimes proposes a block whose transaction signature is forged.
        if nodes[i].byzantine, options.byzantineBehaviors.contains(.invalidSignatures), rng.next() % 2 == 0,
           let b = block, let tx = b.transactions.first, let forged = try? factory.forge(tx, in: b, producer: nodes[i].key) {
            block = forged
        }
        return block
    }

    // MARK: Checkers

    private mutating func commit(_ i: Int, _ c: CommittedBlock) {
        record([0x43, UInt8(truncatingIfNeeded: i)] + RLP.bigEndianBytes(c.height.rawValue) + c.hash.bytes, now)
        let expected = nodes[i].store.height.rawValue + 1
        guard c.height.rawValue == expected else {
            violate(.gap, i, c.height, "committed height \(c.height), expected \(expected)")
            return
        }
        let parent = nodes[i].store.last?.block.header ?? genesis.header
        let correct = !nodes[i].byzantine
        if correct {
            if !validBlocks.contains(c.hash) {
                do throws(LedgerError) {
                    try checker.validate(c.block, parent: parent, now: c.block.header.timestamp)
                    validBlocks.insert(c.hash)
                } catch {
                    violate(.validity, i, c.height, "committed block is invalid: \(error)")
                }
            } else if c.block.header.parentHash != parent.hash(using: options.hashAlgorithm) {
                violate(.validity, i, c.height, "committed block does not extend the node's previous block")
            }
            if !verifiedCertificates.contains(c.certificate) {
                let set = schedule.config(atHeight: c.height).validators ?? validators
                do throws(LedgerError) {
                    try c.certificate.verify(block: c.block, validators: set, hashAlgorithm: options.hashAlgorithm)
                    verifiedCertificates.insert(c.certificate)
                } catch {
                    violate(.validity, i, c.height, "certificate does not verify: \(error)")
                }
            }
            if options.reorgFinalityDepth == nil {
                if let d = decided[c.height] {
                    if d != c.hash { violate(.agreement, i, c.height, "committed \(c.hash.hex.prefix(16)), another correct node committed \(d.hex.prefix(16))") }
                } else {
                    decided[c.height] = c.hash
                }
            }
        }
        do throws(LedgerError) {
            try nodes[i].store.append(c)   // the height was checked above
        } catch {
            violate(.gap, i, c.height, "storage refused the block: \(error.message)")
        }
    }

    private mutating func rollback(_ i: Int, _ r: Rollback) {
        report.rollbacks += 1
        report.rolledBackTransactions += r.transactions.count
        nodes[i].store.truncate(toHeight: r.height)
        record([0x42, UInt8(truncatingIfNeeded: i)] + RLP.bigEndianBytes(r.height.rawValue), now)
    }

    private mutating func checkFinalAgreement(depth: UInt64) {
        let correct = correctIndices.filter { !nodes[$0].permanentlyDown }
        guard let shortest = correct.map({ nodes[$0].store.height.rawValue }).min(), shortest > depth else { return }
        for h in 1...(shortest - depth) {
            let first = nodes[correct[0]].store.block(at: Height(h))?.hash
            for i in correct.dropFirst() where nodes[i].store.block(at: Height(h))?.hash != first {
                violate(.agreement, i, Height(h), "final block differs from \(NodeID(UInt32(correct[0])))'s")
            }
        }
    }

    private mutating func violate(_ kind: Violation.Kind, _ i: Int, _ height: Height, _ message: String) {
        report.violations.append(Violation(kind: kind, tick: now, node: NodeID(UInt32(i)), height: height, message: message))
    }

    private func record(_ bytes: [UInt8], _ tick: UInt64) {
        trace.update(RLP.bigEndianBytes(tick))
        trace.update(bytes)
    }
}

/// The simulated nodes share one validator: each distinct (block, parent) pair is validated once per run
/// instead of once per node (validation is a pure function of the two, so every node gets the same answer).
enum ProposalValidation {
    static func memoized(_ validator: BlockValidator, now: Timestamp) -> ProposalValidator {
        let base = ProposalValidator(validator, now: now)
        let memo = Mutex<[Digest: LedgerError?]>([:])
        let algorithm = validator.hashAlgorithm
        return ProposalValidator { block, parent in
            var key = block.encoded
            key += parent.map { $0.hash(using: algorithm).bytes } ?? []
            let digest = HashAlgorithm.sha256.hash(key)
            if let known = memo.withLock({ $0[digest] }) { return known }
            let result = base.validate(block, parent: parent)
            memo.withLock { $0[digest] = result }
            return result
        }
    }
}

/// Builds deterministic blocks of synthetic Ed25519-signed transactions.
struct BlockFactory: Sendable {
    var senders: [PrivateKey]
    var chainID: UInt64
    var hashAlgorithm: HashAlgorithm
    var transactionsPerBlock: Int

    func make(parent: BlockHeader, consensusData: [UInt8], producer: PrivateKey, variant: UInt64, timestamp: Timestamp,
              maximumTransactions: Int = .max) throws(LedgerError) -> Block {
        let height = parent.height.rawValue + 1
        var txs = [Transaction]()
        for n in 0..<min(transactionsPerBlock, maximumTransactions) {
            let sender = senders[Int((height &+ UInt64(n)) % UInt64(senders.count))]
            var body = RLP.bigEndianBytes(height) + [UInt8(truncatingIfNeeded: n)] + RLP.bigEndianBytes(variant)
            body += Array(repeating: UInt8(truncatingIfNeeded: height &* 31 &+ variant), count: 16)
            var tx = Transaction(chainID: chainID, sender: sender.publicKey, nonce: height &* 1_000 &+ UInt64(n),
                                 timestamp: timestamp, payload: TransactionPayload(kind: "sim", body: body))
            try tx.sign(with: sender, hashAlgorithm: hashAlgorithm)
            txs.append(tx)
        }
        return try Block.make(parent: parent, transactions: txs, consensusData: consensusData, producerKey: producer,
                              chainID: chainID, hashAlgorithm: hashAlgorithm, timestamp: timestamp)
    }

    /// The same block with `tx`'s payload changed after signing (an invalid transaction signature), re-rooted and re-signed.
    func forge(_ tx: Transaction, in block: Block, producer: PrivateKey) throws(LedgerError) -> Block {
        var bad = tx
        bad.payload.body += [0xFF]
        var txs = block.transactions
        txs[0] = bad
        var header = block.header
        header.transactionRoot = Block.transactionRoot(of: txs, using: hashAlgorithm)
        try header.sign(with: producer, hashAlgorithm: hashAlgorithm)
        return Block(header: header, headerHash: header.hash(using: hashAlgorithm), transactions: txs)
    }
}
