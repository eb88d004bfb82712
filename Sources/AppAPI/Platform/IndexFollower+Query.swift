import Foundation
import LedgerCore

/// Who a record query is answered for: the same rules whether the caller logged in to a platform (an
/// ``AdminAccount``) or signed its request with a key the chain lists (a ``ChainAccount``, on a node's client endpoint).
struct QueryReader: Sendable {
    /// The user name, for messages.
    var user: String
    /// The factories its roles apply to.
    var scope: FactoryScope
    /// The record kinds its roles grant.
    var kinds: Set<RecordKind>
    /// The factories this node's organisation is entitled to.
    var organisation: FactoryScope

    /// Whether it may see a record of `factory` and `kind` (its scope and kinds, inside the organisation).
    func maySee(factory: String, kind: RecordKind) -> Bool {
        scope.contains(factory) && kinds.contains(kind) && organisation.contains(factory)
    }
}

extension IndexFollower {
    /// Catches the index up to `head` before a query, unless it is there already or a failed catch-up is being
    /// retried (the query then answers at once, from the index as it is). Returns the failure that keeps it behind.
    func freshen(to head: UInt64) -> AppError? {
        guard index.knownHeight < head else { return nil }
        if let failure { return failure }
        return attemptReporting()
    }

    /// One page of `query` for `reader`, who holds `records.query` (checked by the caller): filters outside its
    /// scope or kinds are refused, the rest is limited to what it may see.
    /// - Throws: `AppError` `.permissionDenied` (5409), `.invalidQuery` (5201), 5202, 5204, 5205.
    func page(_ query: RecordQuery, for reader: QueryReader) throws(AppError) -> RecordPage {
        try query.validate()
        if let f = query.factoryUID {
            guard reader.scope.contains(f) else {
                throw AppError(.permissionDenied, "'\(reader.user)' may not query factory '\(f)'",
                               details: ["permission": "records.query", "user": reader.user, "factory": f])
            }
            guard reader.organisation.contains(f) else {
                throw AppError(.permissionDenied, "this node's organisation is not entitled to factory '\(f)'", details: ["factory": f, "scope": "node"])
            }
        }
        let kinds = reader.kinds
        if let k = query.kind, !kinds.contains(k) {
            throw AppError(.permissionDenied, "'\(reader.user)' may not query \(k.rawValue) records",
                           details: ["permission": "records.query", "user": reader.user, "kind": k.rawValue])
        }
        var factories: [String]?
        switch (reader.scope, reader.organisation) {
        case (.all, .all): factories = nil
        case (.factories(let a), .all): factories = a
        case (.all, .factories(let b)): factories = b
        case (.factories(let a), .factories(let b)): factories = a.filter(b.contains)
        }
        if factories?.isEmpty == true {
            throw AppError(.permissionDenied, "'\(reader.user)' has no factory this node is entitled to", details: ["user": reader.user])
        }
        let head = headHeight
        let failure = freshen(to: head)
        var page = try index.page(query, factories: factories,
                                  kinds: kinds.count == RecordKind.allCases.count ? nil : RecordKind.allCases.filter(kinds.contains), headHeight: head)
        if page.behind > 0 { page.indexError = failure }
        if query.includeProofs {
            for i in page.records.indices {
                let r = page.records[i]
                page.records[i].proof = try UploadReceipt.build(transactionID: r.transactionID, operations: [(r.recordID, r.version, r.digest)],
                                                                store: store).first
            }
        }
        return page
    }
}
