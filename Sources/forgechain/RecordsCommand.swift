import AppAPI
import ArgumentParser
import Foundation
import LedgerCore

/// `forgechain records import|query|update|history|verify|reindex`: records in a data folder (A-UP, A-Q, A-U).
struct RecordsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "records",
        abstract: "Import, query, update and verify manufacturing records in a data folder.",
        discussion: """
            Credentials: --user/--password/--otp or FORGECHAIN_USER, FORGECHAIN_PASSWORD, FORGECHAIN_OTP.
            Results print as the envelope {code, message, data, details}. Failures print it to standard error and exit 1;
            an import that uploads some records and refuses others prints the summary with the first refusal's code,
            line and field and exits 2.
            """,
        subcommands: [Import.self, Query.self, Update.self, History.self, Verify.self, Reindex.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload the records of a JSON, XML or CSV file.",
            discussion: """
                Exit status: 0 all uploaded; 1 nothing uploaded (unreadable file, --all-or-nothing with a bad record, refused upload); \
                2 some records refused, the others uploaded. On a terminal, standard error shows the records committed, the rate and the time left.
                A CSV file of any size is read --batch-size records at a time in bounded memory (JSON and XML files up to 64 MiB); each batch \
                commits on its own. Run again after a failure, an import skips the records already on chain with the same content \
                (counted in already_on_chain) and uploads the rest, so each record ends on chain once. The summary lists the first \
                10,000 uploaded records and refusals (records_omitted, rejected_total give the rest); --receipts writes every \
                receipt, streamed, and keeps those of the records uploaded before a failure.
                """
        )
        @OptionGroup var options: DataOptions
        @Argument(help: "The input file (.json, .xml, .csv).") var file: String
        @Option(help: "json, xml or csv (default: from the file extension).") var format: String?
        @Option(help: "Record kind when the file does not say: production, equipment, quality_inspection.") var kind: String = "production"
        @Flag(help: "Reject the whole file when any record is bad.") var allOrNothing = false
        @Option(help: "Write the upload receipts (JSON) to this file.") var receipts: String?
        @Option(help: "Records per upload batch, each committed on its own (1...100,000).") var batchSize: Int = 10_000

        func run() async throws {
            try await CLI.runOnPlatformWithStatus(options) { (platform) async throws -> Int32 in
                // A CSV file is read this many records at a time, other inputs are uploaded in batches of this size;
                // each batch commits on its own and a re-run skips the records already on chain.
                let batch = min(RecordIngest.maximumRecords, max(1, batchSize))
                let fmt: RecordFormat
                if let format {
                    guard let f = RecordFormat(rawValue: format.lowercased()) else {
                        throw AppError(.unsupportedFormat, "--format must be json, xml or csv", details: ["field": "format"])
                    }
                    fmt = f
                } else {
                    fmt = try RecordFormat(fileName: file)
                }
                let recordKind = try RecordKind(name: kind)
                var summary = ImportSummary()
                let receiptFile = try receipts.map { try JSONArrayFile(path: $0) }
                do {
                    if fmt == .csv {
                        // A CSV file of any size streams through in batches; --all-or-nothing reads it once first.
                        if allOrNothing { _ = try CSVRecordStream(path: file, kind: recordKind).checkAll() }
                        let stream = try CSVRecordStream(path: file, kind: recordKind)
                        var next = try stream.next(batch)
                        let token = try await options.login(platform)
                        let progress = ProgressReporter(label: "records import", unit: "records")
                        defer { progress.finish() }
                        while let current = next {
                            summary.refuse(current.issues)
                            try await upload(current.records.map(\.record), platform: platform, token: token, into: &summary,
                                             receipts: receiptFile, progress: progress)
                            next = try stream.next(batch)
                        }
                    } else {
                        guard let data = FileManager.default.contents(atPath: file) else {
                            throw AppError(.emptyInput, "cannot read '\(file)'", details: ["file": file])
                        }
                        let parsed = try RecordIngest.parseFile(data, format: fmt, kind: recordKind, allOrNothing: allOrNothing)
                        let token = try await options.login(platform)
                        summary.refuse(parsed.issues)
                        let progress = ProgressReporter(label: "records import", unit: "records", total: parsed.records.count)
                        defer { progress.finish() }
                        for start in stride(from: 0, to: parsed.records.count, by: batch) {
                            let chunk = parsed.records[start..<min(parsed.records.count, start + batch)].map(\.record)
                            try await upload(chunk, platform: platform, token: token, into: &summary, receipts: receiptFile, progress: progress)
                        }
                    }
                    try receiptFile?.finish()
                } catch {
                    // The receipts of the records already uploaded are kept: a re-run skips those records.
                    do { try receiptFile?.finish() } catch { receiptFile?.discard() }
                    throw error
                }
                guard let first = summary.firstRefusal else {
                    try CLI.printJSON(summary)
                    return 0
                }
                // Some records were refused: the envelope carries the first refusal's code, line and field, and
                // the summary of what was uploaded; exit status 2 tells a script the file was only partly taken.
                var error = first
                error.message = "\(summary.rejectedTotal) of \(summary.rejectedTotal + summary.uploaded + summary.alreadyOnChain) records refused; first at line "
                    + "\(error.details["line"] ?? "?"): \(first.message)"
                error.details["rejected"] = String(summary.rejectedTotal)
                try CLI.printJSON(summary, failure: error)
                return 2
            }
        }

        /// Uploads one batch (skipping records already on chain), appending receipts and the summary's counts.
        private func upload(_ records: [ManufacturingRecord], platform: any PlatformAccess, token: String, into summary: inout ImportSummary,
                            receipts: JSONArrayFile?, progress: ProgressReporter) async throws {
            guard !records.isEmpty else { return }
            let base = summary.uploaded + summary.alreadyOnChain
            let result = try await platform.uploadNew(records, token: token,
                                                      progress: { settled, _ in progress.update(completed: base + settled) })
            try receipts?.append(result.receipts)
            summary.add(result)
            progress.update(completed: summary.uploaded + summary.alreadyOnChain)
        }
    }

    /// What `records import` prints: counts, and the first uploaded records and refusals (the lists stop at
    /// ``listLimit`` entries so that a file of millions of records prints a bounded summary).
    struct ImportSummary: Codable, Sendable {
        struct Rejection: Codable, Sendable { var record: Int; var line: Int?; var field: String?; var code: UInt32; var message: String }
        struct Uploaded: Codable, Sendable {
            var recordID: String; var height: UInt64; var transactionID: String
            enum CodingKeys: String, CodingKey { case recordID = "record_id", height = "block_height", transactionID = "transaction_id" }
        }
        static let listLimit = 10_000
        var uploaded = 0
        /// Records skipped because they were on chain already with the same content (a re-run of an import).
        var alreadyOnChain = 0
        var rejected: [Rejection] = []
        var rejectedTotal = 0
        var records: [Uploaded] = []
        /// Uploaded records not listed in `records`.
        var recordsOmitted = 0
        var firstRefusal: AppError?

        enum CodingKeys: String, CodingKey {
            case uploaded, rejected, records
            case alreadyOnChain = "already_on_chain", rejectedTotal = "rejected_total", recordsOmitted = "records_omitted"
        }

        mutating func refuse(_ issues: [RecordIngest.Issue]) {
            if firstRefusal == nil, let first = issues.first {
                var e = first.error
                if e.details["line"] == nil, let line = first.line { e.details["line"] = String(line) }
                firstRefusal = e
            }
            rejectedTotal += issues.count
            for issue in issues.prefix(max(0, Self.listLimit - rejected.count)) {
                rejected.append(Rejection(record: issue.index, line: issue.line, field: issue.error.details["field"],
                                          code: issue.error.numericCode, message: issue.error.message))
            }
        }

        mutating func add(_ result: RecordService.UploadResult) {
            uploaded += result.receipts.count
            alreadyOnChain += result.alreadyOnChain.count
            let room = max(0, Self.listLimit - records.count)
            records += result.receipts.prefix(room).map { Uploaded(recordID: $0.recordID, height: $0.height, transactionID: $0.transactionID.hex) }
            recordsOmitted += max(0, result.receipts.count - room)
        }
    }

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Query records (filters combine with AND).")
        @OptionGroup var options: DataOptions
        @Option(help: "Product UID.") var product: String?
        @Option(help: "Production batch number.") var batch: String?
        @Option(help: "Device ID.") var device: String?
        @Option(help: "Factory UID.") var factory: String?
        @Option(help: "Location (exact).") var location: String?
        @Option(name: .customLong("operator"), help: "Operator or inspector ID.") var operatorID: String?
        @Option(help: "production, equipment or quality_inspection.") var kind: String?
        @Option(help: "From this time (ISO 8601 or Unix epoch), inclusive.") var from: String?
        @Option(help: "To this time, exclusive.") var to: String?
        @Option(help: "asc or desc by record time.") var order: String = "asc"
        @Option(help: "Rows per page, 1-1000.") var limit: Int = 100
        @Option(help: "The next_cursor of the previous page.") var cursor: String?
        @Flag(help: "Attach each record's inclusion proof.") var proofs = false
        @Option(help: "json, xml or table.") var format: String = "json"

        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                guard ["json", "xml", "table"].contains(format) else {
                    throw AppError(.invalidQuery, "--format must be json, xml or table, not '\(format)'", details: ["field": "format"])
                }
                guard ["asc", "desc"].contains(order) else {
                    throw AppError(.invalidQuery, "--order must be asc or desc, not '\(order)'", details: ["field": "order"])
                }
                let query = RecordQuery(
                    from: try from.map { t throws(AppError) in try RecordTime(parsing: t, field: "from") },
                    to: try to.map { t throws(AppError) in try RecordTime(parsing: t, field: "to") },
                    productUID: product, batchNumber: batch, deviceID: device, factoryUID: factory, location: location,
                    operatorID: operatorID, kind: try kind.map { k throws(AppError) in try RecordKind(name: k) },
                    order: order == "desc" ? .timeDescending : .timeAscending, limit: limit, cursor: cursor, includeProofs: proofs)
                let page = try await platform.query(query, token: try await options.login(platform))
                switch format {
                case "xml": try CLI.printXML(page)
                case "table": print(Self.table(page))
                default: try CLI.printJSON(page)
                }
            }
        }

        static func table(_ page: RecordPage) -> String {
            var lines = ["RECORD ID                                  V  KIND                TIME                      FACTORY     BATCH     DEVICE      HEIGHT"]
            for r in page.records {
                func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n - 1)) + " " : s + String(repeating: " ", count: n - s.count) }
                lines.append(pad(r.recordID, 43) + pad(String(r.version), 3) + pad(r.kind.rawValue, 20) + pad(r.record.time.iso8601, 26)
                             + pad(r.record.factoryUID, 12) + pad(r.record.batchNumber ?? "-", 10) + pad(r.record.deviceID ?? "-", 12) + String(r.height))
            }
            lines.append("\(page.records.count) record(s)" + (page.nextCursor.map { "; next page: --cursor \($0)" } ?? ""))
            return lines.joined(separator: "\n")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append a new version of a record with some fields changed, if it is still at the version you read.",
            discussion: """
                FIELD is the dotted field name of the record's JSON form (as `records history` prints it), for example \
                propara.pro_temperature. The update is written only when the record is still at --expect-version; otherwise it \
                fails with 5301 and changes nothing. Prints the record ID, its new version, block height and transaction ID; \
                --receipt writes the full receipt for `records verify`. Failures (5301 version conflict, 5004 unknown field, \
                5003 bad value, 5302 malformed --set, 5303 immutable field, 5203 no such record) print the envelope to \
                standard error and exit 1.
                """)
        @OptionGroup var options: DataOptions
        @Argument(help: "The record ID (a production record's product UID).") var recordID: String
        @Option(name: .customLong("set"), help: ArgumentHelp("A field's dotted name and its new value (repeatable, 1-64).", valueName: "FIELD=VALUE"))
        var assignments: [String] = []
        @Option(help: "The record's current version, which the update replaces (from `records history` or `records query`).")
        var expectVersion: UInt64
        @Option(help: "Write the update receipt (JSON) to this file.") var receipt: String?

        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                let fields = try Self.fields(assignments)
                let updated = try await platform.update(recordID: recordID, fields: fields, expectedVersion: expectVersion,
                                                        token: try await options.login(platform))
                if let receipt { try CLI.writeJSON(updated, to: receipt) }
                try CLI.printJSON(Updated(recordID: updated.recordID, version: updated.version, height: updated.height,
                                          transactionID: updated.transactionID.hex))
            }
        }

        /// `["a.b=1", "c=x=y"]` → `["a.b": "1", "c": "x=y"]` (split at the first `=`).
        /// - Throws: `AppError` `.invalidUpdate` (5302) for an assignment without `=` or a field name, or a field named twice.
        static func fields(_ assignments: [String]) throws(AppError) -> [String: String] {
            var fields = [String: String]()
            for assignment in assignments {
                guard let eq = assignment.firstIndex(of: "="), eq != assignment.startIndex else {
                    throw AppError(.invalidUpdate, "--set takes FIELD=VALUE, got '\(assignment)'", details: ["field": "set"])
                }
                let name = String(assignment[..<eq])
                guard fields.updateValue(String(assignment[assignment.index(after: eq)...]), forKey: name) == nil else {
                    throw AppError(.invalidUpdate, "--set names field '\(name)' twice", details: ["field": name])
                }
            }
            return fields
        }

        struct Updated: Codable, Sendable {
            var recordID: String; var version: UInt64; var height: UInt64; var transactionID: String
            enum CodingKeys: String, CodingKey {
                case recordID = "record_id", version, height = "block_height", transactionID = "transaction_id"
            }
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every version of a record.")
        @OptionGroup var options: DataOptions
        @Argument(help: "The record ID (a production record's product UID).") var uid: String
        func run() async throws {
            try await CLI.runOnPlatform(options) { platform in
                try CLI.printJSON(try await platform.history(recordID: uid, token: try await options.login(platform)))
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify upload receipts offline against the chain's trust anchor.")
        @OptionGroup var options: DataOptions
        @Argument(help: "A receipt file (one receipt or an array, as written by `records import --receipts`), of any size: it is read one receipt at a time.") var receipt: String
        @Option(help: "The trust anchor (default: DATA/trust-anchor.json).") var anchor: String?

        func run() async throws {
            do {
                let anchorPath = anchor ?? options.data + "/trust-anchor.json"
                guard let anchorData = FileManager.default.contents(atPath: anchorPath), FileManager.default.isReadableFile(atPath: receipt) else {
                    throw AppError(.receiptInvalid, "cannot read '\(receipt)' or the trust anchor '\(anchorPath)'", details: ["check": "input"])
                }
                let trust: TrustAnchor
                do { trust = try JSONDecoder().decode(TrustAnchor.self, from: anchorData) } catch {
                    throw AppError(.receiptInvalid, "the trust anchor '\(anchorPath)' is not a trust anchor: \(error)", details: ["check": "anchor"])
                }
                // The file is read one receipt at a time (an import's receipts file has no size limit).
                let decoder = JSONDecoder()
                var listed = [String]()
                var seen = 0
                let count: Int
                do {
                    count = try JSONElementSplitter.forEachElement(inFile: receipt) { element in
                        seen += 1
                        let r: UploadReceipt
                        do { r = try decoder.decode(UploadReceipt.self, from: Data(element)) } catch {
                            throw AppError(.receiptInvalid, "'\(receipt)' element \(seen) is not an upload receipt: \(error)",
                                           details: ["check": "format"])
                        }
                        try r.verify(against: trust)
                        if listed.count < Self.listLimit { listed.append(r.recordID) }
                    }
                } catch let e as JSONElementSplitter.Failure {
                    throw AppError(.receiptInvalid, "'\(receipt)' holds no upload receipt (one, or an array): \(e)", details: ["check": "format"])
                } catch let e as CocoaError {
                    throw AppError(.receiptInvalid, "cannot read '\(receipt)': \(e.localizedDescription)", details: ["check": "input"])
                }
                var result = ["verified": String(count), "records": listed.joined(separator: ",")]
                if count > listed.count { result["records_omitted"] = String(count - listed.count) }
                try CLI.printJSON(result)
            } catch {
                CLI.fail(error)
            }
        }

        /// The most record IDs the result lists; `records_omitted` counts the rest.
        static let listLimit = 10_000
    }

    struct Reindex: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rebuild the record index from the chain (needs node.operate).")
        @OptionGroup var options: DataOptions
        func run() async throws {
            try await CLI.run(options) { platform in
                let n = try await platform.records.rebuildIndex(token: try await options.login(platform))
                try CLI.printJSON(["versions": n])
            }
        }
    }
}
