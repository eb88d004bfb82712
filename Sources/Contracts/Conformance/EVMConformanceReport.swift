/// The outcome of a conformance run: every case passed, failed (with the reason) or skipped (with the reason).
public struct EVMConformanceReport: Sendable, Equatable {
    /// The three fixture formats.
    public enum Format: String, Sendable, CaseIterable, Comparable {
        /// ethereum/tests GeneralStateTests: one transaction, the post-state as a root hash.
        case state
        /// ethereum/tests BlockchainTests: blocks of transactions, the post-state in full.
        case blockchain
        /// The legacy VMTests: one frame, the post-state in full.
        case vm

        public static func < (lhs: Format, rhs: Format) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// A case that did not pass, or was not run.
    public struct Case: Sendable, Equatable, Hashable {
        /// Its format.
        public var format: Format
        /// A stable name: format, folder/test and, for state tests, fork and indexes
        /// (`state stExample/add11 Cancun d0g0v0`).
        public var name: String
        /// Why it failed or was skipped.
        public var reason: String

        /// - Parameters:
        ///   - format: Required. The case's format.
        ///   - name: Required. The stable case name.
        ///   - reason: Required. Why it failed or was skipped.
        public init(format: Format, name: String, reason: String) {
            self.format = format
            self.name = name
            self.reason = reason
        }
    }

    /// Cases passed, per format.
    public var passed: [Format: Int] = [:]
    /// Cases failed, sorted by name.
    public var failures: [Case] = []
    /// Cases not run: a fork other than Cancun, or an entry of the skip list that failed as listed.
    public var skipped: [Case] = []
    /// Skip-list entries that passed (the list should lose them).
    public var unexpectedPasses: [String] = []
    /// Fixture files read.
    public var filesRead = 0
    /// JSON files found that hold none of the three formats (trie, RLP and transaction vectors, for example).
    public var filesIgnored: [String] = []

    /// An empty report.
    public init() {}

    /// Cases passed in all formats.
    public var passedCount: Int { passed.values.reduce(0, +) }

    /// `N passed, N failed, N skipped`.
    public var summary: String { "\(passedCount) passed, \(failures.count) failed, \(skipped.count) skipped" }

    /// Per format: `state: N passed, N failed, N skipped`.
    public var summaryByFormat: [String] {
        Format.allCases.map { format in
            "\(format.rawValue): \(passed[format] ?? 0) passed, \(failures.filter { $0.format == format }.count) failed, "
                + "\(skipped.filter { $0.format == format }.count) skipped"
        }
    }

    mutating func merge(_ other: EVMConformanceReport) {
        for (format, count) in other.passed { passed[format, default: 0] += count }
        failures += other.failures
        skipped += other.skipped
        unexpectedPasses += other.unexpectedPasses
        filesRead += other.filesRead
        filesIgnored += other.filesIgnored
    }
}
