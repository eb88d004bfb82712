/// The parameters of proof-of-work consensus: difficulty, retargeting,
/// block interval, confirmation depth and mining speed.
///
/// Configuration is data: `Codable` (JSON keys are the property names;
/// a missing key takes its default), and every value is checked by
/// ``validate()``, which decoding also runs, so an out-of-range value is
/// rejected with `LedgerError` `.powInvalidConfiguration` (1800) naming the
/// field.
///
/// Difficulty is the expected number of hash attempts per block: a header
/// is a valid proof of work when its hash, read as a 256-bit big-endian
/// number, is at most `(2^256 - 1) / difficulty` (the engine compares the top
/// 128 bits, ``PoWDifficulty/meetsTarget(_:difficulty:)``). A difficulty of
/// `2^k` is the same as "k leading zero bits". The work of a block is its
/// difficulty; fork choice sums it.
///
/// ```swift
/// let config = try PoWConfig(initialDifficulty: 16, targetBlockIntervalMillis: 1_000, confirmationDepth: 4)
/// let json = try JSONEncoder().encode(config)   // round-trips through JSONDecoder
/// ```
/// A value type; safe to share between threads.
public struct PoWConfig: Hashable, Sendable, Codable {
    /// Expected hash attempts per block for the first retarget window (and
    /// from any height where a changed value takes effect).
    /// Range `1...2^48`, default `2^20`.
    public var initialDifficulty: UInt64
    /// The floor retargeting never goes below. Range `1...initialDifficulty`, default 1.
    public var minimumDifficulty: UInt64
    /// The block interval retargeting steers towards, in milliseconds of
    /// block-timestamp time. Range `1...86_400_000`, default 10,000.
    public var targetBlockIntervalMillis: UInt64
    /// Blocks per retarget window: the difficulty changes every this many
    /// blocks. Range `1...10_000`, default 32.
    public var retargetWindow: UInt64
    /// The most one retarget may multiply or divide the difficulty by
    /// (Bitcoin uses 4). Range `2...16`, default 4.
    public var maximumAdjustmentFactor: UInt64
    /// How many blocks must follow a block on the heaviest chain before it
    /// is committed (emitted as final with its certificate).
    /// Range `1...1_000`, default 6.
    public var confirmationDepth: UInt64
    /// Hash attempts a miner makes per tick: the node's hash power in the
    /// simulator (a local setting, not a chain rule).
    /// Range `0...10_000_000` (0: the node does not mine), default 1,000.
    public var hashAttemptsPerTick: UInt64

    /// The documented ranges, checked by ``validate()``.
    public static let initialDifficultyRange: ClosedRange<UInt64> = 1...(1 << 48)
    public static let targetBlockIntervalMillisRange: ClosedRange<UInt64> = 1...86_400_000
    public static let retargetWindowRange: ClosedRange<UInt64> = 1...10_000
    public static let maximumAdjustmentFactorRange: ClosedRange<UInt64> = 2...16
    public static let confirmationDepthRange: ClosedRange<UInt64> = 1...1_000
    public static let hashAttemptsPerTickRange: ClosedRange<UInt64> = 0...10_000_000

    /// Builds and validates a configuration. Every parameter is optional and
    /// takes the default documented on its property.
    /// - Throws: `LedgerError` `.powInvalidConfiguration` (1800) naming the
    ///   first field out of range.
    public init(initialDifficulty: UInt64 = 1 << 20, minimumDifficulty: UInt64 = 1,
                targetBlockIntervalMillis: UInt64 = 10_000, retargetWindow: UInt64 = 32,
                maximumAdjustmentFactor: UInt64 = 4, confirmationDepth: UInt64 = 6,
                hashAttemptsPerTick: UInt64 = 1_000) throws(LedgerError) {
        self.initialDifficulty = initialDifficulty
        self.minimumDifficulty = minimumDifficulty
        self.targetBlockIntervalMillis = targetBlockIntervalMillis
        self.retargetWindow = retargetWindow
        self.maximumAdjustmentFactor = maximumAdjustmentFactor
        self.confirmationDepth = confirmationDepth
        self.hashAttemptsPerTick = hashAttemptsPerTick
        try validate()
    }

    /// The defaults (difficulty 2^20, 10 s blocks, window 32, factor 4, depth 6).
    public static let `default` = try! PoWConfig()

    /// Checks every field against its documented range.
    /// - Throws: `LedgerError` `.powInvalidConfiguration` (1800); `details`
    ///   holds `field`, `value` and `range`.
    public func validate() throws(LedgerError) {
        func check(_ field: String, _ value: UInt64, _ range: ClosedRange<UInt64>) throws(LedgerError) {
            guard range.contains(value) else {
                throw LedgerError(.powInvalidConfiguration,
                                  "field '\(field)': \(value) is outside \(range.lowerBound)...\(range.upperBound)",
                                  details: ["field": field, "value": String(value),
                                            "range": "\(range.lowerBound)...\(range.upperBound)"])
            }
        }
        try check("initialDifficulty", initialDifficulty, Self.initialDifficultyRange)
        try check("minimumDifficulty", minimumDifficulty, 1...initialDifficulty)
        try check("targetBlockIntervalMillis", targetBlockIntervalMillis, Self.targetBlockIntervalMillisRange)
        try check("retargetWindow", retargetWindow, Self.retargetWindowRange)
        try check("maximumAdjustmentFactor", maximumAdjustmentFactor, Self.maximumAdjustmentFactorRange)
        try check("confirmationDepth", confirmationDepth, Self.confirmationDepthRange)
        try check("hashAttemptsPerTick", hashAttemptsPerTick, Self.hashAttemptsPerTickRange)
    }

    /// True when `other` differs in a chain rule (everything but
    /// ``hashAttemptsPerTick``); such a change starts a new difficulty period.
    func differsInChainRules(from other: PoWConfig) -> Bool {
        initialDifficulty != other.initialDifficulty || minimumDifficulty != other.minimumDifficulty
            || targetBlockIntervalMillis != other.targetBlockIntervalMillis || retargetWindow != other.retargetWindow
            || maximumAdjustmentFactor != other.maximumAdjustmentFactor
    }

    enum CodingKeys: String, CodingKey {
        case initialDifficulty, minimumDifficulty, targetBlockIntervalMillis, retargetWindow,
             maximumAdjustmentFactor, confirmationDepth, hashAttemptsPerTick
    }

    /// Decodes a configuration; missing keys take their defaults.
    /// - Throws: `DecodingError` for a wrong type; `LedgerError`
    ///   `.powInvalidConfiguration` (1800) for a value out of range.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = PoWConfig.default
        try self.init(
            initialDifficulty: c.decodeIfPresent(UInt64.self, forKey: .initialDifficulty) ?? d.initialDifficulty,
            minimumDifficulty: c.decodeIfPresent(UInt64.self, forKey: .minimumDifficulty) ?? d.minimumDifficulty,
            targetBlockIntervalMillis: c.decodeIfPresent(UInt64.self, forKey: .targetBlockIntervalMillis) ?? d.targetBlockIntervalMillis,
            retargetWindow: c.decodeIfPresent(UInt64.self, forKey: .retargetWindow) ?? d.retargetWindow,
            maximumAdjustmentFactor: c.decodeIfPresent(UInt64.self, forKey: .maximumAdjustmentFactor) ?? d.maximumAdjustmentFactor,
            confirmationDepth: c.decodeIfPresent(UInt64.self, forKey: .confirmationDepth) ?? d.confirmationDepth,
            hashAttemptsPerTick: c.decodeIfPresent(UInt64.self, forKey: .hashAttemptsPerTick) ?? d.hashAttemptsPerTick)
    }
}
