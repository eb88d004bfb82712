import LedgerCrypto
import LedgerModel

/// Ethereum's Merkle Patricia trie (Yellow Paper, appendix D), computed in one
/// pass from a key/value set: the keys are sorted once and the nodes are built
/// recursively by common prefix, so a root costs O(n · key length) hashes and
/// no node is ever rebuilt.
///
/// Nodes are RLP lists: a leaf `[hexPrefix(path, leaf), value]`, an extension
/// `[hexPrefix(path), child]` and a branch of sixteen children plus a value.
/// A child whose encoding is shorter than 32 bytes is embedded in its parent;
/// a longer one is referenced by its keccak256. The root is always hashed.
///
/// The *secure* variant (``secureRoot(_:)``), which Ethereum's state and
/// storage tries use, hashes every key with keccak256 first.
///
/// ```swift
/// let root = MerklePatriciaTrie.root([(Array("do".utf8), Array("verb".utf8))])
/// ```
public enum MerklePatriciaTrie {
    /// The root of the empty trie: keccak256(rlp("")), `56e81f…b421`.
    public static let emptyRoot = UInt256(hex: "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")!

    /// The root hash of a trie holding `entries`.
    /// - Parameter entries: Key/value pairs in any order. An empty value means "absent" (Ethereum never stores
    ///   one); when a key appears twice, the later value wins.
    /// - Returns: The 32-byte root as a word (``emptyRoot`` for no entries).
    public static func root(_ entries: [([UInt8], [UInt8])]) -> UInt256 {
        var latest = [[UInt8]: [UInt8]]()
        latest.reserveCapacity(entries.count)
        for (key, value) in entries { latest[key] = value }
        return root(sorted: latest.filter { !$0.value.isEmpty }.map { ($0.key, $0.value) }.sorted { $0.0.lexicographicallyPrecedes($1.0) })
    }

    /// The root of the secure trie: each key is replaced by its keccak256 before insertion.
    /// - Parameter entries: Key/value pairs in any order; empty values are absent, later duplicates win.
    /// - Returns: The 32-byte root as a word.
    public static func secureRoot(_ entries: [([UInt8], [UInt8])]) -> UInt256 {
        var latest = [[UInt8]: [UInt8]]()
        latest.reserveCapacity(entries.count)
        for (key, value) in entries { latest[key] = value }
        return root(sorted: latest.compactMap { $0.value.isEmpty ? nil : (Keccak256.hash($0.key).bytes, $0.value) }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) })
    }

    /// The root of entries already sorted by key, with distinct keys and no empty value.
    static func root(sorted entries: [([UInt8], [UInt8])]) -> UInt256 {
        guard !entries.isEmpty else { return emptyRoot }
        let keys = entries.map { nibbles($0.0) }
        let values = entries.map(\.1)
        let node = build(keys: keys, values: values, range: 0..<keys.count, depth: 0)
        return UInt256(bigEndian: Keccak256.hash(RLP.encode(node)).bytes)
    }

    /// The node for `keys[range]`, all of which share their first `depth` nibbles.
    private static func build(keys: [[UInt8]], values: [[UInt8]], range: Range<Int>, depth: Int) -> RLP.Item {
        let first = keys[range.lowerBound]
        if range.count == 1 {
            return .list([.bytes(hexPrefix(first[depth...], leaf: true)), .bytes(values[range.lowerBound])])
        }
        // Sorted keys: the prefix all of them share is the one the first and the last share.
        let last = keys[range.upperBound - 1]
        var shared = 0
        while depth + shared < first.count, depth + shared < last.count, first[depth + shared] == last[depth + shared] {
            shared += 1
        }
        if shared > 0 {
            let child = build(keys: keys, values: values, range: range, depth: depth + shared)
            return .list([.bytes(hexPrefix(first[depth..<(depth + shared)], leaf: false)), reference(child)])
        }
        var slots = [RLP.Item](repeating: .bytes([]), count: 17)
        var start = range.lowerBound
        if first.count == depth {   // a key that ends here is the branch's value (it sorts first)
            slots[16] = .bytes(values[start])
            start += 1
        }
        while start < range.upperBound {
            let nibble = keys[start][depth]
            var end = start + 1
            while end < range.upperBound, keys[end][depth] == nibble { end += 1 }
            slots[Int(nibble)] = reference(build(keys: keys, values: values, range: start..<end, depth: depth + 1))
            start = end
        }
        return .list(slots)
    }

    /// How a parent holds a child: embedded when its encoding is under 32 bytes, else by hash.
    private static func reference(_ node: RLP.Item) -> RLP.Item {
        let encoded = RLP.encode(node)
        return encoded.count < 32 ? node : .bytes(Keccak256.hash(encoded).bytes)
    }

    /// The nibbles of `bytes`, high nibble first.
    static func nibbles(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(byte >> 4)
            out.append(byte & 0x0f)
        }
        return out
    }

    /// Hex-prefix encoding (Yellow Paper, appendix C): a flag nibble (2 for a leaf, plus 1 when the path has
    /// an odd length) packs the path's nibbles into bytes.
    /// - Parameters:
    ///   - path: Nibbles, each 0…15.
    ///   - leaf: Whether the node is a leaf (else an extension).
    /// - Returns: The packed bytes.
    public static func hexPrefix(_ path: some Collection<UInt8>, leaf: Bool) -> [UInt8] {
        let flag: UInt8 = leaf ? 2 : 0
        var out = [UInt8]()
        out.reserveCapacity(path.count / 2 + 1)
        var iterator = path.makeIterator()
        if path.count % 2 == 1 {
            out.append((flag + 1) << 4 | (iterator.next() ?? 0))
        } else {
            out.append(flag << 4)
        }
        while let high = iterator.next() {
            out.append(high << 4 | (iterator.next() ?? 0))
        }
        return out
    }
}
