import Foundation
@testable import AppAPI
import LedgerCore

/// A single-node platform in a temporary folder with a super-admin logged in.
struct RecordsFixture {
    let platform: Platform
    let directory: String
    let rootToken: String
    static let password = "Correct-Horse-Battery-9"

    /// On simulated time: the commit timeout counts the node's ticks, so a busy machine slows a test down
    /// instead of failing it.
    /// `loginCode` is read when the super-admin logs in, after the folder is open (a TOTP code made earlier may have expired).
    static func open(organisation: FactoryScope = .all, directory: String? = nil, commitTimeout: Duration = .seconds(60),
                     maximumTransactionBodyBytes: Int? = nil, loginCode: @autoclosure () -> String? = nil) async throws -> RecordsFixture {
        let dir = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-app-\(UUID().uuidString)").path
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.passphrase = try Passphrase("test-keystore-passphrase")
        options.organisationFactories = organisation
        options.commitTimeout = commitTimeout
        options.clock = .simulated
        if let maximumTransactionBodyBytes { options.maximumTransactionBodyBytes = maximumTransactionBodyBytes }
        let platform = try await Platform.open(.singleNode(directory: dir), options: options)
        if try await platform.identity.needsBootstrap() {
            _ = try await platform.identity.createAdministrator(user: "root", password: password, roles: [.superAdmin], token: nil)
        }
        let token = try await platform.identity.login(user: "root", password: password, oneTimeCode: loginCode()).token
        return RecordsFixture(platform: platform, directory: dir, rootToken: token)
    }

    /// Creates `user` with `roles` and `scope` and returns its token.
    func user(_ user: String, roles: Set<Role>, scope: FactoryScope = .all) async throws -> String {
        _ = try await platform.identity.createAdministrator(user: user, password: Self.password, roles: roles, scope: scope, token: rootToken)
        return try await platform.identity.login(user: user, password: Self.password, oneTimeCode: nil).token
    }

    func close() async {
        await platform.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static let baseTime: UInt64 = 1_740_816_000_000   // 2025-03-01T08:00:00Z

    static func production(_ i: Int, batch: String = "B-17", factory: String = "F-KM-02", minute: Int? = nil,
                           device: String? = "PRESS-04") -> ManufacturingRecord {
        .production(ProductionRecord(
            productionTime: RecordTime(millisecondsSince1970: baseTime + UInt64(minute ?? i) * 60_000),
            productionLocation: "Kunming plant 2, line 3", productUID: "P-\(i)",
            rawMaterial: .init(supplier: "Yunnan Copper", batchNumber: batch, qualityReport: "pass"),
            processParameters: .init(temperature: "71.5", humidity: "40", pressure: "101.3"),
            operatorInfo: .init(name: "Li Wei", id: "OP-7", record: "shift A"),
            factoryUID: factory, deviceID: device))
    }

    static func inspection(_ i: Int, factory: String = "F-KM-02") -> ManufacturingRecord {
        .qualityInspection(QualityInspectionRecord(
            inspectionTime: RecordTime(millisecondsSince1970: baseTime + UInt64(i) * 60_000), productUID: "P-\(i)", batchNumber: "B-17",
            result: .pass, inspector: .init(name: "Zhang Min", id: "QI-3"), reportDigest: HashAlgorithm.sha256.hash(Array("report \(i)".utf8)),
            factoryUID: factory))
    }
}

extension Signature {
    /// The same signature with its first byte flipped.
    func tampered() -> Signature {
        var raw = rawRepresentation
        raw[0] ^= 0x01
        return try! Signature(scheme: scheme, rawRepresentation: raw)
    }
}
