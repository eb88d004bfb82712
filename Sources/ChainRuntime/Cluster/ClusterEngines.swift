import LedgerCore
import Net

/// Maps a ``ConsensusEngineKind`` to an engine type and its configuration.
package enum ClusterEngines {
    package static func config(_ kind: ConsensusEngineKind, validators: ValidatorSet, maximumTransactionsPerBlock: Int) throws(ChainError) -> ConsensusConfig {
        switch kind {
        case .raft: .raft(RaftConfig(members: validators, maximumTransactionsPerBlock: maximumTransactionsPerBlock))
        case .pbft: .pbft(PBFTConfig(validators: validators, maximumTransactionsPerBlock: maximumTransactionsPerBlock))
        case .pos: .pos(PoSConfig(validators: validators, maximumTransactionsPerBlock: maximumTransactionsPerBlock))
        case .pow: .pow(PoWConfig(initialDifficulty: 16, targetBlockIntervalTicks: 10, hashesPerTick: 4,
                                  maximumTransactionsPerBlock: maximumTransactionsPerBlock))
        }
    }

    /// ``config(_:validators:maximumTransactionsPerBlock:)`` with the timeouts of nodes on a real network:
    /// a PBFT view change, a PoS round and the longest Raft election after `timeoutTicks` (the shortest election
    /// after half of it, Raft heartbeats every twentieth). The in-process defaults (10–20 ticks) change views on a
    /// loaded machine or a slow link.
    package static func networkConfig(_ kind: ConsensusEngineKind, validators: ValidatorSet, maximumTransactionsPerBlock: Int,
                                      timeoutTicks: UInt64) throws(ChainError) -> ConsensusConfig {
        let ticks = max(20, timeoutTicks)
        switch try config(kind, validators: validators, maximumTransactionsPerBlock: maximumTransactionsPerBlock) {
        case .pbft(var c):
            c.viewChangeTimeoutTicks = ticks
            return .pbft(c)
        case .pos(var c):
            c.roundTimeoutTicks = ticks
            return .pos(c)
        case .raft(var c):
            c.heartbeatIntervalTicks = max(1, ticks / 20)
            c.electionTimeoutMinTicks = ticks / 2
            c.electionTimeoutMaxTicks = ticks
            return .raft(c)
        case let other:
            return other
        }
    }

    /// Ticks a leader may hold a proposal request open while its mempool is empty: below the
    /// engines' round and view-change timeouts (20 ticks), so an idle chain never changes view.
    package static func emptyBlockIntervalTicks(_ kind: ConsensusEngineKind) -> UInt64 {
        switch kind {
        case .raft: 50
        case .pbft, .pos: 8
        case .pow: 1
        }
    }

    package static func makeNode(_ kind: ConsensusEngineKind, configuration: NodeConfiguration, transport: any Transport,
                         executors: [any TransactionExecutor] = [KeyValueExecutor()]) async throws -> any ChainNode {
        try await makeNode(kind, configuration: configuration, transport: transport, executors: executors, simulatedClock: nil)
    }

    static func makeNode(_ kind: ConsensusEngineKind, configuration c: NodeConfiguration, transport t: any Transport,
                         executors e: [any TransactionExecutor], simulatedClock s: SimulatedClock?) async throws -> any ChainNode {
        switch kind {
        case .raft: try await Node<RaftEngine>(configuration: c, transport: t, executors: e, simulatedClock: s)
        case .pbft: try await Node<PBFTEngine>(configuration: c, transport: t, executors: e, simulatedClock: s)
        case .pos: try await Node<PoSEngine>(configuration: c, transport: t, executors: e, simulatedClock: s)
        case .pow: try await Node<PoWEngine>(configuration: c, transport: t, executors: e, simulatedClock: s)
        }
    }
}
