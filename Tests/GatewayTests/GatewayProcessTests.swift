import AppAPI
import Foundation
import LedgerCore
import Testing

/// `forgechain gateway run` as an operator starts it: serves a platform folder over HTTPS, answers curl (verifying
/// the server against the test CA), and exits 0 on SIGTERM.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayProcessTests {
    static var binary: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("forgechain")
    }

    /// The path of `curl`, or nil.
    static func curl() -> String? {
        ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs curl to the end (files, not pipes) and returns its exit status and output.
    static func runCurl(_ curl: String, _ arguments: [String], in directory: String) async throws -> (status: Int32, out: String) {
        let out = directory + "/curl-\(UUID().uuidString)"
        let process = try GatewayHarness.launch(URL(fileURLWithPath: curl), ["-sS", "--max-time", "30"] + arguments,
                                                environment: ProcessInfo.processInfo.environment, log: out)
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return (process.terminationStatus, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }

    @Test func gatewayRunServesAFolderOverHTTPSToCurlAndStopsOnSIGTERM() async throws {
        guard let curl = Self.curl() else {
            let reason = "curl is not installed; the gateway's CLI test needs it"
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("\(reason) (CI must install curl)") } else { print("skipped: \(reason)") }
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-gateway-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let files = try GatewayHarness.certificates(in: directory, commonName: "localhost")
        // The folder's first administrator, made in process before the gateway holds the folder.
        var options = Platform.Options()
        options.passphrase = try Passphrase(GatewayHarness.passphrase)
        let platform = try await Platform.open(.singleNode(directory: directory + "/data"), options: options)
        _ = try await platform.identity.createAdministrator(user: "root", password: GatewayHarness.rootPassword, roles: [.superAdmin], token: nil)
        await platform.close()

        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FORGECHAIN_") }
        environment["FORGECHAIN_PASSPHRASE"] = GatewayHarness.passphrase
        let log = directory + "/gateway.log"
        let process = try GatewayHarness.launch(Self.binary, ["gateway", "run", "--folder", directory + "/data", "--listen", "127.0.0.1:0",
                                                              "--cert", files.cert, "--key", files.key], environment: environment, log: log)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        // The JSON line it prints once it listens names the OS-chosen port.
        var port: Int?
        let deadline = ContinuousClock.now + .seconds(90)
        while port == nil, process.isRunning, ContinuousClock.now < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let listen = object["listen"] as? String {
                    port = Int(listen.split(separator: ":").last ?? "")
                }
            }
            if port == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let served = try #require(port, "gateway did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        let base = "https://localhost:\(served)"
        let tls = ["--cacert", files.ca, "--resolve", "localhost:\(served):127.0.0.1"]

        let login = try await Self.runCurl(curl, tls + ["-X", "POST", "-H", "Content-Type: application/json",
                                                         "-d", #"{"user":"root","password":"\#(GatewayHarness.rootPassword)"}"#, base + "/v1/auth/login"],
                                           in: directory)
        #expect(login.status == 0, "\(login.out)")
        let envelope = try JSONSerialization.jsonObject(with: Data(login.out.utf8)) as? [String: Any]
        let token = try #require((envelope?["data"] as? [String: Any])?["token"] as? String, "\(login.out)")
        let status = try await Self.runCurl(curl, tls + ["-H", "Authorization: Bearer \(token)", "-H", "Accept: application/xml",
                                                          base + "/v1/node/status"], in: directory)
        #expect(status.status == 0 && status.out.contains("<code>0</code>") && status.out.contains("<state>healthy</state>"), "\(status.out)")
        let openAPI = try await Self.runCurl(curl, tls + [base + "/openapi.json"], in: directory)
        #expect(openAPI.out.contains("\"openapi\" : \"3.1.0\"") || openAPI.out.contains("\"openapi\":\"3.1.0\""), "\(openAPI.out.prefix(300))")
        // Without the CA, curl refuses the server (no silent plaintext, no unverified TLS).
        let untrusted = try await Self.runCurl(curl, ["--resolve", "localhost:\(served):127.0.0.1", base + "/openapi.json"], in: directory)
        #expect(untrusted.status != 0)
        let plain = try await Self.runCurl(curl, ["http://127.0.0.1:\(served)/openapi.json"], in: directory)
        #expect(plain.status != 0 || !plain.out.contains("3.1.0"), "\(plain.out)")

        kill(process.processIdentifier, SIGTERM)
        let end = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning && process.terminationStatus == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }
}
