import LedgerModel

/// A node's role in its consensus engine. A struct with named constants, not
/// an enum, so engines can add roles without breaking a client's `switch`.
public struct ConsensusRole: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Raft follower.
    public static let follower = Self(rawValue: "follower")
    /// Raft candidate.
    public static let candidate = Self(rawValue: "candidate")
    /// Raft leader.
    public static let leader = Self(rawValue: "leader")
    /// PBFT primary of the current view.
    public static let primary = Self(rawValue: "primary")
    /// PBFT backup.
    public static let backup = Self(rawValue: "backup")
    /// PoS proposer of the current round.
    public static let proposer = Self(rawValue: "proposer")
    /// PoS validator that is not proposing.
    public static let validator = Self(rawValue: "validator")
    /// PoW miner.
    public static let miner = Self(rawValue: "miner")
    /// A node that follows the chain without voting (not in the validator set).
    public static let observer = Self(rawValue: "observer")
}

/// Where a node is in agreeing on the next block (K-A-4: proposal, validation, voting).
public struct ConsensusPhase: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Waiting for, or building, a proposal.
    public static let proposing = Self(rawValue: "proposing")
    /// Checking a proposed block (K-V-1..4).
    public static let validating = Self(rawValue: "validating")
    /// Exchanging votes (prepare/commit, acks, signatures).
    public static let voting = Self(rawValue: "voting")
    /// The last block is committed; idle until the next proposal.
    public static let committed = Self(rawValue: "committed")
    /// PBFT view change in progress.
    public static let viewChange = Self(rawValue: "viewChange")
    /// Raft election in progress.
    public static let electing = Self(rawValue: "electing")
    /// PoW: searching for a nonce.
    public static let mining = Self(rawValue: "mining")
}

/// A snapshot of one engine's state, emitted in ``ConsensusEffects/status``
/// whenever it changes and published to observers through
/// ``ConsensusStatusChannel`` (K-A-4).
///
/// ```swift
/// if let s = effects.status { print(s.committedHeight, s.role, s.phase) }
/// ```
public struct ConsensusStatus: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The node this status is of.
    public var node: NodeID
    /// The height of the last committed block (0 = genesis only).
    public var committedHeight: Height
    /// The view (PBFT), term (Raft), round (PoS) or 0 (PoW).
    public var round: Round
    /// The node's role (primary, backup, leader, follower, proposer, ...).
    public var role: ConsensusRole
    /// Where the current round is (proposing, voting, committed, view change).
    public var phase: ConsensusPhase
    /// The node the engine believes leads the current round, if any.
    public var leader: NodeID?
    /// Ticks from when the last committed block was proposed (or first seen) to its commit; nil before the first commit.
    public var lastCommitLatencyTicks: UInt64?

    /// Parameters as the properties of the same names; engines make statuses, observers read them.
    public init(node: NodeID, committedHeight: Height, round: Round, role: ConsensusRole, phase: ConsensusPhase,
                leader: NodeID? = nil, lastCommitLatencyTicks: UInt64? = nil) {
        self.node = node
        self.committedHeight = committedHeight
        self.round = round
        self.role = role
        self.phase = phase
        self.leader = leader
        self.lastCommitLatencyTicks = lastCommitLatencyTicks
    }

    public var description: String {
        "\(node) h=\(committedHeight) r=\(round) \(role)/\(phase) leader=\(leader.map(\.description) ?? "-")"
    }
}

/// Publishes engine status to observers as an `AsyncStream` (K-A-4). The
/// engine stays pure: its driver (a node, or the simulator) calls
/// ``publish(_:)-(ConsensusEffects<M>)`` with each step's effects.
///
/// ```swift
/// let channel = ConsensusStatusChannel()
/// Task { for await status in channel.stream { dashboard.show(status) } }
/// channel.publish(engine.step(.tick))
/// ```
/// - Note: `Sendable`; ``publish(_:)-(ConsensusStatus)`` may be called from any thread. When the
///   consumer is slow, only the newest `bufferingNewest` statuses are kept.
public struct ConsensusStatusChannel: Sendable {
    /// The statuses, in the order they were published.
    public let stream: AsyncStream<ConsensusStatus>
    private let continuation: AsyncStream<ConsensusStatus>.Continuation

    /// - Parameter bufferingNewest: Optional, default 256; range 1...Int.max.
    public init(bufferingNewest: Int = 256) {
        (stream, continuation) = AsyncStream.makeStream(of: ConsensusStatus.self,
                                                        bufferingPolicy: .bufferingNewest(max(1, bufferingNewest)))
    }

    /// Yields `effects.status` when the step changed it.
    public func publish<M>(_ effects: ConsensusEffects<M>) {
        if let s = effects.status { continuation.yield(s) }
    }

    /// Yields a status.
    public func publish(_ status: ConsensusStatus) { continuation.yield(status) }

    /// Ends the stream.
    public func finish() { continuation.finish() }
}
