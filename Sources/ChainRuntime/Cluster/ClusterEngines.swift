import LedgerCore
import Net

/// Maps a ``ConsensusEngineKind`` to an engine type and its configuration.
enum ClusterEngines {
    static func config(_ kind: ConsensusEngineKind, validators: ValidatorSet, maximumTransactionsPerBlock: Int) throws(ChainError) -> ConsensusConfig {
        switch kind {
        case .raft:
            return .raft(RaftConfig(members: validators, maximumTransactionsPerBlock: maximumTransactionsPerBlock))
        default:
            throw ChainError(.unsupportedEngine, "this build has no \(kind) engine wired into the cluster", details: ["engine": kind.rawValue])
        }
    }

    static func makeNode(_ kind: ConsensusEngineKind, configuration: NodeConfiguration, transport: any Transport) async throws -> any ChainNode {
        switch kind {
        case .raft:
            return try await Node<RaftEngine>(configuration: configuration, transport: transport)
        default:
            throw ChainError(.unsupportedEngine, "this build has no \(kind) engine wired into the cluster", details: ["engine": kind.rawValue])
        }
    }
}
