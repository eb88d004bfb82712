import LedgerCore

/// What a node knows of one peer (K-R-1).
public struct PeerHealth: Hashable, Sendable {
    /// The peer.
    public var node: NodeID
    /// Whether the transport reports a working link and the peer spoke within ``NodeConfiguration/peerTimeoutTicks``.
    public var isAlive: Bool
    /// The committed height the peer last announced.
    public var height: Height
    /// Ticks since the peer was last heard from (nil: never).
    public var ticksSinceSeen: UInt64?
}

/// A node's health: connectivity, lag, store errors and consensus state (K-R-1),
/// published on ``Node/healthUpdates()`` whenever it changes.
///
/// ```swift
/// for await h in await node.healthUpdates() where h.state != .healthy { alert(h) }
/// ```
public struct NodeHealth: Hashable, Sendable, CustomStringConvertible {
    /// The overall state.
    public enum State: String, Hashable, Sendable {
        /// Running, connected to a quorum of alive peers (or alone by design), not lagging.
        case healthy
        /// Behind a peer and fetching blocks (automatic recovery, K-R-2).
        case syncing
        /// Running but short of alive peers, or the store reported errors since the last commit.
        case degraded
        /// No alive peer while the chain has other validators.
        case isolated
        /// Stopped.
        case stopped
    }
    /// The node reporting.
    public var node: NodeID
    /// Its overall state.
    public var state: State
    /// The store's head height.
    public var committedHeight: Height
    /// The highest height a live peer announced.
    public var bestPeerHeight: Height
    /// `bestPeerHeight - committedHeight`, or 0.
    public var lag: UInt64 { bestPeerHeight > committedHeight ? bestPeerHeight.rawValue - committedHeight.rawValue : 0 }
    /// Every other validator, ascending.
    public var peers: [PeerHealth]
    /// Store errors since the node started.
    public var storeErrors: Int
    /// The last store error's message.
    public var lastStoreError: String?
    /// The consensus engine's status.
    public var consensus: ConsensusStatus
    /// Pending transactions.
    public var mempoolCount: Int

    public var description: String {
        "\(node) \(state.rawValue) h=\(committedHeight) lag=\(lag) peers=\(peers.filter(\.isAlive).count)/\(peers.count) storeErrors=\(storeErrors) \(consensus.role)"
    }
}

/// Counters of a node's work, for logs, metrics and tests.
public struct NodeMetrics: Hashable, Sendable {
    /// Blocks written to the store.
    public var committedBlocks = 0
    /// Transactions in those blocks.
    public var committedTransactions = 0
    /// Client transactions refused at intake (K-T-2).
    public var rejectedClientTransactions = 0
    /// Peer transactions refused because they are invalid (bad signature, wrong chain, too large, expired); duplicates are not counted.
    public var rejectedPeerTransactions = 0
    /// Peer messages that did not decode.
    public var invalidPeerMessages = 0
    /// Inputs the consensus engine refused (invalid proposals, bad votes).
    public var consensusRejections = 0
    /// Proposals refused by this node's validation (K-V-*, re-execution).
    public var rejectedProposals = 0
    /// Catch-up requests sent to peers.
    public var syncRequestsSent = 0
    /// Blocks appended from catch-up responses.
    public var syncBlocksApplied = 0
    /// Blocks of catch-up responses that failed their checks.
    public var syncBlocksRejected = 0
    /// Sync requests a peer answered with a failure of its store (`syncFailed`) instead of blocks.
    public var syncFailuresReceived = 0
    /// Store reads or writes that failed.
    public var storeErrors = 0
    /// Status beacons sent to peers that were down, to reconnect.
    public var reconnectAttempts = 0
    /// Scheduled backups taken (K-R-4).
    public var backupsTaken = 0
    /// Times the engine was restarted from the store (after catch-up, a restore or a failed append).
    public var engineRestarts = 0
}

/// A committed block as a node announces it on ``Node/commits()``.
public struct CommitNotice: Hashable, Sendable {
    /// The block's height.
    public var height: Height
    /// The block's header hash.
    public var blockHash: Digest
    /// The block's transaction IDs, in block order.
    public var transactionIDs: [Digest]
    /// The receipts, in block order.
    public var receipts: [Receipt]
    /// When the node committed it.
    public var committedAt: ContinuousClock.Instant
}
