import AppAPI
import Foundation
import LedgerCore

/// The application-layer story of `forgechain demo`: an administrator with
/// TOTP, the sample records of Examples/data (JSON, XML, CSV) uploaded with
/// receipts verified, queries by batch and time, an update with history, a
/// notification received, and a denied query.
enum RecordsDemo {
    final class Printer: RecordChangeDelegate {
        func recordDidChange(_ change: RecordChange) async {
            print("  webhook: \(change.recordID) v\(change.before?.version ?? 0) -> v\(change.after.version) (\(change.after.changedFields.joined(separator: ", ")))")
        }
    }

    static func run(_ deployment: Platform.Deployment, examples: String) async throws {
        var options = Platform.Options()
        options.identity.hasher = PasswordHasher(logN: 14)
        if let text = ProcessInfo.processInfo.environment["FORGECHAIN_PASSPHRASE"], !text.isEmpty {
            options.passphrase = try Passphrase(text)
        } else {
            // The demo's folder is new and its own: its keys are sealed under a passphrase nobody keeps.
            options.passphrase = try Passphrase(Hex.encode(SecureRandom.bytes(count: 32)))
            print("keys sealed under a one-time passphrase (set FORGECHAIN_PASSPHRASE to choose one and reopen the folder later)")
        }
        let platform = try await Platform.open(deployment, options: options)
        do {
            try await story(platform, examples: examples)
            await platform.close()
        } catch {
            await platform.close()
            throw error
        }
    }

    static func story(_ platform: Platform, examples: String) async throws {
        let id = platform.identity, records = platform.records
        print("ForgeChain records demo: data in \(platform.directory), chain \(platform.trustAnchor.chainID), \(platform.trustAnchor.validators.count) validator(s)")
        let password = "Demo-Plant-Admin-2025"
        if try await id.needsBootstrap() {
            _ = try await id.createAdministrator(user: "root", password: password, roles: [.superAdmin], token: nil)
            print("1. bootstrap: super-admin 'root' created (no credentials needed on an empty folder)")
        } else {
            throw AppError(.accountExists, "\(platform.directory) has administrators already: run the demo on a new folder")
        }
        // TOTP: enrol, then log in with the current code (as the authenticator app would show it).
        let rootToken = try await id.login(user: "root", password: password, oneTimeCode: nil).token
        let enrollment = try await id.enrollTOTP(user: "root", token: rootToken)
        let totp = TOTP(secret: try Base32.decode(enrollment.secretBase32))
        let token = try await id.login(user: "root", password: password,
                                       oneTimeCode: totp.code(at: UInt64(Date().timeIntervalSince1970))).token
        print("2. TOTP enrolled (\(enrollment.provisioningURI.prefix(48))...); logged in with password + one-time code")

        let printer = Printer()
        try await records.addDelegate(printer, token: token)
        let stream = try await records.changes(token: token)

        print("3. upload the sample records (JSON, XML, CSV) and verify every receipt offline")
        var batch: String?
        for format in RecordFormat.allCases {
            let path = "\(examples)/production-records.\(format.rawValue)"
            guard let data = FileManager.default.contents(atPath: path) else { print("   (no \(path))"); continue }
            let parsed = try RecordIngest.parse(data, format: format)
            let fresh = await parsed.records.map(\.record).asyncFilter { r in
                (try? await records.history(recordID: r.recordID, token: token)) == nil
            }
            guard !fresh.isEmpty else { print("   \(format.rawValue): already on chain"); continue }
            let handle = try await records.submit(fresh, token: token)
            let receipts = try await handle.confirmation
            for (receipt, record) in zip(receipts, fresh) {
                try receipt.verify(against: platform.trustAnchor, record: record)
            }
            batch = batch ?? fresh.first?.batchNumber
            print("   \(format.rawValue): \(receipts.count) records in \(handle.transactionIDs.count) transaction(s), block \(receipts[0].height); receipts verified")
        }

        print("4. queries")
        let all = try await records.query(RecordQuery(limit: 1000), token: token)
        if let batch {
            let page = try await records.query(RecordQuery(batchNumber: batch), token: token)
            print("   batch \(batch): \(page.records.map(\.recordID).joined(separator: ", "))")
        }
        if let first = all.records.first?.record.time {
            let to = RecordTime(millisecondsSince1970: first.millisecondsSince1970 + 3_600_000)
            let page = try await records.query(RecordQuery(from: first, to: to, order: .timeDescending), token: token)
            print("   \(first.iso8601) to \(to.iso8601): \(page.records.count) record(s), newest first")
        }

        print("5. update with a condition, then the history")
        if let target = all.records.first {
            let receipt = try await records.update(recordID: target.recordID, fields: ["propara.pro_temperature": "72.5"],
                                                   condition: .expectedVersion(target.version), token: token)
            try receipt.verify(against: platform.trustAnchor)
            var it = stream.makeAsyncIterator()
            while let change = await it.next() {
                if change.recordID == target.recordID, change.after.version == receipt.version { break }
            }
            print("   notification received: \(target.recordID) v\(target.version) -> v\(receipt.version)")
            for v in try await records.history(recordID: target.recordID, token: token) {
                if case .production(let p) = v.record {
                    print("   v\(v.version) block \(v.height) temperature \(p.processParameters.temperature) by \(v.uploader)")
                }
            }
            do {
                _ = try await records.update(recordID: target.recordID, fields: ["propara.pro_temperature": "80"],
                                             condition: .expectedVersion(target.version), token: token)
            } catch let e as AppError {
                print("   a stale update is refused and changes nothing: [\(e.numericCode)] \(e.message)")
            }
        }

        print("6. a denied query")
        let viewerName = "viewer-\(UInt32.random(in: 1000...9999))"
        _ = try await id.createAdministrator(user: viewerName, password: password, roles: [.viewer], scope: .factories(["F-OTHER"]), token: token)
        let viewer = try await id.login(user: viewerName, password: password, oneTimeCode: nil).token
        do {
            _ = try await records.query(RecordQuery(factoryUID: all.records.first?.record.factoryUID ?? "F-KM-02"), token: viewer)
            print("   the query was allowed: this is a bug")
        } catch {
            print("   " + String(decoding: try Envelope<String>.failure(error).jsonData(), as: UTF8.self))
        }
        try await Task.sleep(for: .milliseconds(100))
        records.removeDelegate(printer)
        print("done: \(try await records.query(RecordQuery(limit: 1000), token: token).records.count) records; log in \(platform.directory)/platform.log")
    }
}

extension Array where Element: Sendable {
    func asyncFilter(_ keep: (Element) async -> Bool) async -> [Element] {
        var out = [Element]()
        for e in self where await keep(e) { out.append(e) }
        return out
    }
}
