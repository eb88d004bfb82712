import LedgerCrypto
import LedgerModel

/// A consensus engine: a pure, deterministic state machine (the etcd-raft
/// design). It has no I/O, clock, threads or global randomness inside. Its
/// driver (a node, or the simulator in `LedgerCoreTesting`) feeds it
/// ``ConsensusInput``s one at a time through ``step(_:)`` and carries out
/// the returned ``ConsensusEffects`` in this order:
///
/// 1. durably save ``ConsensusEffects/commits`` (or apply them) and then
///    ``ConsensusEffects/persistentState`` (atomically if possible);
/// 2. apply ``ConsensusEffects/rollbacks`` before the commits they precede
///    (PoW reorganisation, K-R-3);
/// 3. send ``ConsensusEffects/messages``;
/// 4. answer ``ConsensusEffects/proposalRequests`` later with
///    ``ConsensusInput/proposal(_:)``;
/// 5. publish ``ConsensusEffects/status`` (``ConsensusStatusChannel``);
/// 6. answer ``ConsensusEffects/validations`` later with ``ConsensusInput/validated(_:error:)``
///    (only with ``ProposalValidator/deferred``);
/// 7. on ``ConsensusEffects/catchUp``, fetch the committed blocks the engine lacks and hand them
///    over with ``ConsensusInput/synced(_:)`` (or, when ``adoptsSyncedBlocks`` is false, store
///    them and restart the engine from the store); engines carry no block-sync messages of their own.
///
/// Engines are value types (`struct`). Two engines built from the same
/// ``ConsensusContext`` and fed the same inputs produce the same effects, on
/// every platform and in every process: they draw randomness only from a
/// `SplitMix64` seeded by ``ConsensusContext/seed`` and never iterate a
/// `Set` or `Dictionary` on a path that produces output.
///
/// ```swift
/// var engine = try RaftEngine(context: context)
/// let effects = engine.step(.tick)
/// ```
/// - Note: Not for concurrent use: own an engine from one actor or thread.
public protocol ConsensusEngine: Sendable {
    /// The engine's wire messages.
    associatedtype Message: ConsensusMessage

    /// Which certificates this engine issues.
    static var certificateKind: CertificateKind { get }

    /// This node.
    var id: NodeID { get }
    /// The current status (also emitted in ``ConsensusEffects/status`` whenever it changes).
    var status: ConsensusStatus { get }

    /// Starts an engine, fresh (`recovery` nil) or after a restart from what
    /// the host persisted.
    /// - Parameters:
    ///   - context: Required. The node's identity, keys, genesis and configuration.
    ///   - recovery: Optional, default nil. The last ``ConsensusEffects/persistentState``
    ///     the host saved and the committed blocks it holds.
    /// - Throws: `LedgerError` `.invalidConsensusConfig` (1701), `.consensusEngineMismatch` (1702),
    ///   `.consensusStateCorrupt` (1724).
    init(context: ConsensusContext, recovery: ConsensusRecovery?) throws(LedgerError)

    /// Feeds one input and returns everything the host must do as a result.
    /// Never throws: invalid input is reported in ``ConsensusEffects/rejections`` and ignored.
    mutating func step(_ input: ConsensusInput<Message>) -> ConsensusEffects<Message>

    /// Whether the engine takes blocks its host fetched by catch-up through
    /// ``ConsensusInput/synced(_:)`` (PBFT, PoS). When false (the default; Raft, PoW) the host
    /// stores them and restarts the engine from its store.
    static var adoptsSyncedBlocks: Bool { get }
}

extension ConsensusEngine {
    /// False: the host restarts the engine from its store after a catch-up.
    public static var adoptsSyncedBlocks: Bool { false }

    /// Starts a fresh engine.
    public init(context: ConsensusContext) throws(LedgerError) { try self.init(context: context, recovery: nil) }
}

/// A consensus wire message with its canonical RLP encoding: what a node
/// sends over the network and what the simulator hashes into its trace.
public protocol ConsensusMessage: Sendable, Hashable {
    /// The canonical encoding.
    var encoded: [UInt8] { get }
    /// Decodes ``encoded``.
    /// - Throws: `LedgerError` encoding errors (10xx) or `.malformedConsensusMessage` (1720). Never traps.
    init(decoding bytes: [UInt8]) throws(LedgerError)
}

/// One input to ``ConsensusEngine/step(_:)``.
public enum ConsensusInput<Message: ConsensusMessage>: Sendable, Hashable {
    /// One unit of virtual time passed. Every timeout is counted in ticks.
    case tick
    /// A message arrived from `from` (authenticated by the transport as that node's channel;
    /// engines still verify the signatures that certificates need).
    case receive(from: NodeID, Message)
    /// The host's answer to a ``ProposalRequest``: a block built on the
    /// requested parent, signed by this node's key.
    case proposal(Block)
    /// A configuration change scheduled at a height, learnt from a committed
    /// governance transaction. Every node must receive it before the height
    /// it names is decided; engines apply it from that height on.
    case configChange(ConsensusSchedule.Change)
    /// The host's verdict on a ``ValidationRequest`` (handed back as it came):
    /// nil when the block is valid, else why not. A verdict nobody asked for is
    /// ignored.
    case validated(ValidationRequest, error: LedgerError?)
    /// Committed blocks the host fetched by its catch-up (``ConsensusEffects/catchUp``), ascending.
    /// An engine that adopts them (``ConsensusEngine/adoptsSyncedBlocks``) commits, in its effects,
    /// each one that extends its head and whose certificate verifies, and keeps the rest of its state
    /// (votes, view change, candidates); others ignore this input and their host restarts them from
    /// its store instead.
    case synced([CommittedBlock])
}

/// Where an outbound message goes.
public enum MessageDestination: Hashable, Sendable {
    /// One node.
    case node(NodeID)
    /// Every other node of the current validator set (or membership).
    case broadcast
}

/// A message the host must send.
public struct OutboundMessage<Message: ConsensusMessage>: Hashable, Sendable {
    /// One node or every other node.
    public var to: MessageDestination
    /// The message.
    public var message: Message
    /// Both are required.
    public init(to: MessageDestination, message: Message) {
        self.to = to
        self.message = message
    }
}

/// "Build me a block": the engine asks its host, which owns the mempool
/// and execution, for a block at `height` on top of `parent`. The host
/// answers with ``ConsensusInput/proposal(_:)``; a late or stale answer is
/// ignored by the engine.
public struct ProposalRequest: Hashable, Sendable {
    /// The height of the block to build.
    public var height: Height
    /// The header to build on.
    public var parent: BlockHeader
    /// The round the proposal is for.
    public var round: Round
    /// Bytes the block must carry in `BlockHeader.consensusData` (may be empty).
    public var consensusData: [UInt8]
    /// The most transactions the block may hold.
    public var maximumTransactions: Int

    /// Parameters as the properties of the same names; `consensusData` defaults to empty.
    public init(height: Height, parent: BlockHeader, round: Round, consensusData: [UInt8] = [], maximumTransactions: Int) {
        self.height = height
        self.parent = parent
        self.round = round
        self.consensusData = consensusData
        self.maximumTransactions = maximumTransactions
    }
}

/// "Check this block": with ``ProposalValidator/deferred`` an engine does not
/// validate a proposed block inside ``ConsensusEngine/step(_:)`` but asks its
/// host, which may validate on any thread (execution reads the state) and
/// answers later with ``ConsensusInput/validated(_:error:)``. Until then
/// the engine does not vote for the block. Each block is asked for once per
/// engine; a host must answer every request (a restarted engine asks again).
public struct ValidationRequest: Hashable, Sendable {
    /// The proposed block.
    public var block: Block
    /// Its header hash (the key of the answer).
    public var hash: Digest
    /// The header it must extend.
    public var parent: BlockHeader
    /// All are required; `hash` is `block`'s header hash.
    public init(block: Block, hash: Digest, parent: BlockHeader) {
        self.block = block
        self.hash = hash
        self.parent = parent
    }
}

/// "I am behind": an engine saw blocks decided above its own height (or is
/// stuck at one). Engines fetch no committed blocks themselves: the host runs
/// its one catch-up protocol (a node's block sync, K-R-2): it fetches committed
/// blocks with their certificates from `from` on and hands them to the engine
/// (``ConsensusInput/synced(_:)``), which commits them as if it had decided them.
public struct CatchUpRequest: Hashable, Sendable {
    /// A peer known to be ahead; nil when the engine only knows it is stuck (ask any peer that is ahead).
    public var peer: NodeID?
    /// The first height the engine lacks.
    public var from: Height
    /// `peer` is optional (nil: any peer ahead); `from` is required.
    public init(peer: NodeID?, from: Height) {
        self.peer = peer
        self.from = from
    }
}

/// Blocks undone by a reorganisation (PoW, K-R-3): the host rolls its
/// store back to `height` and returns the transactions of `undone` to its
/// mempool (those not in the new branch).
public struct Rollback: Hashable, Sendable {
    /// The height that stays committed; every block above it is undone.
    public var height: Height
    /// The undone blocks, highest first.
    public var undone: [Block]
    /// Both are required; `undone` highest first.
    public init(height: Height, undone: [Block]) {
        self.height = height
        self.undone = undone
    }
    /// The transactions of the undone blocks, in their original order (lowest block first).
    public var transactions: [Transaction] { undone.reversed().flatMap(\.transactions) }
}

/// Everything one ``ConsensusEngine/step(_:)`` asks its host to do. Empty
/// effects mean "nothing to do".
public struct ConsensusEffects<Message: ConsensusMessage>: Sendable, Hashable {
    /// Messages to send, in order, after persisting.
    public var messages: [OutboundMessage<Message>]
    /// Newly final blocks, in ascending height order, each with its certificate.
    public var commits: [CommittedBlock]
    /// Blocks the host must build (answer with ``ConsensusInput/proposal(_:)``).
    public var proposalRequests: [ProposalRequest]
    /// Reorganisations to apply before ``commits`` (PoW only).
    public var rollbacks: [Rollback]
    /// The new status, when it changed.
    public var status: ConsensusStatus?
    /// State the host must save durably before sending ``messages``; nil when unchanged.
    /// On restart it comes back in ``ConsensusRecovery/persistentState``.
    public var persistentState: [UInt8]?
    /// Inputs the engine refused (bad signature, invalid proposal...), for logs and metrics.
    public var rejections: [LedgerError]
    /// Blocks the host must validate (answer each with ``ConsensusInput/validated(_:error:)``);
    /// only with ``ProposalValidator/deferred``.
    public var validations: [ValidationRequest]
    /// The engine is behind: the host should catch up (see ``CatchUpRequest``); nil otherwise.
    /// Engines rate-limit it (at most one every 2 ticks).
    public var catchUp: CatchUpRequest?

    /// Every parameter is optional and defaults to empty or nil: an engine builds its effects field by field.
    public init(messages: [OutboundMessage<Message>] = [], commits: [CommittedBlock] = [],
                proposalRequests: [ProposalRequest] = [], rollbacks: [Rollback] = [],
                status: ConsensusStatus? = nil, persistentState: [UInt8]? = nil, rejections: [LedgerError] = [],
                validations: [ValidationRequest] = [], catchUp: CatchUpRequest? = nil) {
        self.messages = messages
        self.commits = commits
        self.proposalRequests = proposalRequests
        self.rollbacks = rollbacks
        self.status = status
        self.persistentState = persistentState
        self.rejections = rejections
        self.validations = validations
        self.catchUp = catchUp
    }

    /// Whether there is nothing to do.
    public var isEmpty: Bool {
        messages.isEmpty && commits.isEmpty && proposalRequests.isEmpty && rollbacks.isEmpty
            && status == nil && persistentState == nil && rejections.isEmpty && validations.isEmpty && catchUp == nil
    }

    /// Sends `message` to `node`.
    public mutating func send(_ message: Message, to node: NodeID) { messages.append(.init(to: .node(node), message: message)) }
    /// Sends `message` to every other node.
    public mutating func broadcast(_ message: Message) { messages.append(.init(to: .broadcast, message: message)) }

    /// Appends `later`'s effects after these (the later status and persistent state win).
    public mutating func append(_ later: ConsensusEffects<Message>) {
        messages += later.messages
        commits += later.commits
        proposalRequests += later.proposalRequests
        rollbacks += later.rollbacks
        if let s = later.status { status = s }
        if let p = later.persistentState { persistentState = p }
        rejections += later.rejections
        validations += later.validations
        if let c = later.catchUp { catchUp = c }
    }
}

/// What a restarted engine gets back from its host.
public struct ConsensusRecovery: Sendable, Hashable {
    /// The last ``ConsensusEffects/persistentState`` saved; nil if none was ever saved.
    public var persistentState: [UInt8]?
    /// The most recent committed blocks the host holds, ascending and
    /// consecutive, ending at its head (genesis is in
    /// ``ConsensusContext/genesis``). Any suffix will do, but it must hold
    /// at least the head; every engine reads older history through
    /// ``ConsensusContext/storage``, so a host may pass the head alone (a node
    /// does) and start-up does not grow with the chain. PoW reads the block its
    /// persisted state names, and those above it, from the suffix or from storage
    /// (see ``PoWEngine/init(context:recovery:)``).
    public var committed: [CommittedBlock]
    /// - Parameters:
    ///   - persistentState: Required. The engine's last saved state, or nil on a new node.
    ///   - committed: Required. The last committed blocks with their certificates, in height order (a suffix of the chain ending at its head).
    public init(persistentState: [UInt8]?, committed: [CommittedBlock]) {
        self.persistentState = persistentState
        self.committed = committed
    }

    /// How many recent committed blocks an engine keeps in memory (between
    /// this and twice this): 32. A host need not pass as many in ``committed``:
    /// the head alone will do, and older blocks are read through the storage.
    public static let recentBlocks = 32
}

/// Validates a proposed block before an engine votes for it (K-V-1..4).
/// Wraps a pure closure so hosts can plug in a `BlockValidator` with the
/// chain's rules, and tests a permissive or a deliberately broken rule.
///
/// ```swift
/// let check = ProposalValidator(BlockValidator(chainID: 7, hashAlgorithm: .sha256, parallelism: 1))
/// if let error = check.validate(block, parent: parentHeader) { reject(error) }
/// ```
///
/// A host that validates off the engine's thread gives engines ``deferred``
/// instead: they then ask through ``ConsensusEffects/validations`` and wait
/// for ``ConsensusInput/validated(_:error:)``, and `step` does no I/O.
/// - Note: `Sendable`; the closure must be pure and thread-safe.
public struct ProposalValidator: Sendable {
    private let check: @Sendable (Block, BlockHeader?) -> LedgerError?
    /// Whether engines ask their host (``deferred``) instead of calling ``validate(_:parent:)``.
    public let isDeferred: Bool

    /// - Parameter check: Required. Returns nil to accept `block` as the child of the header, or the reason to refuse.
    public init(_ check: @Sendable @escaping (Block, BlockHeader?) -> LedgerError?) {
        self.check = check
        isDeferred = false
    }

    /// Validation as an effect: engines emit a ``ValidationRequest`` for each
    /// proposed block and vote only once the host's verdict comes back.
    /// ``validate(_:parent:)`` of this value refuses every block.
    public static let deferred = ProposalValidator(deferring: ())

    private init(deferring: Void) {
        check = { _, _ in LedgerError(.proposalRejected, "a deferred validator is answered by the host, not called") }
        isDeferred = true
    }

    /// Uses `validator` (K-V-1..4). The clock-drift check uses `now` when given
    /// (pass a fixed value for deterministic runs), else the system clock.
    public init(_ validator: BlockValidator, now: Timestamp? = nil) {
        isDeferred = false
        check = { block, parent -> LedgerError? in
            do throws(LedgerError) {
                try validator.validate(block, parent: parent, now: now ?? .now())
                return nil
            } catch {
                return error
            }
        }
    }

    /// Accepts every block (for tests of the engine's own logic only).
    public static let acceptAll = ProposalValidator { _, _ in nil }

    /// Nil when `block` is acceptable as the child of `parent`, else why not.
    public func validate(_ block: Block, parent: BlockHeader?) -> LedgerError? { check(block, parent) }
}

/// Everything an engine needs to know about its node and chain.
///
/// ```swift
/// let context = ConsensusContext(node: 1, signingKey: key, genesis: genesis, chainID: 7,
///                                schedule: ConsensusSchedule(initial: .raft(config)), seed: 42)
/// ```
public struct ConsensusContext: Sendable {
    /// Required. This node's ID; must be in the validator set (or membership) to vote.
    public var node: NodeID
    /// Required. Signs votes and the blocks this node produces; its public key
    /// must be this node's in the validator set.
    public var signingKey: PrivateKey
    /// Required. The genesis block (height 0), committed on every node.
    public var genesis: Block
    /// Optional; default the genesis block's chain ID.
    public var chainID: UInt64
    /// Optional, default SHA-256. The chain's hash algorithm.
    public var hashAlgorithm: HashAlgorithm
    /// Required. The configuration at genesis and the changes scheduled at later heights.
    public var schedule: ConsensusSchedule
    /// Optional, default ``ProposalValidator/acceptAll``. Checks proposals before voting.
    public var proposalValidator: ProposalValidator
    /// Optional, default 0. Seeds the engine's `SplitMix64` (election timeouts, nonces);
    /// give each node a different seed.
    public var seed: UInt64
    /// Optional, default nil. Where the engine reads committed history older
    /// than the blocks it keeps in memory (see ``ConsensusStorage``); nil
    /// means it serves history only from its recent window.
    public var storage: (any ConsensusStorage)?

    /// Parameters as the properties of the same names; `chainID` defaults to the genesis block's, the others to their documented defaults.
    public init(node: NodeID, signingKey: PrivateKey, genesis: Block, chainID: UInt64? = nil,
                hashAlgorithm: HashAlgorithm = .default, schedule: ConsensusSchedule,
                proposalValidator: ProposalValidator = .acceptAll, seed: UInt64 = 0, storage: (any ConsensusStorage)? = nil) {
        self.node = node
        self.signingKey = signingKey
        self.genesis = genesis
        self.chainID = chainID ?? genesis.header.chainID
        self.hashAlgorithm = hashAlgorithm
        self.schedule = schedule
        self.proposalValidator = proposalValidator
        self.seed = seed
        self.storage = storage
    }
}

/// The verdicts an engine holds on proposed blocks: asks the validator inline,
/// or, when it is ``ProposalValidator/deferred``, asks the host once per block
/// and keeps the answers until the block's height is decided.
struct ProposalVerdicts: Sendable {
    /// What is known of a block.
    enum Verdict: Equatable {
        case valid
        case invalid(LedgerError)
        case pending
    }

    private let validator: ProposalValidator
    /// Verdicts and open requests by header hash, with the bodies asked about: a header does not
    /// commit to everything in a block (transaction signatures), so two bodies under one header hash
    /// get a verdict each.
    private var known: [Digest: [(block: Block, error: LedgerError?)]] = [:]
    private var asked: [Digest: [Block]] = [:]

    init(_ validator: ProposalValidator) { self.validator = validator }

    /// The verdict on `block` (computed header hash `hash`) as the child of `parent`; with a deferred
    /// validator the first call appends a request to `requests` and says `.pending`.
    mutating func check(_ block: Block, hash: Digest, parent: BlockHeader, _ requests: inout [ValidationRequest]) -> Verdict {
        guard validator.isDeferred else { return validator.validate(block, parent: parent).map(Verdict.invalid) ?? .valid }
        if let k = known[hash]?.first(where: { $0.block == block }) { return k.error.map(Verdict.invalid) ?? .valid }
        if asked[hash]?.contains(block) == true { return .pending }
        asked[hash, default: []].append(block)
        requests.append(ValidationRequest(block: block, hash: hash, parent: parent))
        return .pending
    }

    /// Records the host's answer; false when nobody asked (the answer is dropped).
    mutating func record(_ request: ValidationRequest, _ error: LedgerError?) -> Bool {
        guard var open = asked[request.hash], let i = open.firstIndex(of: request.block) else { return false }
        open.remove(at: i)
        asked[request.hash] = open.isEmpty ? nil : open
        known[request.hash, default: []].append((request.block, error))
        return true
    }

    /// Forgets verdicts and requests at or below `height` (decided).
    mutating func forget(through height: Height) {
        guard !known.isEmpty || !asked.isEmpty else { return }
        known = known.filter { $0.value.first.map { $0.block.header.height > height } ?? false }
        asked = asked.filter { $0.value.first.map { $0.header.height > height } ?? false }
    }
}
