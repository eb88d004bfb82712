// A plant service linking ForgeChain by version: the README's example, then a
// single-node platform that takes uploads from many tasks at once, awaits every
// receipt and verifies one offline. Exits 0 only when all of it worked.
import AppAPI
import Foundation
import LedgerCore

func readmeExample() throws {
    let key = try PrivateKey.generate(.p256)
    var tx = Transaction(chainID: 1, sender: key.publicKey, nonce: 0, timestamp: .now(),
                         payload: TransactionPayload(kind: "kv", body: Array("line-3/temp=71.2".utf8)))
    try tx.sign(with: key, hashAlgorithm: .sha256)

    let block = try Block.make(parent: nil, transactions: [tx], producerKey: key, chainID: 1,
                               hashAlgorithm: .sha256, timestamp: .now())
    try BlockValidator(chainID: 1).validate(block, parent: nil)
}

func record(_ n: Int) -> String {
    """
    {"production_time": "2025-03-01T08:00:00Z", "production_location": "line 3", "product_uid": "P-\(n)",
     "pro_raw_material": {"pro_supplier": "Yunnan Copper Co.", "pro_batch_number": "B-\(n % 4)", "pro_Report_qualify_eval": "pass"},
     "propara": {"pro_temperature": 71.5, "pro_humidity": 40, "pro_pressure": "101.3"}, "pro_op_info": {"pro_op_name": "Li Wei", "pro_op_id": "OP-7", "pro_op_record": "ok"},
     "pro_factory_uid": "F-KM-02", "device_id": "PRESS-04"}
    """
}

@main
struct Consumer {
    static func main() async {
        do {
            try readmeExample()
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("forgechain-consumer-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var options = Platform.Options()
            options.passphrase = try Passphrase("consumer-check-keystore")
            let platform = try await Platform.open(.singleNode(directory: directory), options: options)
            _ = try await platform.identity.createAdministrator(user: "root", password: "Consumer-Check-2025", roles: [.superAdmin], token: nil)
            let token = try await platform.identity.login(user: "root", password: "Consumer-Check-2025", oneTimeCode: nil).token

            let json = "{\"records\": [" + (0..<64).map(record).joined(separator: ",") + "]}"
            let parsed = try RecordIngest.parse(Data(json.utf8), format: .json)
            if let issue = parsed.issues.first { throw ConsumerFailure("record \(issue.index): \(issue.error.message)") }
            guard parsed.records.count == 64 else { throw ConsumerFailure("parsed \(parsed.records.count) of 64") }

            // Sixteen tasks submit four records each and await their receipts: digests held across every await.
            let receipts = try await withThrowingTaskGroup(of: [UploadReceipt].self) { group in
                for chunk in stride(from: 0, to: 64, by: 4) {
                    let records = parsed.records[chunk..<chunk + 4].map(\.record)
                    group.addTask {
                        let handle = try await platform.records.submit(records, token: token)
                        let ids = handle.transactionIDs
                        let receipts = try await handle.confirmation
                        guard receipts.allSatisfy({ ids.contains($0.transactionID) }) else { throw ConsumerFailure("receipt for a foreign transaction") }
                        return receipts
                    }
                }
                var all: [UploadReceipt] = []
                for try await receipts in group { all += receipts }
                return all
            }
            guard receipts.count == 64 else { throw ConsumerFailure("\(receipts.count) receipts for 64 records") }
            guard let first = receipts.first,
                  let uploaded = parsed.records.first(where: { $0.record.recordID == first.recordID })?.record
            else { throw ConsumerFailure("no receipt matches an uploaded record") }
            try first.verify(against: platform.trustAnchor, record: uploaded)
            await platform.close()
            print("consumer: README example ran; 64 records committed, receipt \(first.recordID) verified offline at height \(first.height)")
        } catch {
            FileHandle.standardError.write(Data("consumer failed: \(error)\n".utf8))
            exit(1)
        }
    }
}

struct ConsumerFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
