/// How much a finding matters, lowest first; ``DeploymentPolicy`` refuses at or above one of them.
public enum AuditSeverity: Int, Sendable, Hashable, Comparable, Codable, CaseIterable, CustomStringConvertible {
    /// Worth knowing; no defect by itself (for example a jump the analysis could not resolve).
    case info = 0
    /// A pattern that is often intended but worth a look (a branch on the block timestamp).
    case low = 1
    /// A likely defect with bounded damage (an unchecked call result, an unbounded loop over storage).
    case medium = 2
    /// A defect that can lose funds or control (reentrancy, delegatecall to a caller's address).
    case high = 3

    public static func < (lhs: AuditSeverity, rhs: AuditSeverity) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `info`, `low`, `medium` or `high`.
    public var description: String {
        switch self {
        case .info: "info"
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        }
    }

    /// Parses `info`, `low`, `medium` or `high`; `nil` for anything else.
    /// - Parameter name: Required. Case-sensitive.
    public init?(name: String) {
        guard let match = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }

    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let value = AuditSeverity(name: name) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "severity \(name)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// One thing the bytecode audit found.
///
/// ```swift
/// for finding in report.findings where finding.severity >= .medium {
///     print(finding.id, finding.pc, finding.message)   // "reentrancy@150", 150, ...
/// }
/// ```
public struct AuditFinding: Sendable, Hashable, Codable {
    /// The kinds of defect the audit looks for.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// A persistent state write (SSTORE) reachable after an external call that may re-enter (CALL, CALLCODE
        /// or DELEGATECALL with more gas than the 2,300 stipend) and that no reentrancy lock guards (a constant
        /// stored to a slot whose load decides a branch, in a block that dominates the call: Vyper's
        /// `@nonreentrant`, OpenZeppelin's ReentrancyGuard). At the SSTORE; ``AuditFinding/relatedPCs`` names
        /// the calls. High.
        case reentrancy
        /// The success flag of a call never reaches a branch condition. At the call. Medium.
        case uncheckedCallResult = "unchecked-call-result"
        /// A branch decided by `tx.origin` (ORIGIN): authorisation any contract the user calls can pass. At the
        /// ORIGIN. Medium.
        case txOriginAuthorisation = "tx-origin-authorisation"
        /// DELEGATECALL or CALLCODE to an address from calldata or the caller: runs any code on this contract's
        /// storage. At the call. High.
        case controlledDelegateCall = "controlled-delegatecall"
        /// CALL to an address from calldata (medium when it may carry value, low without) or to the caller (low).
        /// At the call.
        case controlledCallTarget = "controlled-call-target"
        /// A reachable SELFDESTRUCT (since Cancun it still sends the whole balance). At it. Medium.
        case selfdestruct
        /// A branch condition derived from TIMESTAMP, which the block's proposer picks within limits. At the
        /// TIMESTAMP. Low.
        case timestampInBranch = "timestamp-in-branch"
        /// A branch condition derived from NUMBER. At the NUMBER. Low.
        case blockNumberInBranch = "block-number-in-branch"
        /// A loop whose every exit depends on a value read from storage that is never checked against a
        /// constant bound: its gas grows with the state until calls fail. At the exit's JUMPI. Medium.
        case unboundedStorageLoop = "unbounded-storage-loop"
        /// A reachable jump to a constant target that is not a JUMPDEST. At the jump. Medium.
        case invalidJumpTarget = "invalid-jump-target"
        /// A reachable jump whose target the analysis could not resolve: code behind it may be unanalysed. At
        /// the jump. Info.
        case unresolvedJump = "unresolved-jump"
        /// The analysis stopped at its step budget: the findings may be incomplete. At pc 0. Info.
        case analysisIncomplete = "analysis-incomplete"
        /// The code exceeds the 24,576-byte limit on deployed code (EIP-170). At pc 0. Info.
        case codeSizeLimit = "code-size-limit"
    }

    /// What was found.
    public let kind: Kind
    /// How much it matters.
    public let severity: AuditSeverity
    /// The pc of the instruction the finding is about.
    public let pc: Int
    /// That instruction's mnemonic.
    public let opcode: String
    /// What is wrong, in a sentence.
    public let message: String
    /// Other pcs involved (the calls before a reentrant write), ascending.
    public let relatedPCs: [Int]
    /// The source line of ``pc`` when a source map was given (1-based).
    public let line: Int?
    /// The source column of ``pc`` when a source map gives one (0-based).
    public let column: Int?

    /// The stable ID an allow list names: `kind@pc`, for example `reentrancy@150`.
    public var id: String { "\(kind.rawValue)@\(pc)" }

    /// Creates a finding.
    /// - Parameters:
    ///   - kind: Required.
    ///   - severity: Required.
    ///   - pc: Required. `0..<code size`.
    ///   - opcode: Required. The mnemonic at `pc`.
    ///   - message: Required.
    ///   - relatedPCs: Optional, default empty.
    ///   - line: Optional, default `nil`.
    ///   - column: Optional, default `nil`.
    public init(kind: Kind, severity: AuditSeverity, pc: Int, opcode: String, message: String, relatedPCs: [Int] = [],
                line: Int? = nil, column: Int? = nil) {
        self.kind = kind
        self.severity = severity
        self.pc = pc
        self.opcode = opcode
        self.message = message
        self.relatedPCs = relatedPCs
        self.line = line
        self.column = column
    }

    private enum CodingKeys: String, CodingKey { case id, kind, severity, pc, opcode, message, relatedPCs, line, column }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(kind: try c.decode(Kind.self, forKey: .kind), severity: try c.decode(AuditSeverity.self, forKey: .severity),
                  pc: try c.decode(Int.self, forKey: .pc), opcode: try c.decode(String.self, forKey: .opcode),
                  message: try c.decode(String.self, forKey: .message),
                  relatedPCs: try c.decodeIfPresent([Int].self, forKey: .relatedPCs) ?? [],
                  line: try c.decodeIfPresent(Int.self, forKey: .line), column: try c.decodeIfPresent(Int.self, forKey: .column))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encode(severity, forKey: .severity)
        try c.encode(pc, forKey: .pc)
        try c.encode(opcode, forKey: .opcode)
        try c.encode(message, forKey: .message)
        try c.encode(relatedPCs, forKey: .relatedPCs)
        try c.encodeIfPresent(line, forKey: .line)
        try c.encodeIfPresent(column, forKey: .column)
    }
}
