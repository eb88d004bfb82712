import AppAPI
import Foundation
import LedgerCore
import Testing

// The code of `Sources/AppAPI/AppAPI.docc/LinkIntoAService.md`, verbatim.

/// The service's one handle on the chain: opens the data folder once, logs
/// in once, and closes the platform when the service stops.
actor PlantLedger {
    let platform: Platform
    private let token: String

    init(directory: String, user: String, password: String, options: Platform.Options = .init()) async throws {
        let platform = try await Platform.open(.singleNode(directory: directory), options: options)
        if try await platform.identity.needsBootstrap() {
            // A new folder: the first administrator needs no token.
            _ = try await platform.identity.createAdministrator(user: user, password: password,
                                                                roles: [.superAdmin], token: nil)
        }
        self.token = try await platform.identity.login(user: user, password: password, oneTimeCode: nil).token
        self.platform = platform
    }

    /// Uploads one record and returns its receipt once the block holding it is committed.
    func record(_ record: ManufacturingRecord) async throws -> UploadReceipt {
        try await platform.records.upload(record, token: token)
    }

    /// The records of one production batch, oldest first, as the JSON envelope.
    func batch(_ batchNumber: String) async throws -> Data {
        let page = try await platform.records.query(RecordQuery(batchNumber: batchNumber), token: token)
        return try Envelope.success(page).jsonData()
    }

    func shutdown() async {
        await platform.close()
    }
}

struct LinkIntoAServiceTests {
    @Test func theServiceWrapperUploadsQueriesAndReopensTheSameChain() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-doc-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)   // fast password hashing for the test only
        options.passphrase = try Passphrase("test-keystore-passphrase")
        // Simulated time: the commit timeout counts ticks, so the suite's synchronous sweeps on 2 cores slow it, never fail it.
        options.clock = .simulated

        let ledger = try await PlantLedger(directory: directory, user: "plant-admin", password: "Plant-Service-2025", options: options)
        let receipt = try await ledger.record(DocumentationSamples.productionRecord)
        #expect(receipt.recordID == "P-2025-000117")

        // Uploading the same product again is refused with a coded error.
        await handleErrorsSnippet(ledger, record: DocumentationSamples.productionRecord)
        let duplicate = await #expect(throws: AppError.self) { try await ledger.record(DocumentationSamples.productionRecord) }
        #expect(duplicate?.code == .recordExists)

        let json = try await ledger.batch("CU-2025-031")
        let envelope = try JSONDecoder().decode(Envelope<RecordPage>.self, from: json)
        #expect(envelope.code == 0 && envelope.data?.records.map(\.recordID) == ["P-2025-000117"])
        await ledger.shutdown()

        // The same folder continues the same chain: the administrator exists, the record is still there.
        let reopened = try await PlantLedger(directory: directory, user: "plant-admin", password: "Plant-Service-2025", options: options)
        let again = try JSONDecoder().decode(Envelope<RecordPage>.self, from: try await reopened.batch("CU-2025-031"))
        #expect(again.data?.records.count == 1)
        await reopened.shutdown()
    }

    /// The article's error-handling block.
    func handleErrorsSnippet(_ ledger: PlantLedger, record: ManufacturingRecord) async {
        do {
            _ = try await ledger.record(record)
        } catch let error as any CodedError {
            // Every error of every module has a stable numeric code (Documentation/ErrorCodes.md).
            print("failed [\(error.numericCode)] \(error.message)")
        } catch {
            print("failed: \(error)")
        }
    }
}
