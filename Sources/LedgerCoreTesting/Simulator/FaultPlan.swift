import LedgerCore

/// Which faults a simulation injects, as data. The seed then decides the
/// actual rates (up to the maxima), when partitions and crashes happen, and
/// which messages they hit.
///
/// Faults are active during the first ``faultTicks`` ticks; then every link
/// heals, every crashed node restarts, and each correct node must commit at
/// least ``requiredProgress`` new blocks within ``quietTicks`` (liveness).
///
/// ```swift
/// let plan = FaultPlan.all                        // drops, delays, duplicates, reorders, partitions, crashes
/// let plan = try FaultPlan(parsing: "drop,partition")
/// ```
public struct FaultPlan: Hashable, Sendable, Codable {
    /// A set of fault kinds.
    public struct Kinds: OptionSet, Hashable, Sendable, Codable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Messages are lost.
        public static let drop = Kinds(rawValue: 1)
        /// Messages arrive late.
        public static let delay = Kinds(rawValue: 2)
        /// Messages arrive twice.
        public static let duplicate = Kinds(rawValue: 4)
        /// Messages overtake each other.
        public static let reorder = Kinds(rawValue: 8)
        /// The network splits into groups that cannot reach each other.
        public static let partition = Kinds(rawValue: 16)
        /// Nodes crash and restart from their persisted state.
        public static let crash = Kinds(rawValue: 32)
        /// Every kind.
        public static let all: Kinds = [.drop, .delay, .duplicate, .reorder, .partition, .crash]
    }

    /// Optional, default none.
    public var kinds: Kinds
    /// Optional, default 0.25; range 0...1. The drop rate of a run is drawn from `0...maximumDropRate`.
    public var maximumDropRate: Double
    /// Optional, default 0.1; range 0...1.
    public var maximumDuplicateRate: Double
    /// Optional, default 6; range 0...1,000. Extra delay of a delayed message, in ticks (reordering follows from it).
    public var maximumDelayTicks: UInt64
    /// Optional, default 250. Ticks during which faults are injected.
    public var faultTicks: UInt64
    /// Optional, default 150. Ticks after healing within which every correct node must make progress.
    public var quietTicks: UInt64
    /// Optional, default 2. New blocks each correct node must commit after healing.
    public var requiredProgress: UInt64

    /// Every parameter is optional; see the properties for defaults.
    public init(kinds: Kinds = [], maximumDropRate: Double = 0.25, maximumDuplicateRate: Double = 0.1, maximumDelayTicks: UInt64 = 6,
                faultTicks: UInt64 = 250, quietTicks: UInt64 = 150, requiredProgress: UInt64 = 2) {
        self.kinds = kinds
        self.maximumDropRate = maximumDropRate
        self.maximumDuplicateRate = maximumDuplicateRate
        self.maximumDelayTicks = maximumDelayTicks
        self.faultTicks = faultTicks
        self.quietTicks = quietTicks
        self.requiredProgress = requiredProgress
    }

    /// No faults.
    public static let none = FaultPlan()
    /// Message loss only.
    public static let drops = FaultPlan(kinds: [.drop])
    /// Delays, reordering and duplicates.
    public static let delays = FaultPlan(kinds: [.delay, .reorder, .duplicate])
    /// Partitions only.
    public static let partitions = FaultPlan(kinds: [.partition])
    /// Crashes and restarts only.
    public static let crashes = FaultPlan(kinds: [.crash])
    /// Every kind at once.
    public static let all = FaultPlan(kinds: .all)
    /// The schedules the test suites cycle through.
    public static let standardSchedules: [FaultPlan] = [.none, .drops, .delays, .partitions, .crashes, .all]

    /// Parses a comma-separated list of `drop`, `delay` (with duplicates and reordering), `duplicate`,
    /// `reorder`, `partition`, `crash`, `all`, `none`.
    /// - Throws: `LedgerError` `.invalidConsensusConfig` (1701) naming the unknown word (field `faults`).
    public init(parsing text: String) throws(LedgerError) {
        self.init()
        for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) where !word.isEmpty {
            switch word {
            case "drop", "drops": kinds.insert(.drop)
            case "delay", "delays": kinds.formUnion([.delay, .reorder, .duplicate])
            case "duplicate": kinds.insert(.duplicate)
            case "reorder": kinds.insert(.reorder)
            case "partition", "partitions": kinds.insert(.partition)
            case "crash", "crashes": kinds.insert(.crash)
            case "all": kinds = .all
            case "none": break
            default:
                throw LedgerError(.invalidConsensusConfig, "field 'faults': unknown fault '\(word)'; expected drop, delay, duplicate, reorder, partition, crash, all",
                                  details: ["field": "faults", "value": word])
            }
        }
    }
}

/// Byzantine behaviours a faulty node may show (each Byzantine node draws
/// one per message from the enabled set).
public struct ByzantineBehaviors: OptionSet, Hashable, Sendable, Codable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Sends conflicting messages to different nodes (``SimulatableEngine/equivocate(_:to:toolkit:)``).
    public static let equivocate = ByzantineBehaviors(rawValue: 1)
    /// Sends messages whose signatures do not verify.
    public static let invalidSignatures = ByzantineBehaviors(rawValue: 2)
    /// Sends nothing.
    public static let silent = ByzantineBehaviors(rawValue: 4)
    /// Every behaviour.
    public static let all: ByzantineBehaviors = [.equivocate, .invalidSignatures, .silent]
}

extension String {
    fileprivate func trimmingCharacters(in set: TrimSet) -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
    fileprivate enum TrimSet { case whitespaces }
}
