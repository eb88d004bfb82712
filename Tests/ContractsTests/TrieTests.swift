import Contracts
import Foundation
import LedgerCrypto
import LedgerModel
import Testing

/// The ethereum/tests TrieTests vectors (every file of the folder) and hand-checked hex-prefix cases.
@Suite struct TrieTests {
    /// ../shared/conformance/evm/ethereum-tests/TrieTests, or under `FORGECHAIN_CONFORMANCE_DIR`.
    static let folder: URL = {
        if let override = ProcessInfo.processInfo.environment["FORGECHAIN_CONFORMANCE_DIR"], !override.isEmpty {
            return URL(fileURLWithPath: override).appendingPathComponent("evm/ethereum-tests/TrieTests")
        }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.deletingLastPathComponent().appendingPathComponent("shared/conformance/evm/ethereum-tests/TrieTests")
    }()

    /// Present, or absent on a developer's machine (skip); absent in CI fails.
    static var vectorsPresent: Bool {
        get throws {
            if FileManager.default.fileExists(atPath: folder.path) { return true }
            let ci = ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" && $0 != "0" } ?? false
            if ci { throw VectorsMissing() }
            return false
        }
    }

    struct VectorsMissing: Error, CustomStringConvertible {
        var description: String { "the TrieTests vectors are required in CI: \(TrieTests.folder.path) is absent" }
    }

    static func load(_ name: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: folder.appendingPathComponent(name))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]], "\(name) is not an object of tests")
    }

    /// `0x…` is hex, anything else ASCII.
    static func bytes(_ text: String) throws -> [UInt8] {
        text.hasPrefix("0x") ? try Hex.decode(String(text.dropFirst(2))) : Array(text.utf8)
    }

    /// Applies a test's `in` (a list of pairs in order, null deleting, or an object) to a trie and returns its root.
    static func root(of test: [String: Any], secure: Bool) throws -> UInt256 {
        var trie = EthereumTrie(secure: secure)
        if let list = test["in"] as? [[Any]] {
            for pair in list {
                let key = try bytes(try #require(pair[0] as? String))
                trie[key] = try (pair[1] as? String).map(bytes)
            }
        } else {
            let object = try #require(test["in"] as? [String: Any])
            for (key, value) in object { trie[try bytes(key)] = try (value as? String).map(bytes) }
        }
        return trie.root
    }

    static func expectedRoot(_ test: [String: Any]) throws -> UInt256 {
        let text = try #require(test["root"] as? String)
        return try #require(UInt256(hex: text))
    }

    @Test(.enabled { try vectorsPresent }, arguments: [
        ("trietest.json", false), ("trietest_secureTrie.json", true), ("trieanyorder.json", false),
        ("trieanyorder_secureTrie.json", true), ("hex_encoded_securetrie_test.json", true),
    ])
    func rootsMatchTheVectors(file: String, secure: Bool) throws {
        let tests = try Self.load(file)
        #expect(tests.count >= 3)
        for (name, test) in tests.sorted(by: { $0.key < $1.key }) {
            #expect(try Self.root(of: test, secure: secure) == Self.expectedRoot(test), "\(file) \(name)")
        }
    }

    @Test(.enabled { try vectorsPresent }) func nextAndPreviousKeysMatchTheVectors() throws {
        let tests = try Self.load("trietestnextprev.json")
        #expect(!tests.isEmpty)
        for (name, test) in tests {
            var trie = EthereumTrie()
            for key in try #require(test["in"] as? [String]) { trie[Array(key.utf8)] = Array(key.utf8) }
            let cases = try #require(test["tests"] as? [[String]])
            #expect(cases.count >= 5)
            for row in cases {
                let key = Array(row[0].utf8)
                #expect(trie.key(before: key) == (row[1].isEmpty ? nil : Array(row[1].utf8)), "\(name) prev \(row[0])")
                #expect(trie.key(after: key) == (row[2].isEmpty ? nil : Array(row[2].utf8)), "\(name) next \(row[0])")
            }
        }
    }

    @Test func hexPrefixPacksFlagAndParity() {
        #expect(MerklePatriciaTrie.hexPrefix([1, 2, 3, 4, 5], leaf: false) == [0x11, 0x23, 0x45])
        #expect(MerklePatriciaTrie.hexPrefix([0, 1, 2, 3, 4, 5], leaf: false) == [0x00, 0x01, 0x23, 0x45])
        #expect(MerklePatriciaTrie.hexPrefix([0x0f, 1, 0x0c, 0x0b, 8], leaf: true) == [0x3f, 0x1c, 0xb8])
        #expect(MerklePatriciaTrie.hexPrefix([0, 0x0f, 1, 0x0c, 0x0b, 8], leaf: true) == [0x20, 0x0f, 0x1c, 0xb8])
        #expect(MerklePatriciaTrie.hexPrefix([], leaf: true) == [0x20])
    }

    @Test func emptyTrieAndEmptyValuesGiveTheEmptyRoot() {
        #expect(EthereumTrie().root == MerklePatriciaTrie.emptyRoot)
        #expect(MerklePatriciaTrie.emptyRoot == UInt256(bigEndian: Keccak256.hash(RLP.encode(.bytes([]))).bytes))
        var trie = EthereumTrie()
        trie[[1]] = [2]
        trie[[1]] = []
        #expect(trie.count == 0 && trie.root == MerklePatriciaTrie.emptyRoot)
    }

    @Test func orderOfInsertionDoesNotChangeTheRoot() {
        let pairs: [([UInt8], [UInt8])] = (0..<200).map { i in (Array("key-\(i * 7919 % 1000)".utf8), Array(repeating: UInt8(i & 0xff), count: i % 40 + 1)) }
        #expect(MerklePatriciaTrie.root(pairs) == MerklePatriciaTrie.root(pairs.reversed()))
        #expect(MerklePatriciaTrie.root(pairs) != MerklePatriciaTrie.root(Array(pairs.dropLast())))
    }

    @Test func zeroSlotsAreAbsentFromStorageRoots() {
        let storageless = EthereumStateRoot.storageRoot([:])
        #expect(storageless == MerklePatriciaTrie.emptyRoot)
        #expect(EthereumStateRoot.storageRoot([5: 0]) == MerklePatriciaTrie.emptyRoot)
        #expect(EthereumStateRoot.storageRoot([5: 1]) != MerklePatriciaTrie.emptyRoot)
    }
}
