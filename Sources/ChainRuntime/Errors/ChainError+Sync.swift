// Sync and recovery (4100–4149).
extension ChainError.Code {
    /// A block received in a sync batch failed validation (K-V-1..4) or did not link; `details["cause"]` holds the LedgerError code.
    public static let syncBlockInvalid = Self(rawValue: 4100)
    /// A block received in a sync batch carries a certificate that does not verify; `details["cause"]` holds the LedgerError code.
    public static let syncCertificateInvalid = Self(rawValue: 4101)
    /// No connected peer is ahead of this node, or the named peer is not connected.
    public static let noSyncPeer = Self(rawValue: 4102)
    /// A resync did not reach the target height within the timeout.
    public static let syncTimeout = Self(rawValue: 4103)
    /// A rollback height is above the node's head.
    public static let rollbackHeightInvalid = Self(rawValue: 4104)
    /// Restoring a backup failed (the backup is damaged or unreadable); `details["cause"]` holds the LedgerError code.
    public static let restoreFailed = Self(rawValue: 4105)
}
