import Foundation
import Testing

/// schemathesis (PyPI; `.ci/run` installs it and puts `st` on PATH) generates requests from `/openapi.json` and
/// checks every answer: no server error, and every status, content type, header and body as the document says.
@Suite(.serialized, .timeLimit(.minutes(6))) struct GatewaySchemathesisTests {
    static var schemathesis: String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { $0 + "/st" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func generatedRequestsFindNoServerErrorAndNoAnswerOutsideTheDocument() async throws {
        guard let st = Self.schemathesis else {
            let reason = "schemathesis (st) is not on PATH: pip install schemathesis==4.32.5"
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("\(reason) (.ci/run installs it)") } else { print("skipped: \(reason)") }
            return
        }
        let harness = try await GatewayHarness()
        let directory = harness.directory
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        let log = directory + "/schemathesis.log"
        let process = try GatewayHarness.launch(URL(fileURLWithPath: st), [
            "run", "https://localhost:\(harness.port)/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
            "--header", "Authorization: Bearer \(harness.rootToken)", "--tls-verify", directory + "/ca.pem",
            "--max-examples", "20", "--seed", "1", "--workers", "1", "--request-timeout", "30",
            // Logging out would end the token the run uses; the event stream never ends by design.
            "--exclude-path", "/v1/auth/logout", "--exclude-path", "/v1/events"], environment: environment, log: log,
            in: directory)   // its cache (.schemathesis/) goes to the test's folder, not the checkout
        while process.isRunning { try await Task.sleep(for: .milliseconds(200)) }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(process.terminationStatus == 0, "schemathesis found problems:\n\(output.suffix(6_000))")
        // Every operation of the document was exercised (the two excluded above aside): the summary's
        // `Selected: N/M` and `Tested: N`.
        let lines = output.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func numbers(after prefix: String) -> [Int] {
            (lines.first { $0.hasPrefix(prefix) } ?? "").dropFirst(prefix.count).split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        }
        let selected = numbers(after: "Selected:"), tested = numbers(after: "Tested:")
        #expect(selected.count == 2 && selected[0] == selected[1] - 2 && tested == [selected[0]], "\(output.suffix(3_000))")
        print("schemathesis: operations \(selected), tested \(tested); " + (lines.first { $0.hasSuffix("generated") || $0.contains(" generated,") } ?? ""))
        await harness.close()
    }
}
