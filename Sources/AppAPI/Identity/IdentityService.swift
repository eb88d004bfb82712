import Foundation
import LedgerCore
import Logging
import Metrics

/// Administrator identity for a node (A-ID-1 … A-ID-4): accounts, password
/// login with lockout, multi-factor authentication (TOTP or a code sent by
/// SMS/e-mail), roles with a factory scope, and signed access tokens with
/// expiry and revocation.
///
/// ```swift
/// let identity = IdentityService(repository: repo, codeSender: outbox)
/// _ = try await identity.createAdministrator(user: "root", password: pw, roles: [.superAdmin], token: nil) // bootstrap
/// let session = try await identity.login(user: "root", password: pw, oneTimeCode: nil)
/// let admin = try await identity.authorize(token: session.token, permission: .queryRecords, factory: "F-KM-02")
/// ```
/// An actor: safe to call concurrently. No call blocks on the network
/// except code delivery through the ``CodeSender`` (its own timeout).
public actor IdentityService {
    /// Tunables, with their defaults and ranges.
    public struct Configuration: Sendable, Hashable {
        /// Token lifetime. Default 3,600 s; range 60...86,400.
        public var tokenLifetimeSeconds: UInt64 = 3_600
        /// Failed logins before the account locks. Default 5; range 1...100.
        public var maximumFailedLogins = 5
        /// First lockout length; it doubles with each further failure. Default 30 s; capped at 3,600 s.
        public var lockoutSeconds: UInt64 = 30
        /// Password hashing cost. Default `PasswordHasher()` (scrypt N = 2^17).
        public var hasher = PasswordHasher()
        /// Lifetime of an SMS/e-mail code. Default 300 s.
        public var codeLifetimeSeconds: UInt64 = 300
        /// TOTP steps accepted either side of now. Default 1.
        public var totpWindow: UInt64 = 1
        /// The defaults listed on each property.
        public init() {}
    }

    /// What a successful login returns.
    public struct Session: Sendable, Hashable {
        /// The access token to pass to every call (the Appendix A `token`).
        public var token: String
        /// The administrator logged in.
        public var user: String
        /// Their roles, sorted.
        public var roles: [Role]
        /// When the token expires.
        public var expiresAt: Timestamp
    }

    /// What TOTP enrolment returns: the secret and the URI to scan.
    public struct TOTPEnrollment: Sendable, Hashable {
        /// The TOTP secret in Base32, for manual entry in an authenticator app.
        public var secretBase32: String
        /// An `otpauth://totp/...` URI, for a QR code.
        public var provisioningURI: String
    }

    private let repository: any IdentityRepository
    private let codeSender: (any CodeSender)?
    private let configuration: Configuration
    private let clock: @Sendable () -> Timestamp
    private var pendingCodes: [String: (digest: [UInt8], expires: Timestamp)] = [:]
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let logins: Counter
    private let lockouts: Counter
    private var refusedLogins: [UInt32: Counter] = [:]
    /// Told of every revocation and account change, before the call that made it returns (live subscriptions end on it).
    let accessChanges = AccessChangeObservers()
    /// Where account changes go on chain (the platform's record service); nil for an identity service on its own.
    private var registry: (any AccessRegistry)?

    /// Writes every later account change on chain through `registry` before saving it (A-ID-3 enforced by the chain).
    func attach(_ registry: any AccessRegistry) {
        self.registry = registry
    }

    /// Gives every account that has no chain key yet (written before accounts had them) a new one, registers it on
    /// chain with the account's roles and scope (signed by the founding key), and saves it. Accounts with a key are
    /// left alone: the chain, not this database, decides what they may do.
    /// - Returns: The user names registered.
    func registerAccountsWithoutChainKeys() async throws -> [String] {
        guard let registry else { return [] }
        var done = [String]()
        for var account in try await repository.accounts() where account.chainKey == nil {
            let key = try PrivateKey.generate(.ed25519)
            try await registry.commit([.putAccount(user: account.user, roles: account.roles, scope: account.scope, enabled: account.enabled),
                                       .addKey(user: account.user, key: key.publicKey)], signedBy: nil)
            account.chainKey = key.rawRepresentation
            try await repository.save(account)
            logger.notice("administrator registered on chain", metadata: ["user": "\(account.user)", "by": "(genesis)"])
            done.append(account.user)
        }
        return done
    }

    /// - Parameters:
    ///   - repository: Required. Where accounts live (SQLite in a node).
    ///   - codeSender: Optional. Needed for SMS/e-mail codes.
    ///   - configuration: Optional, default ``Configuration/init()``.
    ///   - clock: Optional, default the system clock (tests pass a fixed one).
    ///   - logger: Optional, default `Logger(label: "forgechain.identity")`. Logins, refusals with their real reason
    ///     and code (callers get one answer, 5401, for every refused login), lockouts, TOTP enrolments and account
    ///     changes, with the user name; never a password, token, one-time code or TOTP secret.
    ///   - metricsFactory: Optional, default nil (the host's `MetricsSystem.factory`). Makes `forgechain_logins_total`,
    ///     `forgechain_logins_refused_total` (refused credential checks of logins and TOTP enrolments, dimension `code`:
    ///     the real reason, 5401–5405) and `forgechain_account_lockouts_total`.
    public init(repository: any IdentityRepository, codeSender: (any CodeSender)? = nil,
                configuration: Configuration = .init(), clock: @escaping @Sendable () -> Timestamp = { Timestamp.now() },
                logger: Logger = Logger(label: "forgechain.identity"), metricsFactory: (any MetricsFactory)? = nil) {
        self.repository = repository
        self.codeSender = codeSender
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        let factory = metricsFactory ?? MetricsSystem.factory
        self.metricsFactory = factory
        logins = Counter(label: "forgechain_logins_total", factory: factory)
        lockouts = Counter(label: "forgechain_account_lockouts_total", factory: factory)
    }

    /// What a credential check is for, as its log lines name it.
    private enum CredentialUse: String {
        case login = "login"
        case totpEnrolment = "TOTP enrolment"
    }

    /// Counts a refused credential check by its real code and logs it at notice with the reason; `user` only when
    /// the account exists (an unknown name may be a mistyped password).
    private func refused(_ code: AppError.Code, reason: String, user: String?, failedLogins: Int? = nil, retryAfterSeconds: UInt64? = nil,
                         for use: CredentialUse) {
        let counter: Counter
        if let c = refusedLogins[code.rawValue] {
            counter = c
        } else {
            counter = Counter(label: "forgechain_logins_refused_total", dimensions: [("code", String(code.rawValue))], factory: metricsFactory)
            refusedLogins[code.rawValue] = counter
        }
        counter.increment()
        var metadata: Logger.Metadata = ["code": "\(code.rawValue)", "reason": "\(reason)", "user": "\(user ?? "(unknown)")"]
        if let failedLogins { metadata["failedLogins"] = "\(failedLogins)" }
        if let retryAfterSeconds { metadata["retryAfterSeconds"] = "\(retryAfterSeconds)" }
        logger.notice("\(use.rawValue) refused", metadata: metadata)
    }

    // MARK: Accounts (A-ID-1)

    /// True while no administrator exists: the first super-admin may then be
    /// created without a token.
    public func needsBootstrap() async throws -> Bool {
        try await repository.accounts().isEmpty
    }

    /// Creates an administrator.
    /// - Parameters:
    ///   - user: Required. 3–64 characters of `[A-Za-z0-9._@-]`, case-insensitive unique.
    ///   - password: Required. See ``PasswordHasher/checkStrength(_:user:)``.
    ///   - roles: Required, non-empty.
    ///   - scope: Optional, default all factories. Must lie within the caller's own scope: a super-admin limited
    ///     to some factories grants only those (pass them; the default `.all` is refused with 5418).
    ///   - contact: Optional phone or e-mail for one-time codes; enables MFA by code.
    ///   - channel: Optional, required with `contact`.
    ///   - token: The caller's token (permission `admin.manage`); nil only for
    ///     the bootstrap super-admin on an empty database.
    /// - Throws: `AppError` 5409, 5410, 5412, 5417, `.scopeBeyondCaller` (5418) for a scope outside the caller's,
    ///   or token errors 5406–5408.
    public func createAdministrator(user: String, password: String, roles: Set<Role>, scope: FactoryScope = .all,
                                    contact: String? = nil, channel: CodeChannel? = nil, token: String?) async throws -> AdminSummary {
        let bootstrap = try await needsBootstrap()
        var granter: AdminAccount?
        if bootstrap {
            guard token != nil || roles.contains(.superAdmin) else {
                throw AppError(.permissionDenied, "the first administrator must be a super-admin", details: ["field": "roles"])
            }
            if let token { granter = try await authorize(token: token, permission: .manageAdministrators) }
        } else {
            guard let token else {
                throw AppError(.permissionDenied, "administrators exist already: creating one needs a token with admin.manage")
            }
            granter = try await authorize(token: token, permission: .manageAdministrators)
        }
        try Self.checkUserName(user)
        guard !roles.isEmpty else { throw AppError(.invalidFieldValue, "an administrator needs at least one role", details: ["field": "roles"]) }
        if let granter { try checkGrant(scope, to: user, by: granter) }
        guard try await repository.account(user) == nil else {
            throw AppError(.accountExists, "administrator '\(user)' exists already", details: ["user": user])
        }
        try PasswordHasher.checkStrength(password, user: user)
        if contact != nil, channel == nil {
            throw AppError(.missingField, "a contact needs a code channel (sms or email)", details: ["field": "channel"])
        }
        let now = clock()
        let chainKey = try PrivateKey.generate(.ed25519)
        let account = AdminAccount(user: user, roles: roles, scope: scope, enabled: true, contact: contact, codeChannel: contact == nil ? nil : channel,
                                   passwordHash: try configuration.hasher.hash(password), totpSecret: nil, lastTOTPCounter: nil,
                                   tokensValidAfter: now, failedLogins: 0, lockedUntil: nil, createdAt: now, chainKey: chainKey.rawRepresentation)
        // On chain first: an account the chain refuses is not created here either.
        try await registry?.commit([.putAccount(user: user, roles: roles, scope: scope, enabled: true), .addKey(user: user, key: chainKey.publicKey)],
                                   signedBy: try granter?.signingKey())
        try await repository.save(account)
        logger.info("administrator created", metadata: ["user": "\(user)", "roles": "\(roles.map(\.rawValue).sorted().joined(separator: ","))",
                                                        "scope": "\(scope.text)", "by": "\(granter?.user ?? "(bootstrap)")",
                                                        "bootstrap": "\(bootstrap)"])
        return account.summary
    }

    /// Changes roles, scope, contact or the enabled flag. Disabling revokes
    /// every token of the account. Change streams and delegates registered with the account's tokens
    /// (``RecordService/changes(token:)``) end when it is disabled, and see the new scope and roles from the
    /// next change on.
    ///
    /// The caller may change only accounts whose scope lies within its own, and grant only scopes within its own.
    /// - Throws: `AppError` 5409, 5413, 5414, `.scopeBeyondCaller` (5418), token errors.
    public func modifyAdministrator(user: String, roles: Set<Role>? = nil, scope: FactoryScope? = nil,
                                    contact: String?? = nil, channel: CodeChannel?? = nil, enabled: Bool? = nil,
                                    token: String) async throws -> AdminSummary {
        let caller = try await authorize(token: token, permission: .manageAdministrators)
        var account = try await existing(user)
        try checkReach(account, by: caller)
        if let scope { try checkGrant(scope, to: account.user, by: caller) }
        if let roles { guard !roles.isEmpty else { throw AppError(.invalidFieldValue, "an administrator needs at least one role", details: ["field": "roles"]) }
            account.roles = roles }
        if let scope { account.scope = scope }
        if let contact { account.contact = contact }
        if let channel { account.codeChannel = channel }
        if let enabled {
            account.enabled = enabled
            if !enabled {
                account.tokensValidAfter = clock()
            } else {
                account.failedLogins = 0
                account.lockedUntil = nil
            }
        }
        try await ensureASuperAdminRemains(replacing: account)
        if roles != nil || scope != nil || enabled != nil {
            try await registry?.commit([.putAccount(user: account.user, roles: account.roles, scope: account.scope, enabled: account.enabled)],
                                       signedBy: try caller.signingKey())
        }
        try await repository.save(account)
        accessChanges.send(.accountChanged(user: account.user, account: account))
        logger.info("administrator changed", metadata: ["user": "\(account.user)", "enabled": "\(account.enabled)",
                                                        "scope": "\(account.scope.text)", "by": "\(caller.user)"])
        return account.summary
    }

    /// Disables an account (its tokens, change streams and delegates stop working at once).
    /// - Throws: as ``modifyAdministrator(user:roles:scope:contact:channel:enabled:token:)``.
    public func disableAdministrator(user: String, token: String) async throws -> AdminSummary {
        try await modifyAdministrator(user: user, enabled: false, token: token)
    }

    /// Deletes an account (its change streams and delegates end at once). The caller may delete only accounts
    /// whose scope lies within its own.
    /// - Throws: `AppError` 5409, 5413, 5414, `.scopeBeyondCaller` (5418), token errors.
    public func deleteAdministrator(user: String, token: String) async throws {
        let caller = try await authorize(token: token, permission: .manageAdministrators)
        var account = try await existing(user)
        try checkReach(account, by: caller)
        account.enabled = false
        try await ensureASuperAdminRemains(replacing: account)
        try await registry?.commit([.deleteAccount(user: account.user)], signedBy: try caller.signingKey())
        try await repository.delete(user)
        accessChanges.send(.accountChanged(user: account.user, account: nil))
        logger.info("administrator deleted", metadata: ["user": "\(account.user)", "by": "\(caller.user)"])
    }

    /// Replaces the key an account signs its transactions with: a new Ed25519 key is registered to it on chain and
    /// every key the chain held for it revoked there, in one access transaction, before the new key is saved (sealed) here. From the
    /// commit on, every node refuses what the old key signs (`.signerNotRegistered`, 5419); its private half is
    /// overwritten in the identity database (`secure_delete`). For a key that may have leaked, and to register
    /// again an account the chain does not know (after a ledger was restored from a backup older than the account).
    /// - Parameters:
    ///   - user: Required. The account whose key is replaced (the caller's own or one within its scope).
    ///   - token: Required. A caller with `admin.manage` (a super-admin).
    /// - Returns: The new public key, as registered on chain.
    /// - Throws: `AppError` `.accountNotFound` (5413), `.scopeBeyondCaller` (5418), token and permission errors
    ///   (5406–5409), `.chainRejected` (5103) or the chain's refusal code when the change does not commit (nothing
    ///   changes then).
    /// - Note: Example: `let key = try await identity.rotateChainKey(user: "line-op", token: token)`.
    public func rotateChainKey(user: String, token: String) async throws -> PublicKey {
        let caller = try await authorize(token: token, permission: .manageAdministrators)
        var account = try await existing(user)
        try checkReach(account, by: caller)
        let key = try PrivateKey.generate(.ed25519)
        if let registry {
            // The chain may not know the account or its key (a ledger restored from an older backup): rotation
            // registers them again, so it is also the repair.
            let onChain = try await registry.chainAccount(account.user)
            var operations = [AccessOperation]()
            if onChain == nil {
                operations.append(.putAccount(user: account.user, roles: account.roles, scope: account.scope, enabled: account.enabled))
            }
            operations.append(.addKey(user: account.user, key: key.publicKey))
            // Every key the chain holds for the account is revoked, not only the one stored here: the chain's list is
            // the authority, and a key left over from an interrupted change must not keep signing either.
            operations += (onChain?.keys ?? []).map { .removeKey(user: account.user, key: $0) }
            try await registry.commit(operations, signedBy: try caller.signingKey())
        }
        account.chainKey = key.rawRepresentation
        try await repository.save(account)
        logger.notice("chain key rotated; the old key is revoked on chain", metadata: ["user": "\(account.user)", "by": "\(caller.user)"])
        return key.publicKey
    }

    /// Changes a password: one's own (with the current password) or, with `admin.manage`, that of an account
    /// whose scope lies within the caller's. Every token of the account is revoked, and the change streams and
    /// delegates registered with them end.
    /// A wrong current password counts toward the account's lockout, as a failed login does.
    /// - Throws: `AppError` 5401, 5409, 5410, 5413, `.scopeBeyondCaller` (5418), token errors.
    public func changePassword(user: String, currentPassword: String?, newPassword: String, token: String) async throws {
        let caller = try await authenticate(token: token)
        var account: AdminAccount
        if caller.user.lowercased() == user.lowercased() {
            account = caller
            guard let currentPassword, configuration.hasher.verify(currentPassword, against: account.passwordHash) else {
                // A token must not become a way to guess the password without the lockout.
                try await recordFailure(&account)
                throw AppError(.invalidCredentials, "the current password is wrong")
            }
        } else {
            guard caller.allows(.manageAdministrators) else {
                throw AppError(.permissionDenied, "'\(caller.user)' may not change another administrator's password")
            }
            account = try await existing(user)
            try checkReach(account, by: caller)
        }
        try PasswordHasher.checkStrength(newPassword, user: user)
        account.passwordHash = try configuration.hasher.hash(newPassword)
        account.tokensValidAfter = clock()
        try await repository.save(account)
        accessChanges.send(.accountChanged(user: account.user, account: account))
        logger.info("password changed; the account's tokens are revoked", metadata: ["user": "\(account.user)", "by": "\(caller.user)"])
    }

    /// Enrols TOTP for an account, or replaces its TOTP secret, with a session: the caller's own token, or the
    /// token of a super-admin (`admin.manage`) for an account whose scope lies within the caller's. From then on
    /// login needs a TOTP code. The enrolment is logged (user, by whom, whether a secret was replaced; never the
    /// secret).
    ///
    /// A token is a session that passed the second factor at login, if the account had one; use
    /// ``enrollTOTP(user:password:oneTimeCode:)`` without a session.
    /// - Parameters:
    ///   - user: Required. The account to enrol.
    ///   - token: Required. The caller's access token.
    /// - Returns: The new secret and its `otpauth://` URI, to show once.
    /// - Throws: `AppError` `.permissionDenied` (5409) for another account without `admin.manage`,
    ///   `.scopeBeyondCaller` (5418), `.accountNotFound` (5413), `.accountLocked` (5402) or `.accountDisabled` (5403)
    ///   when the account to enrol is locked or disabled, token errors 5406–5408.
    ///
    /// ```swift
    /// let session = try await identity.login(user: "qa-lead", password: pw, oneTimeCode: nil)
    /// let enrollment = try await identity.enrollTOTP(user: "qa-lead", token: session.token)
    /// let uri = enrollment.provisioningURI   // shown once, as a QR code for the authenticator app
    /// ```
    public func enrollTOTP(user: String, token: String) async throws -> TOTPEnrollment {
        let caller = try await authenticate(token: token)
        do {
            var account: AdminAccount
            if caller.user.lowercased() == user.lowercased() {
                account = caller
            } else {
                guard caller.allows(.manageAdministrators) else {
                    throw AppError(.permissionDenied, "'\(caller.user)' may not enrol TOTP for '\(user)'",
                                   details: ["permission": Permission.manageAdministrators.rawValue, "user": caller.user])
                }
                account = try await existing(user)
                try checkReach(account, by: caller)
            }
            let now = clock()
            if let until = account.lockedUntil, now < until {
                let seconds = (until.rawValue - now.rawValue + 999) / 1000
                throw AppError(.accountLocked, "account '\(account.user)' is locked after repeated failures; retry in \(seconds) s",
                               details: ["retryAfterSeconds": String(seconds), "user": account.user])
            }
            guard account.enabled else {
                throw AppError(.accountDisabled, "account '\(account.user)' is disabled", details: ["user": account.user])
            }
            return try await enrol(&account, by: caller.user, with: "token")
        } catch let error as AppError {
            logger.notice("TOTP enrolment refused", metadata: ["user": "\(user)", "by": "\(caller.user)", "code": "\(error.code.rawValue)"])
            throw error
        }
    }

    /// Enrols TOTP without a session, with the account's credentials: the password, plus a one-time code when
    /// the account has a second factor already (TOTP, or a code by SMS or e-mail: request it with
    /// ``requestLoginCode(user:password:)``). This is how a first-time user without a second factor enrols
    /// (bootstrap); with a second factor, the password alone can neither replace nor remove it.
    ///
    /// The checks are login's: a refusal counts toward the same lockout, and a locked or disabled account is
    /// refused; the answer is login's too (5401 for an unknown user, a wrong password, a locked or disabled
    /// account alike; the real reason goes to the log and `forgechain_logins_refused_total`). A success resets the
    /// failure count, as a login does. The enrolment is logged (never the secret).
    /// - Parameters:
    ///   - user: Required. The account to enrol.
    ///   - password: Required. Its password.
    ///   - oneTimeCode: Optional, default nil. Required when the account has a second factor: its current TOTP code
    ///     (to replace the secret) or the code sent by SMS or e-mail.
    /// - Returns: The new secret and its `otpauth://` URI, to show once.
    /// - Throws: `AppError` `.invalidCredentials` (5401), `.mfaRequired` (5404), `.invalidOneTimeCode` (5405).
    ///
    /// ```swift
    /// let first = try await identity.enrollTOTP(user: "root", password: pw)   // no second factor yet
    /// let totp = TOTP(secret: try Base32.decode(first.secretBase32))
    /// let now = UInt64(Date().timeIntervalSince1970)
    /// let replaced = try await identity.enrollTOTP(user: "root", password: pw, oneTimeCode: totp.code(at: now))
    /// ```
    /// - Note: Changed: it was `enrollTOTP(user:password:)`, which checked only the password and replaced an
    ///   existing secret; calls without a code still compile and keep working for accounts without a second factor.
    public func enrollTOTP(user: String, password: String, oneTimeCode: String? = nil) async throws -> TOTPEnrollment {
        var account = try await checkCredentials(user: user, password: password, oneTimeCode: oneTimeCode, for: .totpEnrolment)
        return try await enrol(&account, by: account.user, with: "password")
    }

    /// Gives `account` a fresh TOTP secret, saves it and logs the enrolment (never the secret).
    private func enrol(_ account: inout AdminAccount, by caller: String, with credential: String) async throws -> TOTPEnrollment {
        let replaced = account.totpSecret != nil
        let secret = SecureRandom.bytes(count: 20)
        account.totpSecret = secret
        account.lastTOTPCounter = nil
        try await repository.save(account)
        logger.notice("TOTP enrolled", metadata: ["user": "\(account.user)", "by": "\(caller)", "credential": "\(credential)",
                                                  "replaced": "\(replaced)"])
        let totp = TOTP(secret: secret)
        return TOTPEnrollment(secretBase32: Base32.encode(secret), provisioningURI: totp.provisioningURI(account: account.user))
    }

    /// Every account the caller may manage (those whose factory scope is inside its own), without secrets.
    public func listAdministrators(token: String) async throws -> [AdminSummary] {
        let caller = try await authorize(token: token, permission: .manageAdministrators)
        // An administrator limited to some factories sees only the accounts inside its own scope.
        return try await repository.accounts().filter { $0.scope.isWithin(caller.scope) }.map(\.summary)
    }

    // MARK: Login (A-ID-2, A-ID-4)

    /// Sends a one-time code by the account's channel, after checking the
    /// password. Use before ``login(user:password:oneTimeCode:)`` for
    /// accounts with a contact and no TOTP.
    /// - Throws: `AppError` 5401 (also for a locked or disabled account, as login), 5416.
    public func requestLoginCode(user: String, password: String) async throws {
        let account = try await checkPassword(user: user, password: password, for: .login)
        guard let contact = account.contact, let channel = account.codeChannel, let codeSender else {
            throw AppError(.invalidFieldValue, "account '\(user)' has no code channel", details: ["field": "contact"])
        }
        let code = String(format: "%06u", UInt32.random(in: 0..<1_000_000, using: &secureRandom))
        pendingCodes[account.user.lowercased()] = (HashAlgorithm.sha256.hash(Array(code.utf8)).bytes,
                                                   clock().adding(milliseconds: configuration.codeLifetimeSeconds * 1000))
        do { try await codeSender.send(code: code, to: contact, channel: channel) } catch {
            throw AppError(.codeDeliveryFailed, "could not send the code by \(channel.rawValue): \(error)")
        }
    }

    private var secureRandom = SecureRandomNumberGenerator()

    /// Logs in with user name and password, plus a one-time code when the
    /// account has MFA. Repeated failures lock the account with back-off.
    ///
    /// Every refusal of the user name and password answers alike, so that callers learn nothing about which
    /// accounts exist or their state: an unknown user, a wrong password, a locked account (even with the right
    /// password) and a disabled account all get 5401 "unknown user or wrong password". The real reason (with the
    /// user name, and `retryAfterSeconds` for a lockout) is logged at notice and counted in
    /// `forgechain_logins_refused_total` by its own code (5401, 5402, 5403).
    /// - Parameters:
    ///   - user: Required. The user name (case-insensitive).
    ///   - password: Required.
    ///   - oneTimeCode: Required when the account has MFA (TOTP, SMS or e-mail code), else ignored.
    /// - Returns: The session with its access token.
    /// - Throws: `AppError` 5401 refused credentials (see above), 5404 MFA required, 5405 bad code.
    ///
    /// ```swift
    /// let session = try await identity.login(user: "root", password: pw, oneTimeCode: otp)
    /// ```
    public func login(user: String, password: String, oneTimeCode: String?) async throws -> Session {
        let account = try await checkCredentials(user: user, password: password, oneTimeCode: oneTimeCode, for: .login)
        try await repository.save(account)
        let now = clock()
        let token = AccessToken(id: Hex.encode(SecureRandom.bytes(count: 16)), user: account.user, issuedAt: now,
                                expiresAt: now.adding(milliseconds: min(86_400, max(60, configuration.tokenLifetimeSeconds)) * 1000))
        let session = Session(token: token.encoded(key: try await repository.tokenSecret()), user: account.user,
                              roles: account.roles.sorted(), expiresAt: token.expiresAt)
        logins.increment()
        logger.info("login succeeded", metadata: ["user": "\(account.user)", "mfa": "\(account.hasMFA)"])
        return session
    }

    /// Revokes a token (logout); the change streams and delegates registered with it end at once.
    /// - Throws: `AppError` `.tokenMalformed` (5406).
    public func logout(token: String) async throws {
        let t = try AccessToken.decode(token, key: try await repository.tokenSecret())
        try await repository.revoke(tokenID: t.id, expiresAt: t.expiresAt)
        accessChanges.send(.tokenRevoked(id: t.id))
        logger.info("logout", metadata: ["user": "\(t.user)"])
    }

    /// The account behind a valid token.
    /// - Throws: `AppError` 5406 malformed, 5407 expired, 5408 revoked, 5403 disabled.
    public func authenticate(token: String) async throws -> AdminAccount {
        try await verified(token: token).account
    }

    /// The account and the decoded token behind a valid token.
    private func verified(token: String) async throws -> (account: AdminAccount, token: AccessToken) {
        let t = try AccessToken.decode(token, key: try await repository.tokenSecret())
        guard clock() < t.expiresAt else {
            throw AppError(.tokenExpired, "access token expired at \(RecordTime(millisecondsSince1970: t.expiresAt.rawValue))",
                           details: ["field": "token"])
        }
        guard try await !repository.isRevoked(tokenID: t.id), let account = try await repository.account(t.user),
              t.issuedAt >= account.tokensValidAfter else {
            throw AppError(.tokenRevoked, "access token was revoked", details: ["field": "token"])
        }
        guard account.enabled else {
            throw AppError(.accountDisabled, "account '\(account.user)' is disabled", details: ["user": account.user])
        }
        return (account, t)
    }

    /// The account behind a valid token that holds `permission` (for
    /// `factory`, when given).
    /// - Throws: token errors, or `AppError` `.permissionDenied` (5409).
    public func authorize(token: String, permission: Permission, factory: String? = nil) async throws -> AdminAccount {
        try await authorized(token: token, permission: permission, factory: factory).account
    }

    /// ``authorize(token:permission:factory:)`` with the decoded token: what a live subscription keeps, so that
    /// a revocation of the token or a change of the account reaches it (``accessChanges``).
    func authorized(token: String, permission: Permission, factory: String? = nil) async throws -> (account: AdminAccount, token: AccessToken) {
        let (account, t) = try await verified(token: token)
        guard account.allows(permission, factory: factory) else {
            let scope = factory.map { " for factory '\($0)'" } ?? ""
            throw AppError(.permissionDenied, "'\(account.user)' lacks \(permission.rawValue)\(scope)",
                           details: ["permission": permission.rawValue, "user": account.user] .merging(factory.map { ["factory": $0] } ?? [:]) { a, _ in a })
        }
        return (account, t)
    }

    // MARK: Internals

    static func checkUserName(_ user: String) throws(AppError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")
        guard (3...64).contains(user.count), user.allSatisfy({ allowed.contains($0) }) else {
            throw AppError(.invalidUserName, "user name must be 3–64 characters of A-Z a-z 0-9 . _ @ -", details: ["field": "user"])
        }
    }

    private func existing(_ user: String) async throws -> AdminAccount {
        guard let a = try await repository.account(user) else {
            throw AppError(.accountNotFound, "no administrator '\(user)'", details: ["user": user])
        }
        return a
    }

    /// The one answer to every refused user name and password (see ``AppError/Code/invalidCredentials``).
    private static var credentialsRefused: AppError { AppError(.invalidCredentials, "unknown user or wrong password") }

    /// The account when `password` is right and the account is neither locked nor disabled; a wrong password counts
    /// toward the lockout. Every refusal throws ``credentialsRefused`` and logs the real reason.
    private func checkPassword(user: String, password: String, for use: CredentialUse) async throws -> AdminAccount {
        guard var account = try await repository.account(user) else {
            // Spend the same work as a real check so timing does not reveal user names.
            _ = configuration.hasher.verify(password, against: "$scrypt$ln=\(configuration.hasher.logN),r=\(configuration.hasher.r),p=\(configuration.hasher.p)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            refused(.invalidCredentials, reason: "unknown user", user: nil, for: use)
            throw Self.credentialsRefused
        }
        // Verified whatever the account's state, so that timing does not tell a locked or disabled account either.
        let passwordMatches = configuration.hasher.verify(password, against: account.passwordHash)
        let now = clock()
        if let until = account.lockedUntil, now < until {
            refused(.accountLocked, reason: "account locked", user: account.user, failedLogins: account.failedLogins,
                    retryAfterSeconds: (until.rawValue - now.rawValue + 999) / 1000, for: use)
            throw Self.credentialsRefused
        }
        guard account.enabled else {
            refused(.accountDisabled, reason: "account disabled", user: account.user, for: use)
            throw Self.credentialsRefused
        }
        guard passwordMatches else {
            try await recordFailure(&account)
            refused(.invalidCredentials, reason: "wrong password", user: account.user, failedLogins: account.failedLogins, for: use)
            throw Self.credentialsRefused
        }
        return account
    }

    /// ``checkPassword(user:password:for:)``, then the one-time code when the account has a second factor (a wrong
    /// code counts toward the lockout). Returns the account with its failures cleared and its hash renewed when due,
    /// for the caller to save.
    private func checkCredentials(user: String, password: String, oneTimeCode: String?, for use: CredentialUse) async throws -> AdminAccount {
        var account = try await checkPassword(user: user, password: password, for: use)
        if account.hasMFA {
            guard let code = oneTimeCode?.trimmingCharacters(in: .whitespaces), !code.isEmpty else {
                refused(.mfaRequired, reason: "one-time code missing", user: account.user, for: use)
                throw AppError(.mfaRequired, "account '\(account.user)' needs a one-time code", details: ["user": account.user])
            }
            guard try await checkOneTimeCode(code, account: &account) else {
                try await recordFailure(&account)
                refused(.invalidOneTimeCode, reason: "wrong one-time code", user: account.user, failedLogins: account.failedLogins, for: use)
                throw AppError(.invalidOneTimeCode, "the one-time code is wrong, expired or already used")
            }
        }
        account.failedLogins = 0
        account.lockedUntil = nil
        if configuration.hasher.needsRehash(account.passwordHash) {
            account.passwordHash = try configuration.hasher.hash(password)
        }
        return account
    }

    /// Refuses a grant of `scope` beyond the caller's own (5418), and logs the refusal.
    private func checkGrant(_ scope: FactoryScope, to user: String, by caller: AdminAccount) throws(AppError) {
        guard scope.isWithin(caller.scope) else {
            logger.notice("scope beyond the caller refused", metadata: ["user": "\(user)", "by": "\(caller.user)", "scope": "\(scope.text)",
                                                                        "callerScope": "\(caller.scope.text)"])
            throw AppError(.scopeBeyondCaller,
                           "'\(caller.user)' may grant only factories within its own scope \(caller.scope.text), not scope \(scope.text) to '\(user)'",
                           details: ["field": "scope", "user": user, "scope": scope.text, "callerScope": caller.scope.text])
        }
    }

    /// Refuses a change to an account whose scope reaches beyond the caller's (5418), and logs the refusal.
    private func checkReach(_ account: AdminAccount, by caller: AdminAccount) throws(AppError) {
        guard account.scope.isWithin(caller.scope) else {
            logger.notice("scope beyond the caller refused", metadata: ["user": "\(account.user)", "by": "\(caller.user)",
                                                                        "scope": "\(account.scope.text)", "callerScope": "\(caller.scope.text)"])
            throw AppError(.scopeBeyondCaller,
                           "'\(caller.user)' (scope \(caller.scope.text)) may not change '\(account.user)', whose scope \(account.scope.text) reaches beyond it",
                           details: ["user": account.user, "scope": account.scope.text, "callerScope": caller.scope.text])
        }
    }

    private func recordFailure(_ account: inout AdminAccount) async throws {
        account.failedLogins += 1
        let over = account.failedLogins - max(1, configuration.maximumFailedLogins)
        if over >= 0 {
            let seconds = min(3_600, configuration.lockoutSeconds << UInt64(min(over, 20)))
            account.lockedUntil = clock().adding(milliseconds: seconds * 1000)
            lockouts.increment()
            logger.warning("account locked after repeated failed logins", metadata: [
                "user": "\(account.user)", "failedLogins": "\(account.failedLogins)", "lockedSeconds": "\(seconds)",
            ])
        }
        try await repository.save(account)
    }

    private func checkOneTimeCode(_ code: String, account: inout AdminAccount) async throws -> Bool {
        if let secret = account.totpSecret {
            let now = clock().rawValue / 1000
            guard let counter = TOTP(secret: secret).matchingCounter(code, at: now, window: configuration.totpWindow) else { return false }
            if let last = account.lastTOTPCounter, counter <= last { return false }   // replay
            account.lastTOTPCounter = counter
            return true
        }
        let key = account.user.lowercased()
        guard let pending = pendingCodes[key], clock() < pending.expires,
              constantTimeEquals(HashAlgorithm.sha256.hash(Array(code.utf8)).bytes, pending.digest) else { return false }
        pendingCodes[key] = nil
        return true
    }

    private func ensureASuperAdminRemains(replacing changed: AdminAccount) async throws {
        let others = try await repository.accounts().filter { $0.user.lowercased() != changed.user.lowercased() }
        let remaining = others + [changed]
        guard remaining.contains(where: { $0.enabled && $0.roles.contains(.superAdmin) }) else {
            throw AppError(.lastSuperAdmin, "the change would leave no enabled super-admin", details: ["user": changed.user])
        }
    }
}
