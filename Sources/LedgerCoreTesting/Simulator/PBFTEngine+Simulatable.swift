import LedgerCore

extension PBFTEngine: SimulatableEngine {
    /// PBFT with a 12-tick view-change timeout, checkpoints every 5 blocks, a 20-block watermark window,
    /// blocks of at most 4 transactions every 4 ticks.
    public static func simulationConfig(validators: ValidatorSet) -> ConsensusConfig {
        .pbft(PBFTConfig(validators: validators, viewChangeTimeoutTicks: 12, checkpointIntervalBlocks: 5,
                         watermarkWindowBlocks: 20, maximumTransactionsPerBlock: 4, blockIntervalTicks: 4))
    }

    /// Derived from the timeouts (Architecture.md, decision 11): after healing, a replica's
    /// view-change timer may stand at its longest backoff, 8 × `viewChangeTimeoutTicks` (the
    /// timeout doubles per failed attempt, three times at most, and resets only on progress), and
    /// up to `f` views in a row may have a faulty primary before a correct one, each costing that
    /// full backoff: `(f + 1) × 8 × T`. Then two blocks at `blockIntervalTicks`, each within a
    /// timeout: `+ 2 × (blockIntervalTicks + T)`. For 4 replicas (f = 1) 224 ticks, for 7 (f = 2) 320.
    public static func healingTicks(validators: ValidatorSet) -> UInt64 {
        guard case .pbft(let c) = simulationConfig(validators: validators) else { return 150 }
        let f = UInt64(validators.maximumFaulty)
        return (f + 1) * 8 * c.viewChangeTimeoutTicks + 2 * (c.blockIntervalTicks + c.viewChangeTimeoutTicks)
    }

    /// A Byzantine PBFT node splits the correct nodes into two halves (``ByzantineToolkit/half(of:)``)
    /// and tells the second half something else, all validly signed: a primary pre-prepares a
    /// different block (same transactions, another timestamp, re-signed) and records the pair in the
    /// run's ``ByzantineCoalition``; PREPARE, COMMIT and CHECKPOINT messages name the version of the
    /// block that half was shown (or a hash no one votes for). Fellow Byzantine nodes get the original.
    public static func equivocate(_ message: PBFTMessage, to recipient: NodeID, toolkit: inout ByzantineToolkit) -> PBFTMessage {
        guard let half = toolkit.half(of: recipient), half == 1 else { return message }
        let chainID = toolkit.context.chainID, key = toolkit.signingKey
        let sign = { (body: PBFTMessage.Body) in PBFTMessage.make(body, sender: message.sender, key: key, chainID: chainID) }
        let coalition = toolkit.coalition
        let other = { (d: Digest) in coalition?.version(of: d, forHalf: 1) ?? Equivocation.otherHash(d) }
        switch message.body {
        case .prePrepare(let v, let h, let d, let block?):
            guard let variant = Equivocation.variant(of: block, key: key, hashAlgorithm: toolkit.context.hashAlgorithm) else { return message }
            coalition?.record(original: d, variant: variant.headerHash)
            return sign(.prePrepare(view: v, height: h, blockHash: variant.headerHash, block: variant))
        case .prepare(let v, let h, let d):
            return sign(.prepare(view: v, height: h, blockHash: other(d)))
        case .commit(let v, let h, let d):
            return sign(.commit(view: v, height: h, blockHash: other(d)))
        case .checkpoint(let h, let d):
            return sign(.checkpoint(height: h, blockHash: other(d)))
        default:
            return message
        }
    }
}

/// Helpers for the Byzantine hooks of the BFT engines.
enum Equivocation {
    /// The same block with its timestamp one millisecond later, re-signed by `key` (which must be its producer's).
    static func variant(of block: Block, key: PrivateKey, hashAlgorithm: HashAlgorithm) -> Block? {
        var header = block.header
        header.timestamp = header.timestamp.adding(milliseconds: 1)
        guard header.producer == key.publicKey, (try? header.sign(with: key, hashAlgorithm: hashAlgorithm)) != nil else { return nil }
        return Block(header: header, headerHash: header.hash(using: hashAlgorithm), transactions: block.transactions)
    }

    /// A hash no honest node votes for.
    static func otherHash(_ d: Digest) -> Digest { HashAlgorithm.sha256.hash(d.bytes) }
}
