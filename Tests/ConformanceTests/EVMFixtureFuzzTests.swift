import Contracts
import Foundation
import LedgerCore
import LedgerCoreTesting
import Testing

/// The conformance runner reads files from anywhere (`forgechain conformance evm DIR`): damaged fixtures must
/// come back as failed cases or ignored files, never a crash or a thrown error.
@Suite(.conformanceVectors) struct EVMFixtureFuzzTests {
    static let sources = [
        "evm/legacytests/Constantinople/VMTests/vmArithmeticTest/add0.json",
        "evm/ethereum-tests/GeneralStateTests/stExample/add11_yml.json",
        "evm/ethereum-tests/BlockchainTests/GeneralStateTests/Cancun/stEIP4844-blobtransactions/emptyBlobhashList.json",
    ]

    /// Replaces, deletes or inserts a few characters, preferring the ones that carry values.
    static func mutate(_ text: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = text
        let alphabet = Array("0123456789abcdefxzX\"{}[],: -".utf8)
        for _ in 0..<Int(1 + rng.next() % 4) where !bytes.isEmpty {
            let at = Int(rng.next() % UInt64(bytes.count))
            switch rng.next() % 3 {
            case 0: bytes[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
            case 1: bytes.remove(at: at)
            default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
            }
        }
        return bytes
    }

    @Test func damagedFixturesAreReportedNotFatal() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evm-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = SplitMix64(seed: 0xE7)
        var failures = 0
        for (index, source) in Self.sources.enumerated() {
            let original = Array(try ConformancePaths.data(source))
            for round in 0..<40 {
                let file = folder.appendingPathComponent("f\(index)-\(round).json")
                try Data(Self.mutate(original, &rng)).write(to: file)
            }
        }
        let report = try EVMConformance.run(directory: folder, skipList: [:])
        failures = report.failures.count
        #expect(report.filesRead == 120)
        // Some mutations land in unchecked fields (comments, metadata) and pass; most break the JSON or a value.
        #expect(failures > 20, "\(report.summary)")
        #expect(report.failures.allSatisfy { !$0.reason.isEmpty })
    }

    @Test func randomSignedBytesInARefusedBlockAreRefusedWithoutCrashing() throws {
        // A block that must be refused, whose transactions carry no sender: the runner recovers it from the
        // signed bytes. Random RLP there must end as a refusal (the case passes) or a failure, never a crash.
        let source = Self.sources[2]
        let data = try ConformancePaths.data(source)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let name = try #require(object.keys.first)
        var test = try #require(object[name] as? [String: Any])
        var blocks = try #require(test["blocks"] as? [[String: Any]])
        var sequence = try #require(blocks[0]["transactionSequence"] as? [[String: Any]])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("evm-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var rng = SplitMix64(seed: 0x4844)
        for round in 0..<60 {
            var raw = FuzzInput.message(&rng)
            if round % 2 == 0 { raw[0] = UInt8(1 + rng.next() % 3) }   // typed-transaction prefix
            sequence[0]["rawBytes"] = "0x" + raw.map { String(format: "%02x", $0) }.joined()
            blocks[0]["transactionSequence"] = sequence
            test["blocks"] = blocks
            object[name] = test
            try JSONSerialization.data(withJSONObject: object).write(to: folder.appendingPathComponent("r\(round).json"))
        }
        let report = try EVMConformance.run(directory: folder, skipList: [:])
        #expect(report.filesRead == 60)
        #expect(report.passedCount + report.failures.count == 60, "\(report.summary)")
    }
}
