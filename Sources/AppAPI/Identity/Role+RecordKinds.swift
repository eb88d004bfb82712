extension Role {
    /// The record kinds the role may upload, update and see (A-Q-2):
    /// operators work with production and equipment data; every other role
    /// with all three kinds.
    public var recordKinds: Set<RecordKind> {
        switch self {
        case .operator: [.production, .equipment]
        case .superAdmin, .recordManager, .auditor, .viewer: Set(RecordKind.allCases)
        }
    }
}

extension AdminAccount {
    /// The record kinds any of the account's roles grants.
    public var recordKinds: Set<RecordKind> { roles.reduce(into: []) { $0.formUnion($1.recordKinds) } }
}
