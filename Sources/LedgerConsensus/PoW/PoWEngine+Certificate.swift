import LedgerCrypto
import LedgerModel

extension PoWEngine {
    /// Verifies a PoW commit as a third party holding only the committed
    /// block, its certificate and the chain's configuration: the block's hash
    /// is certified and meets the certified difficulty (which is the one in
    /// the block's seal and at least `minimumDifficulty`), and the
    /// certificate's evidence holds at least `confirmationDepth` headers that
    /// chain on top of the block, each a valid proof of work of at least
    /// `minimumDifficulty`.
    ///
    /// What it cannot check without the whole chain: that each difficulty is
    /// the one retargeting gives, and that no heavier branch exists. PoW
    /// finality is probabilistic; this proves the work that buries the block.
    ///
    /// - Parameters:
    ///   - committed: Required. The block and its `.pow` certificate, as the engine emitted them.
    ///   - config: Required. The PoW configuration at the block's height (depth and minimum difficulty).
    ///   - hashAlgorithm: Required. The chain's hash algorithm.
    /// - Throws: `LedgerError` `.certificateBlockMismatch` (1710), `.certificateProofOfWorkInvalid` (1715),
    ///   `.certificateMalformed` (1716), `.powMalformedSeal` (1800), `.powInsufficientWork` (1801),
    ///   `.powTooFewConfirmations` (1803), `.powBrokenCertificateChain` (1804), encoding errors (10xx)
    ///   for undecodable evidence.
    /// - Note: Pure; safe to call concurrently.
    ///
    /// ```swift
    /// try PoWEngine.verifyCertificate(committed, config: powConfig, hashAlgorithm: .sha256)
    /// ```
    public static func verifyCertificate(_ committed: CommittedBlock, config: PoWConfig,
                                         hashAlgorithm: HashAlgorithm) throws(LedgerError) {
        let certificate = committed.certificate
        let block = committed.block
        let details = ["height": certificate.height.description, "block": certificate.blockHash.hex]
        guard certificate.kind == .pow else {
            throw LedgerError(.certificateMalformed, "certificate kind \(certificate.kind), expected pow", details: details)
        }
        let hash = block.header.hash(using: hashAlgorithm)
        guard hash == certificate.blockHash, block.headerHash == hash, block.header.height == certificate.height else {
            throw LedgerError(.certificateBlockMismatch, "block \(hash.hex) at height \(block.header.height) is not the certified one", details: details)
        }
        let minimum = max(1, config.minimumDifficulty)
        let seal = try PoWSeal(decoding: block.header.consensusData)
        guard certificate.difficulty >= minimum, seal.difficulty == certificate.difficulty,
              ProofOfWork.meets(hash: hash, difficulty: certificate.difficulty) else {
            throw LedgerError(.certificateProofOfWorkInvalid,
                              "difficulty \(certificate.difficulty) (seal \(seal.difficulty), minimum \(minimum)) is not met by the block hash",
                              details: details)
        }
        let items = try RLP.decode(certificate.evidence.isEmpty ? RLP.encode(.list([])) : certificate.evidence).list("certificate.evidence")
        guard UInt64(items.count) >= config.confirmationDepth else {
            throw LedgerError(.powTooFewConfirmations, "\(items.count) confirming headers, need \(config.confirmationDepth)", details: details)
        }
        var parentHash = hash
        var parentHeight = block.header.height
        for (i, item) in items.enumerated() {
            let header = try BlockHeader(item: item)
            let h = header.hash(using: hashAlgorithm)
            guard header.parentHash == parentHash, header.height == parentHeight.next, header.chainID == block.header.chainID else {
                throw LedgerError(.powBrokenCertificateChain, "confirming header \(i) at height \(header.height) does not extend \(parentHash.hex)",
                                  details: details.merging(["index": String(i)]) { a, _ in a })
            }
            let s = try PoWSeal(decoding: header.consensusData)
            guard s.difficulty >= minimum, ProofOfWork.meets(hash: h, difficulty: s.difficulty) else {
                throw LedgerError(.powInsufficientWork, "confirming header \(i) does not meet difficulty \(s.difficulty) (minimum \(minimum))",
                                  details: details.merging(["index": String(i)]) { a, _ in a })
            }
            parentHash = h
            parentHeight = header.height
        }
    }
}
