// Identity and authentication (54xx).
extension AppError.Code {
    /// A login (or a TOTP enrolment with a password) was refused: unknown user, wrong password, or an account
    /// that is locked or disabled. One code and one message for all four, so the answer tells nothing about
    /// which accounts exist or their state; the identity log and `forgechain_logins_refused_total` carry the
    /// real reason (5401, 5402 or 5403).
    public static let invalidCredentials = Self(rawValue: 5401)
    /// Too many failed logins. Login answers it as ``invalidCredentials`` and logs it with
    /// `retryAfterSeconds`; a TOTP enrolment by token for a locked account answers it.
    public static let accountLocked = Self(rawValue: 5402)
    /// The account is disabled: its tokens are refused. Login answers it as ``invalidCredentials`` and logs it.
    public static let accountDisabled = Self(rawValue: 5403)
    /// The account has multi-factor authentication and no one-time code was given.
    public static let mfaRequired = Self(rawValue: 5404)
    /// The one-time code (TOTP, SMS or e-mail) is wrong, expired or already used.
    public static let invalidOneTimeCode = Self(rawValue: 5405)
    /// The access token is not one this node issued (bad format or signature).
    public static let tokenMalformed = Self(rawValue: 5406)
    /// The access token has expired.
    public static let tokenExpired = Self(rawValue: 5407)
    /// The access token was revoked (logout, password change, account disabled).
    public static let tokenRevoked = Self(rawValue: 5408)
    /// The caller's roles or factory scope do not allow the operation.
    public static let permissionDenied = Self(rawValue: 5409)
    /// A new password is too weak; the message says why.
    public static let weakPassword = Self(rawValue: 5410)
    /// A role name is not one of the built-in roles.
    public static let unknownRole = Self(rawValue: 5411)
    /// An account with that user name exists already.
    public static let accountExists = Self(rawValue: 5412)
    /// No account has that user name.
    public static let accountNotFound = Self(rawValue: 5413)
    /// The change would leave no enabled super-admin.
    public static let lastSuperAdmin = Self(rawValue: 5414)
    /// The identity database or the crypto below it failed.
    public static let identityBackend = Self(rawValue: 5415)
    /// A one-time code could not be delivered by the code sender.
    public static let codeDeliveryFailed = Self(rawValue: 5416)
    /// A user name is empty, too long or has characters outside `[A-Za-z0-9._@-]`.
    public static let invalidUserName = Self(rawValue: 5417)
    /// The change reaches factories outside the caller's own scope: granting a scope wider than the caller's,
    /// or changing an account whose scope is wider (the `scope` and `callerScope` details say which).
    public static let scopeBeyondCaller = Self(rawValue: 5418)
    /// A transaction's signing key is registered to no account on chain (the mempool refuses it with 4012 and this
    /// code in `cause`; a block that holds it records this failure); the `sender` detail gives the key in hex.
    public static let signerNotRegistered = Self(rawValue: 5419)
    /// A records operation names an uploader other than the account that signed the transaction.
    public static let uploaderNotSigner = Self(rawValue: 5420)
    /// A public key being registered on chain already signs for another account.
    public static let keyInUse = Self(rawValue: 5421)
}
