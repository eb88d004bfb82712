// Node and consensus driver (4050–4099).
extension ChainError.Code {
    /// A node configuration field is out of its documented range; `details["field"]` names it.
    public static let invalidNodeConfiguration = Self(rawValue: 4050)
    /// The node is stopped (or stopping); it accepts no more work and pending waits end with this error.
    public static let nodeStopped = Self(rawValue: 4051)
    /// A submitted transaction was not committed within the timeout; it may still be committed later.
    public static let commitTimeout = Self(rawValue: 4052)
    /// The store failed while the node committed or read a block; `details["cause"]` holds the LedgerError code.
    public static let storeFailure = Self(rawValue: 4053)
    /// A block to commit failed re-execution (its state or receipt root differs, or a nonce is out of order); `details["cause"]` holds the LedgerError code.
    public static let executionFailed = Self(rawValue: 4054)
    /// The consensus engine could not be started or restarted from the store; `details["cause"]` holds the LedgerError code.
    public static let engineStartFailed = Self(rawValue: 4055)
    /// The engine committed a block that differs from the one the store holds at that height (a fork; never expected).
    public static let commitConflict = Self(rawValue: 4056)
    /// The store holds another chain (its genesis differs from the configured one).
    public static let genesisMismatch = Self(rawValue: 4057)
}
