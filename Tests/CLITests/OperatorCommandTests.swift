import AppAPI
import Foundation
import LedgerCore
import Testing

/// What a new operator ran into: bootstrap with FORGECHAIN_USER set, `ledger verify` on a data folder, the
/// index's WAL left behind, the bitcoin Wycheproof schema, `records update`, and progress text on a pipe.
/// Each runs the real binary, as ``CLITests`` do.
struct OperatorCommandTests {
    static let progressMarks = ["\r", "\u{1B}[K", "seeds/s", "records/s", "blocks/s", "transactions/s", " left"]

    /// The size of the record index's write-ahead log in `folder` (0 when absent).
    static func indexWALBytes(_ folder: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: folder + "/records-index.sqlite-wal"))?[.size] as? NSNumber)?.intValue ?? 0
    }

    @Test func adminCreateBootstrapsAnEmptyFolderEvenWithFORGECHAIN_USERSet() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let environment = ["FORGECHAIN_USER": "someone-else", "FORGECHAIN_PASSWORD": "Not-Used-Here-42"]
        let root = try await cli.run(["admin", "create", "root", "--role", "super-admin", "--new-password", "Correct-Horse-Battery-9"],
                                     environment: environment)
        #expect(root.status == 0 && root.code == 0, "\(root)")
        #expect((root.data as? [String: Any])?["user"] as? String == "root", "\(root)")
        // Once bootstrapped, the environment's credentials are used, and these are wrong.
        let second = try await cli.run(["admin", "create", "second", "--role", "viewer", "--new-password", "Second-Viewer-Pass-7"],
                                       environment: environment)
        #expect(second.status != 0 && second.code == 5401, "\(second)")
        let list = try await cli.run(["admin", "list"], environment: ["FORGECHAIN_USER": "root", "FORGECHAIN_PASSWORD": "Correct-Horse-Battery-9"])
        #expect((list.data as? [[String: Any]])?.count == 1, "\(list)")
    }

    @Test func ledgerCommandsTakeADataFolderAndNameAFolderWithoutALedger() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let imported = try await cli.run(["records", "import", ForgeChainProcess.samples.appendingPathComponent("production-records.json").path],
                                         credentials: root)
        #expect(imported.status == 0, "\(imported)")

        let folder = try await cli.run(["ledger", "verify", cli.data], withData: false)
        #expect(folder.status == 0 && folder.stdout.hasPrefix("ok: head "), "\(folder)")
        let file = try await cli.run(["ledger", "verify", cli.data + "/ledger.sqlite"], withData: false)
        #expect(file.status == 0 && file.stdout == folder.stdout, "\(file)")
        let info = try await cli.run(["ledger", "info", cli.data], withData: false)
        #expect(info.status == 0 && info.stdout.contains("file \(cli.data)/ledger.sqlite"), "\(info)")

        let empty = cli.path("not-a-data-folder")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let refused = try await cli.run(["ledger", "verify", empty], withData: false)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stderr.hasPrefix("error 1519: \(empty) is a folder"), "\(refused)")
        #expect(!refused.stderr.contains("100-byte header"), "\(refused)")
    }

    @Test func commandsLeaveNoRecordIndexLogBehindAfterDemoAndImport() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let demo = try await cli.run(["demo", "--data", cli.data, "--examples", ForgeChainProcess.samples.path], withData: false)
        #expect(demo.status == 0, "\(demo)")
        #expect(FileManager.default.fileExists(atPath: cli.data + "/records-index.sqlite"))
        #expect(Self.indexWALBytes(cli.data) == 0, "demo left \(Self.indexWALBytes(cli.data)) bytes of index log")

        let other = try ForgeChainProcess()
        defer { other.remove() }
        let root = try await other.bootstrap()
        for name in ["production-records.json", "production-records.csv"] {
            let out = try await other.run(["records", "import", ForgeChainProcess.samples.appendingPathComponent(name).path], credentials: root)
            #expect(out.status == 0, "\(out)")
            #expect(Self.indexWALBytes(other.data) == 0, "import of \(name) left \(Self.indexWALBytes(other.data)) bytes of index log")
        }
        // A failing command closes the index too.
        let refused = try await other.run(["records", "query", "--format", "yaml"], credentials: root)
        #expect(refused.status == 1 && refused.code == 5201, "\(refused)")
        #expect(Self.indexWALBytes(other.data) == 0)
    }

    @Test func recordsUpdateWritesANewVersionAndRefusesAStaleOne() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let root = try await cli.bootstrap()
        let imported = try await cli.run(["records", "import", ForgeChainProcess.samples.appendingPathComponent("production-records.json").path],
                                         credentials: root)
        #expect(imported.status == 0, "\(imported)")

        let receipt = cli.path("update-receipt.json")
        let updated = try await cli.run(["records", "update", "P-2025-0001", "--set", "propara.pro_temperature=72.5", "--expect-version", "1",
                                         "--receipt", receipt], credentials: root)
        #expect(updated.status == 0 && updated.code == 0, "\(updated)")
        let data = try #require(updated.data as? [String: Any], "\(updated)")
        #expect(data["record_id"] as? String == "P-2025-0001" && data["version"] as? Int == 2, "\(updated)")
        #expect((data["block_height"] as? Int ?? 0) > 0 && (data["transaction_id"] as? String)?.count == 64, "\(updated)")
        let verified = try await cli.run(["records", "verify", receipt])
        #expect(verified.status == 0 && (verified.data as? [String: String])?["verified"] == "1", "\(verified)")

        let history = try await cli.run(["records", "history", "P-2025-0001"], credentials: root)
        let versions = try #require(history.data as? [[String: Any]], "\(history)")
        #expect(versions.compactMap { $0["version"] as? Int } == [1, 2], "\(history)")
        let latest = try #require(versions.last?["record"] as? [String: Any])
        #expect((latest["propara"] as? [String: Any])?["pro_temperature"] as? String == "72.5", "\(latest)")

        // The same update again still expects version 1: a conflict, and nothing changes.
        let stale = try await cli.run(["records", "update", "P-2025-0001", "--set", "propara.pro_temperature=80", "--expect-version", "1"],
                                      credentials: root)
        #expect(stale.status == 1 && stale.code == 5301, "\(stale)")
        #expect(stale.details["currentVersion"] == "2", "\(stale)")
        let unknown = try await cli.run(["records", "update", "P-2025-0001", "--set", "propara.no_such_field=1", "--expect-version", "2"],
                                        credentials: root)
        #expect(unknown.status == 1 && unknown.code == 5004, "\(unknown)")
        let badValue = try await cli.run(["records", "update", "P-2025-0001", "--set", "production_time=the day after", "--expect-version", "2"],
                                         credentials: root)
        #expect(badValue.status == 1 && badValue.code == 5003, "\(badValue)")
        let malformed = try await cli.run(["records", "update", "P-2025-0001", "--set", "propara.pro_temperature", "--expect-version", "2"],
                                          credentials: root)
        #expect(malformed.status == 1 && malformed.code == 5302, "\(malformed)")
        let missing = try await cli.run(["records", "update", "P-0000", "--set", "propara.pro_temperature=1", "--expect-version", "1"],
                                        credentials: root)
        #expect(missing.status == 1 && missing.code == 5203, "\(missing)")
        let noCredentials = try await cli.run(["records", "update", "P-2025-0001", "--set", "propara.pro_temperature=1", "--expect-version", "2"])
        #expect(noCredentials.status == 1 && noCredentials.code == 5401, "\(noCredentials)")

        let after = try await cli.run(["records", "history", "P-2025-0001"], credentials: root)
        #expect((after.data as? [[String: Any]])?.count == 2, "refused updates changed the record: \(after)")
    }

    /// A bitcoin-schema Wycheproof document over one secp256k1 key: a low-S signature (valid), its high-S twin
    /// (invalid under this schema, valid under the plain ECDSA one) and a signature over another message.
    static func bitcoinDocument(schema: String = "ecdsa_bitcoin_verify_schema.json") throws -> [String: Any] {
        let key = try PrivateKey.generate(.secp256k1)
        let message = Array("forgechain".utf8)
        let signature = try key.signature(forDigest: HashAlgorithm.sha256.hash(message).bytes)
        let raw = Array(signature.rawRepresentation.prefix(64))
        // s' = n - s, big-endian over 32 bytes.
        let n = try Hex.decode("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
        var highS = [UInt8](repeating: 0, count: 32), borrow = 0
        for i in (0..<32).reversed() {
            let d = Int(n[i]) - Int(raw[32 + i]) - borrow
            highS[i] = UInt8((d + 256) % 256)
            borrow = d < 0 ? 1 : 0
        }
        let twin = try Signature(scheme: .secp256k1, rawRepresentation: Array(raw.prefix(32)) + highS)
        #expect(signature.isLowS && !twin.isLowS)
        let other = try key.signature(forDigest: HashAlgorithm.sha256.hash(Array("another message".utf8)).bytes)
        func der(_ s: Signature) throws -> String { Hex.encode(try #require(s.derRepresentation)) }
        let tests: [[String: Any]] = [
            ["tcId": 1, "comment": "low-S", "msg": Hex.encode(message), "sig": try der(signature), "result": "valid", "flags": []],
            ["tcId": 2, "comment": "high-S twin", "msg": Hex.encode(message), "sig": try der(twin), "result": "invalid", "flags": ["SignatureMalleabilityBitcoin"]],
            ["tcId": 3, "comment": "other message", "msg": Hex.encode(message), "sig": try der(other), "result": "invalid", "flags": []],
        ]
        return [
            "algorithm": "ECDSA", "schema": schema, "numberOfTests": 3, "header": [], "notes": [:],
            "testGroups": [[
                "type": "EcdsaBitcoinVerify", "sha": "SHA-256",
                "publicKey": ["type": "EcPublicKey", "curve": "secp256k1", "keySize": 256,
                              "uncompressed": Hex.encode(try #require(key.publicKey.uncompressedRepresentation))],
                "tests": tests,
            ]],
        ]
    }

    @Test func conformanceWycheproofRunsTheBitcoinSchemaWithLowSRequired() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        // A real ecdsa_*_bitcoin_test.json when the conformance folder has one; always the generated document.
        var files = [String]()
        let vectors = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/conformance/crypto/wycheproof/testvectors_v1")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: vectors.path)) ?? [] where name.hasSuffix("_bitcoin_test.json") {
            files.append(vectors.appendingPathComponent(name).path)
        }
        let generated = cli.path("ecdsa_secp256k1_sha256_bitcoin_generated.json")
        try JSONSerialization.data(withJSONObject: try Self.bitcoinDocument()).write(to: URL(fileURLWithPath: generated))
        files.append(generated)
        for file in files {
            let out = try await cli.run(["conformance", "wycheproof", file], withData: false)
            #expect(out.status == 0, "\(file): \(out)")
            #expect(out.stdout.contains("(ecdsa_bitcoin_verify_schema.json)") && out.stdout.hasSuffix(" passed, 0 failed\n"), "\(out)")
        }
        let generatedRun = try await cli.run(["conformance", "wycheproof", generated], withData: false)
        #expect(generatedRun.stdout.hasSuffix("3 passed, 0 failed\n"), "\(generatedRun)")

        // The same document under the plain ECDSA schema accepts the high-S twin: the bitcoin rule is what refused it.
        let plain = cli.path("ecdsa_plain.json")
        try JSONSerialization.data(withJSONObject: try Self.bitcoinDocument(schema: "ecdsa_verify_schema_v1.json")).write(to: URL(fileURLWithPath: plain))
        let lenient = try await cli.run(["conformance", "wycheproof", plain], withData: false)
        #expect(lenient.status == 1 && lenient.stdout.contains("FAIL tcId 2 (high-S twin)") && lenient.stdout.hasSuffix("2 passed, 1 failed\n"),
                "\(lenient)")
    }

    /// A node that joins at healing must catch up; more late joiners than the engine tolerates is refused by name.
    @Test func simulateTakesLateJoinersWithinTheCrashTolerance() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let ok = try await cli.run(["simulate", "--engine", "pbft", "--nodes", "4", "--late-joiners", "1", "--faults", "drop,delay",
                                    "--seeds", "2"], withData: false)
        #expect(ok.status == 0 && ok.stdout.contains("2 passed, 0 failed"), "\(ok)")
        let tooMany = try await cli.run(["simulate", "--engine", "pbft", "--nodes", "4", "--late-joiners", "2", "--seeds", "1"], withData: false)
        #expect(tooMany.status != 0 && tooMany.stdout.contains("permanentCrashes + lateJoiners"), "\(tooMany)")
    }

    @Test func longCommandsWriteNoProgressTextWhenStandardErrorIsNotATerminal() async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let simulate = try await cli.run(["simulate", "--engine", "raft", "--nodes", "3", "--seeds", "3"], withData: false)
        #expect(simulate.status == 0 && simulate.stdout.contains("3 passed, 0 failed"), "\(simulate)")
        let root = try await cli.bootstrap()
        let imported = try await cli.run(["records", "import", ForgeChainProcess.samples.appendingPathComponent("production-records.xml").path],
                                         credentials: root)
        #expect(imported.status == 0, "\(imported)")
        let verify = try await cli.run(["ledger", "verify", cli.data], withData: false)
        #expect(verify.status == 0, "\(verify)")
        for (name, out) in [("simulate", simulate), ("records import", imported), ("ledger verify", verify)] {
            for mark in Self.progressMarks {
                #expect(!out.stderr.contains(mark), "\(name) wrote progress text (\(mark.debugDescription)) to a pipe: \(out.stderr.debugDescription)")
            }
        }
    }
}
