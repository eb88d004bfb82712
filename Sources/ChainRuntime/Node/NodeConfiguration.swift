import LedgerCore
import Logging
import Metrics

/// Everything a ``Node`` needs: identity, chain, store, and the timings of
/// its driver, sync and recovery.
///
/// ```swift
/// var config = NodeConfiguration(node: 1, signingKey: key, genesis: genesis,
///                                schedule: ConsensusSchedule(initial: .raft(RaftConfig(members: validators))),
///                                storePath: dir + "/ledger.sqlite")
/// config.backupSchedule = BackupSchedule(everyBlocks: 1_000, keep: 3, directory: dir + "/backups")
/// ```
public struct NodeConfiguration: Sendable {
    /// Required. This node's ID (in the validator set to vote).
    public var node: NodeID
    /// Required. Signs the blocks this node produces and its votes.
    public var signingKey: PrivateKey
    /// Required. The chain's genesis block (height 0), the same on every node; see ``ChainGenesis``.
    public var genesis: Block
    /// Required. The consensus configuration and its scheduled changes.
    public var schedule: ConsensusSchedule
    /// Required. The SQLite store file; its directory must exist. Created with the genesis block when missing.
    public var storePath: String
    /// Optional, default `.normal` (a committed block survives a process crash). See `LedgerStore.Durability`.
    public var storeDurability: LedgerStore.Durability = .normal
    /// Optional, default false. Run SQLite's `PRAGMA quick_check` over the whole store file when
    /// the node opens it (`LedgerStore.Configuration.sqliteQuickCheckOnOpen`). It reads every page,
    /// so start-up then grows with the ledger (about 2.4 s for a 2.4 GB store); off, the node still
    /// checks the file's length and its last 16 blocks at open, SQLite reports a damaged page when
    /// it is read, and `LedgerStore.checkIntegrity(_:progress:)` (`forgechain ledger verify`) scans everything.
    public var storeFileCheckOnOpen = false
    /// Optional, default 1; range 0...1,000. The last blocks whose hashes, links, roots and index
    /// entries are checked when the node opens its store (`LedgerStore.Configuration.quickCheckBlocks`):
    /// each costs a block's worth of hashing and index reads, so the default checks the head only and
    /// start-up stays that of one block whatever the ledger's length.
    public var storeBlocksCheckedOnOpen = 1
    /// Optional, default `.archive`. How many recent heights' state trees the store keeps whole
    /// (`LedgerStore.StateRetention`): below the window state proofs and rollbacks fail with
    /// `.stateNotRetained` (1518), and the tree's share of the store stops growing with history.
    /// Under PoW keep an archive, or a window deeper than any fork the node may have to undo: a
    /// node that must roll back below its window cannot follow the heavier chain.
    public var stateRetention: LedgerStore.StateRetention = .archive
    /// Optional, default the chain's. The chain's hash algorithm.
    public var hashAlgorithm: HashAlgorithm = .default
    /// Optional, default 10 ms; range 1 ms...10 s. Wall-clock length of one consensus tick.
    public var tickInterval: Duration = .milliseconds(10)
    /// Optional, default `MempoolConfiguration(chainID:)` of the genesis chain. Mempool bounds.
    public var mempool: MempoolConfiguration?
    /// Optional, default 0. Seeds the consensus engine (give each node its own).
    public var seed: UInt64 = 0
    /// Optional, default 50; range 1...1,000,000. A proposal request with an empty mempool is
    /// answered with an empty block only after this many ticks (no empty blocks every tick).
    public var emptyBlockIntervalTicks: UInt64 = 50
    /// Optional, default 4 MiB; range 1 KiB...64 MiB. Most bytes of transactions in a block.
    public var maximumBlockBytes: Int = 4 << 20
    /// Optional, default 15,000. Most a block's timestamp may be ahead of the local clock (K-V-2).
    public var maximumClockDriftMillis: UInt64 = 15_000
    /// Optional, default 10; range 1...10,000. Ticks between liveness beacons to peers (K-R-1).
    public var statusIntervalTicks: UInt64 = 10
    /// Optional, default 60; range 2...1,000,000. A peer silent this many ticks counts as down.
    public var peerTimeoutTicks: UInt64 = 60
    /// Optional, default 30; range 1...1,000,000. A peer ahead while this node committed nothing for
    /// this many ticks starts a catch-up sync.
    public var syncStallTicks: UInt64 = 30
    /// Optional, default 16; range 1...1,000,000. A peer this many blocks ahead starts a sync at once.
    public var syncLagBlocks: UInt64 = 16
    /// Optional, default 64; range 1...1,024. Blocks asked for per sync request.
    public var syncBatchBlocks: Int = 64
    /// Optional, default 100; range 1...1,000,000. Ticks to wait for a sync response before asking again.
    public var syncRetryTicks: UInt64 = 100
    /// Optional, default 100; range 1...1,000,000. Ticks between reconnect attempts to down peers (K-R-2).
    public var reconnectIntervalTicks: UInt64 = 100
    /// Optional, default true. Relay transactions accepted from clients to peers (K-T-1).
    public var relayTransactions = true
    /// Optional, default 30 s. How long ``Node/submit(_:timeout:)`` waits for the commit by default.
    public var commitTimeout: Duration = .seconds(30)
    /// Optional, default nil (no backups). Periodic backups of the store (K-R-4).
    public var backupSchedule: BackupSchedule?
    /// Optional, default `Logger(label: "forgechain.node")`, whose backend the host chose with
    /// `LoggingSystem.bootstrap` (swift-log's default writes info and above to standard error). The node adds
    /// `node` to its metadata and hands it to its `LedgerStore` too (integrity findings, rollbacks). What is logged
    /// at which level: `Documentation/Architecture.md` → Logs and metrics. Never receives keys or transaction bodies.
    public var logger = Logger(label: "forgechain.node")
    /// Optional, default nil: the host's `MetricsSystem.factory` (no-op until the host bootstraps one).
    /// The node's counters, gauges and timers (`forgechain_*`, dimension `node`) are made through it;
    /// tests pass their own factory instead of bootstrapping the process-wide one.
    public var metricsFactory: (any MetricsFactory)?

    /// The required settings; every other property keeps its documented default.
    /// - Parameters:
    ///   - node: Required. This node's ID in the validator set.
    ///   - signingKey: Required. The key the node signs blocks and votes with.
    ///   - genesis: Required. The chain's block 0 (``ChainGenesis/make(chainID:key:hashAlgorithm:timestamp:)``).
    ///   - schedule: Required. The consensus configuration and its changes by height.
    ///   - storePath: Required. The SQLite file, or `:memory:`.
    public init(node: NodeID, signingKey: PrivateKey, genesis: Block, schedule: ConsensusSchedule, storePath: String) {
        self.node = node
        self.signingKey = signingKey
        self.genesis = genesis
        self.schedule = schedule
        self.storePath = storePath
    }

    /// Checks every range.
    /// - Throws: `ChainError` `.invalidNodeConfiguration` (4050) naming the field, `.invalidMempoolConfiguration` (4011).
    public func validate() throws(ChainError) {
        func check<T: Comparable>(_ v: T, _ r: ClosedRange<T>, _ name: String) throws(ChainError) {
            guard r.contains(v) else {
                throw ChainError(.invalidNodeConfiguration, "node configuration field '\(name)' is \(v), expected \(r.lowerBound)...\(r.upperBound)",
                                 details: ["field": name])
            }
        }
        try check(tickInterval, .milliseconds(1)...(.seconds(10)), "tickInterval")
        try check(emptyBlockIntervalTicks, 1...1_000_000, "emptyBlockIntervalTicks")
        try check(maximumBlockBytes, 1_024...(64 << 20), "maximumBlockBytes")
        try check(statusIntervalTicks, 1...10_000, "statusIntervalTicks")
        try check(peerTimeoutTicks, 2...1_000_000, "peerTimeoutTicks")
        try check(syncStallTicks, 1...1_000_000, "syncStallTicks")
        try check(syncLagBlocks, 1...1_000_000, "syncLagBlocks")
        try check(syncBatchBlocks, 1...NodeMessage.maximumSyncBatch, "syncBatchBlocks")
        try check(syncRetryTicks, 1...1_000_000, "syncRetryTicks")
        try check(reconnectIntervalTicks, 1...1_000_000, "reconnectIntervalTicks")
        try check(storeBlocksCheckedOnOpen, 0...1_000, "storeBlocksCheckedOnOpen")
        guard genesis.header.height == 0 else {
            throw ChainError(.invalidNodeConfiguration, "node configuration field 'genesis': height \(genesis.header.height), expected 0",
                             details: ["field": "genesis"])
        }
        do { try schedule.validate() } catch {
            throw ChainError(.invalidNodeConfiguration, "node configuration field 'schedule': \(error.message)",
                             details: ["field": "schedule", "cause": String(error.numericCode)])
        }
        try (mempool ?? MempoolConfiguration(chainID: genesis.header.chainID, hashAlgorithm: hashAlgorithm)).validate()
    }
}

/// Makes genesis blocks a node's store accepts (the state root of the empty state).
public enum ChainGenesis {
    /// A genesis block for chain `chainID`, signed by `key`.
    /// - Parameters:
    ///   - chainID: Required. The chain's ID.
    ///   - key: Required. The genesis producer's key.
    ///   - hashAlgorithm: Optional, default SHA-256.
    ///   - timestamp: Optional, default 2025-11-24 00:00 UTC (fixed, so every node makes the same block).
    /// - Throws: `LedgerError` signing errors (13xx).
    /// - Note: Pure. Example: `let genesis = try ChainGenesis.make(chainID: 53, key: genesisKey)`.
    public static func make(chainID: UInt64, key: PrivateKey, hashAlgorithm: HashAlgorithm = .default,
                            timestamp: Timestamp = Timestamp(millisecondsSince1970: 1_763_942_400_000)) throws(LedgerError) -> Block {
        try Block.make(parent: nil, transactions: [], stateRoot: StateTree.emptyRoot(hashAlgorithm),
                       receiptRoot: Receipt.root(of: [], using: hashAlgorithm), producerKey: key, chainID: chainID,
                       hashAlgorithm: hashAlgorithm, timestamp: timestamp)
    }
}

/// A client's signing key with its next nonce: makes signed transactions in nonce order.
///
/// ```swift
/// var alice = SigningAccount(key: key, chainID: 53)
/// let tx = try alice.set(key: Array("lot-17".utf8), value: Array("passed".utf8))
/// let receipt = try await node.submit(tx)
/// ```
/// - Note: A value type; not shared.
public struct SigningAccount: Sendable {
    /// The signing key.
    public let key: PrivateKey
    /// The chain's ID.
    public let chainID: UInt64
    /// The chain's hash algorithm.
    public let hashAlgorithm: HashAlgorithm
    /// The nonce of the next transaction.
    public var nextNonce: UInt64

    /// - Parameters:
    ///   - key: Required.
    ///   - chainID: Required.
    ///   - hashAlgorithm: Optional, default SHA-256.
    ///   - nextNonce: Optional, default 0. The sender's next committed nonce (``Node/nextNonce(for:)``).
    public init(key: PrivateKey, chainID: UInt64, hashAlgorithm: HashAlgorithm = .default, nextNonce: UInt64 = 0) {
        self.key = key
        self.chainID = chainID
        self.hashAlgorithm = hashAlgorithm
        self.nextNonce = nextNonce
    }

    /// A signed transaction with the next nonce.
    /// - Throws: `LedgerError` signing errors (13xx).
    public mutating func transaction(kind: String, body: [UInt8], timestamp: Timestamp = .now()) throws(LedgerError) -> Transaction {
        var tx = Transaction(chainID: chainID, sender: key.publicKey, nonce: nextNonce, timestamp: timestamp,
                             payload: TransactionPayload(kind: kind, body: body))
        try tx.sign(with: key, hashAlgorithm: hashAlgorithm)
        nextNonce += 1
        return tx
    }

    /// A signed `KeyValueExecutor` set.
    public mutating func set(key k: [UInt8], value: [UInt8], timestamp: Timestamp = .now()) throws(LedgerError) -> Transaction {
        try transaction(kind: KeyValueExecutor.kind, body: KeyValueExecutor.setBody(key: k, value: value), timestamp: timestamp)
    }
}

extension NodeConfiguration {
    /// A one-node chain (a Raft group of one member, which commits alone) on the given keys. Keep the
    /// keys: the genesis block is signed with `genesisKey` and the node's blocks with `nodeKey`, so the
    /// store reopens only with the same two (``singleNode(storePath:keystore:chainID:maximumTransactionsPerBlock:)``
    /// keeps them sealed for you).
    /// - Parameters:
    ///   - storePath: Required. The store file; its directory must exist.
    ///   - nodeKey: Required. The node's signing key (its public key is the one validator).
    ///   - genesisKey: Required. The key that signs the genesis block.
    ///   - chainID: Optional, default 53.
    ///   - maximumTransactionsPerBlock: Optional, default 1,000; range 1...1,000,000.
    /// - Throws: `LedgerError` genesis errors (13xx), `.invalidConsensusConfig` (1701).
    /// - Note: Pure. Example: `try .singleNode(storePath: p, nodeKey: try .generate(.ed25519), genesisKey: try .generate(.ed25519))`.
    public static func singleNode(storePath: String, nodeKey: PrivateKey, genesisKey: PrivateKey, chainID: UInt64 = 53,
                                  maximumTransactionsPerBlock: Int = 1_000) throws(LedgerError) -> NodeConfiguration {
        let genesis = try ChainGenesis.make(chainID: chainID, key: genesisKey)
        let members = try ValidatorSet([Validator(id: 0, publicKey: nodeKey.publicKey)])
        let schedule = ConsensusSchedule(initial: .raft(RaftConfig(members: members,
                                                                    maximumTransactionsPerBlock: min(1_000_000, max(1, maximumTransactionsPerBlock)))))
        try schedule.validate()
        return NodeConfiguration(node: 0, signingKey: nodeKey, genesis: genesis, schedule: schedule, storePath: storePath)
    }

    /// A one-node chain whose keys live in `keystore` (entry `single-node`: the node's and the genesis's Ed25519
    /// keys, one scrypt derivation to open): drawn from the CSPRNG and sealed the first time, loaded after, so the
    /// same keystore reopens the same chain and two keystores never share keys. For embedded single-plant use.
    /// - Parameters:
    ///   - storePath: Required. The store file; its directory must exist.
    ///   - keystore: Required. Unlocked with the operator's passphrase.
    ///   - chainID: Optional, default 53.
    ///   - maximumTransactionsPerBlock: Optional, default 1,000; range 1...1,000,000.
    /// - Throws: `LedgerError` `.keystoreWrongPassphrase` (1363), `.keystoreIO` (1366), key and genesis errors
    ///   (13xx), `.invalidConsensusConfig` (1701).
    /// - Note: Example: `try .singleNode(storePath: dir + "/ledger.sqlite", keystore: try Keystore(directory: dir + "/keystore", passphrase: p))`.
    public static func singleNode(storePath: String, keystore: Keystore, chainID: UInt64 = 53,
                                  maximumTransactionsPerBlock: Int = 1_000) throws(LedgerError) -> NodeConfiguration {
        if !keystore.contains("single-node") {
            try keystore.store(try PrivateKey.generate(.ed25519).rawRepresentation + PrivateKey.generate(.ed25519).rawRepresentation,
                               named: "single-node")
        }
        let sealed = try keystore.load("single-node")
        defer { sealed.destroy() }
        let raw = try sealed.bytesCopy()
        guard raw.count == 64 else {
            throw LedgerError(.keystoreMalformed, "keystore entry single-node holds \(raw.count) bytes, not two 32-byte keys")
        }
        return try singleNode(storePath: storePath, nodeKey: try PrivateKey(scheme: .ed25519, rawRepresentation: Array(raw[0..<32])),
                              genesisKey: try PrivateKey(scheme: .ed25519, rawRepresentation: Array(raw[32..<64])), chainID: chainID,
                              maximumTransactionsPerBlock: maximumTransactionsPerBlock)
    }
}
