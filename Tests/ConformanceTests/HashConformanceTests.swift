import Foundation
import Testing
import LedgerCore

/// Known-answer tests for every chain hash: FIPS 180 / 202 examples, GB/T
/// 32905 (SM3), the Keccak team's KAT, NIST CAVP byte-oriented files, and
/// the Ethereum uses of Keccak-256 (ABI selectors, EIP-55).
@Suite(.conformanceVectors) struct HashConformanceTests {
    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: ConformancePaths.data(path)) as? [String: Any], "\(path) is not a JSON object")
    }

    static func message(_ v: [String: Any]) throws -> [UInt8] {
        if let a = v["msg_ascii"] as? String { return Array(a.utf8) }
        if let h = v["msg_hex"] as? String { return try Hex.decode(h) }
        if let r = v["msg_repeat"] as? [String: Any], let a = r["ascii"] as? String, let n = r["count"] as? Int {
            return Array(String(repeating: a, count: n).utf8)
        }
        throw LedgerError(.malformedTestVectors, "vector without a message")
    }

    @Test func standardsVectorsMatchForEveryAlgorithm() throws {
        let d = try Self.json("crypto/standards/hash-vectors.json")
        let keccak = d["keccak256_ethereum"] as! [String: Any]
        let sets: [(HashAlgorithm, [[String: Any]])] = [
            (.sha256, d["sha256"] as! [[String: Any]]),
            (.sha3_256, d["sha3_256"] as! [[String: Any]]),
            (.sm3, d["sm3"] as! [[String: Any]]),
            (.keccak256, keccak["vectors"] as! [[String: Any]]),
        ]
        var checked = 0
        for (algorithm, vectors) in sets {
            for v in vectors {
                let msg = try Self.message(v)
                let expected = (v["digest"] as! String).lowercased()
                #expect(algorithm.hash(msg).hex == expected, "\(algorithm) \(v["source"] ?? "")")
                // The streaming path must agree, fed in uneven pieces.
                let h = algorithm.makeHasher()
                var i = 0
                while i < msg.count { let n = min(1_000 + i % 7, msg.count - i); h.update(Array(msg[i..<(i + n)])); i += n }
                #expect(h.finalize().hex == expected, "\(algorithm) streaming \(v["source"] ?? "")")
                checked += 1
            }
        }
        #expect(checked >= 15)
    }

    @Test func keccakGivesTheSolidityABISelectors() throws {
        let d = try Self.json("crypto/standards/hash-vectors.json")
        let sel = (d["keccak256_ethereum"] as! [String: Any])["abi_function_selectors"] as! [String: Any]
        let vectors = sel["vectors"] as! [[String: Any]]
        #expect(vectors.count >= 3)
        for v in vectors {
            let digest = HashAlgorithm.keccak256.hash(Array((v["signature"] as! String).utf8))
            #expect(Hex.encode(digest.bytes.prefix(4)) == v["selector"] as! String)
        }
    }

    @Test func keccakGivesTheEIP55Checksums() throws {
        let d = try Self.json("crypto/standards/hash-vectors.json")
        let eip55 = (d["keccak256_ethereum"] as! [String: Any])["eip55_checksum_addresses"] as! [String: Any]
        let addresses = eip55["addresses"] as! [String]
        #expect(addresses.count >= 4)
        for address in addresses {
            let lower = address.lowercased()
            let nibbles = HashAlgorithm.keccak256.hash(Array(lower.utf8)).bytes.flatMap { [$0 >> 4, $0 & 0x0f] }
            let checksummed = String(lower.enumerated().map { i, c in
                c.isLetter && nibbles[i] >= 8 ? Character(c.uppercased()) : c
            })
            #expect(checksummed == address)
        }
    }

    /// Parses `Len = / Msg = / MD =` files (NIST CAVP and KeccakKAT); `Len`
    /// is in bits, and `Len = 0` means the empty message.
    static func kat(_ path: String) throws -> [(msg: [UInt8], md: String)] {
        let text = try String(contentsOf: ConformancePaths.url(path), encoding: .utf8)
        var out: [(msg: [UInt8], md: String)] = []
        var len = -1, msg = [UInt8]()
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            let parts = line.components(separatedBy: " = ")
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "Len": len = Int(parts[1])!
            case "Msg": msg = try Hex.decode(parts[1])
            case "MD":
                guard len % 8 == 0 else { continue }
                out.append((len == 0 ? [] : Array(msg.prefix(len / 8)), parts[1].lowercased()))
            default: break
            }
        }
        return out
    }

    @Test(arguments: [
        ("crypto/nist-cavp/SHA2/SHA256ShortMsg.rsp", HashAlgorithm.sha256, 65),
        ("crypto/nist-cavp/SHA2/SHA256LongMsg.rsp", .sha256, 64),
        ("crypto/nist-cavp/SHA3/SHA3_256ShortMsg.rsp", .sha3_256, 137),
        ("crypto/pycryptodome/Hash/keccak/ShortMsgKAT_256.txt", .keccak256, 256),
    ])
    func knownAnswerFileMatches(path: String, algorithm: HashAlgorithm, minimum: Int) throws {
        let vectors = try Self.kat(path)
        #expect(vectors.count >= minimum, "\(path) has \(vectors.count) byte-aligned vectors")
        for (i, v) in vectors.enumerated() {
            #expect(algorithm.hash(v.msg).hex == v.md, "\(path) vector \(i) (\(v.msg.count) bytes)")
        }
    }
}
