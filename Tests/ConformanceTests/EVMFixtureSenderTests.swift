@testable import Contracts
import Foundation
import LedgerCrypto
import Testing

/// The conformance runner recovers the sender of transactions in blocks that must be refused (their fixtures
/// give no `sender`): checked against the senders ethereum/tests TransactionTests give for Cancun, and on the
/// refused blocks of the developer set.
@Suite(.conformanceVectors) struct EVMFixtureSenderTests {
    @Test func recoveredSendersMatchTheTransactionTests() throws {
        let root = ConformancePaths.url("evm/ethereum-tests/TransactionTests")
        let walker = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        var checked = 0
        for case let file as URL in walker where file.pathExtension == "json" {
            let tests = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: [String: Any]])
            for (name, test) in tests {
                guard let cancun = (test["result"] as? [String: Any])?["Cancun"] as? [String: Any],
                      let sender = cancun["sender"] as? String, let txbytes = test["txbytes"] as? String else { continue }
                let raw = try Hex.decode(String(txbytes.dropFirst(2)))
                let recovered = try FixtureSender.sender(of: raw)
                #expect(recovered == EVMAddress(hex: sender), "\(file.lastPathComponent) \(name)")
                checked += 1
            }
        }
        #expect(checked >= 25)
    }

    @Test func theRefusedBlocksSendersAreThePreStateSender() throws {
        let folder = ConformancePaths.url("evm/ethereum-tests/BlockchainTests/GeneralStateTests/Cancun/stEIP4844-blobtransactions")
        var checked = 0
        for name in ["blobhashListBounds7", "emptyBlobhashList", "wrongBlobhashVersion"] {
            let data = try Data(contentsOf: folder.appendingPathComponent("\(name).json"))
            let tests = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
            for (_, test) in tests {
                for block in test["blocks"] as? [[String: Any]] ?? [] {
                    for entry in block["transactionSequence"] as? [[String: Any]] ?? [] {
                        let raw = try Hex.decode(String(try #require(entry["rawBytes"] as? String).dropFirst(2)))
                        #expect(try FixtureSender.sender(of: raw) == EVMAddress(hex: "0xa94f5374fce5edbc8e2a8697c15331677e6ebf0b"), "\(name)")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == 3)
    }

    @Test func bytesThatAreNotATransactionAreATypedError() {
        for raw: [UInt8] in [[], [0x02], [0xC0], [0x03, 0xC3, 0x01, 0x02, 0x03], [0xF8, 0x01]] {
            #expect(throws: ContractError.self) { try FixtureSender.sender(of: raw) }
        }
    }
}
