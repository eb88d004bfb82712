// A plant service linking ForgeChain by version: the README's example, then a
// single-node platform that takes uploads from many tasks at once, awaits every
// receipt and verifies one offline. Exits 0 only when all of it worked.
import AppAPI
import Contracts
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

/// A contract call encoded from a JSON ABI and run on the EVM: 6 × 7 through PUSH, MUL and RETURN.
func contractExample() throws {
    let abi = try ContractInterface(json: #"[{"type":"function","name":"answer","inputs":[{"name":"x","type":"uint256"}],"outputs":[{"name":"","type":"uint256"}],"stateMutability":"pure"}]"#)
    let data = try abi.encodeCall("answer", .uint(6))
    // CALLDATALOAD(4) × 7, stored at 0 and returned.
    let code: [UInt8] = [0x60, 0x04, 0x35, 0x60, 0x07, 0x02, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xF3]
    let contract = EVMAddress(hex: "0x00000000000000000000000000000000000c0de1")!
    let block = EVMBlockEnvironment(coinbase: contract, number: 1, timestamp: 1, gasLimit: 1_000_000, chainID: 1)
    let result = try EVM().execute(EVMMessage(address: contract, caller: contract, code: code, data: data, gas: 100_000),
                                   block: block, state: NoState())
    guard try abi.decodeOutput(of: "answer", from: result.output) == [.uint(42)] else { throw ConsumerFailure("the EVM did not answer 42") }
}

struct NoState: EVMStateReader {
    func account(_ address: EVMAddress) throws(ContractError) -> EVMAccount? { nil }
    func code(_ address: EVMAddress) throws(ContractError) -> [UInt8] { [] }
    func storage(_ address: EVMAddress, slot: UInt256) throws(ContractError) -> UInt256 { .zero }
    func blockHash(_ number: UInt64) throws(ContractError) -> UInt256? { nil }
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
            try contractExample()
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
