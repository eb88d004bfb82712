import ChainRuntime
import Foundation
import LedgerCore
import Logging
import Metrics
import Net

/// The embedded application platform: a chain node with the records
/// executor, the identity service and the record index, in one object.
///
/// ```swift
/// let platform = try await Platform.open(.singleNode(directory: "/var/lib/forgechain"))
/// let session = try await platform.identity.login(user: "root", password: pw, oneTimeCode: otp)
/// let receipt = try await platform.records.upload(record, token: session.token)
/// try receipt.verify(against: platform.trustAnchor)
/// await platform.close()
/// ```
/// - Note: An actor; ``identity`` and ``records`` are actors too. Close it before the process ends.
public actor Platform {
    /// Where the chain runs.
    public enum Deployment: Sendable {
        /// A single-node chain (a Raft group of one) whose store (`ledger.sqlite`), identity database
        /// (`identity.sqlite`, mode 0600, its secrets sealed), record index (`records-index.sqlite`, derived
        /// from the chain and rebuilt when missing),
        /// keys (`keystore/`, sealed under ``Options/passphrase``), trust anchor and log live in `directory`;
        /// reopening the folder continues the same chain. The folder is created when missing. A folder
        /// written before the keystore (keys in clear in `platform-keys.json`) has its keys moved into the
        /// keystore at open, and the clear file overwritten and removed.
        case singleNode(directory: String)
        /// An in-memory PBFT cluster of `nodes` (4...16) in a temporary folder, served from node 0 (demos and tests).
        case cluster(nodes: Int, seed: UInt64 = 0)
    }

    /// Tunables, with defaults and ranges.
    public struct Options: Sendable {
        /// The factories this node's organisation is entitled to (A-Q-2). Default all.
        public var organisationFactories: FactoryScope = .all
        /// Identity settings (token lifetime, lockout). Default ``IdentityService/Configuration/init()``.
        public var identity = IdentityService.Configuration()
        /// Delivery of SMS/e-mail codes. Default none.
        public var codeSender: (any CodeSender)?
        /// How long an upload or update may take to commit: it becomes the transaction's on-chain deadline, after
        /// which it can never commit (A-U-3; see ``RecordService``). Default 30 s; range 1 ms...10 min (clamped).
        public var commitTimeout: Duration = .seconds(30)
        /// The largest records transaction body. Default 512 KiB; range 4 KiB...1 MiB.
        public var maximumTransactionBodyBytes = 512 << 10
        /// Transactions per block. Default 1,000; range 1...1,000,000.
        public var maximumTransactionsPerBlock = 1_000
        /// The node's clock tick. Default 5 ms.
        public var tickInterval: Duration = .milliseconds(5)
        /// Whose time the chain runs on. Default `ClusterClock.realTime`. With `.simulated` the nodes tick as
        /// fast as the machine allows while there is work (and at the wall clock's pace otherwise), and every
        /// timeout (``commitTimeout`` included) counts ticks: for hosts' tests, which a busy machine then slows
        /// down instead of failing.
        public var clock: ClusterClock = .realTime
        /// How many recent heights' state trees the single-node store keeps whole (state proofs and
        /// `ledger rollback` reach that far). Default `.recent(heights: 16)`: the single node's chain is final (a
        /// Raft group of one never undoes a block), records, receipts and the value of every state key
        /// at every height stay readable, and the state tree's share of the ledger stops growing with
        /// history. `.archive` keeps every height provable. See `LedgerStore.StateRetention`.
        public var stateRetention: LedgerStore.StateRetention = .recent(heights: 16)
        /// Write `platform.log` in the data folder. Default true.
        public var writesLog = true
        /// How large `platform.log` may grow before it rotates, and how many rotated files stay. Default 64 MiB
        /// per file and 4 rotated files (at most 320 MiB); see ``PlatformLog/Rotation`` for the ranges.
        public var logRotation = PlatformLog.Rotation()
        /// Where the node, its store, the identity service and the record service log. Default nil: each logs
        /// under its own label (`forgechain.node`, `forgechain.identity`, `forgechain.records`) to the backend the
        /// host chose with `LoggingSystem.bootstrap`. Set, every component logs to this logger (the node adds
        /// `node` to the metadata). No component logs a password, token, key or record field value.
        public var logger: Logger?
        /// Makes every counter, gauge and timer of the platform (`forgechain_*`, listed in
        /// `Documentation/Architecture.md` → Logs and metrics). Default nil: the host's `MetricsSystem.factory`.
        /// Example: `options.metricsFactory = PrometheusMetricsFactory(registry: registry)`.
        public var metricsFactory: (any MetricsFactory)?
        /// Unlocks the single-node folder's keystore (the node, genesis and client keys, scrypt then AES-256-GCM).
        /// Default nil: the environment variable `FORGECHAIN_PASSPHRASE`. A new folder's keys are sealed under it;
        /// an existing folder opens only with the passphrase it was sealed under (`.keystoreWrongPassphrase`, 1363).
        /// Unused by ``Deployment/cluster(nodes:seed:)``. Example: `options.passphrase = try .file("/etc/forgechain/passphrase")`.
        public var passphrase: Passphrase?
        /// The defaults listed on each property.
        public init() {}
    }

    /// Administrator accounts, login, MFA, tokens.
    public nonisolated let identity: IdentityService
    /// Records: upload, query, update, history, notifications.
    public nonisolated let records: RecordService
    /// What a verifier needs to check receipts of this chain.
    public nonisolated let trustAnchor: TrustAnchor
    /// The data folder.
    public nonisolated let directory: String
    /// The operation log (no tokens, no passwords).
    public nonisolated let log: PlatformLog
    /// The node serving this platform. Not public: through it a transaction, a rollback or a restore would need no
    /// token. Hosts reach the chain through ``records`` and ``identity``; an operator backs the ledger up with
    /// ``backupLedger(to:token:)`` and rolls back or restores a stopped folder with `forgechain ledger rollback|restore`.
    package nonisolated let node: any ChainNode
    private let cluster: Cluster?
    private var isClosed = false

    /// The identity database behind ``identity`` (for ``backupIdentity(to:token:)``).
    private let identityRepository: SQLiteIdentityRepository

    private init(identity: IdentityService, identityRepository: SQLiteIdentityRepository, records: RecordService, trustAnchor: TrustAnchor,
                 directory: String, log: PlatformLog, node: any ChainNode, cluster: Cluster?) {
        self.identity = identity
        self.identityRepository = identityRepository
        self.records = records
        self.trustAnchor = trustAnchor
        self.directory = directory
        self.log = log
        self.node = node
        self.cluster = cluster
    }

    /// Opens (creating when new) a platform.
    /// - Parameters:
    ///   - deployment: Required. ``Deployment/singleNode(directory:)`` or ``Deployment/cluster(nodes:seed:)``.
    ///   - options: Optional, default ``Options/init()``.
    /// - Throws: `LedgerError` `.storeLocked` (1520) at once when another platform or node (in any process) has
    ///   the folder's `ledger.sqlite` open; for a single node `.keystoreLocked` (1367) when no passphrase is given
    ///   (``Options/passphrase`` nil and `FORGECHAIN_PASSPHRASE` unset), `.keystoreWrongPassphrase` (1363),
    ///   `.keystoreIO` (1366) when the keystore or the trust anchor cannot be written; `ChainError` node start errors
    ///   (4050–4057), `AppError` `.identityBackend` (5415), `.indexFailure` (5204), `.platformClosed` (5107) when a
    ///   clear key file left by an earlier version is unreadable.
    /// - Note: Takes about 0.1–1 s (the node elects itself leader). Example: `try await Platform.open(.singleNode(directory: dir))`.
    public static func open(_ deployment: Deployment, options: Options = .init()) async throws -> Platform {
        let node: any ChainNode
        let directory: String
        let founder: PrivateKey
        let chainID: UInt64
        let anchor: TrustAnchor
        var cluster: Cluster?
        let settlement: Settlement.Rule
        // Records and the accounts they are checked against (A-ID-3, on every node); nothing else runs here, so
        // no transaction of a key the chain has not registered changes the state.
        let executors: [any TransactionExecutor] = [RecordsExecutor(), AccessExecutor()]
        // Seals the identity database's TOTP secrets and token key: the folder's keystore entry, or a key of
        // this process for an in-memory cluster (whose folder is not reopened).
        var identitySealingKey = SymmetricKey(randomByteCount: 32)
        switch deployment {
        case .singleNode(let dir):
            directory = dir
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let keystore = try Keystore(directory: dir + "/keystore",
                                        passphrase: try options.passphrase ?? Passphrase.environment("FORGECHAIN_PASSPHRASE"))
            let keys = try PlatformKeys.load(directory: dir, keystore: keystore)
            identitySealingKey = SymmetricKey(bytes: keys.identityKey)
            var config = try keys.configuration(storePath: dir + "/ledger.sqlite", maximumTransactionsPerBlock: options.maximumTransactionsPerBlock)
            config.tickInterval = options.tickInterval
            config.commitTimeout = options.commitTimeout
            config.stateRetention = options.stateRetention
            if let logger = options.logger { config.logger = logger }
            config.metricsFactory = options.metricsFactory
            let transport = try InMemoryNetwork().attach(0)
            let n = options.clock == .simulated
                ? try await Node<RaftEngine>.simulatedSolo(configuration: config, transport: transport, executors: executors)
                : try await Node<RaftEngine>(configuration: config, transport: transport, executors: executors)
            await n.start()
            node = n
            settlement = .atomicCommits
            anchor = TrustAnchor(chainID: keys.chainID, hashAlgorithm: config.hashAlgorithm, validators: config.schedule.initial.validators!)
            founder = keys.genesis
            chainID = keys.chainID
        case .cluster(let count, let seed):
            var c = ClusterConfiguration(nodes: count, consensus: .pbft, seed: seed)
            c.clock = options.clock
            c.executors = executors
            c.maximumTransactionsPerBlock = options.maximumTransactionsPerBlock
            let logger = options.logger, factory = options.metricsFactory
            c.customize = { config in
                if let logger { config.logger = logger }
                config.metricsFactory = factory
            }
            let started = try await Cluster.start(c)
            cluster = started
            directory = started.directory
            node = try await started.node(0)
            settlement = .committedBlockAfterDeadline
            anchor = TrustAnchor(chainID: c.chainID, hashAlgorithm: c.hashAlgorithm, validators: started.schedule.initial.validators!)
            founder = started.genesisKey
            chainID = c.chainID
        }
        let storePath = await node.ledger.path ?? ":memory:"
        let log = PlatformLog(path: options.writesLog ? directory + "/platform.log" : nil, rotation: options.logRotation,
                              logger: options.logger ?? Logger(label: "forgechain.records"), metricsFactory: options.metricsFactory)
        // Whatever fails from here stops the node it started (and the record service, once it runs).
        var started: RecordService?
        do {
            // Identity has a file of its own (0600), never the ledger's: a ledger backup holds no account, and
            // restoring one rolls no account or revocation back. Tables an earlier version kept in the ledger move here.
            let repository = try SQLiteIdentityRepository(path: storePath == ":memory:" ? storePath : directory + "/identity.sqlite",
                                                          sealingKey: identitySealingKey)
            if storePath != ":memory:" { try await repository.moveTables(from: storePath) }
            let identity = IdentityService(repository: repository, codeSender: options.codeSender, configuration: options.identity,
                                           logger: options.logger ?? Logger(label: "forgechain.identity"), metricsFactory: options.metricsFactory)
            let store = await node.ledger
            // The index has its own database file: in the ledger's file, its catch-up transactions held SQLite's
            // single write lock and the node's commits waited for them in the busy handler.
            let index = try RecordIndex(path: storePath == ":memory:" ? storePath : directory + "/records-index.sqlite", ledger: store)
            let telemetry = RecordTelemetry(logger: options.logger ?? Logger(label: "forgechain.records"), factory: options.metricsFactory)
            let records = RecordService(node: node, store: store, index: index, identity: identity, founder: founder, chainID: chainID,
                                        log: log, telemetry: telemetry,
                                        organisation: options.organisationFactories, commitTimeout: options.commitTimeout,
                                        maximumTransactionBodyBytes: min(1 << 20, max(4 << 10, options.maximumTransactionBodyBytes)),
                                        settlement: settlement)
            started = records
            await records.startFollowing()
            // Account changes go on chain from now on; accounts written before (without a chain key) are registered.
            await identity.attach(records)
            _ = try await identity.registerAccountsWithoutChainKeys()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try DurableFile.write(Array(try encoder.encode(anchor)), to: directory + "/trust-anchor.json", mode: 0o644)
            return Platform(identity: identity, identityRepository: repository, records: records, trustAnchor: anchor, directory: directory, log: log, node: node, cluster: cluster)
        } catch {
            await started?.close()
            if let cluster { await cluster.shutdown() } else { await node.stop() }
            throw error
        }
    }

    /// Copies the ledger (a consistent snapshot, verifiable with `forgechain ledger verify`) to a new file. It holds
    /// blocks and state only: no account, password hash, token key or private key.
    /// - Parameters:
    ///   - path: Required. The backup file; an existing file is replaced only once the copy is complete.
    ///   - token: Required. An administrator with the `node.operate` permission (a super-admin).
    /// - Returns: The backed-up head height and file size.
    /// - Throws: `AppError` 54xx from ``IdentityService/authorize(token:permission:factory:)``; `LedgerError` `.backupFailed` (1519).
    /// - Note: Example: `let info = try await platform.backupLedger(to: "/backups/ledger.sqlite", token: token)`.
    public func backupLedger(to path: String, token: String) async throws -> BackupInfo {
        _ = try await identity.authorize(token: token, permission: .operateNode)
        return try await node.ledger.backup(to: path)
    }

    /// Copies the identity database (accounts, password hashes, revoked tokens; TOTP secrets and the token key
    /// stay sealed under the folder's keystore) to a new file, mode 0600. Ledger backups never hold identity
    /// data, so this is how it is backed up.
    /// - Parameters:
    ///   - path: Required. A file that does not exist yet.
    ///   - token: Required. An administrator with the `admin.manage` permission (a super-admin).
    /// - Throws: `AppError` `.invalidToken`/`.tokenExpired`/`.permissionDenied` (54xx) from ``IdentityService/authorize(token:permission:factory:)``,
    ///   `.identityBackend` (5415) when the file exists or the copy fails.
    /// - Note: Example: `try await platform.backupIdentity(to: "/backups/identity-2026-12-07.sqlite", token: token)`.
    public func backupIdentity(to path: String, token: String) async throws {
        _ = try await identity.authorize(token: token, permission: .manageAdministrators)
        try await identityRepository.backup(to: path)
    }

    /// Stops notifications and the node (or cluster), then merges the record index's write-ahead log into
    /// its file (``RecordIndex/checkpoint()``). Committed data stays in the folder. Idempotent.
    public func close() async {
        guard !isClosed else { return }
        isClosed = true
        await records.close()
        if let cluster { await cluster.shutdown() } else { await node.stop() }
        // A failed checkpoint loses nothing (the next open replays the log), but an operator should see it.
        do {
            try records.index.checkpoint()
        } catch {
            records.telemetry.logger.warning("record index not checkpointed at close; the next open replays its log",
                                             metadata: ["code": "\(error.code.rawValue)", "error": "\(error.message)"])
        }
    }
}

/// The keys of a single-node platform, sealed in one entry (`platform`) of the folder's keystore
/// (`DIR/keystore/`): the chain ID, the node, genesis and client keys, and the key that seals the identity
/// database's secrets; drawn from the CSPRNG when the folder is new. The genesis key is the chain's founding
/// authority over accounts (``AccessExecutor``); the client key signs nothing (administrators sign with keys of
/// their own) and stays in the entry so that its format does not change.
struct PlatformKeys {
    var chainID: UInt64
    var node: PrivateKey
    var genesis: PrivateKey
    var client: PrivateKey
    /// Seals the identity database's TOTP secrets and token key.
    var identityKey: [UInt8]

    /// The clear key file of folders written before the keystore (keys in hex).
    struct ClearFile: Codable {
        var chainID: UInt64
        var nodeKey: String
        var genesisKey: String
        var clientKey: String
    }

    /// The keystore entry holding every key of the folder, so opening a folder costs one scrypt derivation
    /// (about 60 ms), not one per key: RLP `[1, chainID, node, genesis, client, identity key]`.
    static let entry = "platform"

    var sealed: [UInt8] {
        RLP.encode(.list([.uint(1), .uint(chainID), .bytes(node.rawRepresentation), .bytes(genesis.rawRepresentation),
                          .bytes(client.rawRepresentation), .bytes(identityKey)]))
    }

    init(chainID: UInt64, node: PrivateKey, genesis: PrivateKey, client: PrivateKey, identityKey: [UInt8]) {
        self.chainID = chainID
        self.node = node
        self.genesis = genesis
        self.client = client
        self.identityKey = identityKey
    }

    init(sealed bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("platformKeys", count: 6)
        guard try f[0].uint64("platformKeys.version") == 1 else {
            throw LedgerError(.keystoreMalformed, "the keystore's platform entry has an unknown version")
        }
        chainID = try f[1].uint64("platformKeys.chainID")
        node = try PrivateKey(scheme: .ed25519, rawRepresentation: try f[2].bytes("platformKeys.node"))
        genesis = try PrivateKey(scheme: .ed25519, rawRepresentation: try f[3].bytes("platformKeys.genesis"))
        client = try PrivateKey(scheme: .ed25519, rawRepresentation: try f[4].bytes("platformKeys.client"))
        identityKey = try f[5].bytes("platformKeys.identity")
        guard identityKey.count == 32 else { throw LedgerError(.keystoreMalformed, "the platform entry's identity key is not 32 bytes") }
    }

    /// The folder's keys: from its keystore; else moved in from a clear `platform-keys.json` left by an earlier
    /// version; else new, from the CSPRNG. A clear file is overwritten and removed only once its keys are sealed:
    /// a crash in between leaves both, and the next open removes the clear one.
    static func load(directory: String, keystore: Keystore) throws -> PlatformKeys {
        let clearPath = directory + "/platform-keys.json"
        let keys: PlatformKeys
        if keystore.contains(entry) {
            let sealed = try keystore.load(entry)
            defer { sealed.destroy() }
            keys = try PlatformKeys(sealed: try sealed.bytesCopy())
        } else {
            if let data = FileManager.default.contents(atPath: clearPath) {
                let clear: ClearFile
                do { clear = try JSONDecoder().decode(ClearFile.self, from: data) } catch {
                    throw AppError(.platformClosed, "\(clearPath) is unreadable: \(error)", details: ["file": clearPath])
                }
                func key(_ hex: String) throws -> PrivateKey { try PrivateKey(scheme: .ed25519, rawRepresentation: try Hex.decode(hex)) }
                keys = PlatformKeys(chainID: clear.chainID, node: try key(clear.nodeKey), genesis: try key(clear.genesisKey),
                                    client: try key(clear.clientKey), identityKey: SecureRandom.bytes(count: 32))
            } else {
                keys = PlatformKeys(chainID: 53_1407, node: try .generate(.ed25519), genesis: try .generate(.ed25519),
                                    client: try .generate(.ed25519), identityKey: SecureRandom.bytes(count: 32))
            }
            try keystore.store(keys.sealed, named: entry)
        }
        if FileManager.default.fileExists(atPath: clearPath) { try DurableFile.shred(clearPath) }
        return keys
    }

    func configuration(storePath: String, maximumTransactionsPerBlock: Int) throws -> NodeConfiguration {
        try .singleNode(storePath: storePath, nodeKey: node, genesisKey: genesis, chainID: chainID,
                        maximumTransactionsPerBlock: maximumTransactionsPerBlock)
    }
}
