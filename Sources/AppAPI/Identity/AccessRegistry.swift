import LedgerCore

/// Where the identity service writes the account changes the chain enforces (``ChainAccount``): the platform's
/// record service, which signs an access transaction (``AccessExecutor``) with the acting administrator's chain key
/// (or the genesis key for the first one) and waits until it commits.
protocol AccessRegistry: Sendable {
    /// Commits `operations` in one access transaction signed by `signer` (nil: the chain's founding key).
    /// - Throws: `AppError` with the refusal's code (the receipt's status, or `.chainRejected` 5103 when the node
    ///   refused it); nothing changed on chain then.
    func commit(_ operations: [AccessOperation], signedBy signer: PrivateKey?) async throws

    /// The account `user` as the chain holds it, or nil.
    func chainAccount(_ user: String) async throws -> ChainAccount?
}

extension AdminAccount {
    /// The account's chain signing key.
    /// - Throws: `AppError` `.permissionDenied` (5409) for an account that has none yet.
    func signingKey() throws -> PrivateKey {
        guard let chainKey else {
            throw AppError(.permissionDenied, "'\(user)' has no key registered on chain yet", details: ["user": user])
        }
        return try PrivateKey(scheme: .ed25519, rawRepresentation: chainKey)
    }
}
