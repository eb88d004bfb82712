import Foundation
import Testing
import LedgerCore

/// ethereum/tests RLPTests: rlptest.json (encode and decode), invalidRLPTest.json
/// (must be rejected) and RandomRLPTests (must decode and re-encode).
@Suite(.conformanceVectors) struct RLPConformanceTests {
    static let folder = "evm/ethereum-tests/RLPTests"

    static func load(_ name: String) throws -> [String: [String: Any]] {
        let data = try ConformancePaths.data("\(folder)/\(name)")
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]], "\(name) is not a JSON object of tests")
    }

    /// Converts the fixture's `in` value to an item: strings (UTF-8), integers,
    /// `#<decimal>` big integers, and nested arrays.
    static func item(_ value: Any) throws -> RLP.Item {
        if let s = value as? String {
            if s.hasPrefix("#") { return .bytes(bigDecimalToBytes(String(s.dropFirst()))) }
            return .string(s)
        }
        if let n = value as? NSNumber { return .uint(n.uint64Value) }
        if let a = value as? [Any] { return .list(try a.map(item)) }
        throw LedgerError(.malformedTestVectors, "unexpected fixture value \(value)")
    }

    static func bigDecimalToBytes(_ decimal: String) -> [UInt8] {
        var bytes = [UInt8]()   // big-endian
        for c in decimal.utf8 {
            var carry = Int(c - UInt8(ascii: "0"))
            for i in stride(from: bytes.count - 1, through: 0, by: -1) {
                let v = Int(bytes[i]) * 10 + carry
                bytes[i] = UInt8(v & 0xff)
                carry = v >> 8
            }
            while carry > 0 { bytes.insert(UInt8(carry & 0xff), at: 0); carry >>= 8 }
        }
        while bytes.first == 0 { bytes.removeFirst() }
        return bytes
    }

    @Test func validFixturesEncodeAndDecodeExactly() throws {
        let tests = try Self.load("rlptest.json")
        #expect(tests.count >= 20)
        for (name, t) in tests.sorted(by: { $0.key < $1.key }) {
            let expected = try Hex.decode(t["out"] as! String)
            let item = try Self.item(t["in"]!)
            #expect(RLP.encode(item) == expected, "\(name)")
            #expect(try RLP.decode(expected) == item, "\(name)")
        }
    }

    @Test func invalidFixturesAreRejectedWithTypedErrors() throws {
        let tests = try Self.load("invalidRLPTest.json")
        #expect(tests.count >= 20)
        for (name, t) in tests.sorted(by: { $0.key < $1.key }) {
            let bytes = try Hex.decode(t["out"] as! String)
            #expect(throws: LedgerError.self, "\(name)") { try RLP.decode(bytes) }
        }
    }

    @Test func randomFixturesDecodeAndReencode() throws {
        let tests = try Self.load("RandomRLPTests/example.json")
        for (name, t) in tests {
            let bytes = try Hex.decode(t["out"] as! String)
            let item = try RLP.decode(bytes)
            #expect(RLP.encode(item) == bytes, "\(name)")
        }
    }
}
