import Foundation
import Testing
@testable import AppAPI
import LedgerCore

/// Format-2 receipts: one operation with its proof, a size that does not depend on the transaction's other
/// records, every tampering refused with its check named, and format-1 receipts still read.
@Suite(.serialized) struct UploadReceiptTests {
    static func json(_ receipt: UploadReceipt) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(receipt)
    }

    @Test func aReceiptInA2500RecordTransactionIsAFewKBAndOnlyItsProofDepthLongerThanARecordAlone() async throws {
        let f = try await RecordsFixture.open(maximumTransactionBodyBytes: 1 << 20)
        let alone = try await f.platform.records.upload(RecordsFixture.production(1_000_000), token: f.rootToken)
        let records = (1_000..<3_500).map { RecordsFixture.production($0) }
        let shared = try await f.platform.records.uploadBatch(records, token: f.rootToken)
        #expect(shared.count == 2_500)
        #expect(Set(shared.map(\.transactionID)).count == 1, "the 2,500 records share one transaction")
        #expect(alone.format == 2 && alone.transaction == nil && alone.operationProof?.treeSize == 1 && alone.operationProof?.path.isEmpty == true)
        // The first record's proof is one of the longest: ⌈log2 2,500⌉ = 12 hashes.
        let deepest = shared[0]
        #expect(deepest.operationProof?.treeSize == 2_500 && deepest.operationProof?.path.count == 12)
        let aloneBytes = try Self.json(alone).count, sharedBytes = try Self.json(deepest).count
        #expect(sharedBytes < 8_192, "a receipt of a record in a 2,500-record transaction is \(sharedBytes) bytes")
        // 12 more proof hashes in hex (64 characters, quotes, comma, indentation: at most 80 each) and a few digits.
        #expect(sharedBytes - aloneBytes <= 12 * 80 + 32, "alone \(aloneBytes) bytes, shared \(sharedBytes) bytes")
        for r in [alone, deepest, shared[1_234], shared[2_499]] {
            try r.verify(against: f.platform.trustAnchor)
            try JSONDecoder().decode(UploadReceipt.self, from: try Self.json(r)).verify(against: f.platform.trustAnchor)
        }
        try shared[7].verify(against: f.platform.trustAnchor, record: records[7])
        #expect(try OperationsCommitment(decoding: deepest.receipt.output).count == 2_500)
        print("receipt JSON: \(aloneBytes) bytes for a record alone in its transaction, \(sharedBytes) in a 2,500-record one")
        await f.close()
    }

    @Test func aTamperedOperationProofOrOutputIsRefusedAndTheCheckNamed() async throws {
        let f = try await RecordsFixture.open()
        let receipts = try await f.platform.records.uploadBatch((0..<5).map { RecordsFixture.production($0) }, token: f.rootToken)
        let anchor = f.platform.trustAnchor
        let receipt = receipts[2]
        try receipt.verify(against: anchor)
        func check(_ r: UploadReceipt, _ record: ManufacturingRecord? = nil) -> String? {
            (#expect(throws: AppError.self) { try r.verify(against: anchor, record: record) })?.details["check"]
        }
        var flipped = receipt
        flipped.operation[flipped.operation.count / 2] ^= 0x01
        #expect(check(flipped) == "operation")
        var moved = receipt
        moved.operationIndex = 3
        #expect(check(moved) == "operation")
        var shortProof = receipt
        shortProof.operationProof?.path.removeLast()
        #expect(check(shortProof) == "operation")
        var noProof = receipt
        noProof.operationProof = nil
        #expect(check(noProof) == "operation")
        // Another record's operation with its own valid proof: in the transaction, but not this record.
        var swapped = receipt
        swapped.operation = receipts[3].operation
        swapped.operationIndex = receipts[3].operationIndex
        swapped.operationProof = receipts[3].operationProof
        #expect(check(swapped) == "record")
        var output = receipt
        output.receipt.output = OperationsCommitment(root: HashAlgorithm.sha256.hash([1]), count: 5).encoded
        #expect(check(output) == "receipt")
        var otherTransaction = receipt
        otherTransaction.transactionID = HashAlgorithm.sha256.hash([2])
        #expect(check(otherTransaction) == "inclusionProof")
        #expect(check(receipt, RecordsFixture.production(9)) == "record")
        // Through JSON: a flipped operation byte still decodes and is refused by the same check.
        var text = String(decoding: try Self.json(receipt), as: UTF8.self)
        let hex = Hex.encode(receipt.operation)
        var tamperedHex = Array(hex)
        tamperedHex[40] = tamperedHex[40] == "0" ? "1" : "0"
        text = text.replacingOccurrences(of: hex, with: String(tamperedHex))
        #expect(check(try JSONDecoder().decode(UploadReceipt.self, from: Data(text.utf8))) == "operation")
        await f.close()
    }

    @Test func aFormat1ReceiptThatCarriesTheWholeTransactionStillDecodesAndVerifies() async throws {
        let f = try await RecordsFixture.open()
        let record = RecordsFixture.production(1)
        let current = try await f.platform.records.upload(record, token: f.rootToken)
        let store = await f.platform.node.ledger
        let at = try #require(try store.location(ofTransaction: current.transactionID))
        let transaction = try store.block(atHeight: at.height).transactions[at.index]
        let old = UploadReceipt(recordID: current.recordID, version: current.version, recordDigest: current.recordDigest, transaction: transaction,
                                header: current.header, blockHash: current.blockHash, inclusionProof: current.inclusionProof,
                                receipt: current.receipt, receiptProof: current.receiptProof, certificate: current.certificate)
        // The JSON of earlier builds: these keys exactly, no `format`.
        let data = try Self.json(old)
        let keys = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]).keys.sorted()
        #expect(keys == ["block_hash", "block_height", "certificate", "header", "inclusion_proof", "receipt", "receipt_proof", "record_digest",
                         "record_id", "transaction", "transaction_id", "version"])
        let decoded = try JSONDecoder().decode(UploadReceipt.self, from: data)
        #expect(decoded.format == 1 && decoded.transaction == transaction && decoded.operationProof == nil)
        try decoded.verify(against: f.platform.trustAnchor, record: record)
        var forged = decoded
        forged.transaction?.nonce += 1
        #expect((#expect(throws: AppError.self) { try forged.verify(against: f.platform.trustAnchor) })?.details["check"] == "transaction")
        // A format this build does not know is refused when decoding.
        var object = try #require(try JSONSerialization.jsonObject(with: try Self.json(current)) as? [String: Any])
        object["format"] = 3
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(UploadReceipt.self, from: try JSONSerialization.data(withJSONObject: object)) }
        await f.close()
    }
}
