import AppAPI
import Foundation
import LedgerCore
import Testing

// The code of `Sources/AppAPI/AppAPI.docc/UploadAndVerifyAReceipt.md`, verbatim, in the order of the article.
struct UploadAndVerifyAReceiptTests {
    @Test func aReceiptVerifiesOfflineFromItsJSONAndATamperedOneIsRefused() async throws {
        let directory = DocumentationSamples.temporaryFolder("receipt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (platform, token) = try await DocumentationSamples.platform(directory: directory)

        // Build the record (Appendix A of the standard).
        let record = ManufacturingRecord.production(ProductionRecord(
            productionTime: try RecordTime(parsing: "2025-03-01T08:15:00+08:00"),
            productionLocation: "Kunming plant 2, line 3",
            productUID: "P-2025-000117",
            rawMaterial: .init(supplier: "Yunnan Copper", batchNumber: "CU-2025-031", qualityReport: "pass"),
            processParameters: .init(temperature: "71.5", humidity: "40", pressure: "101.3"),
            operatorInfo: .init(name: "Li Wei", id: "OP-7", record: "shift A"),
            factoryUID: "F-KM-02",
            deviceID: "PRESS-04"))
        #expect(record == DocumentationSamples.productionRecord)

        // Upload it and keep the receipt.
        let digest = record.digest(using: platform.trustAnchor.hashAlgorithm)
        let receipt = try await platform.records.upload(record, token: token, expectedDigest: digest)
        print("\(receipt.recordID) v\(receipt.version) in block \(receipt.height), digest \(receipt.recordDigest.hex)")

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let receiptJSON = try encoder.encode(receipt)
        let anchorJSON = try encoder.encode(platform.trustAnchor)
        await platform.close()

        // Verify it offline: no node, no network, only the trust anchor and the receipt.
        let anchor = try JSONDecoder().decode(TrustAnchor.self, from: anchorJSON)
        let stored = try JSONDecoder().decode(UploadReceipt.self, from: receiptJSON)
        try stored.verify(against: anchor, record: record)

        // A receipt altered in any part fails, and the error names the check.
        var altered = stored
        altered.header.stateRoot = HashAlgorithm.sha256.hash(Array("forged".utf8))
        do {
            try altered.verify(against: anchor)
        } catch {
            print("refused [\(error.numericCode)] check \(error.details["check"] ?? "?"): \(error.message)")
        }
        let refusal = #expect(throws: AppError.self) { try altered.verify(against: anchor) }
        #expect(refusal?.code == .receiptInvalid && refusal?.details["check"] == "header")

        // The same record with one field changed no longer matches the receipt.
        var changed = record
        if case .production(var production) = changed {
            production.processParameters.temperature = "75.0"
            changed = .production(production)
        }
        #expect(throws: AppError.self) { try stored.verify(against: anchor, record: changed) }
    }
}
