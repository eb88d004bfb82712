import LedgerCrypto

// Consensus, configuration and commit certificates (1700–1749).
// Engine-specific bands: PBFT and PoS 1750–1799, PoW 1800–1819.
extension LedgerError.Code {
    /// A consensus configuration field is out of its documented range; `details["field"]` names it.
    public static let invalidConsensusConfig = Self(rawValue: 1701)
    /// A scheduled configuration names a different engine than the chain's.
    public static let consensusEngineMismatch = Self(rawValue: 1702)
    /// A configuration file could not be read, written or parsed as JSON.
    public static let consensusConfigFile = Self(rawValue: 1703)
    /// A scheduled configuration change is at height 0, or not after the previous change.
    public static let consensusScheduleOrder = Self(rawValue: 1704)
    /// Two validators share a node ID or a public key.
    public static let duplicateValidator = Self(rawValue: 1705)
    /// A validator set is empty.
    public static let emptyValidatorSet = Self(rawValue: 1706)
    /// A validator has zero stake, or the total stake overflows 64 bits.
    public static let invalidStake = Self(rawValue: 1707)
    /// A node ID is not in the validator set.
    public static let unknownValidator = Self(rawValue: 1708)

    /// A commit certificate names another height, block hash or kind than the block it is checked against.
    public static let certificateBlockMismatch = Self(rawValue: 1710)
    /// A certificate vote is signed by a node that is not in the validator set.
    public static let certificateUnknownSigner = Self(rawValue: 1711)
    /// A certificate holds two votes from the same node.
    public static let certificateDuplicateSigner = Self(rawValue: 1712)
    /// A certificate vote's signature does not verify under the signer's key.
    public static let certificateSignatureInvalid = Self(rawValue: 1713)
    /// A certificate's votes do not reach the quorum (count or stake) its kind requires.
    public static let certificateQuorumNotReached = Self(rawValue: 1714)
    /// A PoW certificate's block hash does not meet the stated difficulty, or the difficulty is below the minimum.
    public static let certificateProofOfWorkInvalid = Self(rawValue: 1715)
    /// A certificate's kind is not one this build knows, or its encoding is malformed.
    public static let certificateMalformed = Self(rawValue: 1716)
    /// A Raft certificate's block was produced by a key that is not a member.
    public static let certificateLeaderMissing = Self(rawValue: 1717)

    /// A consensus message could not be decoded (unknown type or bad fields).
    public static let malformedConsensusMessage = Self(rawValue: 1720)
    /// A consensus message's signature does not verify under the sender's key.
    public static let consensusMessageSignatureInvalid = Self(rawValue: 1721)
    /// A consensus message came from a node outside the validator set.
    public static let consensusMessageFromUnknownNode = Self(rawValue: 1722)
    /// A proposed block failed validation (K-V-1..4) and was not voted for; `details["cause"]` holds the validator's code.
    public static let proposalRejected = Self(rawValue: 1723)
    /// Persisted consensus state could not be decoded on restart.
    public static let consensusStateCorrupt = Self(rawValue: 1724)
    /// An input does not apply in the engine's current role (for example a proposal to a node that is not the leader).
    public static let consensusInputIgnored = Self(rawValue: 1725)

    /// Raft: a log entry conflicts with a committed entry (a safety violation; never expected).
    public static let raftCommittedEntryConflict = Self(rawValue: 1730)
    /// Raft: an append acknowledgement's signature is missing or does not verify.
    public static let raftAckSignatureInvalid = Self(rawValue: 1731)
}
