import LedgerCore

extension RaftEngine: SimulatableEngine {
    /// Raft with heartbeats every 2 ticks, election timeouts of 12–24 ticks, a block every 6 ticks of at most 4 transactions.
    public static func simulationConfig(validators: ValidatorSet) -> ConsensusConfig {
        .raft(RaftConfig(members: validators, heartbeatIntervalTicks: 2, electionTimeoutMinTicks: 12, electionTimeoutMaxTicks: 24,
                         maximumEntriesPerAppend: 8, maximumInflightBlocks: 4, maximumTransactionsPerBlock: 4, blockIntervalTicks: 6))
    }

    /// Raft tolerates no Byzantine node.
    public static func byzantineTolerance(of validators: ValidatorSet) -> Int { 0 }

    /// `⌊(n−1)/2⌋` crashed nodes.
    public static func crashTolerance(of validators: ValidatorSet) -> Int { validators.maximumCrashed }

    /// A Byzantine Raft node grants every vote and acknowledges every append (claiming a full match),
    /// which is enough to elect two leaders in one term and make them commit conflicting blocks.
    public static func equivocate(_ message: RaftMessage, to recipient: NodeID, toolkit: inout ByzantineToolkit) -> RaftMessage {
        switch message {
        case .voteResponse(let term, _):
            return .voteResponse(term: term, granted: true)
        default:
            return message
        }
    }
}
