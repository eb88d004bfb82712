import LedgerCrypto

/// A proof that `key` has `value` in the state at some root, or (`value ==
/// nil`) that it is absent.
///
/// The proof walks from the root down the key's path `H(key)` to a terminal
/// node at ``depth``:
///
/// - presence: the key's own leaf, `H(0x00 ‖ H(key) ‖ H(value))`;
/// - absence by an empty subtree: ``StateHasher/empty`` (``otherLeaf`` is `nil`);
/// - absence by another leaf: ``otherLeaf``, a different key whose path shares
///   the first ``depth`` bits with the key's path, so it alone occupies the
///   key's position.
///
/// The siblings along the path are compressed: bit `i` of ``bitmap`` (most
/// significant bit of byte 0 first) says whether the sibling at depth `i + 1`
/// is non-empty, and ``siblings`` lists only the non-empty ones, root side
/// first. The verifier computes the path itself from ``key`` and takes the
/// hash algorithm from the caller, never from the proof.
///
/// Plain data: `Sendable`, `Hashable`, `Codable`. The binary form is
/// ``encoded`` (RLP); the JSON form is
/// `{"key": "<hex>", "value": "<hex>" | null, "depth": 17, "bitmap": "<hex>",
/// "siblings": ["<64 hex>", ...], "otherLeaf": {"path": "<64 hex>", "valueHash": "<64 hex>"} | null}`.
///
/// Example: `let value = try proof.verifiedValue(forKey: k, root: header.stateRoot, algorithm: .sha256)`
public struct StateProof: Sendable, Hashable {
    /// The leaf of another key that occupies the proven key's position.
    public struct Leaf: Sendable, Hashable, Codable {
        /// That key's path, `H(otherKey)`.
        public var path: Digest
        /// That key's value hash, `H(otherValue)`.
        public var valueHash: Digest

        /// - Parameters:
        ///   - path: Required. `H(otherKey)`.
        ///   - valueHash: Required. `H(otherValue)`.
        public init(path: Digest, valueHash: Digest) {
            self.path = path
            self.valueHash = valueHash
        }

        private enum CodingKeys: String, CodingKey { case path, valueHash }

        /// Decodes `{"path": "<64 hex>", "valueHash": "<64 hex>"}`.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try stateDecodeDigest(c, .path)
            valueHash = try stateDecodeDigest(c, .valueHash)
        }

        /// Encodes both digests as lower-case hex.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(path.hex, forKey: .path)
            try c.encode(valueHash.hex, forKey: .valueHash)
        }
    }

    /// The key the proof is about.
    public var key: [UInt8]
    /// The key's value, or `nil` for a proof of absence.
    public var value: [UInt8]?
    /// Depth of the terminal node: `0...256`; 0 when the terminal is the root.
    public var depth: Int
    /// Which siblings are non-empty: `(depth + 7) / 8` bytes, unused low bits of the last byte zero.
    public var bitmap: [UInt8]
    /// The non-empty siblings, root side first; as many as bits set in ``bitmap``.
    public var siblings: [Digest]
    /// For absence only: the other key's leaf at the terminal; `nil` when the terminal is empty.
    public var otherLeaf: Leaf?

    /// Wraps proof data; nothing is checked until a `verify` call.
    /// - Parameters:
    ///   - key: Required. The key.
    ///   - value: Optional. The value, or `nil` for absence.
    ///   - depth: Required. `0...256`.
    ///   - bitmap: Required. `(depth + 7) / 8` bytes.
    ///   - siblings: Required. The non-empty siblings, root side first.
    ///   - otherLeaf: Optional, default `nil`. Only in absence proofs.
    ///
    /// Example: `StateProof(key: k, value: nil, depth: 0, bitmap: [], siblings: [])`
    public init(key: [UInt8], value: [UInt8]?, depth: Int, bitmap: [UInt8], siblings: [Digest], otherLeaf: Leaf? = nil) {
        self.key = key
        self.value = value
        self.depth = depth
        self.bitmap = bitmap
        self.siblings = siblings
        self.otherLeaf = otherLeaf
    }

    /// Whether the proof claims presence (`value != nil`).
    public var provesPresence: Bool { value != nil }

    /// The root this proof leads to, after checking that it is well formed and canonical.
    /// - Parameter algorithm: Required. The chain's hash algorithm.
    /// - Throws: `LedgerError` `LedgerError.Code.stateProofInvalid` (1603):
    ///   depth outside `0...256`, wrong bitmap length, non-zero padding bits,
    ///   a sibling count that differs from the bits set, an explicit empty
    ///   sibling, an empty last sibling below the root (a canonical tree never
    ///   has one), a terminal leaf in a presence proof, or a terminal leaf with
    ///   the key's own path or a path outside the key's position;
    ///   `LedgerError.Code.stateKeyTooLarge` (1607) for a key above the limit.
    /// - Note: Pure; safe to call concurrently.
    ///
    /// Example: `let root = try proof.computeRoot(algorithm: .sha256)`
    public func computeRoot(algorithm: HashAlgorithm) throws(LedgerError) -> Digest {
        let hasher = StateHasher(algorithm)
        guard key.count <= StateTree.maximumKeyLength else {
            throw LedgerError(.stateKeyTooLarge, "state proof key of \(key.count) bytes exceeds \(StateTree.maximumKeyLength)",
                              details: ["length": String(key.count)])
        }
        guard (0...256).contains(depth) else {
            throw Self.invalid("depth \(depth) is outside 0...256", ["depth": String(depth)])
        }
        guard bitmap.count == (depth + 7) / 8 else {
            throw Self.invalid("bitmap is \(bitmap.count) bytes, expected \((depth + 7) / 8) for depth \(depth)",
                               ["bitmap": String(bitmap.count)])
        }
        if depth % 8 != 0, bitmap[bitmap.count - 1] & (0xff >> UInt8(depth % 8)) != 0 {
            throw Self.invalid("bitmap has bits set beyond depth \(depth)", ["depth": String(depth)])
        }
        let set = bitmap.reduce(0) { $0 + $1.nonzeroBitCount }
        guard set == siblings.count else {
            throw Self.invalid("bitmap marks \(set) siblings, the proof has \(siblings.count)",
                               ["bitmap": String(set), "siblings": String(siblings.count)])
        }
        if let i = siblings.firstIndex(of: hasher.empty) {
            throw Self.invalid("sibling \(i) is the empty digest, which the bitmap must omit", ["sibling": String(i)])
        }
        if depth > 0, !bit(depth - 1) {
            throw Self.invalid("the sibling at depth \(depth) is empty: the terminal would have moved up",
                               ["depth": String(depth)])
        }
        let path = hasher.path(forKey: key)
        var node: Digest
        if let value {
            guard otherLeaf == nil else {
                throw Self.invalid("a presence proof has no other leaf")
            }
            node = hasher.leafHash(path: path, valueHash: hasher.valueHash(value))
        } else if let other = otherLeaf {
            guard other.path != path else {
                throw Self.invalid("the other leaf has the key's own path: the key is present")
            }
            guard other.path.stateSharesPrefix(with: path, bits: depth) else {
                throw Self.invalid("the other leaf's path leaves the key's path above depth \(depth)",
                                   ["depth": String(depth)])
            }
            node = hasher.leafHash(path: other.path, valueHash: other.valueHash)
        } else {
            node = hasher.empty
        }
        var next = siblings.count
        for level in stride(from: depth - 1, through: 0, by: -1) {
            var sibling = hasher.empty
            if bit(level) {
                next -= 1
                sibling = siblings[next]
            }
            node = path.stateBit(level) == 0 ? hasher.internalHash(node, sibling) : hasher.internalHash(sibling, node)
        }
        return node
    }

    /// Checks that the proof is well formed and leads to `root`.
    /// - Parameters:
    ///   - root: Required. The trusted state root (from a verified block header).
    ///   - algorithm: Required. The chain's hash algorithm.
    /// - Throws: `LedgerError` 1603 or 1607 as ``computeRoot(algorithm:)``;
    ///   `LedgerError.Code.stateProofRootMismatch` (1604) when it leads elsewhere.
    /// - Note: Pure; safe to call concurrently.
    ///
    /// Example: `try proof.verify(root: header.stateRoot, algorithm: .sha256)`
    public func verify(root: Digest, algorithm: HashAlgorithm) throws(LedgerError) {
        let computed = try computeRoot(algorithm: algorithm)
        guard computed == root else {
            throw LedgerError(.stateProofRootMismatch, "state proof leads to root \(computed.hex), expected \(root.hex)",
                              details: ["computed": computed.hex, "expected": root.hex])
        }
    }

    /// Checks that the proof is for `key`, proves exactly `value` (`nil`:
    /// absence), and leads to `root`.
    /// - Parameters:
    ///   - expectedKey: Required. The key the caller asked about.
    ///   - expectedValue: Optional. The value expected, or `nil` to require absence.
    ///   - root: Required. The trusted state root.
    ///   - algorithm: Required. The chain's hash algorithm.
    /// - Throws: `LedgerError` `LedgerError.Code.stateProofKeyMismatch` (1605),
    ///   `LedgerError.Code.stateProofValueMismatch` (1606), then 1603, 1604
    ///   or 1607 as ``verify(root:algorithm:)``.
    /// - Note: Pure; safe to call concurrently.
    ///
    /// Example: `try proof.verify(key: k, value: nil, root: root, algorithm: .sm3)`
    public func verify(key expectedKey: [UInt8], value expectedValue: [UInt8]?, root: Digest,
                       algorithm: HashAlgorithm) throws(LedgerError) {
        try checkKey(expectedKey)
        guard value == expectedValue else {
            throw LedgerError(.stateProofValueMismatch,
                              "state proof proves \(Self.describe(value)), expected \(Self.describe(expectedValue))",
                              details: ["proven": value.map { Hex.encode($0) } ?? "absent",
                                        "expected": expectedValue.map { Hex.encode($0) } ?? "absent"])
        }
        try verify(root: root, algorithm: algorithm)
    }

    /// Verifies the proof against `root` and returns the value it proves
    /// (`nil`: the key is absent).
    /// - Parameters:
    ///   - root: Required. The trusted state root.
    ///   - algorithm: Required. The chain's hash algorithm.
    /// - Throws: `LedgerError` 1603, 1604 or 1607 as ``verify(root:algorithm:)``.
    ///
    /// Example: `let v = try proof.verifiedValue(root: root, algorithm: .sha256)`
    public func verifiedValue(root: Digest, algorithm: HashAlgorithm) throws(LedgerError) -> [UInt8]? {
        try verify(root: root, algorithm: algorithm)
        return value
    }

    /// Like ``verifiedValue(root:algorithm:)``, but first requires the proof
    /// to be about `key`.
    /// - Parameters:
    ///   - expectedKey: Required. The key the caller asked about.
    ///   - root: Required. The trusted state root.
    ///   - algorithm: Required. The chain's hash algorithm.
    /// - Throws: `LedgerError` `LedgerError.Code.stateProofKeyMismatch` (1605),
    ///   then 1603, 1604 or 1607.
    ///
    /// Example: `let v = try proof.verifiedValue(forKey: k, root: root, algorithm: .sha256)`
    public func verifiedValue(forKey expectedKey: [UInt8], root: Digest, algorithm: HashAlgorithm) throws(LedgerError) -> [UInt8]? {
        try checkKey(expectedKey)
        return try verifiedValue(root: root, algorithm: algorithm)
    }

    private func checkKey(_ expected: [UInt8]) throws(LedgerError) {
        guard key == expected else {
            throw LedgerError(.stateProofKeyMismatch, "state proof is for key \(Hex.encode(key)), expected \(Hex.encode(expected))",
                              details: ["proven": Hex.encode(key), "expected": Hex.encode(expected)])
        }
    }

    private func bit(_ level: Int) -> Bool {
        bitmap[level / 8] & (0x80 >> UInt8(level % 8)) != 0
    }

    private static func describe(_ value: [UInt8]?) -> String {
        guard let value else { return "absence" }
        return value.count <= 32 ? "value \(Hex.encode(value))" : "a value of \(value.count) bytes"
    }

    static func invalid(_ message: String, _ details: [String: String] = [:]) -> LedgerError {
        LedgerError(.stateProofInvalid, "state proof: \(message)", details: details)
    }
}
