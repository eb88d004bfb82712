import LedgerCore

/// An administrator as the chain knows it (A-ID-3 enforced by every node): the roles, the factory scope, whether it
/// is enabled and the public keys allowed to sign for it. Changed only by ``AccessExecutor`` transactions; read by
/// the records executor for every transaction it runs. No secret is on chain: passwords and second factors stay in
/// the node's identity database.
///
/// **State**: `acl/user/<lower-cased user>` → RLP `[1, user, [role…], all, [factory…], enabled, [[scheme, key]…]]`
/// (`all` and `enabled` are 0 or 1), and for each key `acl/key/<scheme>/<raw public key>` → RLP `[user]`.
///
/// ```swift
/// if let admin = try ChainAccount.signer(of: tx, state: reader) { print(admin.user, admin.roles) }
/// ```
public struct ChainAccount: Hashable, Sendable {
    /// The user name, as created (3–64 characters of `[A-Za-z0-9._@-]`; compared without case).
    public var user: String
    /// The roles granted.
    public var roles: Set<Role>
    /// The factories the roles apply to.
    public var scope: FactoryScope
    /// False when disabled: its keys sign nothing the chain accepts.
    public var enabled: Bool
    /// The keys allowed to sign for the account, in the order they were added.
    public var keys: [PublicKey]

    /// Parameters as the properties of the same names.
    public init(user: String, roles: Set<Role>, scope: FactoryScope, enabled: Bool = true, keys: [PublicKey] = []) {
        self.user = user
        self.roles = roles
        self.scope = scope
        self.enabled = enabled
        self.keys = keys
    }

    /// Whether the account may do `permission` for `factory` (and, given `kind`, for that record kind).
    public func allows(_ permission: Permission, factory: String? = nil, kind: RecordKind? = nil) -> Bool {
        guard enabled, roles.contains(where: { $0.permissions.contains(permission) }) else { return false }
        if let kind, !roles.contains(where: { $0.recordKinds.contains(kind) }) { return false }
        if let factory { return scope.contains(factory) }
        return true
    }

    /// The state key of `user`'s account.
    public static func key(user: String) -> [UInt8] { Array("acl/user/".utf8) + Array(user.lowercased().utf8) }

    /// The state key binding `publicKey` to an account.
    public static func key(publicKey: PublicKey) -> [UInt8] {
        Array("acl/key/\(publicKey.scheme.rawValue)/".utf8) + publicKey.rawRepresentation
    }

    /// The value stored under ``key(publicKey:)``: RLP `[user]`.
    static func binding(_ user: String) -> [UInt8] {
        var w = RLPWriter(capacity: 8 + user.utf8.count)
        w.list { w in w.string(user) }
        return w.bytes
    }

    /// The account `publicKey` signs for, or nil when the key is registered to none.
    /// - Throws: `LedgerError` store errors (15xx) from `state`, `.malformedPayload` (1901) when the stored entry is damaged.
    public static func account(signedBy publicKey: PublicKey, state: any StateReader) throws(LedgerError) -> ChainAccount? {
        guard let bound = try state.value(forKey: key(publicKey: publicKey)) else { return nil }
        let user = try RLPReader.read(bound) { (r) throws(LedgerError) in
            var f = try r.list("keyBinding", count: 1)
            return try f.string("keyBinding.user")
        }
        return try account(user: user, state: state)
    }

    /// The account named `user` (without case), or nil.
    /// - Throws: as ``account(signedBy:state:)``.
    public static func account(user: String, state: any StateReader) throws(LedgerError) -> ChainAccount? {
        guard let bytes = try state.value(forKey: key(user: user)) else { return nil }
        return try ChainAccount(decoding: bytes)
    }

    /// The canonical encoding stored under ``key(user:)``.
    public var encoded: [UInt8] {
        var w = RLPWriter(capacity: 64 + keys.count * 48)
        w.list { w in
            w.uint(1)
            w.string(user)
            Self.writeGrant(roles: roles, scope: scope, enabled: enabled, to: &w)
            w.list { w in
                for k in keys {
                    w.list { w in
                        w.string(k.scheme.rawValue)
                        w.byteString(k.rawRepresentation)
                    }
                }
            }
        }
        return w.bytes
    }

    /// Decodes ``encoded``.
    /// - Throws: `LedgerError` `.malformedPayload` (1901) or RLP codes (10xx), naming the field; key format codes (13xx).
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        self = try RLPReader.read(bytes) { (r) throws(LedgerError) -> ChainAccount in
            var f = try r.list("account", count: 7)
            guard try f.uint64("account.version") == 1 else {
                throw LedgerError(.malformedPayload, "chain account of an unknown version", details: ["field": "account.version"])
            }
            let user = try f.string("account.user")
            let (roles, scope, enabled) = try Self.readGrant(&f, field: "account")
            var keyList = try f.list("account.keys")
            var keys = [PublicKey]()
            while !keyList.isAtEnd {
                var k = try keyList.list("account.key", count: 2)
                let schemeName = try k.string("account.key.scheme")
                guard let scheme = SignatureScheme(rawValue: schemeName) else {
                    throw LedgerError(.malformedPayload, "chain account key scheme '\(schemeName)' is unknown", details: ["field": "account.key.scheme"])
                }
                keys.append(try PublicKey(scheme: scheme, rawRepresentation: try k.bytes("account.key.raw")))
            }
            return ChainAccount(user: user, roles: roles, scope: scope, enabled: enabled, keys: keys)
        }
    }

    /// Writes an account's grant as RLP: `[role…], all, [factory…], enabled` (flags 0 or 1; roles and factories sorted).
    static func writeGrant(roles: Set<Role>, scope: FactoryScope, enabled: Bool, to w: inout RLPWriter) {
        w.list { w in for r in roles.sorted() { w.string(r.rawValue) } }
        switch scope {
        case .all:
            w.uint(1)
            w.list { _ in }
        case .factories(let list):
            w.uint(0)
            w.list { w in for f in list.sorted() { w.string(f) } }
        }
        w.uint(enabled ? 1 : 0)
    }

    /// Reads what ``writeGrant(roles:scope:enabled:to:)`` wrote; `field` prefixes the field names of errors.
    /// - Throws: `LedgerError` `.malformedPayload` (1901) for an unknown role or a flag other than 0 or 1, RLP codes (10xx).
    static func readGrant(_ f: inout RLPReader, field: String) throws(LedgerError) -> (Set<Role>, FactoryScope, Bool) {
        var roleList = try f.list(field + ".roles")
        var roles = Set<Role>()
        while !roleList.isAtEnd {
            let name = try roleList.string(field + ".roles")
            guard let role = Role(rawValue: name) else {
                throw LedgerError(.malformedPayload, "\(field): role '\(name)' is unknown", details: ["field": field + ".roles"])
            }
            roles.insert(role)
        }
        let all = try f.uint64(field + ".all")
        var factoryList = try f.list(field + ".factories")
        var factories = [String]()
        while !factoryList.isAtEnd { factories.append(try factoryList.string(field + ".factories")) }
        let enabled = try f.uint64(field + ".enabled")
        guard all <= 1, enabled <= 1 else {
            throw LedgerError(.malformedPayload, "\(field): flags are 0 or 1", details: ["field": field + ".flags"])
        }
        return (roles, all == 1 ? .all : .factories(factories), enabled == 1)
    }

    /// The account that signed `transaction`, checked to be registered and enabled: what every executor of an
    /// access-controlled chain asks first.
    /// - Throws: `LedgerError` with AppAPI's codes: `.signerNotRegistered` (5419) when the key is bound to no
    ///   account, `.accountDisabled` (5403) when its account is disabled; store errors (15xx).
    static func enabledSigner(of transaction: Transaction, state: any StateReader) throws(LedgerError) -> ChainAccount {
        guard let account = try account(signedBy: transaction.sender, state: state) else {
            throw LedgerError(.init(rawValue: AppError.Code.signerNotRegistered.rawValue),
                              "the signing key is registered to no account on chain",
                              details: ["sender": Hex.encode(transaction.sender.rawRepresentation)])
        }
        guard account.enabled else {
            throw LedgerError(.init(rawValue: AppError.Code.accountDisabled.rawValue), "the signer's account '\(account.user)' is disabled on chain",
                              details: ["user": account.user])
        }
        return account
    }
}

/// The committed state of a store, as executors read it.
struct StoreStateReader: StateReader {
    let store: LedgerStore
    /// The height read at (nil: the head at each read); a fixed height gives every read the same state.
    var height: Height? = nil
    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? { try store.stateValue(forKey: key, atHeight: height) }
}
