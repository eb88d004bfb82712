/// Decides from an audit whether code may be deployed: refuses any finding at or above a severity unless its ID
/// (or its kind) is on the allow list. A deployment path calls ``check(bytecode:sourceMap:)`` before it stores
/// code.
///
/// ```swift
/// var policy = DeploymentPolicy.refuseHigh
/// policy.allowed.insert("reentrancy@150")        // reviewed: the call goes to a trusted contract
/// let report = try policy.check(bytecode: code)   // throws .deploymentRefusedByAudit otherwise
/// ```
public struct DeploymentPolicy: Sendable, Hashable {
    /// The lowest severity that refuses; `nil` refuses nothing.
    public var refuseAtOrAbove: AuditSeverity?
    /// Findings that do not refuse: an ID (`kind@pc`, ``AuditFinding/id``) or a kind's name
    /// (`reentrancy`) for every finding of that kind.
    public var allowed: Set<String>

    /// - Parameters:
    ///   - refuseAtOrAbove: Optional, default `.high`; `nil` refuses nothing.
    ///   - allowed: Optional, default empty. Finding IDs or kind names.
    public init(refuseAtOrAbove: AuditSeverity? = .high, allowed: Set<String> = []) {
        self.refuseAtOrAbove = refuseAtOrAbove
        self.allowed = allowed
    }

    /// Refuses high-severity findings (the default).
    public static let refuseHigh = DeploymentPolicy(refuseAtOrAbove: .high)
    /// Refuses medium and high findings.
    public static let refuseMediumAndAbove = DeploymentPolicy(refuseAtOrAbove: .medium)
    /// Refuses nothing (the report is still produced).
    public static let permissive = DeploymentPolicy(refuseAtOrAbove: nil)

    /// The findings of `report` that refuse it, most severe first; empty when the policy allows it.
    /// - Parameter report: Required.
    public func refusingFindings(in report: AuditReport) -> [AuditFinding] {
        guard let threshold = refuseAtOrAbove else { return [] }
        return report.findings.filter {
            $0.severity >= threshold && !allowed.contains($0.id) && !allowed.contains($0.kind.rawValue)
        }
    }

    /// Whether `report` passes.
    /// - Parameter report: Required.
    public func allows(_ report: AuditReport) -> Bool { refusingFindings(in: report).isEmpty }

    /// Throws when `report` does not pass.
    /// - Parameter report: Required.
    /// - Throws: `ContractError` `.deploymentRefusedByAudit` (2362), naming the refusing finding IDs in
    ///   `details["findings"]` and the code hash in `details["codeHash"]`.
    public func check(_ report: AuditReport) throws(ContractError) {
        let refusing = refusingFindings(in: report)
        guard let first = refusing.first else { return }
        let ids = refusing.map(\.id).joined(separator: ",")
        throw ContractError(.deploymentRefusedByAudit,
                            "the deployment policy refuses code 0x\(report.codeHash.hex): \(refusing.count) finding(s) at or above \(refuseAtOrAbove!), first \(first.id): \(first.message)",
                            details: ["findings": ids, "codeHash": "0x" + report.codeHash.hex])
    }

    /// Audits `bytecode` and throws when the report does not pass.
    /// - Parameters:
    ///   - bytecode: Required. Runtime code, 1...49,152 bytes.
    ///   - sourceMap: Optional, default `nil`.
    /// - Returns: The report (for its code hash and lower findings).
    /// - Throws: `ContractError` `.auditBytecodeInvalid` (2360), `.deploymentRefusedByAudit` (2362).
    @discardableResult
    public func check(bytecode: [UInt8], sourceMap: AuditSourceMap? = nil) throws(ContractError) -> AuditReport {
        let report = try ContractAudit.analyse(bytecode: bytecode, sourceMap: sourceMap)
        try check(report)
        return report
    }
}
