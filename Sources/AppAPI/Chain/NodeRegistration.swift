import LedgerCore

/// A node's standing on chain (N-D-1, N-D-4): active, suspended or revoked, and optionally the certificate key it
/// must present. Set only by ``AccessExecutor`` transactions (``AccessOperation/setNode(_:status:certificateKeyHash:)``),
/// signed by the genesis key or an enabled account with `node.operate` for every factory; read by each node's
/// transport when a peer links (``refusal(for:certificate:validators:state:)``).
///
/// **State**: `acl/node/<id>` → RLP `[1, status, certificateKeyHash or empty]`.
///
/// The validators the genesis configuration names are registered by it: they link unless the chain suspends or
/// revokes them. Any other node links only once registered active.
///
/// ```swift
/// let reason = NodeRegistration.refusal(for: 4, certificate: peerCertificate, validators: [0, 1, 2, 3], state: reader)
/// ```
public struct NodeRegistration: Hashable, Sendable {
    /// Whether a node may link.
    public enum Status: String, Hashable, Sendable, CaseIterable {
        /// May link and take part.
        case active
        /// Refused for now; may be made active again.
        case suspended
        /// Refused for good (a key or machine compromised); a new registration is needed.
        case revoked
    }

    /// The node's standing.
    public var status: Status
    /// SHA-256 of the DER SubjectPublicKeyInfo of the TLS certificate the node must present; nil: any certificate of
    /// the consortium CA naming the node.
    public var certificateKeyHash: Digest?

    /// Parameters as the properties of the same names.
    public init(status: Status, certificateKeyHash: Digest? = nil) {
        self.status = status
        self.certificateKeyHash = certificateKeyHash
    }

    /// The state key of node `node`'s registration.
    public static func key(_ node: NodeID) -> [UInt8] { Array("acl/node/\(node.rawValue)".utf8) }

    /// The canonical encoding.
    public var encoded: [UInt8] {
        var w = RLPWriter(capacity: 48)
        w.list { w in
            w.uint(1)
            w.string(status.rawValue)
            w.byteString(certificateKeyHash?.bytes ?? [])
        }
        return w.bytes
    }

    /// Decodes ``encoded``.
    /// - Throws: `LedgerError` `.malformedPayload` (1901) or RLP codes (10xx).
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        self = try RLPReader.read(bytes) { (r) throws(LedgerError) -> NodeRegistration in
            var f = try r.list("node", count: 3)
            guard try f.uint64("node.version") == 1 else {
                throw LedgerError(.malformedPayload, "node registration of an unknown version", details: ["field": "node.version"])
            }
            let name = try f.string("node.status")
            guard let status = Status(rawValue: name) else {
                throw LedgerError(.malformedPayload, "node status '\(name)' is unknown", details: ["field": "node.status"])
            }
            let hash = try f.bytes("node.certificateKeyHash")
            return NodeRegistration(status: status, certificateKeyHash: hash.isEmpty ? nil : try Digest(bytes: hash))
        }
    }

    /// Node `node`'s registration on chain, or nil.
    /// - Throws: store errors (15xx) from `state`; `.malformedPayload` (1901) for a damaged entry.
    public static func registration(of node: NodeID, state: any StateReader) throws(LedgerError) -> NodeRegistration? {
        guard let bytes = try state.value(forKey: key(node)) else { return nil }
        return try NodeRegistration(decoding: bytes)
    }

    /// Why node `node`, presenting `certificate` (nil without TLS), may not link now, or nil when it may.
    /// - Parameters:
    ///   - node: Required. The node its hello claims to be.
    ///   - certificate: Optional. The certificate it presented (already verified against the CA).
    ///   - validators: Required. The validators of the chain's configuration (registered by the genesis).
    ///   - state: Required. The committed state.
    /// - Returns: A reason to log, or nil. A state that cannot be read refuses (nothing is admitted unseen).
    public static func refusal(for node: NodeID, certificate: X509Certificate?, validators: Set<NodeID>, state: any StateReader) -> String? {
        let entry: NodeRegistration?
        do { entry = try registration(of: node, state: state) } catch {
            return "node \(node.rawValue)'s registration cannot be read: \(error.message)"
        }
        guard let entry else {
            return validators.contains(node) ? nil : "node \(node.rawValue) is not registered on chain"
        }
        switch entry.status {
        case .active: break
        case .suspended: return "node \(node.rawValue) is suspended on chain"
        case .revoked: return "node \(node.rawValue) is revoked on chain"
        }
        if let expected = entry.certificateKeyHash {
            guard let certificate else { return "node \(node.rawValue) must present its registered certificate" }
            guard HashAlgorithm.sha256.hash(certificate.publicKeyDER) == expected else {
                return "node \(node.rawValue)'s certificate key is not the one registered on chain"
            }
        }
        return nil
    }
}
