import AppAPI
import Foundation
import NIOHTTP1
@testable import Gateway
import Synchronization
import Testing

/// The interface's description and limits: the OpenAPI document lists every route and every error code (checked
/// against the route table and Documentation/ErrorCodes.md); 429 with Retry-After on a simulated clock; the status
/// table; the body checks fed hostile and random input.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayContractTests {
    static let errorCodesFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Documentation/ErrorCodes.md")

    /// The codes documented in ErrorCodes.md.
    static func documentedCodes() throws -> Set<Int> {
        let text = try String(contentsOf: errorCodesFile, encoding: .utf8)
        return Set(text.split(separator: "\n").compactMap { line -> Int? in
            guard line.hasPrefix("| ") else { return nil }
            return Int(line.dropFirst(2).prefix { $0.isNumber })
        })
    }

    @Test func openAPIDocumentListsEveryRouteParameterAndErrorCode() async throws {
        let h = try await GatewayHarness()
        do {
            let answer = try await h.send(.GET, "/openapi.json")
            #expect(answer.status == 200)
            let document = answer.json
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let documented = try Self.documentedCodes()
            var listed = Set<Int>()
            for route in GatewayRoutes.standard {
                let op = try #require(paths[route.path]?[route.method.rawValue.lowercased()] as? [String: Any], "\(route.path)")
                #expect(op["operationId"] as? String == route.operationID)
                let codes = Set((op["x-error-codes"] as? [Int]) ?? [])
                #expect(codes == Set(route.allErrorCodes.map(Int.init)), "\(route.path)")
                listed.formUnion(codes)
                let responses = try #require(op["responses"] as? [String: Any])
                for code in route.allErrorCodes { #expect(responses[String(GatewayStatusTable.status(for: code))] != nil, "\(route.path) \(code)") }
                let parameters = (op["parameters"] as? [[String: Any]]) ?? []
                for p in route.parameters where p.location != .body {
                    let entry = try #require(parameters.first { $0["name"] as? String == p.name }, "\(route.path) \(p.name)")
                    let schema = try #require(entry["schema"] as? [String: Any])
                    #expect(schema["type"] as? String == p.type.rawValue && schema["examples"] != nil)
                    if let r = p.range {
                        #expect((schema["minimum"] as? NSNumber)?.int64Value == r.lowerBound && (schema["maximum"] as? NSNumber)?.int64Value == r.upperBound)
                    }
                    if p.defaultValue != nil { #expect(schema["default"] != nil, "\(route.path) \(p.name) default") }
                }
            }
            #expect(paths.values.reduce(0) { $0 + $1.count } == GatewayRoutes.standard.count, "no route beyond the table")
            // Every code the document names is documented, and every gateway code documented is named or start-up only.
            #expect(listed.isSubset(of: documented), "undocumented: \(listed.subtracting(documented).sorted())")
            let table = Set(((document["x-error-codes"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? Int })
            #expect(table == listed.union([6008, 6009]), "the table adds only the answers to requests no route takes")
            #expect(table.isSubset(of: documented))
            let gatewayCodes = documented.filter { (6000...6099).contains($0) }
            #expect(gatewayCodes.subtracting(table) == [Int(GatewayError.Code.invalidConfiguration.rawValue)], "start-up only")
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    @Test func rateLimitAnswers429WithRetryAfterPerToken() async throws {
        let now = Mutex<Double>(0)
        let limiter = RateLimiter(requestsPerSecond: 0.5, burst: 3) { now.withLock { $0 } }
        let h = try await GatewayHarness { $0.rateLimiter = limiter }
        do {
            for _ in 0..<3 { #expect(try await h.send(.GET, "/v1/node/status", token: h.rootToken).status == 200) }
            let limited = try await h.send(.GET, "/v1/node/status", token: h.rootToken)
            #expect(limited.status == 429 && limited.code == 6007, "\(limited)")
            #expect(limited.headers.first(name: "Retry-After") == "2")
            // Another token has its own bucket.
            let other = try await h.platform.identity.login(user: "root", password: GatewayHarness.rootPassword, oneTimeCode: nil).token
            #expect(try await h.send(.GET, "/v1/node/status", token: other).status == 200)
            now.withLock { $0 += 2 }
            #expect(try await h.send(.GET, "/v1/node/status", token: h.rootToken).status == 200)
            #expect(try await h.send(.GET, "/v1/node/status", token: h.rootToken).status == 429)
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    @Test func aPlatformCallPastTheRequestTimeoutIsAnswered504AndTheGatewayGoesOn() async throws {
        // An upload of 2,000 records waits for its commit: far longer than a 1 ms request timeout.
        let h = try await GatewayHarness { $0.requestTimeout = .milliseconds(1) }
        do {
            let ids = (0..<2_000).map { "T-\($0)" }
            let started = ContinuousClock.now
            let slow = try await h.send(.POST, "/v1/records", body: GatewayHarness.jsonRecords(ids), contentType: "application/json",
                                        token: h.rootToken)
            #expect(slow.status == 504 && slow.code == 6012, "\(slow)")
            #expect(slow.json["message"] as? String == "the platform did not answer within the request timeout")
            #expect(ContinuousClock.now - started < .seconds(30), "the answer did not wait for the platform")
            // The gateway goes on answering (whether the timed-out upload still commits is for the client to find out
            // by a query, as Gateway.md says).
            #expect(try await h.send(.GET, "/openapi.json").status == 200)
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    @Test func aLiteralSegmentWinsOnlyAmongRoutesOfTheRequestsMethod() async throws {
        let h = try await GatewayHarness()
        do {
            // A record whose ID is "verify": GET /v1/receipts/verify is its receipt, POST the verify route.
            let up = try await h.send(.POST, "/v1/records?kind=production", body: GatewayHarness.jsonRecords(["verify"]),
                                      contentType: "application/json", token: h.rootToken)
            #expect(up.status == 200, "\(up)")
            let receipt = try await h.send(.GET, "/v1/receipts/verify", token: h.rootToken)
            #expect(receipt.status == 200 && receipt.object["record_id"] as? String == "verify", "\(receipt)")
            let verified = try await h.send(.POST, "/v1/receipts/verify", body: try JSONSerialization.data(withJSONObject: try #require(receipt.data)),
                                            contentType: "application/json", token: h.rootToken)
            #expect(verified.status == 200, "\(verified)")
            // A method no route of the path takes: 405 naming the ones that do.
            let wrong = try await h.send(.PUT, "/v1/receipts/verify", token: h.rootToken)
            #expect(wrong.status == 405 && wrong.headers.first(name: "Allow") == "GET, POST", "\(wrong)")
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    @Test func statusTableMapsEveryCodeClassOnce() {
        #expect(GatewayStatusTable.status(for: 0) == 200)
        #expect(GatewayStatusTable.status(for: 5203) == 404)
        #expect(GatewayStatusTable.status(for: 5301) == 409)
        #expect(GatewayStatusTable.status(for: 5005) == 400)
        #expect(GatewayStatusTable.status(for: 5001) == 422)
        #expect(GatewayStatusTable.status(for: 5408) == 401)
        #expect(GatewayStatusTable.status(for: 5409) == 403)
        #expect(GatewayStatusTable.status(for: 5102) == 504)
        #expect(GatewayStatusTable.status(for: 6007) == 429)
        #expect(GatewayStatusTable.status(for: 1520) == 500)
        #expect(GatewayStatusTable.status(for: 9999) == 500)
        // Every documented code gets a status from a rule (none falls through), and 4xx/5xx only for errors.
        for code in (try? Self.documentedCodes()) ?? [] {
            let status = GatewayStatusTable.status(for: UInt32(code))
            #expect((400...599).contains(status), "\(code)")
            #expect(GatewayStatusTable.rules.contains { $0.codes.contains(UInt32(code)) }, "\(code)")
        }
    }

    @Test func bodyChecksRefuseDeclarationsAndDepthButKeepOrdinaryDocuments() throws {
        try BodyGuard.checkXML(GatewayHarness.xmlRecords(["A", "B"]), maximumDepth: 8)
        try BodyGuard.checkXML(Data("<r><!-- <!DOCTYPE x> --><a><![CDATA[<<<!ENTITY]]></a></r>".utf8), maximumDepth: 4)
        try BodyGuard.checkJSON(GatewayHarness.jsonRecords(["A"]), maximumDepth: 4)
        try BodyGuard.checkJSON(Data(#"{"a":"[[[[[[[[[[\"]]]"}"#.utf8), maximumDepth: 2)
        #expect(throws: GatewayError.self) { try BodyGuard.checkXML(Data("<!DOCTYPE r><r/>".utf8), maximumDepth: 8) }
        #expect(throws: GatewayError.self) { try BodyGuard.checkXML(Data("<r>\n<!ENTITY x 'y'></r>".utf8), maximumDepth: 8) }
        #expect(throws: GatewayError.self) { try BodyGuard.checkJSON(Data("[[[[[]]]]]".utf8), maximumDepth: 4) }
        // Random bytes never crash the checks (seeded, so a failure replays).
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let alphabet = Array("<>!/?-[]{}\"'\\ aDOCTYPENTIY:=&;".utf8)
        for _ in 0..<2_000 {
            let bytes = (0..<Int(next() % 200)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            _ = try? BodyGuard.checkXML(Data(bytes), maximumDepth: 16)
            _ = try? BodyGuard.checkJSON(Data(bytes), maximumDepth: 16)
        }
    }

    @Test func queryAndCheckpointParsersRefuseRandomInputWithCodesOnly() throws {
        let query = try #require(GatewayRoutes.standard.first { $0.operationID == "queryRecords" })
        let parsed = try GatewayCore.parameters("batch_number=B%2017&limit=5&include_proofs=true&order=desc", route: query)
        #expect(parsed == ["batch_number": "B 17", "limit": "5", "include_proofs": "true", "order": "desc"])
        #expect(try GatewayRoutes.checkpoint("12:0:3") == .init(height: 12, transactionIndex: 0, logIndex: 3))
        var state: UInt64 = 0xD1B5_4A32_D192_ED03
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let alphabet = Array("=&%+:0123456789abcdefxyz_limtcursoribn-".utf8)
        for _ in 0..<5_000 {
            let text = String(decoding: (0..<Int(next() % 60)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }, as: UTF8.self)
            do { _ = try GatewayCore.parameters(text, route: query) } catch { #expect(error.code == .invalidParameter) }
            do { _ = try GatewayRoutes.checkpoint(text) } catch { #expect(error.code == .invalidParameter) }
        }
    }

    @Test func aPortInUseOrAMissingCertificateIsAConfigurationError() async throws {
        let missing = #expect(throws: GatewayError.self) { _ = try Gateway.serverTLS(certificatePath: "/nonexistent.pem", keyPath: "/nonexistent.key") }
        #expect(missing?.code == .invalidConfiguration && missing?.details["field"] == "cert")
        let h = try await GatewayHarness()
        do {
            let directory = h.directory
            let files = (cert: directory + "/server.pem", key: directory + "/server.key")
            let taken = Gateway.Configuration(tls: try Gateway.serverTLS(certificatePath: files.cert, keyPath: files.key), port: h.port)
            let error = await #expect(throws: GatewayError.self) { _ = try await Gateway.start(platform: h.platform, configuration: taken) }
            #expect(error?.code == .invalidConfiguration)
            // The first gateway still answers.
            #expect(try await h.send(.GET, "/openapi.json").status == 200)
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    @Test func acceptHeaderChoosesJSONOrXMLOrIsRefused() throws {
        #expect(try GatewayCore.format(accept: nil, streams: false) == .json)
        #expect(try GatewayCore.format(accept: "application/xml, application/json", streams: false) == .xml)
        #expect(try GatewayCore.format(accept: "text/html;q=0.9, */*;q=0.1", streams: false) == .json)
        #expect(try GatewayCore.format(accept: "text/event-stream", streams: true) == .json)
        #expect(throws: GatewayError.self) { try GatewayCore.format(accept: "text/event-stream", streams: false) }
        #expect(throws: GatewayError.self) { try GatewayCore.format(accept: "image/png", streams: false) }
    }
}
