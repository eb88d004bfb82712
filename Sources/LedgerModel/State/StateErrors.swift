import LedgerCrypto

// World state: the sparse Merkle tree, its node store and its proofs (1600–1649).
extension LedgerError.Code {
    /// The node store has no node for a digest that a state root references (the `digest` detail names it).
    public static let stateNodeMissing = Self(rawValue: 1601)
    /// A state node read from the store does not decode, is not canonical, does not hash to the digest it is stored under, or sits where its key path cannot be (the `digest` detail names it).
    public static let stateNodeCorrupted = Self(rawValue: 1602)
    /// A state proof is malformed or not canonical: depth above 256, bitmap length or padding, sibling count, an explicit empty sibling, or a terminal leaf that does not fit the key's path.
    public static let stateProofInvalid = Self(rawValue: 1603)
    /// A well-formed state proof leads to another root than the trusted one.
    public static let stateProofRootMismatch = Self(rawValue: 1604)
    /// A state proof is for another key than the one the verifier asked about.
    public static let stateProofKeyMismatch = Self(rawValue: 1605)
    /// A state proof proves another value (or presence instead of absence, or the reverse) than the verifier expected.
    public static let stateProofValueMismatch = Self(rawValue: 1606)
    /// A state key is longer than ``StateTree/maximumKeyLength`` (1,024 bytes).
    public static let stateKeyTooLarge = Self(rawValue: 1607)
    /// A state value is longer than ``StateTree/maximumValueLength`` (16 MiB).
    public static let stateValueTooLarge = Self(rawValue: 1608)
    /// The node store failed to read a node for a reason of its own (the `underlying` detail carries its error).
    public static let stateStoreFailure = Self(rawValue: 1609)
}
