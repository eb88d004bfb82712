import LedgerCrypto

// PBFT (1750–1769) and PoS (1770–1789) engine errors, reported in
// ConsensusEffects.rejections; the engines never throw from step(_:).
extension LedgerError.Code {
    /// PBFT: a PRE-PREPARE came from a node that is not the primary of its view.
    public static let pbftNotPrimary = Self(rawValue: 1750)
    /// PBFT: the primary sent two PRE-PREPAREs with different blocks for one view and height (equivocation); the second is ignored.
    public static let pbftConflictingPrePrepare = Self(rawValue: 1751)
    /// PBFT: a message's height is outside the window between the low and high watermarks.
    public static let pbftOutsideWatermarks = Self(rawValue: 1752)
    /// PBFT: a VIEW-CHANGE carries a checkpoint proof or prepared certificate that does not verify.
    public static let pbftInvalidViewChange = Self(rawValue: 1753)
    /// PBFT: a NEW-VIEW is not from the view's primary, lacks 2f+1 valid VIEW-CHANGEs, or its O-set differs from the one the V-set implies.
    public static let pbftInvalidNewView = Self(rawValue: 1754)
    /// PBFT: a PRE-PREPARE's block does not match its hash, height or parent.
    public static let pbftBlockMismatch = Self(rawValue: 1755)
    /// PBFT or PoS: a synchronised block's certificate does not verify, or the block does not extend the local chain.
    public static let consensusSyncBlockInvalid = Self(rawValue: 1756)

    /// PoS: a PROPOSAL came from a validator that is not the proposer of its height and round.
    public static let posNotProposer = Self(rawValue: 1770)
    /// PoS: a validator signed two different votes of one kind for the same height and round (equivocation); the second is ignored.
    public static let posConflictingVote = Self(rawValue: 1771)
    /// PoS: a proposer sent two different proposals for one height and round (equivocation); the second is ignored.
    public static let posConflictingProposal = Self(rawValue: 1772)
    /// PoS: a PROPOSAL's block does not match its hash, height or parent.
    public static let posBlockMismatch = Self(rawValue: 1773)
}
