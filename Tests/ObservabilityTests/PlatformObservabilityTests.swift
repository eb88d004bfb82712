import Foundation
import Logging
import Metrics
import MetricsTestKit
import Testing
@testable import AppAPI
import ChainRuntime
import LedgerCore

/// Logs and metrics of the platform (identity, records) and its node, captured
/// with in-memory handlers injected through `Platform.Options` (no process-wide
/// bootstrap, so suites stay independent): the expected records and
/// instruments appear, and no secret does.
@Suite struct PlatformObservabilityTests {
    static let rootPassword = "Obs-Root-Secret-Pw-5d81"
    static let alicePassword = "Obs-Alice-Secret-Pw-a93c"
    static let wrongPassword = "Obs-Wrong-Guess-Pw-77e2"

    /// A production record whose text fields hold values found nowhere else.
    static func record() -> ManufacturingRecord {
        .production(ProductionRecord(
            productionTime: RecordTime(millisecondsSince1970: 1_740_816_000_000),
            productionLocation: "Secret-Location-Line-9", productUID: "P-OBS-1",
            rawMaterial: .init(supplier: "Secret-Supplier-Qx7", batchNumber: "Secret-Batch-4411", qualityReport: "Secret-Quality-Note"),
            processParameters: .init(temperature: "73.25", humidity: "41.5", pressure: "99.875"),
            operatorInfo: .init(name: "Secret-Operator-Name", id: "Secret-Operator-ID", record: "Secret-Shift-Remark"),
            factoryUID: "F-OBS-01", deviceID: "Secret-Device-Press"))
    }

    @Test func loginsLockoutsUploadsQueriesAndRefusalsAreLoggedAndCountedWithoutSecrets() async throws {
        let capture = LogCapture()
        let metrics = TestMetrics()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-obs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 10)
        options.passphrase = try Passphrase("test-keystore-passphrase")
        options.identity.maximumFailedLogins = 2
        options.clock = .simulated   // timeouts count ticks: the suite's synchronous sweeps on 2 cores slow it, never fail it
        options.logger = capture.logger(label: "forgechain.test")
        options.metricsFactory = metrics
        let platform = try await Platform.open(.singleNode(directory: dir), options: options)

        // Identity: a login, two wrong passwords (the second locks the account), a refused login while locked.
        _ = try await platform.identity.createAdministrator(user: "root", password: Self.rootPassword, roles: [.superAdmin], token: nil)
        let token = try await platform.identity.login(user: "root", password: Self.rootPassword, oneTimeCode: nil).token
        _ = try await platform.identity.createAdministrator(user: "alice", password: Self.alicePassword, roles: [.viewer], token: token)
        for _ in 0..<2 {
            let e = await #expect(throws: AppError.self) {
                try await platform.identity.login(user: "alice", password: Self.wrongPassword, oneTimeCode: nil)
            }
            #expect(e?.code == .invalidCredentials)
        }
        let locked = await #expect(throws: AppError.self) {
            try await platform.identity.login(user: "alice", password: Self.alicePassword, oneTimeCode: nil)
        }
        #expect(locked?.code == .invalidCredentials, "the caller is not told the account is locked; the log and metrics are")
        let unknown = await #expect(throws: AppError.self) {
            try await platform.identity.login(user: Self.wrongPassword, password: Self.wrongPassword, oneTimeCode: nil)
        }
        #expect(unknown?.code == .invalidCredentials)

        // Records: one upload and one query; a duplicate upload is refused.
        let record = Self.record()
        let receipt = try await platform.records.upload(record, token: token)
        let page = try await platform.records.query(RecordQuery(factoryUID: "F-OBS-01"), token: token)
        #expect(page.records.map(\.recordID) == [record.recordID])
        let duplicate = await #expect(throws: AppError.self) { try await platform.records.upload(record, token: token) }
        #expect(duplicate?.code == .recordExists)
        let enrollment = try await platform.identity.enrollTOTP(user: "root", token: token)

        // The node: a transaction for another chain is refused with its code.
        var stranger = SigningAccount(key: try PrivateKey.generate(.ed25519), chainID: 999)
        let wrongChain = await #expect(throws: ChainError.self) {
            _ = try await platform.node.enqueue(try stranger.set(key: Array("k".utf8), value: Array("v".utf8)))
        }
        #expect(wrongChain?.code == .wrongChain)
        let committedHeight = receipt.height
        await platform.close()

        // Identity metrics and logs.
        #expect(metrics.counterTotal(label: "forgechain_logins_total") == 1)
        #expect(metrics.counterTotal(label: "forgechain_logins_refused_total", dimensions: [("code", "5401")]) == 3)
        #expect(metrics.counterTotal(label: "forgechain_logins_refused_total", dimensions: [("code", "5402")]) == 1)
        #expect(metrics.counterTotal(label: "forgechain_account_lockouts_total") == 1)
        let lockouts = capture.records("account locked after repeated failed logins")
        #expect(lockouts.count == 1)
        #expect(lockouts.first?.level == .warning)
        #expect(lockouts.first?.metadata["user"] == "alice" && lockouts.first?.metadata["failedLogins"] == "2")
        let refusals = capture.records("login refused")
        #expect(refusals.map { $0.metadata["code"]?.description } == ["5401", "5401", "5402", "5401"])
        #expect(refusals.last?.metadata["user"] == "(unknown)", "an unknown user name may be a mistyped password")
        #expect(refusals[2].level == .notice && refusals[2].metadata["user"] == "alice" && refusals[2].metadata["reason"] == "account locked")
        let enrolled = capture.records("TOTP enrolled")
        #expect(enrolled.count == 1 && enrolled.first?.metadata["user"] == "root" && enrolled.first?.metadata["by"] == "root")
        #expect(capture.records("login succeeded").first?.metadata["user"] == "root")

        // Records metrics and logs.
        #expect(metrics.counterTotal(label: "forgechain_records_uploaded_total") == 1)
        #expect(metrics.counterTotal(label: "forgechain_records_refused_total", dimensions: [("operation", "upload"), ("code", "5101")]) == 1)
        let queryTimer = try metrics.expectTimer("forgechain_query_duration_seconds")
        #expect(queryTimer.values.count == 1 && queryTimer.values[0] > 0)
        #expect(capture.records("records committed").first?.metadata["records"] == "1")
        #expect(capture.records("records queried").first?.metadata["rows"] == "1")

        // Node metrics (dimension node = 0) and logs.
        let node = [("node", "0")]
        let height = try metrics.expectGauge("forgechain_committed_height", node)
        #expect(height.lastValue.map { UInt64($0) } ?? 0 >= committedHeight)
        #expect(metrics.counterTotal(label: "forgechain_transactions_committed_total", dimensions: node) >= 1)
        #expect(metrics.counterTotal(label: "forgechain_blocks_committed_total", dimensions: node) >= 1)
        #expect(try metrics.expectTimer("forgechain_block_append_seconds", node).values.count >= 1)
        #expect(try metrics.expectTimer("forgechain_commit_latency_seconds", node).values.count >= 1)
        #expect(metrics.counterTotal(label: "forgechain_transactions_refused_total",
                                     dimensions: node + [("source", "client"), ("code", String(ChainError.Code.wrongChain.rawValue))]) == 1)
        #expect(capture.records("node started").first?.metadata["node"] == "0")
        #expect(capture.records("node stopped").count == 1)
        let commits = capture.records("block committed")
        #expect(commits.contains { $0.level == .debug && $0.metadata["height"]?.description == committedHeight.description })
        #expect(capture.records("transaction refused").first?.metadata["code"]?.description == String(ChainError.Code.wrongChain.rawValue))

        // No secret anywhere: passwords, the token, the TOTP secret, the record's field values.
        var secrets = [Self.rootPassword, Self.alicePassword, Self.wrongPassword, token, enrollment.secretBase32]
        secrets += record.fieldValues.values.filter { $0.hasPrefix("Secret-") || $0.contains(".") }
        #expect(secrets.count >= 14)
        let logged = capture.records
        #expect(logged.count > 10)
        for secret in secrets {
            let leaks = logged.filter { $0.text.contains(secret) }
            #expect(leaks.isEmpty, "'\(secret)' was logged: \(leaks)")
        }
    }
}
