import Synchronization
import LedgerCore

/// What an engine provides so the ``Simulator`` can run it: a configuration
/// for a simulated cluster, and its Byzantine behaviours.
///
/// Engine owners conform their engine in `LedgerCoreTesting` (for example
/// `extension PBFTEngine: SimulatableEngine`). Only
/// ``simulationConfig(validators:)`` is required; the Byzantine hooks have
/// defaults.
///
/// ```swift
/// extension RaftEngine: SimulatableEngine {
///     public static func simulationConfig(validators: ValidatorSet) -> ConsensusConfig { .raft(RaftConfig(members: validators)) }
/// }
/// ```
public protocol SimulatableEngine: ConsensusEngine {
    /// The configuration a simulated cluster of `validators` runs with
    /// (timeouts suited to the simulator's delays, small blocks).
    static func simulationConfig(validators: ValidatorSet) -> ConsensusConfig

    /// The most Byzantine nodes the engine claims to tolerate among `validators`
    /// (`f` of `3f + 1` for BFT engines, 0 for crash-fault engines). The
    /// simulator refuses more unless ``SimulationOptions/allowExcessFaults`` is set.
    static func byzantineTolerance(of validators: ValidatorSet) -> Int

    /// The most nodes that may be crashed at once while liveness is still
    /// required (`⌊(n−1)/2⌋` for Raft, `f` for PBFT).
    static func crashTolerance(of validators: ValidatorSet) -> Int

    /// The most ticks after healing that the protocol may need, by its own
    /// timeouts in ``simulationConfig(validators:)``, before every correct
    /// node commits again: the simulator's liveness window is at least this
    /// (``FaultPlan/quietTicks`` can only lengthen it). Default: 150.
    static func healingTicks(validators: ValidatorSet) -> UInt64

    /// Equivocation: the message a Byzantine node sends to `recipient` in place
    /// of `message` (for example a pre-prepare of a different block to half the
    /// nodes, re-signed). Default: the message unchanged.
    static func equivocate(_ message: Message, to recipient: NodeID, toolkit: inout ByzantineToolkit) -> Message

    /// The message with a signature that does not verify, or nil to drop it.
    /// Default: flips a byte near the end of the encoding and keeps the result if it still decodes.
    static func corruptSignature(_ message: Message, toolkit: inout ByzantineToolkit) -> Message?
}

extension SimulatableEngine {
    public static func byzantineTolerance(of validators: ValidatorSet) -> Int { validators.maximumFaulty }
    public static func crashTolerance(of validators: ValidatorSet) -> Int { validators.maximumFaulty }
    public static func healingTicks(validators: ValidatorSet) -> UInt64 { 150 }

    public static func equivocate(_ message: Message, to recipient: NodeID, toolkit: inout ByzantineToolkit) -> Message { message }

    public static func corruptSignature(_ message: Message, toolkit: inout ByzantineToolkit) -> Message? {
        var bytes = message.encoded
        guard !bytes.isEmpty else { return nil }
        let window = min(bytes.count, 24)
        let index = bytes.count - 1 - Int(toolkit.rng.next() % UInt64(window))
        bytes[index] ^= UInt8(truncatingIfNeeded: 1 << (toolkit.rng.next() % 8))
        return try? Message(decoding: bytes)
    }
}

/// What a Byzantine node's hooks may use: its own key and context, a
/// seeded generator, and a block builder for conflicting proposals.
public struct ByzantineToolkit: Sendable {
    /// The Byzantine node.
    public var node: NodeID
    /// Its signing key (it can sign anything it likes).
    public var signingKey: PrivateKey
    /// Its consensus context (chain ID, hash algorithm, schedule).
    public var context: ConsensusContext
    /// Seeded from the run's seed; use it for every random choice.
    public var rng: SplitMix64
    /// Builds a valid, signed block with `variant`-dependent content on `parent`,
    /// carrying `consensusData` (different variants give different blocks).
    public var makeBlock: @Sendable (_ parent: BlockHeader, _ consensusData: [UInt8], _ variant: UInt64) -> Block?
    /// The Byzantine nodes of the run acting together (shared by all of them), or nil.
    public var coalition: ByzantineCoalition?

    /// Made by the simulator for each Byzantine node.
    package init(node: NodeID, signingKey: PrivateKey, context: ConsensusContext, rng: SplitMix64,
                makeBlock: @escaping @Sendable (BlockHeader, [UInt8], UInt64) -> Block?,
                coalition: ByzantineCoalition? = nil) {
        self.node = node
        self.signingKey = signingKey
        self.context = context
        self.rng = rng
        self.makeBlock = makeBlock
        self.coalition = coalition
    }

    /// Which half of the correct nodes `recipient` is in (0 or 1), or nil for a fellow Byzantine node.
    /// Without a coalition: the recipient's ID parity.
    public func half(of recipient: NodeID) -> Int? {
        guard let coalition else { return Int(recipient.rawValue % 2) }
        return coalition.half(of: recipient)
    }
}

/// The Byzantine nodes of one simulation run, acting together: they split
/// the correct nodes into two halves, show each half its own version of
/// every block an equivocating proposer sends (``record(original:variant:)``),
/// vote towards each half for the version that half was shown, and tell
/// each other the original. With enough Byzantine voting power that makes
/// the two halves commit different blocks at one height, which is what the
/// checkers must catch beyond an engine's tolerance.
///
/// Shared by the toolkits of one run; `Sendable` through a `Mutex`.
public final class ByzantineCoalition: Sendable {
    /// The Byzantine nodes, ascending.
    public let members: [NodeID]
    private let correct: [NodeID]
    private let pairs = Mutex<[Digest: (original: Digest, variant: Digest)]>([:])

    /// - Parameters:
    ///   - members: Required. The Byzantine nodes.
    ///   - nodes: Required. Every node of the run.
    package init(members: [NodeID], nodes: [NodeID]) {
        self.members = members.sorted()
        correct = nodes.filter { !members.contains($0) }.sorted()
    }

    /// 0 or 1 for a correct node (alternating in ascending ID order), nil for a member.
    public func half(of node: NodeID) -> Int? {
        correct.firstIndex(of: node).map { $0 % 2 }
    }

    /// Records that half 1 is shown `variant` where half 0 (and the coalition) see `original`.
    public func record(original: Digest, variant: Digest) {
        pairs.withLock {
            $0[original] = (original, variant)
            $0[variant] = (original, variant)
        }
    }

    /// The version of the block with hash `hash` (either version) that `half` is shown, if it was split.
    public func version(of hash: Digest, forHalf half: Int) -> Digest? {
        pairs.withLock { $0[hash] }.map { half == 0 ? $0.original : $0.variant }
    }
}
