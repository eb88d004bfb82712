import LedgerCrypto

/// One node of the world-state tree, as stored under its digest.
///
/// The canonical encoding is RLP:
///
/// | node | RLP | digest |
/// |---|---|---|
/// | leaf | `[0x00, key, value]` | `H(0x00 ‖ H(key) ‖ H(value))` |
/// | internal | `[0x01, left, right]` | `H(0x01 ‖ left ‖ right)` |
///
/// An internal node's child is its 32-byte digest, or the empty string for an
/// empty subtree (whose digest is ``StateHasher/empty``); at most one child
/// is empty. The leading byte is the kind and the version of the encoding
/// (other values are rejected). Empty subtrees are never stored.
///
/// A node is stored under its tree digest, not under the hash of its
/// encoding, so a reader checks a node by recomputing ``digest(_:)``.
///
/// Plain data: `Sendable`, `Hashable`.
///
/// Example: `let bytes = StateNode.leaf(key: k, value: v).encoded`
public enum StateNode: Sendable, Hashable {
    /// A key and its value. The key's path `H(key)` places it in the tree.
    case leaf(key: [UInt8], value: [UInt8])
    /// Two subtrees; `nil` is an empty subtree. At most one is `nil`.
    case `internal`(left: Digest?, right: Digest?)

    /// The canonical RLP encoding.
    ///
    /// Example: `StateNode.internal(left: a, right: nil).encoded`
    public var encoded: [UInt8] {
        switch self {
        case .leaf(let key, let value):
            return RLP.encode(.list([.bytes([0x00]), .bytes(key), .bytes(value)]))
        case .internal(let left, let right):
            return RLP.encode(.list([.bytes([0x01]), .bytes(left?.bytes ?? []), .bytes(right?.bytes ?? [])]))
        }
    }

    /// Decodes the canonical encoding strictly.
    /// - Parameter encoded: Required. Bytes as ``encoded`` produces them; any length.
    /// - Throws: `LedgerError` `LedgerError.Code.stateNodeCorrupted` (1602) for
    ///   anything else: bad RLP (the `rlpCode` detail gives the RLP code), an
    ///   unknown kind byte, a wrong field count, a child that is neither 0 nor 32
    ///   bytes, two empty children, or a key or value above the limits of
    ///   ``StateTree``.
    /// - Note: Pure; safe to call concurrently.
    ///
    /// Example: `let node = try StateNode(encoded: bytes)`
    public init(encoded: [UInt8]) throws(LedgerError) {
        if let node = Self.decodeInternalFast(encoded) {
            self = node
            return
        }
        let fields: [RLP.Item]
        do {
            fields = try RLP.decode(encoded).list("state node", count: 3)
        } catch {
            throw LedgerError(.stateNodeCorrupted, "state node does not decode: \(error.message)",
                              details: ["rlpCode": String(error.numericCode)])
        }
        guard case .bytes(let kind) = fields[0], kind.count == 1 else {
            throw LedgerError(.stateNodeCorrupted, "state node kind must be one byte")
        }
        guard case .bytes(let a) = fields[1], case .bytes(let b) = fields[2] else {
            throw LedgerError(.stateNodeCorrupted, "state node fields must be byte strings")
        }
        switch kind[0] {
        case 0x00:
            guard a.count <= StateTree.maximumKeyLength else {
                throw LedgerError(.stateNodeCorrupted, "state leaf key of \(a.count) bytes exceeds \(StateTree.maximumKeyLength)",
                                  details: ["length": String(a.count)])
            }
            guard b.count <= StateTree.maximumValueLength else {
                throw LedgerError(.stateNodeCorrupted, "state leaf value of \(b.count) bytes exceeds \(StateTree.maximumValueLength)",
                                  details: ["length": String(b.count)])
            }
            self = .leaf(key: a, value: b)
        case 0x01:
            func child(_ bytes: [UInt8], _ side: String) throws(LedgerError) -> Digest? {
                if bytes.isEmpty { return nil }
                guard bytes.count == 32 else {
                    throw LedgerError(.stateNodeCorrupted, "state node \(side) child is \(bytes.count) bytes, expected 0 or 32",
                                      details: ["side": side, "length": String(bytes.count)])
                }
                return bytes.withUnsafeBytes { Digest(unsafeRaw: $0.baseAddress!) }
            }
            let left = try child(a, "left"), right = try child(b, "right")
            guard left != nil || right != nil else {
                throw LedgerError(.stateNodeCorrupted, "state internal node has two empty children")
            }
            self = .internal(left: left, right: right)
        default:
            throw LedgerError(.stateNodeCorrupted, "state node kind 0x\(Hex.encode(kind)) is unknown",
                              details: ["kind": Hex.encode(kind)])
        }
    }

    /// The three exact byte layouts of an internal node, read without
    /// building RLP items (the hot path of every read). Anything else, valid
    /// or not, goes to the general strict decoder.
    private static func decodeInternalFast(_ b: [UInt8]) -> StateNode? {
        b.withUnsafeBytes { p -> StateNode? in
            func digest(_ at: Int) -> Digest { Digest(unsafeRaw: p.baseAddress! + at) }
            if p.count == 69 && p[0] == 0xF8 && p[1] == 0x43 && p[2] == 0x01 && p[3] == 0xA0 && p[36] == 0xA0 {
                return .internal(left: digest(4), right: digest(37))
            }
            guard p.count == 36 && p[0] == 0xE3 && p[1] == 0x01 else { return nil }
            if p[2] == 0x80 && p[3] == 0xA0 { return .internal(left: nil, right: digest(4)) }
            if p[2] == 0xA0 && p[35] == 0x80 { return .internal(left: digest(3), right: nil) }
            return nil
        }
    }

    /// The node's digest in the tree: the key under which it is stored.
    /// - Parameter hasher: Required. The chain's ``StateHasher``.
    ///
    /// Example: `node.digest(StateHasher(.sm3))`
    public func digest(_ hasher: StateHasher) -> Digest {
        switch self {
        case .leaf(let key, let value):
            return hasher.leafHash(path: hasher.path(forKey: key), valueHash: hasher.valueHash(value))
        case .internal(let left, let right):
            return hasher.internalHash(left ?? hasher.empty, right ?? hasher.empty)
        }
    }
}
