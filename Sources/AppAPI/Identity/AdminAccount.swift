import LedgerCore

/// An administrator account (A-ID-1). Secrets (password hash, TOTP secret)
/// live only in the node's identity database, never on chain.
public struct AdminAccount: Sendable, Hashable {
    /// Unique user name: 3–64 characters of `[A-Za-z0-9._@-]`.
    public var user: String
    /// The roles granted (RBAC, A-ID-3).
    public var roles: Set<Role>
    /// The factories the account may see and change (A-Q-2).
    public var scope: FactoryScope
    /// False when disabled: login and every token are refused.
    public var enabled: Bool
    /// Phone number or e-mail address for one-time codes (optional).
    public var contact: String?
    /// The channel for one-time codes when `contact` is set.
    public var codeChannel: CodeChannel?
    var passwordHash: String
    /// Base32 TOTP secret once enrolled.
    var totpSecret: [UInt8]?
    /// The last TOTP time step accepted (replay protection).
    var lastTOTPCounter: UInt64?
    /// Tokens issued before this instant are invalid (password change, disable).
    var tokensValidAfter: Timestamp
    var failedLogins: Int
    var lockedUntil: Timestamp?
    /// When the account was created.
    public var createdAt: Timestamp
    /// The Ed25519 private key (32 bytes) the account signs its transactions with; its public key is registered to
    /// the account on chain (``ChainAccount``). Sealed at rest like the TOTP secret. Nil only for an account
    /// written before accounts had chain keys, until the platform registers one.
    var chainKey: [UInt8]?

    /// Whether a second factor is required at login.
    public var hasMFA: Bool { totpSecret != nil || contact != nil }

    /// The union of the roles' permissions.
    public var permissions: Set<Permission> { roles.reduce(into: []) { $0.formUnion($1.permissions) } }

    /// Whether the account may do `permission`, for `factory` when given.
    public func allows(_ permission: Permission, factory: String? = nil) -> Bool {
        guard enabled, permissions.contains(permission) else { return false }
        if let factory { return scope.contains(factory) }
        return true
    }

    /// The public view (no secrets): what `admin list` shows.
    public var summary: AdminSummary {
        AdminSummary(user: user, roles: roles.sorted(), scope: scope.text, enabled: enabled,
                     mfa: totpSecret != nil ? "totp" : (codeChannel?.rawValue ?? "none"), createdAt: createdAt.rawValue)
    }
}

/// An account without its secrets.
public struct AdminSummary: Sendable, Hashable, Codable {
    /// The user name.
    public var user: String
    /// The roles, sorted.
    public var roles: [Role]
    /// The factory scope as text: `all` or comma-separated factory UIDs.
    public var scope: String
    /// False when disabled.
    public var enabled: Bool
    /// The second factor: `totp`, `sms`, `email` or `none`.
    public var mfa: String
    /// Creation time, milliseconds since 1970.
    public var createdAt: UInt64
}

/// Where the identity service keeps accounts and revocations. The node's
/// implementation is SQLite in its own database; tests may use
/// ``InMemoryIdentityRepository``.
public protocol IdentityRepository: Sendable {
    /// The account named `user` (case-insensitive), or nil.
    func account(_ user: String) async throws -> AdminAccount?
    /// Every account, by user name.
    func accounts() async throws -> [AdminAccount]
    /// Inserts or replaces the account.
    func save(_ account: AdminAccount) async throws
    /// Removes the account; nothing when there is none.
    func delete(_ user: String) async throws
    /// Records a revoked token ID until `expiresAt` (then it may be forgotten).
    func revoke(tokenID: String, expiresAt: Timestamp) async throws
    /// Whether the token ID was revoked and has not expired.
    func isRevoked(tokenID: String) async throws -> Bool
    /// The node's 32-byte token signing secret, created on first use.
    func tokenSecret() async throws -> [UInt8]
}

/// An in-memory identity repository (tests, demos, in-memory clusters).
public actor InMemoryIdentityRepository: IdentityRepository {
    private var byUser: [String: AdminAccount] = [:]
    private var revoked: [String: Timestamp] = [:]
    private var secret: [UInt8]?

    /// An empty repository.
    public init() {}

    /// The account named `user` (case-insensitive), or nil.
    public func account(_ user: String) -> AdminAccount? { byUser[user.lowercased()] }
    /// Every account, by user name.
    public func accounts() -> [AdminAccount] { byUser.values.sorted { $0.user < $1.user } }
    public func save(_ account: AdminAccount) { byUser[account.user.lowercased()] = account }
    /// Removes the account; nothing when there is none.
    public func delete(_ user: String) { byUser[user.lowercased()] = nil }
    public func revoke(tokenID: String, expiresAt: Timestamp) { revoked[tokenID] = expiresAt }
    /// Whether the token ID was revoked.
    public func isRevoked(tokenID: String) -> Bool { revoked[tokenID] != nil }
    public func tokenSecret() -> [UInt8] {
        if let secret { return secret }
        let s = SecureRandom.bytes(count: 32)
        secret = s
        return s
    }
}
