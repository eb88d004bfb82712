import LedgerCore

/// One change to the accounts on chain (``ChainAccount``), inside an access transaction.
///
/// **Wire form** (canonical RLP), one element of the body's list:
/// - `["account", user, [role…], all, [factory…], enabled]`: creates the account or replaces its roles, scope and
///   enabled flag (its keys stay);
/// - `["key-add", user, scheme, key]`: lets `key` sign for the account;
/// - `["key-remove", user, scheme, key]`: revokes `key`;
/// - `["account-delete", user]`: removes the account and revokes all its keys;
/// - `["node", id, status, certificateKeyHash or empty]`: sets a node's standing (``NodeRegistration``);
/// - `["consensus", height, config JSON]`: schedules a consensus configuration (its validators) from a height
///   (`ConsensusSchedule.stateKey`).
///
/// **Transaction body** (payload kind `"access"`): `[1, [op…]]`.
public enum AccessOperation: Hashable, Sendable {
    /// Creates or replaces an account's roles, scope and enabled flag.
    case putAccount(user: String, roles: Set<Role>, scope: FactoryScope, enabled: Bool)
    /// Registers a key for an existing account.
    case addKey(user: String, key: PublicKey)
    /// Revokes one of an account's keys.
    case removeKey(user: String, key: PublicKey)
    /// Removes an account and revokes its keys.
    case deleteAccount(user: String)
    /// Sets node `id`'s standing (active, suspended, revoked) and the certificate key it must present (N-D-1).
    case setNode(NodeID, status: NodeRegistration.Status, certificateKeyHash: Digest?)
    /// Schedules `config` (same engine, valid) to decide block `height` and later on every node: validators join
    /// or leave consensus there (N-D-3, N-D-4). `height` must be at least `ConsensusSchedule.minimumLead` above
    /// the block holding the transaction and above every change already scheduled on chain.
    case scheduleConsensus(height: Height, config: ConsensusConfig)

    /// The account the operation changes; empty for ``setNode(_:status:certificateKeyHash:)``.
    public var user: String {
        switch self {
        case .putAccount(let u, _, _, _), .addKey(let u, _), .removeKey(let u, _), .deleteAccount(let u): u
        case .setNode, .scheduleConsensus: ""
        }
    }

    func write(_ w: inout RLPWriter) {
        w.list { w in
            switch self {
            case .putAccount(let user, let roles, let scope, let enabled):
                w.string("account")
                w.string(user)
                ChainAccount.writeGrant(roles: roles, scope: scope, enabled: enabled, to: &w)
            case .addKey(let user, let key), .removeKey(let user, let key):
                if case .addKey = self { w.string("key-add") } else { w.string("key-remove") }
                w.string(user)
                w.string(key.scheme.rawValue)
                w.byteString(key.rawRepresentation)
            case .deleteAccount(let user):
                w.string("account-delete")
                w.string(user)
            case .setNode(let id, let status, let hash):
                w.string("node")
                w.uint(UInt64(id.rawValue))
                w.string(status.rawValue)
                w.byteString(hash?.bytes ?? [])
            case .scheduleConsensus(let height, let config):
                w.string("consensus")
                w.uint(height.rawValue)
                w.byteString(config.json)
            }
        }
    }

    init(reading r: inout RLPReader) throws(LedgerError) {
        var f = try r.list("access.op")
        let count = try f.count()
        switch (try f.string("access.op.kind"), count) {
        case ("account", 6):
            let user = try f.string("access.op.user")
            let (roles, scope, enabled) = try ChainAccount.readGrant(&f, field: "access.op")
            self = .putAccount(user: user, roles: roles, scope: scope, enabled: enabled)
        case (let kind, 4) where kind == "key-add" || kind == "key-remove":
            let user = try f.string("access.op.user")
            let schemeName = try f.string("access.op.scheme")
            guard let scheme = SignatureScheme(rawValue: schemeName) else {
                throw LedgerError(.malformedPayload, "access operation key scheme '\(schemeName)' is unknown", details: ["field": "access.op.scheme"])
            }
            let key = try PublicKey(scheme: scheme, rawRepresentation: try f.bytes("access.op.key"))
            self = kind == "key-add" ? .addKey(user: user, key: key) : .removeKey(user: user, key: key)
        case ("account-delete", 2):
            self = .deleteAccount(user: try f.string("access.op.user"))
        case ("node", 4):
            let id = try f.uint64("access.op.node")
            guard id <= UInt64(UInt32.max) else { throw LedgerError(.malformedPayload, "access operation node ID \(id)", details: ["field": "access.op.node"]) }
            let name = try f.string("access.op.status")
            guard let status = NodeRegistration.Status(rawValue: name) else {
                throw LedgerError(.malformedPayload, "access operation node status '\(name)' is unknown", details: ["field": "access.op.status"])
            }
            let hash = try f.bytes("access.op.certificateKeyHash")
            self = .setNode(NodeID(UInt32(id)), status: status, certificateKeyHash: hash.isEmpty ? nil : try Digest(bytes: hash))
        case ("consensus", 3):
            let height = Height(try f.uint64("access.op.height"))
            let json = try f.bytes("access.op.config")
            do { self = .scheduleConsensus(height: height, config: try ConsensusConfig(json: json)) } catch {
                throw LedgerError(.malformedPayload, "access operation consensus configuration: \(error.message)",
                                  details: ["field": "access.op.config", "cause": String(error.numericCode)])
            }
        case (let kind, _):
            throw LedgerError(.malformedPayload, "access operation '\(kind)' with \(count) elements is unknown", details: ["field": "access.op.kind"])
        }
    }

    /// The body of an access transaction holding `operations` in order: `[1, [op…]]`.
    public static func body(_ operations: [AccessOperation]) -> [UInt8] {
        var w = RLPWriter(capacity: 64 + operations.count * 96)
        w.list { w in
            w.uint(1)
            w.list { w in for op in operations { op.write(&w) } }
        }
        return w.bytes
    }

    /// The operations of an access transaction body.
    /// - Throws: `LedgerError` `.malformedPayload` (1901), RLP codes (10xx) or key format codes (13xx), naming the field.
    public static func operations(inBody body: [UInt8]) throws(LedgerError) -> [AccessOperation] {
        try RLPReader.read(body) { (r) throws(LedgerError) in
            var top = try r.list("access", count: 2)
            let v = try top.uint64("access.version")
            guard v == 1 else {
                throw LedgerError(.malformedPayload, "access body version \(v), expected 1", details: ["field": "access.version"])
            }
            var list = try top.list("access.ops")
            var ops = [AccessOperation]()
            while !list.isAtEnd { ops.append(try AccessOperation(reading: &list)) }
            return ops
        }
    }
}

/// Executes access transactions (payload kind `"access"`): the governance of the accounts on chain
/// (``ChainAccount``) that every node's records executor checks signers against (A-ID-3).
///
/// **Who may sign**: the key that signed the genesis block (the chain's founding authority, which registers the
/// first super-admin), or a registered key of an enabled account with `admin.manage` (a super-admin). A signer
/// limited to some factories changes only accounts whose scope lies within its own and grants only such scopes.
/// Node operations (``AccessOperation/setNode(_:status:certificateKeyHash:)``, ``NodeRegistration``) need
/// `node.operate` for every factory, or the genesis key.
///
/// **Checks** (each failure is a failed receipt with no writes; the mempool refuses an unknown or disabled signer
/// before it takes space): the body decodes (`.malformedPayload` 1901); the signer is the founder or registered
/// (`.signerNotRegistered` 5419), enabled (`.accountDisabled` 5403) and a manager of administrators
/// (`.permissionDenied` 5409); each user name is valid (`.invalidUserName` 5417); an account has a role
/// (`.invalidFieldValue` 5003); scopes stay within the signer's (`.scopeBeyondCaller` 5418); a key is added to or
/// removed from an existing account (`.accountNotFound` 5413), is not another account's (`.keyInUse` 5421), and
/// a key removed is the account's (`.signerNotRegistered` 5419).
///
/// ```swift
/// var founder = SigningAccount(key: genesisKey, chainID: 53)
/// let tx = try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
///     .putAccount(user: "root", roles: [.superAdmin], scope: .all, enabled: true), .addKey(user: "root", key: rootKey.publicKey)]))
/// ```
/// - Note: Stateless and `Sendable`; deterministic.
public struct AccessExecutor: TransactionExecutor {
    /// The payload kind: `"access"`.
    public static let kind = "access"

    /// Stateless; register one per node beside ``RecordsExecutor``.
    public init() {}

    public var payloadKinds: [String] { [Self.kind] }

    /// Refuses a signer that is neither the founder nor an enabled manager of administrators.
    public func admit(_ transaction: Transaction, genesisProducer: PublicKey, state: any StateReader) throws(LedgerError) {
        if transaction.sender == genesisProducer { return }
        let signer = try ChainAccount.enabledSigner(of: transaction, state: state)
        guard signer.allows(.manageAdministrators) || signer.allows(.operateNode) else { throw Self.notManager(signer) }
    }

    private static func notManager(_ signer: ChainAccount) -> LedgerError {
        LedgerError(.init(rawValue: AppError.Code.permissionDenied.rawValue), "'\(signer.user)' lacks admin.manage on chain",
                    details: ["user": signer.user, "permission": Permission.manageAdministrators.rawValue])
    }

    public func execute(_ transaction: Transaction, context: ExecutionContext, state: any StateReader) throws(LedgerError) -> ExecutionOutcome {
        let ops = try AccessOperation.operations(inBody: transaction.payload.body)
        guard !ops.isEmpty else { throw LedgerError(.malformedPayload, "access transaction holds no operation", details: ["field": "access.ops"]) }
        let signerScope: FactoryScope
        var signerAccount: ChainAccount?
        if let founder = context.genesisProducer, transaction.sender == founder {
            signerScope = .all
        } else {
            let signer = try ChainAccount.enabledSigner(of: transaction, state: state)
            // Node operators may sign node operations only; everything else needs admin.manage.
            guard signer.allows(.manageAdministrators) || signer.allows(.operateNode) else { throw Self.notManager(signer) }
            signerScope = signer.scope
            signerAccount = signer
        }
        let view = Overlay(base: state)
        var writes = StateChangeSet()
        func put(_ key: [UInt8], _ value: [UInt8]?) {
            view.local[key] = .some(value)
            if let value { writes.set(key, to: value) } else { writes.delete(key) }
        }
        for (index, op) in ops.enumerated() {
            func failure(_ code: AppError.Code, _ message: String) -> LedgerError {
                LedgerError(.init(rawValue: code.rawValue), "operation \(index) for '\(op.user)': \(message)",
                            details: ["operation": String(index), "user": op.user])
            }
            switch op {
            case .setNode, .scheduleConsensus:
                if let signer = signerAccount {
                    guard signer.allows(.operateNode), signer.scope == .all else {
                        throw LedgerError(.init(rawValue: AppError.Code.permissionDenied.rawValue),
                                          "'\(signer.user)' lacks node.operate for every factory, which node operations need",
                                          details: ["user": signer.user, "permission": Permission.operateNode.rawValue])
                    }
                }
                if case .setNode(let id, let status, let hash) = op {
                    put(NodeRegistration.key(id), NodeRegistration(status: status, certificateKeyHash: hash).encoded)
                } else if case .scheduleConsensus(let height, let config) = op {
                    var changes = try ConsensusSchedule.chainChanges(from: try view.value(forKey: ConsensusSchedule.stateKey))
                    try Self.checkSchedule(height: height, config: config, after: changes, context: context, operation: index)
                    changes.append(ConsensusSchedule.Change(height: height, config: config))
                    put(ConsensusSchedule.stateKey, ConsensusSchedule.chainValue(changes))
                }
                continue
            default:
                break
            }
            if let signer = signerAccount, !signer.allows(.manageAdministrators) { throw Self.notManager(signer) }
            do throws(AppError) { try IdentityService.checkUserName(op.user) } catch { throw failure(error.code, error.message) }
            let current = try ChainAccount.account(user: op.user, state: view)
            if let current, !current.scope.isWithin(signerScope) {
                throw failure(.scopeBeyondCaller, "the account's scope \(current.scope.text) reaches beyond the signer's \(signerScope.text)")
            }
            switch op {
            case .putAccount(let user, let roles, let scope, let enabled):
                guard !roles.isEmpty else { throw failure(.invalidFieldValue, "an account needs at least one role") }
                guard scope.isWithin(signerScope) else {
                    throw failure(.scopeBeyondCaller, "scope \(scope.text) reaches beyond the signer's \(signerScope.text)")
                }
                let account = ChainAccount(user: current?.user ?? user, roles: roles, scope: scope, enabled: enabled, keys: current?.keys ?? [])
                put(ChainAccount.key(user: user), account.encoded)
            case .addKey(let user, let key):
                guard var account = current else { throw failure(.accountNotFound, "no account on chain") }
                if let owner = try ChainAccount.account(signedBy: key, state: view) {
                    guard owner.user.lowercased() == user.lowercased() else { throw failure(.keyInUse, "the key signs for another account") }
                    continue
                }
                account.keys.append(key)
                put(ChainAccount.key(user: user), account.encoded)
                put(ChainAccount.key(publicKey: key), ChainAccount.binding(account.user))
            case .removeKey(let user, let key):
                guard var account = current else { throw failure(.accountNotFound, "no account on chain") }
                guard let i = account.keys.firstIndex(of: key) else { throw failure(.signerNotRegistered, "the key does not sign for this account") }
                account.keys.remove(at: i)
                put(ChainAccount.key(user: user), account.encoded)
                put(ChainAccount.key(publicKey: key), nil)
            case .deleteAccount(let user):
                guard let account = current else { throw failure(.accountNotFound, "no account on chain") }
                for key in account.keys { put(ChainAccount.key(publicKey: key), nil) }
                put(ChainAccount.key(user: user), nil)
            case .setNode, .scheduleConsensus:
                continue   // handled above
            }
        }
        return ExecutionOutcome(costUnits: UInt64(ops.count), writes: writes)
    }

    /// A scheduled change must lie far enough ahead for every node to learn it first, after the changes already
    /// on chain, keep the engine, and be a valid configuration.
    private static func checkSchedule(height: Height, config: ConsensusConfig, after changes: [ConsensusSchedule.Change],
                                      context: ExecutionContext, operation index: Int) throws(LedgerError) {
        let block = context.height
        func failure(_ message: String, _ field: String) -> LedgerError {
            LedgerError(.init(rawValue: AppError.Code.invalidFieldValue.rawValue), "operation \(index): \(message)",
                        details: ["operation": String(index), "field": field])
        }
        guard height.rawValue >= block.rawValue + ConsensusSchedule.minimumLead else {
            throw failure("a consensus change at height \(height) is too soon: the earliest is \(block.rawValue + ConsensusSchedule.minimumLead) "
                          + "(\(ConsensusSchedule.minimumLead) above block \(block), which schedules it)", "access.op.height")
        }
        if let engine = context.consensusEngine, config.engine.rawValue != engine {
            throw failure("the chain runs \(engine), not \(config.engine)", "access.op.config")
        }
        if let last = changes.last {
            guard height > last.height else {
                throw failure("a consensus change at height \(height) must come after the one scheduled at \(last.height)", "access.op.height")
            }
            guard config.engine == last.config.engine else {
                throw failure("the chain runs \(last.config.engine), not \(config.engine)", "access.op.config")
            }
        }
        guard changes.count < ConsensusSchedule.maximumChainChanges else {
            throw failure("the chain holds \(changes.count) consensus changes, the most it keeps", "access.op.height")
        }
        do { try config.validate() } catch { throw failure("the configuration is invalid: \(error.message)", "access.op.config") }
    }

    /// The state with this transaction's own writes on top.
    private final class Overlay: StateReader {
        let base: any StateReader
        var local: [[UInt8]: [UInt8]?] = [:]
        init(base: any StateReader) { self.base = base }
        func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? {
            if let v = local[key] { return v }
            return try base.value(forKey: key)
        }
    }
}
