import LedgerCrypto

// Proof-of-work consensus (1800–1819). Configuration errors use the shared
// `.invalidConsensusConfig` (1701).
extension LedgerError.Code {
    /// A block's `consensusData` is not a PoW seal (RLP `[version,
    /// difficulty, nonce]`): wrong shape, unknown version or zero difficulty.
    public static let powMalformedSeal = Self(rawValue: 1800)
    /// The header hash does not meet the difficulty the block declares (not
    /// enough work): `ProofOfWork.meets(hash:difficulty:)` is false.
    public static let powInsufficientWork = Self(rawValue: 1801)
    /// The declared difficulty is not the one the retargeting rule gives for
    /// the block's height and ancestry. Message example: "difficulty 64, expected 128".
    public static let powDifficultyMismatch = Self(rawValue: 1802)
    /// A PoW commit certificate carries fewer confirming headers than the
    /// confirmation depth requires.
    public static let powTooFewConfirmations = Self(rawValue: 1803)
    /// A PoW commit certificate's confirming headers do not form a chain on
    /// top of the committed block: a parent hash, height or chain ID does not link.
    public static let powBrokenCertificateChain = Self(rawValue: 1804)
}
