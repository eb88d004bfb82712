import ChainRuntime
import LedgerCore

extension NodeConfiguration {
    /// A one-node chain whose keys and genesis derive from `seed`: the same seed reopens the same chain in
    /// another process (crash tests, probes, benchmarks). Anyone who knows the seed has the keys: for
    /// tests only; a real node uses `NodeConfiguration.singleNode(storePath:keystore:chainID:maximumTransactionsPerBlock:)` (ChainRuntime).
    /// - Parameters:
    ///   - storePath: Required. The store file; its directory must exist.
    ///   - seed: Required. Any value.
    ///   - chainID: Optional, default 53.
    ///   - maximumTransactionsPerBlock: Optional, default 1,000; range 1...1,000,000.
    /// - Throws: `LedgerError` key or genesis errors (13xx), `.invalidConsensusConfig` (1701).
    /// - Note: Pure. Example: `let c = try NodeConfiguration.seededSingleNode(storePath: p, seed: 1407)`.
    public static func seededSingleNode(storePath: String, seed: UInt64, chainID: UInt64 = 53,
                                        maximumTransactionsPerBlock: Int = 1_000) throws(LedgerError) -> NodeConfiguration {
        var rng = SplitMix64(seed: seed ^ 0x51_4E_47_4C_45)
        func key() throws(LedgerError) -> PrivateKey {
            var raw = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
            return try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
        }
        let nodeKey = try key()
        var c = try singleNode(storePath: storePath, nodeKey: nodeKey, genesisKey: try key(), chainID: chainID,
                               maximumTransactionsPerBlock: maximumTransactionsPerBlock)
        c.seed = seed
        return c
    }
}

extension ChainNode {
    /// Makes a node misbehave, for fault tests: propose blocks with a forged transaction, relay transactions
    /// with broken signatures, or stay silent in consensus. Only nodes of this package can (a host's own
    /// `ChainNode` is left as it is).
    /// - Parameters:
    ///   - forgeProposals: Optional, default false.
    ///   - invalidTransactions: Optional, default false.
    ///   - silent: Optional, default false.
    /// - Note: Example: `await try cluster.node(3).injectFaults(invalidTransactions: true)`.
    public func injectFaults(forgeProposals: Bool = false, invalidTransactions: Bool = false, silent: Bool = false) async {
        await (self as? any FaultInjectable)?.setByzantine(forgeProposals: forgeProposals, invalidTransactions: invalidTransactions, silent: silent)
    }
}
