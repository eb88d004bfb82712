import AppAPI
import Foundation
import LedgerCore

/// Values the article tests share (not article code).
enum DocumentationSamples {
    /// The production record the articles upload.
    static var productionRecord: ManufacturingRecord {
        .production(ProductionRecord(
            productionTime: RecordTime(millisecondsSince1970: 1_740_788_100_000),   // 2025-03-01T08:15:00+08:00
            productionLocation: "Kunming plant 2, line 3",
            productUID: "P-2025-000117",
            rawMaterial: .init(supplier: "Yunnan Copper", batchNumber: "CU-2025-031", qualityReport: "pass"),
            processParameters: .init(temperature: "71.5", humidity: "40", pressure: "101.3"),
            operatorInfo: .init(name: "Li Wei", id: "OP-7", record: "shift A"),
            factoryUID: "F-KM-02",
            deviceID: "PRESS-04"))
    }

    /// A fresh folder under the temporary directory.
    static func temporaryFolder(_ label: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-doc-\(label)-\(UUID().uuidString)").path
    }

    /// A single-node platform with cheap password hashing (tests only) and a super-admin's token.
    static func platform(directory: String) async throws -> (Platform, String) {
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.passphrase = try Passphrase("test-keystore-passphrase")
        // Simulated time: the commit timeout counts ticks, so the suite's synchronous sweeps on 2 cores slow it, never fail it.
        options.clock = .simulated
        let platform = try await Platform.open(.singleNode(directory: directory), options: options)
        _ = try await platform.identity.createAdministrator(user: "root", password: "Correct-Horse-Battery-9", roles: [.superAdmin], token: nil)
        let token = try await platform.identity.login(user: "root", password: "Correct-Horse-Battery-9", oneTimeCode: nil).token
        return (platform, token)
    }
}
