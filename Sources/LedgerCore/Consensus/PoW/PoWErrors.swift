// Proof-of-work consensus (1800–1819).
extension LedgerError.Code {
    /// A PoW configuration field is out of its documented range; the message
    /// and `details["field"]` name the field and the value.
    /// Message example: "field 'confirmationDepth': 0 is outside 1...1000".
    public static let powInvalidConfiguration = Self(rawValue: 1800)
    /// A block's `consensusData` is not a PoW seal (RLP `[version,
    /// difficulty, nonce]`): wrong shape, unknown version or zero difficulty.
    public static let powMalformedSeal = Self(rawValue: 1801)
    /// The header hash is above the target its declared difficulty sets
    /// (not enough work).
    public static let powInsufficientWork = Self(rawValue: 1802)
    /// The declared difficulty is not the one the retargeting rule gives for
    /// the block's height and ancestry.
    public static let powDifficultyMismatch = Self(rawValue: 1803)
    /// A block's parent is not known to the engine (the engine asks the
    /// sender for it and keeps the block aside).
    public static let powUnknownParent = Self(rawValue: 1804)
    /// A PoW commit certificate carries fewer confirming headers than the
    /// confirmation depth requires.
    public static let powTooFewConfirmations = Self(rawValue: 1805)
    /// A PoW commit certificate's headers do not form a chain: a parent hash
    /// or height does not link, or the first header is not the committed block.
    public static let powBrokenCertificateChain = Self(rawValue: 1806)
}
