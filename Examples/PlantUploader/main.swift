// PlantUploader: the small host program a plant team copies.
//
// It opens (or creates) a data folder, logs in, uploads the records of a
// JSON, XML or CSV file, verifies every receipt offline and prints the
// batch's records back from the chain.
//
//   swift run PlantUploader DATA_DIR FILE
//   FORGECHAIN_PASSPHRASE=... FORGECHAIN_USER=root FORGECHAIN_PASSWORD=... swift run PlantUploader ./plant-data Examples/data/production-records.csv
//
// On a new folder it creates the administrator from FORGECHAIN_USER and
// FORGECHAIN_PASSWORD (the bootstrap super-admin). The folder's keys are
// sealed under FORGECHAIN_PASSPHRASE (the platform reads it by default).
import AppAPI
import Foundation
import LedgerCore

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: PlantUploader DATA_DIR FILE.{json,xml,csv}\n".utf8))
    exit(64)
}
let environment = ProcessInfo.processInfo.environment
let user = environment["FORGECHAIN_USER"] ?? "plant-admin"
let password = environment["FORGECHAIN_PASSWORD"] ?? "Plant-Uploader-Demo-2025"

do {
    let platform = try await Platform.open(.singleNode(directory: arguments[1]))
    if try await platform.identity.needsBootstrap() {
        _ = try await platform.identity.createAdministrator(user: user, password: password, roles: [.superAdmin], token: nil)
    }
    let token = try await platform.identity.login(user: user, password: password, oneTimeCode: environment["FORGECHAIN_OTP"]).token

    // 1. Parse: errors name the line and the field.
    let file = arguments[2]
    let parsed = try RecordIngest.parse(try Data(contentsOf: URL(fileURLWithPath: file)), format: try RecordFormat(fileName: file))
    for issue in parsed.issues { print("skipped record \(issue.index) (line \(issue.line ?? 0)): [\(issue.error.numericCode)] \(issue.error.message)") }

    // 2. Upload in as few transactions as the size limit allows; wait for the commit.
    let receipts = try await platform.records.uploadBatch(parsed.records.map(\.record), token: token)

    // 3. Check every receipt offline: proof, header, commit certificate, digest.
    for (receipt, entry) in zip(receipts, parsed.records) {
        try receipt.verify(against: platform.trustAnchor, record: entry.record)
        print("\(receipt.recordID): block \(receipt.height), digest \(receipt.recordDigest.hex.prefix(16))..., verified")
    }

    // 4. Read the batch back as the JSON envelope.
    if let batch = parsed.records.first?.record.batchNumber {
        let page = try await platform.records.query(RecordQuery(batchNumber: batch), token: token)
        print(String(decoding: try Envelope.success(page).jsonData(pretty: true), as: UTF8.self))
    }
    await platform.close()
} catch {
    print(String(decoding: (try? Envelope<String>.failure(error).jsonData(pretty: true)) ?? Data(), as: UTF8.self))
    exit(1)
}
