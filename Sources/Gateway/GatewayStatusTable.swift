/// The one table from an envelope's error code to the HTTP status of the response that carries it (D-10).
///
/// The first rule whose range holds the code decides; code 0 (success) is 200. Single codes come before the band
/// they belong to, so a band gives the default of its area and a few codes say more (a missing record is 404, an
/// update whose condition fails 409, a commit that timed out 504).
///
/// ```swift
/// GatewayStatusTable.status(for: 5203)   // 404
/// ```
public enum GatewayStatusTable {
    /// One rule: the codes it covers, the HTTP status, and why (documented in the OpenAPI document and Gateway.md).
    public struct Rule: Sendable, Hashable {
        /// The codes (inclusive).
        public var codes: ClosedRange<UInt32>
        /// The HTTP status.
        public var status: Int
        /// What the codes mean to an HTTP client.
        public var reason: String
    }

    private static func rule(_ codes: ClosedRange<UInt32>, _ status: Int, _ reason: String) -> Rule {
        Rule(codes: codes, status: status, reason: reason)
    }

    /// Every rule, first match wins.
    public static let rules: [Rule] = [
        rule(0...0, 200, "success"),
        // Gateway (60xx).
        rule(6001...6001, 415, "unsupported Content-Type"),
        rule(6002...6002, 413, "body too large"),
        rule(6003...6005, 400, "malformed, too deep or entity-declaring body"),
        rule(6006...6006, 401, "no bearer token"),
        rule(6007...6007, 429, "rate limit; see Retry-After"),
        rule(6008...6008, 404, "no such route"),
        rule(6009...6009, 405, "wrong method for the route"),
        rule(6010...6010, 400, "bad path or query parameter"),
        rule(6011...6011, 408, "body not received in time"),
        rule(6012...6012, 504, "platform did not answer in time"),
        rule(6013...6013, 406, "Accept names neither JSON nor XML"),
        rule(6014...6099, 500, "gateway failure"),
        // Records input (50xx).
        rule(5005...5007, 400, "input not well-formed (JSON, XML, CSV)"),
        rule(5008...5008, 415, "input format not JSON, XML or CSV"),
        rule(5012...5013, 400, "empty or undecodable input"),
        rule(5000...5099, 422, "record fails validation"),
        // Upload and confirmation (51xx).
        rule(5101...5101, 409, "record already on chain"),
        rule(5102...5102, 504, "not committed before its deadline (nothing written)"),
        rule(5103...5103, 503, "node refused the transaction (retry later)"),
        rule(5104...5104, 422, "receipt does not verify"),
        rule(5105...5105, 400, "bad batch"),
        rule(5107...5107, 503, "platform closed"),
        rule(5108...5108, 409, "deadline passed"),
        rule(5109...5109, 504, "commit undecided"),
        rule(5100...5199, 500, "upload failure"),
        // Query (52xx).
        rule(5203...5203, 404, "no such record (or not visible to the caller)"),
        rule(5204...5204, 503, "record index unavailable"),
        rule(5205...5205, 500, "record damaged"),
        rule(5200...5299, 400, "bad query"),
        // Update (53xx).
        rule(5301...5301, 409, "update condition failed"),
        rule(5300...5399, 422, "bad update"),
        // Identity (54xx).
        rule(5401...5401, 401, "bad credentials"),
        rule(5402...5402, 423, "account locked"),
        rule(5404...5408, 401, "one-time code or token missing, wrong, expired or revoked"),
        rule(5410...5411, 422, "bad password or role"),
        rule(5412...5412, 409, "account exists"),
        rule(5413...5413, 404, "no such account"),
        rule(5414...5414, 409, "last super-admin"),
        rule(5415...5415, 500, "identity store failure"),
        rule(5416...5416, 502, "code delivery failed"),
        rule(5417...5417, 422, "bad user name"),
        rule(5421...5421, 409, "key in use"),
        rule(5430...5431, 401, "bad or expired request signature"),
        rule(5432...5432, 503, "platform not served"),
        rule(5400...5499, 403, "permission denied"),
        // Lower layers (ledger, contracts, network, node) and errors without a code.
        rule(1000...4999, 500, "ledger, network or node failure"),
        rule(5500...5999, 500, "platform failure"),
        rule(9999...9999, 500, "uncoded error"),
    ]

    /// The HTTP status for an envelope code: the first matching rule's, else 500.
    /// - Parameter code: Required. 0 (success) or an error code.
    public static func status(for code: UInt32) -> Int {
        rules.first { $0.codes.contains(code) }?.status ?? 500
    }
}
