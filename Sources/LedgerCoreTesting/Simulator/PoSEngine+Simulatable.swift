import LedgerCore

extension PoSEngine: SimulatableEngine {
    /// PoS with a 12-tick base round timeout and blocks of at most 4 transactions every 4 ticks.
    public static func simulationConfig(validators: ValidatorSet) -> ConsensusConfig {
        .pos(PoSConfig(validators: validators, roundTimeoutTicks: 12, blockIntervalTicks: 4, maximumTransactionsPerBlock: 4))
    }

    /// The most validators that may be Byzantine whatever the simulator picks: the largest `k`
    /// such that the `k` largest stakes together hold less than 1/3 of the total (`f` with equal stakes).
    public static func byzantineTolerance(of validators: ValidatorSet) -> Int {
        let stakes = validators.map(\.stake).sorted(by: >)
        var sum: UInt64 = 0
        for (k, s) in stakes.enumerated() {
            sum += s
            if UInt128(sum) * 3 >= UInt128(validators.totalStake) { return k }
        }
        return stakes.count
    }

    /// As many crashed validators as ``byzantineTolerance(of:)``: the rest hold more than 2/3 of the stake.
    public static func crashTolerance(of validators: ValidatorSet) -> Int { byzantineTolerance(of: validators) }

    /// A Byzantine PoS validator splits the correct nodes into two halves (``ByzantineToolkit/half(of:)``)
    /// and tells the second half something else: a proposer proposes a different block (re-signed)
    /// and records the pair in the run's ``ByzantineCoalition``; prevotes and precommits name the
    /// version of the block that half was shown (or a hash no one votes for). Fellow Byzantine
    /// validators get the original.
    public static func equivocate(_ message: PoSMessage, to recipient: NodeID, toolkit: inout ByzantineToolkit) -> PoSMessage {
        guard let half = toolkit.half(of: recipient), half == 1 else { return message }
        let chainID = toolkit.context.chainID, key = toolkit.signingKey
        let sign = { (body: PoSMessage.Body) in PoSMessage.make(body, sender: message.sender, key: key, chainID: chainID) }
        let coalition = toolkit.coalition
        let other = { (d: Digest?) in d.flatMap { coalition?.version(of: $0, forHalf: 1) } ?? Equivocation.otherHash(d ?? .zero) }
        switch message.body {
        case .proposal(let h, let r, let d, let block?, let vr):
            guard let variant = Equivocation.variant(of: block, key: key, hashAlgorithm: toolkit.context.hashAlgorithm) else { return message }
            coalition?.record(original: d, variant: variant.headerHash)
            return sign(.proposal(height: h, round: r, blockHash: variant.headerHash, block: variant, validRound: vr))
        case .prevote(let h, let r, let d):
            return sign(.prevote(height: h, round: r, blockHash: other(d)))
        case .precommit(let h, let r, let d):
            return sign(.precommit(height: h, round: r, blockHash: other(d)))
        default:
            return message
        }
    }
}
