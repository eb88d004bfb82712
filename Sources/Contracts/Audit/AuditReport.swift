import Foundation
import LedgerCrypto

/// What ``ContractAudit/analyse(bytecode:sourceMap:)`` found in one piece of code.
///
/// ```swift
/// let report = try ContractAudit.analyse(bytecode: runtime)
/// report.codeHash                          // keccak256 of the code, as the EVM's EXTCODEHASH
/// report.findings(atOrAbove: .medium)      // what a cautious policy refuses
/// print(report.text)
/// ```
public struct AuditReport: Sendable, Hashable, Codable {
    /// keccak256 of the audited code (the Ethereum code hash, as EXTCODEHASH returns it): the lifecycle compares
    /// it with the code it loads.
    public let codeHash: Digest
    /// The code's length in bytes.
    public let codeSize: Int
    /// The number of instructions.
    public let instructionCount: Int
    /// The number of basic blocks, and of those the analysis reached from pc 0.
    public let blockCount: Int
    /// The number of blocks the analysis reached from pc 0.
    public let reachableBlockCount: Int
    /// Whether the analysis reached a fixed point within its budget and resolved every reachable jump.
    public let isComplete: Bool
    /// The findings, most severe first, then by pc.
    public let findings: [AuditFinding]

    /// Creates a report.
    /// - Parameters:
    ///   - codeHash: Required. keccak256 of the code.
    ///   - codeSize: Required. Bytes.
    ///   - instructionCount: Required.
    ///   - blockCount: Required.
    ///   - reachableBlockCount: Required. `0...blockCount`.
    ///   - isComplete: Required.
    ///   - findings: Required. Sorted here, most severe first.
    public init(codeHash: Digest, codeSize: Int, instructionCount: Int, blockCount: Int, reachableBlockCount: Int,
                isComplete: Bool, findings: [AuditFinding]) {
        self.codeHash = codeHash
        self.codeSize = codeSize
        self.instructionCount = instructionCount
        self.blockCount = blockCount
        self.reachableBlockCount = reachableBlockCount
        self.isComplete = isComplete
        self.findings = findings.sorted {
            ($0.severity, -$0.pc, $0.kind.rawValue) > ($1.severity, -$1.pc, $1.kind.rawValue)
        }
    }

    /// The findings of `severity` or worse.
    /// - Parameter severity: Required.
    public func findings(atOrAbove severity: AuditSeverity) -> [AuditFinding] {
        findings.filter { $0.severity >= severity }
    }

    /// The findings of one kind.
    /// - Parameter kind: Required.
    public func findings(of kind: AuditFinding.Kind) -> [AuditFinding] {
        findings.filter { $0.kind == kind }
    }

    /// A plain-text report: a summary line, then one line per finding (`severity pc opcode [line] id: message`).
    public var text: String {
        var counts: [String] = []
        for severity in AuditSeverity.allCases.reversed() {
            let count = findings.filter { $0.severity == severity }.count
            if count > 0 { counts.append("\(count) \(severity)") }
        }
        var lines = ["code hash 0x\(codeHash.hex), \(codeSize) bytes, \(instructionCount) instructions, "
            + "\(reachableBlockCount)/\(blockCount) blocks reached\(isComplete ? "" : " (analysis incomplete)"): "
            + (findings.isEmpty ? "no findings" : "\(findings.count) findings (\(counts.joined(separator: ", ")))")]
        for finding in findings {
            let place = finding.line.map { " line \($0)" } ?? ""
            let padded = finding.severity.description.padding(toLength: 6, withPad: " ", startingAt: 0)
            lines.append("\(padded) pc \(finding.pc) \(finding.opcode)\(place) \(finding.id): \(finding.message)")
        }
        return lines.joined(separator: "\n")
    }

    private enum CodingKeys: String, CodingKey {
        case codeHash, codeSize, instructionCount, blockCount, reachableBlockCount, isComplete, findings
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let hash = try c.decode(String.self, forKey: .codeHash)
        let digest: Digest
        do { digest = try Digest(hex: hash.hasPrefix("0x") ? String(hash.dropFirst(2)) : hash) } catch {
            throw DecodingError.dataCorruptedError(forKey: .codeHash, in: c, debugDescription: "code hash \(hash)")
        }
        self.init(codeHash: digest, codeSize: try c.decode(Int.self, forKey: .codeSize),
                  instructionCount: try c.decode(Int.self, forKey: .instructionCount),
                  blockCount: try c.decode(Int.self, forKey: .blockCount),
                  reachableBlockCount: try c.decode(Int.self, forKey: .reachableBlockCount),
                  isComplete: try c.decode(Bool.self, forKey: .isComplete),
                  findings: try c.decode([AuditFinding].self, forKey: .findings))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("0x" + codeHash.hex, forKey: .codeHash)
        try c.encode(codeSize, forKey: .codeSize)
        try c.encode(instructionCount, forKey: .instructionCount)
        try c.encode(blockCount, forKey: .blockCount)
        try c.encode(reachableBlockCount, forKey: .reachableBlockCount)
        try c.encode(isComplete, forKey: .isComplete)
        try c.encode(findings, forKey: .findings)
    }
}
