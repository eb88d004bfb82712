import LedgerCrypto

/// A key/value map with Ethereum's trie root: updates go to a dictionary and the root is built in one pass
/// (``MerklePatriciaTrie``) when asked for. Suits state roots and test vectors, where the root is wanted
/// once after many updates.
///
/// ```swift
/// var trie = EthereumTrie()
/// trie[Array("dog".utf8)] = Array("puppy".utf8)
/// let root = trie.root
/// ```
public struct EthereumTrie: Sendable, Equatable {
    /// Whether keys are hashed with keccak256 before they enter the trie (Ethereum's state and storage tries).
    public let secure: Bool
    private var entries: [[UInt8]: [UInt8]] = [:]

    /// - Parameter secure: Optional, default `false`; `true` hashes every key with keccak256 (the "secure trie").
    public init(secure: Bool = false) { self.secure = secure }

    /// The value under `key`; setting `nil` or an empty value removes the key.
    public subscript(key: [UInt8]) -> [UInt8]? {
        get { entries[key] }
        set {
            if let newValue, !newValue.isEmpty { entries[key] = newValue } else { entries[key] = nil }
        }
    }

    /// The number of keys held.
    public var count: Int { entries.count }

    /// The root hash (``MerklePatriciaTrie/emptyRoot`` when empty).
    public var root: UInt256 {
        let pairs = entries.map { ($0.key, $0.value) }
        return secure ? MerklePatriciaTrie.secureRoot(pairs) : MerklePatriciaTrie.root(pairs)
    }

    /// The smallest key strictly after `key` (byte-wise order of the keys as given), or `nil`.
    public func key(after key: [UInt8]) -> [UInt8]? {
        entries.keys.filter { key.lexicographicallyPrecedes($0) }.min { $0.lexicographicallyPrecedes($1) }
    }

    /// The largest key strictly before `key`, or `nil`.
    public func key(before key: [UInt8]) -> [UInt8]? {
        entries.keys.filter { $0.lexicographicallyPrecedes(key) }.max { $0.lexicographicallyPrecedes($1) }
    }
}
