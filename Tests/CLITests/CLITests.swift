import AppAPI
import Foundation
import Testing

/// The operator commands (`forgechain admin …`, `forgechain records …`) run as
/// child processes on a fresh data folder per test, checked by their exit
/// status and the envelope `{code, message, data, details}` they print.
struct CLITests {
    @Test func theFirstSuperAdminNeedsNoCredentialsAndEveryLaterCommandDoes() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let wrongFirst = try await cli.run(["admin", "create", "line-op", "--role", "operator", "--new-password", "Line-Operator-Pass-7"])
        #expect(wrongFirst.status != 0 && wrongFirst.code == 5409, "the first administrator must be a super-admin: \(wrongFirst)")

        let root = try await cli.run(["admin", "create", "root", "--role", "super-admin", "--new-password", "Correct-Horse-Battery-9"])
        #expect(root.status == 0, "\(root)")
        #expect(root.code == 0 && (root.data as? [String: Any])?["user"] as? String == "root")

        for args in [["admin", "create", "second", "--role", "viewer", "--new-password", "Second-Viewer-Pass-7"], ["admin", "list"],
                     ["records", "query"], ["records", "history", "P-1"]] {
            let refused = try await cli.run(args)
            #expect(refused.status != 0, "\(args) ran without credentials: \(refused)")
            #expect(refused.code == 5401 && refused.message.contains("credentials"), "\(args): \(refused)")
        }
        let wrong = try await cli.run(["admin", "list"], credentials: ("root", "Not-The-Password-1"))
        #expect(wrong.status != 0 && wrong.code == 5401, "\(wrong)")
        let created = try await cli.run(["admin", "create", "second", "--role", "viewer", "--new-password", "Second-Viewer-Pass-7"],
                                  credentials: ("root", "Correct-Horse-Battery-9"))
        #expect(created.status == 0 && created.code == 0, "\(created)")
    }

    @Test func administratorsAreCreatedListedChangedDisabledAndDeleted() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let create = try await cli.run(["admin", "create", "line-op", "--role", "operator", "--scope", "F-KM-02", "--new-password", "Line-Operator-Pass-7"],
                                 credentials: root)
        #expect(create.status == 0, "\(create)")
        let list = try await cli.run(["admin", "list"], credentials: root)
        let accounts = try #require(list.data as? [[String: Any]], "\(list)")
        #expect(accounts.compactMap { $0["user"] as? String }.sorted() == ["line-op", "root"])
        let op = try #require(accounts.first { $0["user"] as? String == "line-op" })
        #expect(op["roles"] as? [String] == ["operator"] && op["scope"] as? String == "F-KM-02" && op["enabled"] as? Bool == true)

        let passwd = try await cli.run(["admin", "passwd", "line-op", "--new-password", "Changed-Operator-Pass-8"], credentials: root)
        #expect(passwd.status == 0, "\(passwd)")
        let old = try await cli.run(["records", "query"], credentials: ("line-op", "Line-Operator-Pass-7"))
        #expect(old.status != 0 && old.code == 5401, "the old password still works: \(old)")
        let new = try await cli.run(["records", "query"], credentials: ("line-op", "Changed-Operator-Pass-8"))
        #expect(new.status == 0 && new.code == 0, "\(new)")

        let disable = try await cli.run(["admin", "disable", "line-op"], credentials: root)
        #expect(disable.status == 0 && (disable.data as? [String: Any])?["enabled"] as? Bool == false, "\(disable)")
        let disabled = try await cli.run(["records", "query"], credentials: ("line-op", "Changed-Operator-Pass-8"))
        #expect(disabled.status != 0 && disabled.code == 5401, "a disabled account is refused like a wrong password: \(disabled)")
        let lastSuper = try await cli.run(["admin", "delete", "root"], credentials: root)
        #expect(lastSuper.status != 0 && lastSuper.code == 5414, "\(lastSuper)")

        let delete = try await cli.run(["admin", "delete", "line-op"], credentials: root)
        #expect(delete.status == 0, "\(delete)")
        let after = try await cli.run(["admin", "list"], credentials: root)
        #expect((after.data as? [[String: Any]])?.compactMap { $0["user"] as? String } == ["root"], "\(after)")
        let gone = try await cli.run(["records", "query"], credentials: ("line-op", "Changed-Operator-Pass-8"))
        #expect(gone.status != 0 && gone.code == 5401, "\(gone)")
    }

    @Test func totpEnrolmentMakesACodeNecessaryAndEachCodeWorksOnce() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let enrol = try await cli.run(["admin", "enroll-totp", "root"], credentials: root)
        #expect(enrol.status == 0, "\(enrol)")
        let data = try #require(enrol.data as? [String: String], "\(enrol)")
        let secret = try Base32.decode(try #require(data["secret"]))
        #expect(data["uri"]?.hasPrefix("otpauth://totp/") == true)

        let noCode = try await cli.run(["admin", "list"], credentials: root)
        #expect(noCode.status != 0 && noCode.code == 5404, "\(noCode)")
        let totp = TOTP(secret: secret)
        let now = UInt64(Date().timeIntervalSince1970)
        let code = totp.code(at: now), next = totp.code(at: now + 30)
        let wrong = try await cli.run(["admin", "list"], credentials: root, otp: code == "000000" ? "111111" : "000000")
        #expect(wrong.status != 0 && wrong.code == 5405, "\(wrong)")
        let good = try await cli.run(["admin", "list"], credentials: root, otp: code)
        #expect(good.status == 0 && good.code == 0, "\(good)")
        let replay = try await cli.run(["admin", "list"], credentials: root, otp: code)
        #expect(replay.status != 0 && replay.code == 5405, "a used code worked again: \(replay)")
        // The code may also come from FORGECHAIN_OTP (the next time step is inside the drift window).
        let fromEnvironment = try await cli.run(["admin", "list"], credentials: root, environment: ["FORGECHAIN_OTP": next])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment)")
    }

    @Test func credentialsComeFromTheEnvironmentWhenNoFlagsAreGiven() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let (user, password) = try await cli.bootstrap()
        let env = ["FORGECHAIN_USER": user, "FORGECHAIN_PASSWORD": password]
        let list = try await cli.run(["admin", "list"], environment: env)
        #expect(list.status == 0 && (list.data as? [[String: Any]])?.count == 1, "\(list)")
        let created = try await cli.run(["admin", "create", "viewer1", "--role", "viewer"],
                                  environment: env.merging(["FORGECHAIN_NEW_PASSWORD": "Viewer-Password-42"]) { a, _ in a })
        #expect(created.status == 0, "\(created)")
        let asViewer = try await cli.run(["records", "query"], environment: ["FORGECHAIN_USER": "viewer1", "FORGECHAIN_PASSWORD": "Viewer-Password-42"])
        #expect(asViewer.status == 0 && asViewer.code == 0, "\(asViewer)")
        let wrong = try await cli.run(["admin", "list"], environment: ["FORGECHAIN_USER": user, "FORGECHAIN_PASSWORD": "Wrong-Password-000"])
        #expect(wrong.status != 0 && wrong.code == 5401, "\(wrong)")
        // Flags win over the environment.
        let flags = try await cli.run(["admin", "list"], credentials: (user, password), environment: ["FORGECHAIN_PASSWORD": "Wrong-Password-000"])
        #expect(flags.status == 0, "\(flags)")
    }

    @Test func importsTheSampleFilesAndQueriesThemWithFiltersInJSONXMLAndTable() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        var uploaded = [String]()
        for name in ["production-records.json", "production-records.xml", "production-records.csv"] {
            let out = try await cli.run(["records", "import", ForgeChainProcess.samples.appendingPathComponent(name).path], credentials: root)
            #expect(out.status == 0, "\(name): \(out)")
            let data = try #require(out.data as? [String: Any], "\(out)")
            #expect((data["rejected"] as? [Any])?.isEmpty == true)
            uploaded += (data["records"] as? [[String: Any]] ?? []).compactMap { $0["record_id"] as? String }
        }
        #expect(uploaded.sorted() == ["P-2025-0001", "P-2025-0002", "P-2025-0101", "P-2025-0201", "P-2025-0202"])

        func ids(_ filters: [String]) async throws -> [String] {
            let out = try await cli.run(["records", "query"] + filters, credentials: root)
            #expect(out.status == 0 && out.code == 0, "\(filters): \(out)")
            let page = try #require(out.data as? [String: Any], "\(out)")
            return (page["records"] as? [[String: Any]] ?? []).compactMap { $0["record_id"] as? String }
        }
        #expect(try await ids([]).count == 5)
        #expect(try await ids(["--batch", "B-17"]) == ["P-2025-0001", "P-2025-0002"])
        #expect(try await ids(["--device", "PRESS-04"]) == ["P-2025-0001", "P-2025-0201"])
        #expect(try await ids(["--product", "P-2025-0202"]) == ["P-2025-0202"])
        #expect(try await ids(["--location", "Kunming plant 2, line 4"]) == ["P-2025-0101"])
        #expect(try await ids(["--operator", "OP-9", "--factory", "F-KM-02", "--kind", "production"]) == ["P-2025-0101"])
        #expect(try await ids(["--factory", "F-XX-99"]).isEmpty)
        #expect(try await ids(["--from", "2025-03-02T00:00:00Z", "--to", "2025-03-03T00:00:00Z", "--order", "desc"]) == ["P-2025-0202", "P-2025-0201"])

        // Pages: the cursor of the first page leads to the rest.
        let first = try await cli.run(["records", "query", "--limit", "2"], credentials: root)
        let page = try #require(first.data as? [String: Any], "\(first)")
        let cursor = try #require(page["next_cursor"] as? String)
        #expect(try await ids(["--limit", "2", "--cursor", cursor]).count == 2)
        let badCursor = try await cli.run(["records", "query", "--batch", "B-17", "--cursor", cursor], credentials: root)
        #expect(badCursor.status != 0 && badCursor.code == 5202, "\(badCursor)")

        let xml = try await cli.run(["records", "query", "--location", "Kunming plant 2, line 4", "--format", "xml"], credentials: root)
        #expect(xml.status == 0, "\(xml)")
        #expect(xml.stdout.contains("<envelope>") && xml.stdout.contains("<code>0</code>") && xml.stdout.contains("<message>ok</message>"))
        #expect(xml.stdout.contains("<product_uid>P-2025-0101</product_uid>") && !xml.stdout.contains("P-2025-0001"))

        let table = try await cli.run(["records", "query", "--batch", "B-19", "--format", "table"], credentials: root)
        #expect(table.status == 0, "\(table)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("RECORD ID") == true)
        #expect(lines.filter { $0.hasPrefix("P-2025-020") }.count == 2 && lines.last == "2 record(s)", "\(table.stdout)")

        let badFormat = try await cli.run(["records", "query", "--format", "yaml"], credentials: root)
        #expect(badFormat.status != 0 && badFormat.code == 5201, "\(badFormat)")
    }

    @Test func aMalformedFileReportsLineAndFieldExitsNonZeroAndAllOrNothingUploadsNothing() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        var csv = try String(contentsOf: ForgeChainProcess.samples.appendingPathComponent("production-records.csv"), encoding: .utf8)
        csv = csv.replacingOccurrences(of: "1740903600000,", with: "the day after,")   // the second record, on line 4
        let bad = cli.path("bad.csv")
        try csv.write(toFile: bad, atomically: true, encoding: .utf8)

        let whole = try await cli.run(["records", "import", bad, "--all-or-nothing"], credentials: root)
        #expect(whole.status != 0 && whole.code == 5010, "\(whole)")
        #expect(whole.message.contains("line 4"), "\(whole)")
        let afterRejection = try await cli.run(["records", "query"], credentials: root)
        #expect(afterRejection.stdout.contains("P-2025-0201") == false, "\(afterRejection)")

        let partial = try await cli.run(["records", "import", bad], credentials: root)
        #expect(partial.status == 2, "a partly rejected file exits 2: \(partial)")
        #expect(partial.code == 5003 && partial.details["line"] == "4" && partial.details["field"] == "production_time", "\(partial)")
        let summary = try #require(partial.data as? [String: Any], "\(partial)")
        #expect(summary["uploaded"] as? Int == 1)
        let rejected = try #require((summary["rejected"] as? [[String: Any]])?.first)
        #expect(rejected["line"] as? Int == 4 && rejected["field"] as? String == "production_time" && rejected["code"] as? Int == 5003)

        let json = cli.path("broken.txt")
        try "[\n  {\"product_uid\": \"P-1\",\n   \"production_time\": }\n]".write(toFile: json, atomically: true, encoding: .utf8)
        let syntax = try await cli.run(["records", "import", json, "--format", "json"], credentials: root)
        #expect(syntax.status != 0 && syntax.code == 5005 && syntax.details["line"] == "3", "\(syntax)")
        let unknown = try await cli.run(["records", "import", json], credentials: root)
        #expect(unknown.status != 0 && unknown.code == 5008, "a .txt file needs --format: \(unknown)")
    }

    @Test func historyListsVersionsAndVerifyAcceptsReceiptsAndRefusesTamperedOnes() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let receipts = cli.path("receipts.json")
        let imported = try await cli.run(["records", "import", ForgeChainProcess.samples.appendingPathComponent("production-records.json").path,
                                    "--receipts", receipts], credentials: root)
        #expect(imported.status == 0, "\(imported)")

        let history = try await cli.run(["records", "history", "P-2025-0001"], credentials: root)
        #expect(history.status == 0, "\(history)")
        let versions = try #require(history.data as? [[String: Any]], "\(history)")
        #expect(versions.count == 1 && versions[0]["version"] as? Int == 1 && versions[0]["record_id"] as? String == "P-2025-0001")
        #expect((versions[0]["record"] as? [String: Any])?["product_uid"] as? String == "P-2025-0001")
        #expect((versions[0]["uploader"] as? String) == "root")
        let missing = try await cli.run(["records", "history", "P-0000"], credentials: root)
        #expect(missing.status != 0 && missing.code == 5203, "\(missing)")

        let verified = try await cli.run(["records", "verify", receipts])
        #expect(verified.status == 0 && (verified.data as? [String: String])?["verified"] == "2", "\(verified)")
        // The trust anchor may also be named explicitly (a verifier without the data folder).
        let anchored = try await cli.run(["records", "verify", receipts, "--anchor", cli.data + "/trust-anchor.json"], withData: false)
        #expect(anchored.status == 0, "\(anchored)")

        let original = try String(contentsOfFile: receipts, encoding: .utf8)
        var list = try #require(try JSONSerialization.jsonObject(with: Data(original.utf8)) as? [[String: Any]])
        let digest = try #require(list[0]["record_digest"] as? String)
        list[0]["record_digest"] = String(digest.dropLast()) + (digest.hasSuffix("0") ? "1" : "0")
        let tampered = cli.path("tampered.json")
        try JSONSerialization.data(withJSONObject: list).write(to: URL(fileURLWithPath: tampered))
        let refused = try await cli.run(["records", "verify", tampered])
        #expect(refused.status != 0 && refused.code == 5104 && refused.details["check"] == "record", "\(refused)")

        list[0]["record_digest"] = digest
        list[1]["block_height"] = (list[1]["block_height"] as? Int ?? 0) + 1
        try JSONSerialization.data(withJSONObject: list).write(to: URL(fileURLWithPath: tampered))
        let height = try await cli.run(["records", "verify", tampered])
        #expect(height.status != 0 && height.code == 5104 && height.details["check"] == "header", "\(height)")

        try "{\"record_id\": 7}".write(toFile: tampered, atomically: true, encoding: .utf8)
        let garbage = try await cli.run(["records", "verify", tampered])
        #expect(garbage.status != 0 && garbage.code == 5104 && garbage.details["check"] == "format", "\(garbage)")
    }
}
