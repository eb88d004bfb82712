// Record encoding (50xx, continued).
extension AppError.Code {
    /// A record's canonical encoding (from a block or a receipt) does not decode; `field` names the part.
    public static let malformedRecordEncoding = Self(rawValue: 5013)
}

// Upload and confirmation (51xx).
extension AppError.Code {
    /// A record with this ID is already on chain (use update to change it); `recordID` names it.
    public static let recordExists = Self(rawValue: 5101)
    /// The chain did not commit the transaction by its deadline (submission time plus the timeout) and never
    /// will: the deadline is part of the signed transaction, and a block stamped after it fails the transaction
    /// (receipt 5108) without writing. Nothing changed; the records may be sent again. `deadline` gives the time
    /// in milliseconds since 1970, `transactionID` the transaction.
    public static let confirmationTimeout = Self(rawValue: 5102)
    /// The chain rejected or failed the transaction; `cause` holds the chain's code, and `reason` the executor's when the node refused
    /// the signer (cause 4012: 5419 for a key registered to no account, 5403 for a disabled one).
    public static let chainRejected = Self(rawValue: 5103)
    /// An upload receipt does not verify: its proof, header, certificate or record digest is wrong; `check` names the step.
    public static let receiptInvalid = Self(rawValue: 5104)
    /// A batch is empty or larger than the limit (100,000 records).
    public static let invalidBatch = Self(rawValue: 5105)
    /// A records transaction body does not decode in the records format; `field` names the part.
    public static let malformedRecordTransaction = Self(rawValue: 5106)
    /// The platform is closed or its node stopped.
    public static let platformClosed = Self(rawValue: 5107)
    /// On chain: a records transaction reached a block stamped after its deadline and failed without writing
    /// (the receipt status of a transaction whose caller was answered 5102).
    public static let deadlineExceeded = Self(rawValue: 5108)
    /// The deadline passed without a commit, but the chain has not yet moved past the deadline (no quorum, or a
    /// node that stopped producing blocks), so a block proposed before the deadline may still commit it. Nothing
    /// has changed yet: query the record (or wait on the handle again) before sending it again. Also what
    /// `SubmissionHandle.wait(timeout:)` throws when its own wait ends first.
    public static let confirmationUndecided = Self(rawValue: 5109)
}

// Query (52xx).
extension AppError.Code {
    /// A query parameter is out of range (limit, time range, empty filter value); `field` names it.
    public static let invalidQuery = Self(rawValue: 5201)
    /// A pagination cursor is malformed or belongs to another query.
    public static let invalidCursor = Self(rawValue: 5202)
    /// No record with this ID (or no such version).
    public static let recordNotFound = Self(rawValue: 5203)
    /// The record index (SQLite) failed; `cause` holds the storage code. Rebuild it with `forgechain records reindex`.
    public static let indexFailure = Self(rawValue: 5204)
    /// A record the index points at does not read back from the ledger as indexed: its bytes do not hash to the
    /// digest stored beside them, do not decode, or name another record, or the transaction is gone. The ledger is
    /// damaged or the index is stale; `height` and `transactionIndex` say where. Check the ledger (`forgechain ledger
    /// verify`), then rebuild the index with `forgechain records reindex`.
    public static let recordDamaged = Self(rawValue: 5205)
}

// Update (53xx).
extension AppError.Code {
    /// The update's condition does not hold (expected version or field predicate); nothing changed.
    public static let conditionFailed = Self(rawValue: 5301)
    /// The update is malformed (no fields, bad condition).
    public static let invalidUpdate = Self(rawValue: 5302)
    /// The update would change the record's ID, kind or factory.
    public static let immutableField = Self(rawValue: 5303)
}
