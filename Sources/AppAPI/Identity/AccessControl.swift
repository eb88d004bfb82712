/// What an administrator may do (A-ID-3, A-Q-2, C-S-2).
public enum Permission: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Create, modify, disable and delete administrator accounts.
    case manageAdministrators = "admin.manage"
    /// Upload (submit) records.
    case uploadRecords = "records.upload"
    /// Update records (append new versions).
    case updateRecords = "records.update"
    /// Query records and their history.
    case queryRecords = "records.query"
    /// Read the audit trail and verify receipts.
    case audit = "audit.read"
    /// Deploy, update and delete contracts.
    case manageContracts = "contracts.manage"
    /// Operate the node (backups, rollback, resync).
    case operateNode = "node.operate"

    public static func < (a: Permission, b: Permission) -> Bool { a.rawValue < b.rawValue }
}

/// The built-in roles (RBAC). Each grants a fixed permission set; a role is
/// always combined with a factory scope.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// Every permission, administrators included.
    case superAdmin = "super-admin"
    /// Uploads, updates, queries and audits records.
    case recordManager = "record-manager"
    /// Uploads and queries records.
    case `operator` = "operator"
    /// Queries and audits records.
    case auditor = "auditor"
    /// Queries records.
    case viewer = "viewer"

    /// The permissions the role grants.
    public var permissions: Set<Permission> {
        switch self {
        case .superAdmin: Set(Permission.allCases)
        case .recordManager: [.uploadRecords, .updateRecords, .queryRecords, .audit]
        case .operator: [.uploadRecords, .queryRecords]
        case .auditor: [.queryRecords, .audit]
        case .viewer: [.queryRecords]
        }
    }

    /// Parses `super-admin`, `record-manager`, `operator`, `auditor`, `viewer`.
    /// - Throws: `AppError` `.unknownRole` (5411).
    public init(name: String) throws(AppError) {
        guard let r = Role(rawValue: name.lowercased()) else {
            throw AppError(.unknownRole, "unknown role '\(name)'; expected \(Role.allCases.map(\.rawValue).joined(separator: ", "))",
                           details: ["field": "role"])
        }
        self = r
    }

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
}

/// The factories an administrator's roles apply to: all of them, or a list.
public enum FactoryScope: Sendable, Hashable, Codable {
    /// Every factory.
    case all
    /// Only these factory UIDs.
    case factories([String])

    /// Whether `factory` is inside the scope.
    public func contains(_ factory: String) -> Bool {
        switch self {
        case .all: true
        case .factories(let list): list.contains(factory)
        }
    }

    /// The text form: `*` or a comma-separated list.
    public var text: String {
        switch self {
        case .all: "*"
        case .factories(let list): list.sorted().joined(separator: ",")
        }
    }

    /// Parses `*` or `F-1,F-2`.
    public init(text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "*" || t.isEmpty { self = .all; return }
        self = .factories(t.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.sorted())
    }
}

import Foundation

extension FactoryScope {
    /// Whether every factory of this scope is in `other` (`.all` lies only within `.all`).
    func isWithin(_ other: FactoryScope) -> Bool {
        switch (self, other) {
        case (_, .all): true
        case (.all, .factories): false
        case (.factories(let mine), .factories(let theirs)): mine.allSatisfy(theirs.contains)
        }
    }
}
