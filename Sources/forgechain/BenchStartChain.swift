import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore
import Net

/// The chain of a `bench start` ledger: four validators (PoW: four miners), their keys, the genesis block and the
/// consensus schedule, all derived from the engine and a seed. The generator and the probe (a child process) both
/// build it from the ledger's manifest, so no key is written to disk and the node opens the store as one of the
/// chain's own validators (its genesis check refuses any other chain).
struct StartBenchChain: Sendable {
    /// The engines `bench start` measures, in the order it runs them.
    static let engines: [ConsensusEngineKind] = [.pbft, .raft, .pos, .pow]
    static let chainID: UInt64 = 53
    static let validatorCount = 4
    /// The node the probe runs: validator 0 (PBFT's primary of view 0, the Raft leader of term 1).
    static let probedNode: NodeID = 0
    /// The Raft term every block of a generated ledger was proposed and acknowledged in.
    static let raftTerm: Round = 1

    let engine: ConsensusEngineKind
    let keys: [PrivateKey]
    let validators: ValidatorSet
    let genesis: Block
    let schedule: ConsensusSchedule
    var hashAlgorithm: HashAlgorithm { .default }

    /// - Parameters:
    ///   - engine: Required. The engine whose chain this is.
    ///   - seed: Required. Decides every key.
    ///   - maximumTransactionsPerBlock: Required; range 1...1,000,000. The schedule's block size.
    /// - Throws: `LedgerError` key, genesis and configuration errors (13xx, 1701).
    init(engine: ConsensusEngineKind, seed: UInt64, maximumTransactionsPerBlock: Int) throws {
        self.engine = engine
        var rng = SplitMix64(seed: seed)
        let keys = try (0..<Self.validatorCount).map { _ in try Self.ed25519Key(&rng) }
        self.keys = keys
        genesis = try ChainGenesis.make(chainID: Self.chainID, key: try Self.ed25519Key(&rng), hashAlgorithm: .default)
        let validators = try ValidatorSet((0..<Self.validatorCount).map { Validator(id: NodeID(UInt32($0)), publicKey: keys[$0].publicKey) })
        self.validators = validators
        // The in-memory cluster's configurations (for PoW: difficulty 16, a block every 10 ticks).
        let initial = try ClusterEngines.config(engine, validators: validators, maximumTransactionsPerBlock: maximumTransactionsPerBlock)
        schedule = ConsensusSchedule(initial: initial)
        try schedule.validate()
    }

    static func ed25519Key(_ rng: inout SplitMix64) throws -> PrivateKey {
        var raw = [UInt8]()
        for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
        return try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
    }

    /// The configuration of validator ``probedNode`` on the store at `storePath`, as the in-memory cluster configures
    /// its nodes (empty-block interval, PoW clock drift), logging at `error` and above only.
    func nodeConfiguration(storePath: String) -> NodeConfiguration {
        var c = NodeConfiguration(node: Self.probedNode, signingKey: keys[Int(Self.probedNode.rawValue)], genesis: genesis,
                                  schedule: schedule, storePath: storePath)
        c.hashAlgorithm = hashAlgorithm
        c.emptyBlockIntervalTicks = ClusterEngines.emptyBlockIntervalTicks(engine)
        if engine == .pow {
            // PoWEngine stamps 1 s of block time per tick: the chain's block times run ahead of the wall clock.
            c.maximumClockDriftMillis = 1_000_000_000_000
        }
        return c
    }

    /// A node of this chain's engine on `transport`, not started.
    func makeNode(_ configuration: NodeConfiguration, transport: any Transport) async throws -> any ChainNode {
        try await ClusterEngines.makeNode(engine, configuration: configuration, transport: transport)
    }
}
