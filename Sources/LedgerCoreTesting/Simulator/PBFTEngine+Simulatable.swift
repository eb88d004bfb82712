import LedgerCore

extension PBFTEngine: SimulatableEngine {
    /// PBFT with a 12-tick view-change timeout, checkpoints every 5 blocks, a 20-block watermark window,
    /// blocks of at most 4 transactions every 4 ticks.
    public static func simulationConfig(validators: ValidatorSet) -> ConsensusConfig {
        .pbft(PBFTConfig(validators: validators, viewChangeTimeoutTicks: 12, checkpointIntervalBlocks: 5,
                         watermarkWindowBlocks: 20, maximumTransactionsPerBlock: 4, blockIntervalTicks: 4))
    }

    /// A Byzantine PBFT node tells odd-numbered nodes something else than even-numbered ones: a
    /// pre-prepare of a different block (same transactions, another timestamp, re-signed), and
    /// PREPARE, COMMIT and CHECKPOINT messages for a different hash, all validly signed.
    public static func equivocate(_ message: PBFTMessage, to recipient: NodeID, toolkit: inout ByzantineToolkit) -> PBFTMessage {
        guard recipient.rawValue % 2 == 1 else { return message }
        let chainID = toolkit.context.chainID, key = toolkit.signingKey
        let sign = { (body: PBFTMessage.Body) in PBFTMessage.make(body, sender: message.sender, key: key, chainID: chainID) }
        switch message.body {
        case .prePrepare(let v, let h, _, let block?):
            guard let other = Equivocation.variant(of: block, key: toolkit.signingKey, hashAlgorithm: toolkit.context.hashAlgorithm) else { return message }
            return sign(.prePrepare(view: v, height: h, blockHash: other.headerHash, block: other))
        case .prepare(let v, let h, let d):
            return sign(.prepare(view: v, height: h, blockHash: Equivocation.otherHash(d)))
        case .commit(let v, let h, let d):
            return sign(.commit(view: v, height: h, blockHash: Equivocation.otherHash(d)))
        case .checkpoint(let h, let d):
            return sign(.checkpoint(height: h, blockHash: Equivocation.otherHash(d)))
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
