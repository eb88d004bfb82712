import Foundation
import LedgerCrypto
import LedgerModel

/// The consensus algorithms a chain can choose (K-A-1, D-6).
public enum ConsensusEngineKind: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// PBFT, Raft, proof of work, proof of stake.
    case pbft, raft, pow, pos
    public var description: String { rawValue }
}

/// A chain's consensus configuration as data (K-A-2, K-A-3): which engine,
/// and its parameters. Loaded from and saved to JSON; validated on load and
/// before use, with an error naming the offending field.
///
/// JSON form: `{"engine": "raft", "raft": {"members": [...], "heartbeatIntervalTicks": 2, ...}}`;
/// omitted parameters take their documented defaults.
///
/// ```swift
/// var config = try ConsensusConfig.load(from: url)
/// config = .raft(RaftConfig(members: set, electionTimeoutMinTicks: 20, electionTimeoutMaxTicks: 40))
/// try config.save(to: url)
/// ```
public enum ConsensusConfig: Hashable, Sendable, Codable {
    /// PBFT with its parameters.
    case pbft(PBFTConfig)
    /// Raft with its parameters.
    case raft(RaftConfig)
    /// Proof of work with its parameters.
    case pow(PoWConfig)
    /// Proof of stake with its parameters.
    case pos(PoSConfig)

    /// The engine this configuration is for.
    public var engine: ConsensusEngineKind {
        switch self {
        case .pbft: .pbft
        case .raft: .raft
        case .pow: .pow
        case .pos: .pos
        }
    }

    /// The voting set (PBFT validators, Raft members, PoS validators), nil for PoW.
    public var validators: ValidatorSet? {
        switch self {
        case .pbft(let c): c.validators
        case .raft(let c): c.members
        case .pow: nil
        case .pos(let c): c.validators
        }
    }

    /// The same configuration with another voting set (a membership change); PoW, which has none, is returned as is.
    /// - Parameter set: Required. The new validators (Raft members); checked by ``validate()``.
    /// - Returns: The changed configuration. Example: `config.replacingValidators(try ValidatorSet(kept))`.
    public func replacingValidators(_ set: ValidatorSet) -> ConsensusConfig {
        switch self {
        case .pbft(var c): c.validators = set; return .pbft(c)
        case .raft(var c): c.members = set; return .raft(c)
        case .pow: return self
        case .pos(var c): c.validators = set; return .pos(c)
        }
    }

    /// The most transactions a block may hold under this configuration.
    public var maximumTransactionsPerBlock: Int {
        switch self {
        case .pbft(let c): c.maximumTransactionsPerBlock
        case .raft(let c): c.maximumTransactionsPerBlock
        case .pow(let c): c.maximumTransactionsPerBlock
        case .pos(let c): c.maximumTransactionsPerBlock
        }
    }

    /// Checks every parameter against its documented range.
    /// - Throws: `LedgerError` `.invalidConsensusConfig` (1701) with `details["field"]`
    ///   naming the field (for example `raft.electionTimeoutMaxTicks`).
    public func validate() throws(LedgerError) {
        switch self {
        case .pbft(let c): try c.validate()
        case .raft(let c): try c.validate()
        case .pow(let c): try c.validate()
        case .pos(let c): try c.validate()
        }
    }

    // MARK: JSON

    /// Decodes and validates a configuration from JSON.
    /// - Throws: `LedgerError` `.consensusConfigFile` (1703) for malformed JSON or a missing or
    ///   mistyped field (named in `details["field"]`), `.invalidConsensusConfig` (1701), validator-set errors (1705–1707).
    public init(json: [UInt8]) throws(LedgerError) {
        self = try ConsensusJSON.decode(ConsensusConfig.self, from: json)
        try validate()
    }

    /// The JSON encoding (pretty-printed, keys sorted, so saved files diff cleanly).
    public var json: [UInt8] { ConsensusJSON.encode(self) }

    /// Loads and validates a configuration file.
    /// - Parameter url: Required. A file URL.
    /// - Throws: as ``init(json:)``; `.consensusConfigFile` (1703) when the file cannot be read.
    /// - Note: Synchronous file I/O; no timeout.
    public static func load(from url: URL) throws(LedgerError) -> ConsensusConfig {
        try ConsensusConfig(json: try ConsensusJSON.read(url))
    }

    /// Validates, then writes the configuration atomically.
    /// - Throws: `.invalidConsensusConfig` (1701) (nothing is written), `.consensusConfigFile` (1703).
    public func save(to url: URL) throws(LedgerError) {
        try validate()
        try ConsensusJSON.write(json, to: url)
    }

    private enum CodingKeys: String, CodingKey { case engine, pbft, raft, pow, pos }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(ConsensusEngineKind.self, forKey: .engine) {
        case .pbft: self = .pbft(try c.decode(PBFTConfig.self, forKey: .pbft))
        case .raft: self = .raft(try c.decode(RaftConfig.self, forKey: .raft))
        case .pow: self = .pow(try c.decode(PoWConfig.self, forKey: .pow))
        case .pos: self = .pos(try c.decode(PoSConfig.self, forKey: .pos))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(engine, forKey: .engine)
        switch self {
        case .pbft(let x): try c.encode(x, forKey: .pbft)
        case .raft(let x): try c.encode(x, forKey: .raft)
        case .pow(let x): try c.encode(x, forKey: .pow)
        case .pos(let x): try c.encode(x, forKey: .pos)
        }
    }
}

/// The configuration at genesis plus changes scheduled at later heights.
/// A change at height `h` governs the decision of block `h` and later, on
/// every node alike (the engine looks the configuration up by height).
///
/// ```swift
/// var schedule = ConsensusSchedule(initial: .raft(config))
/// try schedule.schedule(.raft(bigger), atHeight: 100)
/// schedule.config(atHeight: 150)   // bigger
/// ```
public struct ConsensusSchedule: Hashable, Sendable, Codable {
    /// A configuration that takes effect at a height.
    public struct Change: Hashable, Sendable, Codable {
        /// Required; at least 1, after every earlier change.
        public var height: Height
        /// The configuration from ``height`` on.
        public var config: ConsensusConfig
        /// Both are required; the schedule's `validate()` checks the order.
        public init(height: Height, config: ConsensusConfig) {
            self.height = height
            self.config = config
        }
    }

    /// The configuration from genesis on.
    public private(set) var initial: ConsensusConfig
    /// Changes in ascending height order.
    public private(set) var changes: [Change]

    /// - Parameters:
    ///   - initial: Required. The genesis configuration.
    ///   - changes: Optional, default none. Checked by ``validate()``.
    public init(initial: ConsensusConfig, changes: [Change] = []) {
        self.initial = initial
        self.changes = changes
    }

    /// The engine of the chain.
    public var engine: ConsensusEngineKind { initial.engine }

    /// The configuration that decides block `height`.
    public func config(atHeight height: Height) -> ConsensusConfig {
        var result = initial
        for change in changes {
            guard change.height <= height else { break }
            result = change.config
        }
        return result
    }

    /// Schedules `config` from `height` on.
    /// - Parameters:
    ///   - config: Required. Same engine as ``initial``; valid.
    ///   - height: Required. At least 1 and above every scheduled change; re-scheduling the
    ///     same height with the same configuration is a no-op (so every node can apply it once).
    /// - Throws: `.consensusEngineMismatch` (1702), `.consensusScheduleOrder` (1704),
    ///   `.invalidConsensusConfig` (1701).
    public mutating func schedule(_ config: ConsensusConfig, atHeight height: Height) throws(LedgerError) {
        if changes.contains(Change(height: height, config: config)) { return }
        var copy = self
        copy.changes.append(Change(height: height, config: config))
        try copy.validate()
        self = copy
    }

    /// Checks the engine of every change, their order and each configuration.
    /// - Throws: `.consensusEngineMismatch` (1702), `.consensusScheduleOrder` (1704), `.invalidConsensusConfig` (1701).
    public func validate() throws(LedgerError) {
        try initial.validate()
        var last: Height = 0
        for (i, change) in changes.enumerated() {
            let field = "changes[\(i)]"
            guard change.config.engine == initial.engine else {
                throw LedgerError(.consensusEngineMismatch, "field '\(field).config.engine': \(change.config.engine), but the chain runs \(initial.engine)",
                                  details: ["field": "\(field).config.engine"])
            }
            guard change.height > last else {
                throw LedgerError(.consensusScheduleOrder, "field '\(field).height': \(change.height) must be above \(last)",
                                  details: ["field": "\(field).height"])
            }
            last = change.height
            do { try change.config.validate() } catch {
                var e = error
                e.details["field"] = "\(field).config." + (error.details["field"] ?? "")
                throw e
            }
        }
    }

    /// Decodes and validates a schedule from JSON (`{"initial": {...}, "changes": [{"height": 10, "config": {...}}]}`).
    /// - Throws: as ``ConsensusConfig/init(json:)`` and ``validate()``.
    public init(json: [UInt8]) throws(LedgerError) {
        self = try ConsensusJSON.decode(ConsensusSchedule.self, from: json)
        try validate()
    }

    /// The JSON encoding (pretty-printed, keys sorted).
    public var json: [UInt8] { ConsensusJSON.encode(self) }

    /// Loads and validates a schedule file. Synchronous; no timeout.
    /// - Throws: `.consensusConfigFile` (1703) and the errors of ``validate()``.
    public static func load(from url: URL) throws(LedgerError) -> ConsensusSchedule {
        try ConsensusSchedule(json: try ConsensusJSON.read(url))
    }

    /// Validates, then writes atomically. Synchronous; no timeout.
    /// - Throws: the errors of ``validate()`` (nothing is written), `.consensusConfigFile` (1703).
    public func save(to url: URL) throws(LedgerError) {
        try validate()
        try ConsensusJSON.write(json, to: url)
    }

    private enum CodingKeys: String, CodingKey { case initial, changes }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        initial = try c.decode(ConsensusConfig.self, forKey: .initial)
        changes = try c.decodeIfPresent([Change].self, forKey: .changes) ?? []
    }
}

// MARK: - Per-engine configurations

/// PBFT parameters (Castro–Liskov). Validators need `n ≥ 4` to tolerate one Byzantine node (`n = 3f + 1`).
public struct PBFTConfig: Hashable, Sendable, Codable {
    /// Required. The replicas; `f = ⌊(n−1)/3⌋`.
    public var validators: ValidatorSet
    /// Optional, default 20; range 2...100,000. Ticks a backup waits for progress before starting a view change.
    public var viewChangeTimeoutTicks: UInt64
    /// Optional, default 10; range 1...10,000. Blocks between checkpoints.
    public var checkpointIntervalBlocks: UInt64
    /// Optional, default 40; range `2 × checkpointIntervalBlocks`...100,000. Width of the
    /// sequence-number window between the low and high watermarks.
    public var watermarkWindowBlocks: UInt64
    /// Optional, default 1,000; range 1...1,000,000.
    public var maximumTransactionsPerBlock: Int
    /// Optional, default 1; range 0...100,000. Ticks the primary waits after a commit before proposing.
    public var blockIntervalTicks: UInt64

    /// Parameters as the properties of the same names, with their documented defaults and ranges; `validate()` checks them (1701).
    public init(validators: ValidatorSet, viewChangeTimeoutTicks: UInt64 = 20, checkpointIntervalBlocks: UInt64 = 10,
                watermarkWindowBlocks: UInt64 = 40, maximumTransactionsPerBlock: Int = 1_000, blockIntervalTicks: UInt64 = 1) {
        self.validators = validators
        self.viewChangeTimeoutTicks = viewChangeTimeoutTicks
        self.checkpointIntervalBlocks = checkpointIntervalBlocks
        self.watermarkWindowBlocks = watermarkWindowBlocks
        self.maximumTransactionsPerBlock = maximumTransactionsPerBlock
        self.blockIntervalTicks = blockIntervalTicks
    }

    /// - Throws: `.invalidConsensusConfig` (1701) naming the field.
    public func validate() throws(LedgerError) {
        try ConfigCheck.range(viewChangeTimeoutTicks, 2...100_000, "pbft.viewChangeTimeoutTicks")
        try ConfigCheck.range(checkpointIntervalBlocks, 1...10_000, "pbft.checkpointIntervalBlocks")
        try ConfigCheck.range(watermarkWindowBlocks, checkpointIntervalBlocks * 2...max(checkpointIntervalBlocks * 2, 100_000), "pbft.watermarkWindowBlocks")
        try ConfigCheck.range(maximumTransactionsPerBlock, 1...Block.maximumTransactions, "pbft.maximumTransactionsPerBlock")
        try ConfigCheck.range(blockIntervalTicks, 0...100_000, "pbft.blockIntervalTicks")
    }

    private enum CodingKeys: String, CodingKey {
        case validators, viewChangeTimeoutTicks, checkpointIntervalBlocks, watermarkWindowBlocks, maximumTransactionsPerBlock, blockIntervalTicks
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PBFTConfig(validators: try c.decode(ValidatorSet.self, forKey: .validators))
        self = d
        viewChangeTimeoutTicks = try c.value(.viewChangeTimeoutTicks, default: d.viewChangeTimeoutTicks)
        checkpointIntervalBlocks = try c.value(.checkpointIntervalBlocks, default: d.checkpointIntervalBlocks)
        watermarkWindowBlocks = try c.value(.watermarkWindowBlocks, default: d.watermarkWindowBlocks)
        maximumTransactionsPerBlock = try c.value(.maximumTransactionsPerBlock, default: d.maximumTransactionsPerBlock)
        blockIntervalTicks = try c.value(.blockIntervalTicks, default: d.blockIntervalTicks)
    }
}

/// Raft parameters. Members need `n ≥ 3` to tolerate one crashed node (`n = 2f + 1`).
public struct RaftConfig: Hashable, Sendable, Codable {
    /// Required. The voting members.
    public var members: ValidatorSet
    /// Optional, default 2; range 1...10,000. Ticks between the leader's heartbeats.
    public var heartbeatIntervalTicks: UInt64
    /// Optional, default 10; range `2 × heartbeatIntervalTicks`...100,000. Least election timeout.
    public var electionTimeoutMinTicks: UInt64
    /// Optional, default 20; range `electionTimeoutMinTicks + 1`...200,000. Greatest election timeout;
    /// each timeout is drawn uniformly from `min...max` by the engine's seeded generator.
    public var electionTimeoutMaxTicks: UInt64
    /// Optional, default 8; range 1...1,024. Most log entries (blocks) per append message.
    public var maximumEntriesPerAppend: Int
    /// Optional, default 4; range 1...1,024. Most proposed-but-uncommitted blocks the leader keeps in flight.
    public var maximumInflightBlocks: Int
    /// Optional, default 1,000; range 1...1,000,000.
    public var maximumTransactionsPerBlock: Int
    /// Optional, default 1; range 0...100,000. Ticks the leader waits between proposals.
    public var blockIntervalTicks: UInt64

    /// Parameters as the properties of the same names, with their documented defaults and ranges; `validate()` checks them (1701).
    public init(members: ValidatorSet, heartbeatIntervalTicks: UInt64 = 2, electionTimeoutMinTicks: UInt64 = 10,
                electionTimeoutMaxTicks: UInt64 = 20, maximumEntriesPerAppend: Int = 8, maximumInflightBlocks: Int = 4,
                maximumTransactionsPerBlock: Int = 1_000, blockIntervalTicks: UInt64 = 1) {
        self.members = members
        self.heartbeatIntervalTicks = heartbeatIntervalTicks
        self.electionTimeoutMinTicks = electionTimeoutMinTicks
        self.electionTimeoutMaxTicks = electionTimeoutMaxTicks
        self.maximumEntriesPerAppend = maximumEntriesPerAppend
        self.maximumInflightBlocks = maximumInflightBlocks
        self.maximumTransactionsPerBlock = maximumTransactionsPerBlock
        self.blockIntervalTicks = blockIntervalTicks
    }

    /// - Throws: `.invalidConsensusConfig` (1701) naming the field.
    public func validate() throws(LedgerError) {
        try ConfigCheck.range(heartbeatIntervalTicks, 1...10_000, "raft.heartbeatIntervalTicks")
        try ConfigCheck.range(electionTimeoutMinTicks, heartbeatIntervalTicks * 2...100_000, "raft.electionTimeoutMinTicks")
        try ConfigCheck.range(electionTimeoutMaxTicks, (electionTimeoutMinTicks + 1)...max(electionTimeoutMinTicks + 1, 200_000), "raft.electionTimeoutMaxTicks")
        try ConfigCheck.range(maximumEntriesPerAppend, 1...1_024, "raft.maximumEntriesPerAppend")
        try ConfigCheck.range(maximumInflightBlocks, 1...1_024, "raft.maximumInflightBlocks")
        try ConfigCheck.range(maximumTransactionsPerBlock, 1...Block.maximumTransactions, "raft.maximumTransactionsPerBlock")
        try ConfigCheck.range(blockIntervalTicks, 0...100_000, "raft.blockIntervalTicks")
    }

    private enum CodingKeys: String, CodingKey {
        case members, heartbeatIntervalTicks, electionTimeoutMinTicks, electionTimeoutMaxTicks, maximumEntriesPerAppend
        case maximumInflightBlocks, maximumTransactionsPerBlock, blockIntervalTicks
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = RaftConfig(members: try c.decode(ValidatorSet.self, forKey: .members))
        self = d
        heartbeatIntervalTicks = try c.value(.heartbeatIntervalTicks, default: d.heartbeatIntervalTicks)
        electionTimeoutMinTicks = try c.value(.electionTimeoutMinTicks, default: d.electionTimeoutMinTicks)
        electionTimeoutMaxTicks = try c.value(.electionTimeoutMaxTicks, default: d.electionTimeoutMaxTicks)
        maximumEntriesPerAppend = try c.value(.maximumEntriesPerAppend, default: d.maximumEntriesPerAppend)
        maximumInflightBlocks = try c.value(.maximumInflightBlocks, default: d.maximumInflightBlocks)
        maximumTransactionsPerBlock = try c.value(.maximumTransactionsPerBlock, default: d.maximumTransactionsPerBlock)
        blockIntervalTicks = try c.value(.blockIntervalTicks, default: d.blockIntervalTicks)
    }
}

/// Proof-of-work parameters. Difficulty `d` means a block hash must satisfy
/// `ProofOfWork.meets(hash:difficulty:)`: `d` attempts on average.
public struct PoWConfig: Hashable, Sendable, Codable {
    /// Optional, default 64; range `minimumDifficulty`...2^62. Difficulty of block 1.
    public var initialDifficulty: UInt64
    /// Optional, default 1; range 1...2^62. Retargeting never goes below it.
    public var minimumDifficulty: UInt64
    /// Optional, default 10; range 1...100,000. Blocks between difficulty retargets.
    public var retargetIntervalBlocks: UInt64
    /// Optional, default 20; range 1...1,000,000. The block interval retargeting aims for.
    public var targetBlockIntervalTicks: UInt64
    /// Optional, default 4; range 2...16. Most a retarget may multiply or divide the difficulty by.
    public var maximumRetargetFactor: UInt64
    /// Optional, default 16; range 1...1,000,000. Nonces a node tries per tick (its simulated hash rate).
    public var hashesPerTick: UInt64
    /// Optional, default 3; range 0...1,000. Blocks that must be mined on top before a block is reported committed.
    public var confirmationDepth: UInt64
    /// Optional, default 1,000; range 1...1,000,000.
    public var maximumTransactionsPerBlock: Int

    /// Parameters as the properties of the same names, with their documented defaults and ranges; `validate()` checks them (1701).
    public init(initialDifficulty: UInt64 = 64, minimumDifficulty: UInt64 = 1, retargetIntervalBlocks: UInt64 = 10,
                targetBlockIntervalTicks: UInt64 = 20, maximumRetargetFactor: UInt64 = 4, hashesPerTick: UInt64 = 16,
                confirmationDepth: UInt64 = 3, maximumTransactionsPerBlock: Int = 1_000) {
        self.initialDifficulty = initialDifficulty
        self.minimumDifficulty = minimumDifficulty
        self.retargetIntervalBlocks = retargetIntervalBlocks
        self.targetBlockIntervalTicks = targetBlockIntervalTicks
        self.maximumRetargetFactor = maximumRetargetFactor
        self.hashesPerTick = hashesPerTick
        self.confirmationDepth = confirmationDepth
        self.maximumTransactionsPerBlock = maximumTransactionsPerBlock
    }

    /// - Throws: `.invalidConsensusConfig` (1701) naming the field.
    public func validate() throws(LedgerError) {
        try ConfigCheck.range(minimumDifficulty, 1...(1 << 62), "pow.minimumDifficulty")
        try ConfigCheck.range(initialDifficulty, minimumDifficulty...(1 << 62), "pow.initialDifficulty")
        try ConfigCheck.range(retargetIntervalBlocks, 1...100_000, "pow.retargetIntervalBlocks")
        try ConfigCheck.range(targetBlockIntervalTicks, 1...1_000_000, "pow.targetBlockIntervalTicks")
        try ConfigCheck.range(maximumRetargetFactor, 2...16, "pow.maximumRetargetFactor")
        try ConfigCheck.range(hashesPerTick, 1...1_000_000, "pow.hashesPerTick")
        try ConfigCheck.range(confirmationDepth, 0...1_000, "pow.confirmationDepth")
        try ConfigCheck.range(maximumTransactionsPerBlock, 1...Block.maximumTransactions, "pow.maximumTransactionsPerBlock")
    }

    private enum CodingKeys: String, CodingKey {
        case initialDifficulty, minimumDifficulty, retargetIntervalBlocks, targetBlockIntervalTicks, maximumRetargetFactor
        case hashesPerTick, confirmationDepth, maximumTransactionsPerBlock
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PoWConfig()
        self = d
        initialDifficulty = try c.value(.initialDifficulty, default: d.initialDifficulty)
        minimumDifficulty = try c.value(.minimumDifficulty, default: d.minimumDifficulty)
        retargetIntervalBlocks = try c.value(.retargetIntervalBlocks, default: d.retargetIntervalBlocks)
        targetBlockIntervalTicks = try c.value(.targetBlockIntervalTicks, default: d.targetBlockIntervalTicks)
        maximumRetargetFactor = try c.value(.maximumRetargetFactor, default: d.maximumRetargetFactor)
        hashesPerTick = try c.value(.hashesPerTick, default: d.hashesPerTick)
        confirmationDepth = try c.value(.confirmationDepth, default: d.confirmationDepth)
        maximumTransactionsPerBlock = try c.value(.maximumTransactionsPerBlock, default: d.maximumTransactionsPerBlock)
    }
}

/// Proof-of-stake parameters: a stake-weighted validator set; a block is final
/// when validators holding more than 2/3 of the stake sign it. Stake changes
/// are scheduled with ``ConsensusSchedule`` and take effect at their height.
public struct PoSConfig: Hashable, Sendable, Codable {
    /// Required. Validators with their stakes (each ≥ 1).
    public var validators: ValidatorSet
    /// Optional, default 20; range 2...100,000. Ticks before a round without a decision moves to the next proposer.
    public var roundTimeoutTicks: UInt64
    /// Optional, default 1; range 0...100,000. Ticks the proposer waits after a commit before proposing.
    public var blockIntervalTicks: UInt64
    /// Optional, default 1,000; range 1...1,000,000.
    public var maximumTransactionsPerBlock: Int

    /// Parameters as the properties of the same names, with their documented defaults and ranges; `validate()` checks them (1701).
    public init(validators: ValidatorSet, roundTimeoutTicks: UInt64 = 20, blockIntervalTicks: UInt64 = 1,
                maximumTransactionsPerBlock: Int = 1_000) {
        self.validators = validators
        self.roundTimeoutTicks = roundTimeoutTicks
        self.blockIntervalTicks = blockIntervalTicks
        self.maximumTransactionsPerBlock = maximumTransactionsPerBlock
    }

    /// - Throws: `.invalidConsensusConfig` (1701) naming the field.
    public func validate() throws(LedgerError) {
        try ConfigCheck.range(roundTimeoutTicks, 2...100_000, "pos.roundTimeoutTicks")
        try ConfigCheck.range(blockIntervalTicks, 0...100_000, "pos.blockIntervalTicks")
        try ConfigCheck.range(maximumTransactionsPerBlock, 1...Block.maximumTransactions, "pos.maximumTransactionsPerBlock")
    }

    private enum CodingKeys: String, CodingKey { case validators, roundTimeoutTicks, blockIntervalTicks, maximumTransactionsPerBlock }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PoSConfig(validators: try c.decode(ValidatorSet.self, forKey: .validators))
        self = d
        roundTimeoutTicks = try c.value(.roundTimeoutTicks, default: d.roundTimeoutTicks)
        blockIntervalTicks = try c.value(.blockIntervalTicks, default: d.blockIntervalTicks)
        maximumTransactionsPerBlock = try c.value(.maximumTransactionsPerBlock, default: d.maximumTransactionsPerBlock)
    }
}

// MARK: - Helpers

/// Range checks with errors that name the field (for engine configurations, including those of later engines).
package enum ConfigCheck {
    /// Throws `.invalidConsensusConfig` (1701) naming `field` when `value` is outside `range`.
    package static func range<T: Comparable & CustomStringConvertible>(_ value: T, _ range: ClosedRange<T>, _ field: String) throws(LedgerError) {
        guard range.contains(value) else {
            throw LedgerError(.invalidConsensusConfig, "field '\(field)': \(value) is outside \(range.lowerBound)...\(range.upperBound)",
                              details: ["field": field, "value": value.description,
                                        "minimum": range.lowerBound.description, "maximum": range.upperBound.description])
        }
    }
}

enum ConsensusJSON {
    static func decode<T: Decodable>(_ type: T.Type, from json: [UInt8]) throws(LedgerError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(json))
        } catch let error as DecodingError {
            let (path, reason): ([any CodingKey], String) = switch error {
            case .keyNotFound(let key, let ctx): (ctx.codingPath + [key], "is missing")
            case .typeMismatch(_, let ctx): (ctx.codingPath, "has the wrong type: \(ctx.debugDescription)")
            case .valueNotFound(_, let ctx): (ctx.codingPath, "is null")
            case .dataCorrupted(let ctx): (ctx.codingPath, "is invalid: \(ctx.debugDescription)")
            @unknown default: ([], "\(error)")
            }
            let field = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingPrefix(".")
            throw LedgerError(.consensusConfigFile, "field '\(field)' \(reason)", details: ["field": String(field)])
        } catch {
            throw LedgerError(.consensusConfigFile, "configuration JSON is malformed: \(error)")
        }
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Encoding these value types cannot fail: every field is a number, string, array or object.
        return (try? Array(encoder.encode(value))) ?? []
    }

    static func read(_ url: URL) throws(LedgerError) -> [UInt8] {
        do { return Array(try Data(contentsOf: url)) } catch {
            throw LedgerError(.consensusConfigFile, "cannot read \(url.path): \(error.localizedDescription)", details: ["path": url.path])
        }
    }

    static func write(_ bytes: [UInt8], to url: URL) throws(LedgerError) {
        do { try Data(bytes).write(to: url, options: .atomic) } catch {
            throw LedgerError(.consensusConfigFile, "cannot write \(url.path): \(error.localizedDescription)", details: ["path": url.path])
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `defaultValue` when absent; a bad value is reported with the key in its coding path
    /// (Foundation on Linux drops the key for out-of-range numbers).
    func value<T: Decodable>(_ key: Key, default defaultValue: T) throws -> T {
        do {
            return try decodeIfPresent(T.self, forKey: key) ?? defaultValue
        } catch let error as DecodingError {
            let description: String = switch error {
            case .dataCorrupted(let ctx), .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .keyNotFound(_, let ctx): ctx.debugDescription
            @unknown default: "\(error)"
            }
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: description))
        }
    }
}
