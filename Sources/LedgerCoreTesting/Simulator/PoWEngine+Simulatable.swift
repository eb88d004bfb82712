import LedgerCore

extension PoWEngine: SimulatableEngine {
    /// Proof of work tuned for the simulator's faults: one hash attempt per
    /// node per tick, a target of one block every 20 ticks across the
    /// cluster (initial difficulty `20 × n`), retargeting every 10 blocks by
    /// at most ×/÷4, and a confirmation depth of 12 blocks (about 240 ticks):
    /// longer than a half of the cluster can mine alone during the
    /// simulator's 400-tick fault phase, so a partition cannot make both sides
    /// commit (PoW's safety condition), while commits still resume quickly
    /// after healing. Blocks hold at most 4 transactions.
    public static func simulationConfig(validators: ValidatorSet) -> ConsensusConfig {
        .pow(PoWConfig(initialDifficulty: 20 * UInt64(max(1, validators.count)), minimumDifficulty: 1,
                       retargetIntervalBlocks: 10, targetBlockIntervalTicks: 20, maximumRetargetFactor: 4,
                       hashesPerTick: 1, confirmationDepth: 12, maximumTransactionsPerBlock: 4))
    }

    /// A commit needs `confirmationDepth` blocks on top at about `targetBlockIntervalTicks` each
    /// (12 × 20 = 240 ticks), and the retargeting may have lowered the rate during the faults (up
    /// to ×/÷`maximumRetargetFactor`, regained within one window): 500 ticks.
    public static func healingTicks(validators: ValidatorSet) -> UInt64 {
        guard case .pow(let c) = simulationConfig(validators: validators) else { return 500 }
        return max(500, 2 * c.confirmationDepth * c.targetBlockIntervalTicks + 2 * c.targetBlockIntervalTicks)
    }

    /// PoW has no votes to forge: a Byzantine miner can only withhold or
    /// corrupt what it relays, which honest nodes reject, as long as it holds
    /// a minority of the hash power. The simulator gives every node equal
    /// hash power, so up to `⌊(n−1)/2⌋` Byzantine nodes.
    public static func byzantineTolerance(of validators: ValidatorSet) -> Int { validators.maximumCrashed }

    /// Mining goes on while any node is up; liveness needs one live miner, so `n − 1`.
    public static func crashTolerance(of validators: ValidatorSet) -> Int { max(0, validators.count - 1) }
}
