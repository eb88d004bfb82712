import LedgerCore

/// A small deterministic driver for PoW engines in unit tests: a host per
/// node that answers proposal requests with one fresh transaction per block,
/// a network with a fixed delay and cuttable links, and per-node logs of
/// commits and rollbacks. (The fault simulator in LedgerCoreTesting runs the
/// seeded fault schedules; this is for targeted scenarios.)
struct PoWTestCluster {
    static let t0: UInt64 = 1_764_000_000_000
    let algorithm: HashAlgorithm
    let keys: [PrivateKey]
    let genesis: Block
    var schedule: ConsensusSchedule
    var engines: [PoWEngine]
    var tick: UInt64 = 0
    /// Message delay in ticks (delivered at the start of tick `sent + delay`).
    var delay: UInt64 = 1
    /// Links `(a, b)` with `a < b` that drop every message.
    var cut: Set<[UInt32]> = []
    var inFlight: [(at: UInt64, from: NodeID, to: NodeID, message: PoWMessage)] = []
    var commits: [[CommittedBlock]]
    var rollbacks: [[Rollback]]
    var rejections: [[LedgerError]]
    /// Each node's last persistent state.
    var persisted: [Int: [UInt8]] = [:]
    /// Every state node 0 persisted, oldest first.
    var persistedLog: [[UInt8]] = []
    var proposed: [Int] = []
    var pendingProposals: [(node: Int, request: ProposalRequest)] = []

    static func key(_ i: Int) throws -> PrivateKey {
        try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(i + 1), count: 32))
    }

    init(nodes: Int, config: PoWConfig, seed: UInt64 = 1, algorithm: HashAlgorithm = .sha256,
         hashesPerTick: [UInt64]? = nil) throws {
        self.algorithm = algorithm
        keys = try (0..<nodes).map { try Self.key($0) }
        genesis = try Block.make(parent: nil, transactions: [], producerKey: keys[0], chainID: 1,
                                 hashAlgorithm: algorithm, timestamp: Timestamp(millisecondsSince1970: Self.t0))
        schedule = ConsensusSchedule(initial: .pow(config))
        engines = []
        for i in 0..<nodes {
            var c = config
            if let h = hashesPerTick { c.hashesPerTick = h[i] }
            let context = ConsensusContext(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis,
                                           hashAlgorithm: algorithm, schedule: ConsensusSchedule(initial: .pow(c)), seed: seed)
            engines.append(try PoWEngine(context: context))
        }
        commits = Array(repeating: [], count: nodes)
        rollbacks = Array(repeating: [], count: nodes)
        rejections = Array(repeating: [], count: nodes)
        proposed = Array(repeating: 0, count: nodes)
    }

    func context(_ i: Int, config: PoWConfig) -> ConsensusContext {
        ConsensusContext(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, hashAlgorithm: algorithm,
                         schedule: ConsensusSchedule(initial: .pow(config)), seed: 1)
    }

    /// The block a host builds: one transaction naming the node and its proposal count.
    func buildProposal(node i: Int, request: ProposalRequest, serial: Int) throws -> Block {
        var tx = Transaction(chainID: 1, sender: keys[i].publicKey, nonce: UInt64(serial),
                             timestamp: Timestamp(millisecondsSince1970: Self.t0 + tick * 1_000),
                             payload: TransactionPayload(kind: "kv", body: Array("n\(i)-\(serial)".utf8)))
        try tx.sign(with: keys[i], hashAlgorithm: algorithm)
        return try Block.make(parent: request.parent, transactions: [tx], consensusData: request.consensusData,
                              producerKey: keys[i], hashAlgorithm: algorithm,
                              timestamp: Timestamp(millisecondsSince1970: Self.t0 + tick * 1_000))
    }

    func linked(_ a: NodeID, _ b: NodeID) -> Bool {
        !cut.contains([min(a.rawValue, b.rawValue), max(a.rawValue, b.rawValue)])
    }

    mutating func handle(_ i: Int, _ fx: ConsensusEffects<PoWMessage>) {
        let me = NodeID(UInt32(i))
        commits[i] += fx.commits
        rollbacks[i] += fx.rollbacks
        rejections[i] += fx.rejections
        if let p = fx.persistentState {
            persisted[i] = p
            if i == 0 { persistedLog.append(p) }
        }
        for out in fx.messages {
            switch out.to {
            case .node(let to):
                if linked(me, to) { inFlight.append((tick + delay, me, to, out.message)) }
            case .broadcast:
                for j in engines.indices where j != i && linked(me, NodeID(UInt32(j))) {
                    inFlight.append((tick + delay, me, NodeID(UInt32(j)), out.message))
                }
            }
        }
        for r in fx.proposalRequests { pendingProposals.append((i, r)) }
    }

    mutating func deliver(_ i: Int, _ input: ConsensusInput<PoWMessage>) {
        let fx = engines[i].step(input)
        handle(i, fx)
    }

    /// Runs `n` ticks: deliver due messages, answer proposals, tick every node.
    mutating func run(ticks n: UInt64) throws {
        for _ in 0..<n {
            tick += 1
            let due = inFlight.filter { $0.at <= tick }
            inFlight.removeAll { $0.at <= tick }
            for m in due where linked(m.from, m.to) {
                deliver(Int(m.to.rawValue), .receive(from: m.from, m.message))
            }
            try answerProposals()
            for i in engines.indices { deliver(i, .tick) }
            try answerProposals()
        }
    }

    mutating func answerProposals() throws {
        while !pendingProposals.isEmpty {
            let (i, r) = pendingProposals.removeFirst()
            proposed[i] += 1
            deliver(i, .proposal(try buildProposal(node: i, request: r, serial: proposed[i])))
        }
    }

    mutating func partition(_ a: [Int], _ b: [Int]) {
        for x in a { for y in b { cut.insert([UInt32(min(x, y)), UInt32(max(x, y))]) } }
    }

    mutating func heal() { cut = [] }

    /// Height → hash of what node `i` committed last at each height.
    func committedChain(_ i: Int) -> [Height: Digest] {
        var out: [Height: Digest] = [:]
        for c in commits[i] { out[c.height] = c.hash }
        return out
    }
}
