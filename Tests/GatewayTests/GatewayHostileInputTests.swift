import AppAPI
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Gateway
import LedgerCore
import NIOCore
import Testing

/// Every bad request is answered with a 4xx envelope (or a closed connection) and changes nothing: the record
/// count and the chain's head are the same before and after.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayHostileInputTests {
    @Test func badRequestsGet4xxAndChangeNothing() async throws {
        let h = try await GatewayHarness { c in
            c.maximumBodyBytes = 64 << 10
            c.bodyTimeout = .seconds(1)
        }
        do {
            try await hostile(h)
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    private func expectRefused(_ a: GatewayHarness.Answer, status: Int, code: Int, _ what: String) {
        #expect(a.status == status && a.code == code, "\(what): \(a)")
        #expect(a.object.isEmpty && (a.json["message"] as? String)?.isEmpty == false, "\(what): a failure envelope has no data")
    }

    private func hostile(_ h: GatewayHarness) async throws {
        let t = h.rootToken
        let ok = try await h.send(.POST, "/v1/records", body: GatewayHarness.jsonRecords(["GW-H1"]), contentType: "application/json", token: t)
        #expect(ok.status == 200, "\(ok)")
        let before = try await h.state()
        #expect(before.records == 1)

        // Malformed documents, each through the platform's own decoder.
        expectRefused(try await h.send(.POST, "/v1/records", body: Data(#"{"records":[{"product_uid": }"#.utf8), contentType: "application/json", token: t),
                      status: 400, code: 5005, "malformed JSON")
        expectRefused(try await h.send(.POST, "/v1/records", body: Data("<records><record><product_uid>X</record>".utf8), contentType: "application/xml", token: t),
                      status: 400, code: 5006, "malformed XML")
        expectRefused(try await h.send(.POST, "/v1/records", body: Data("a,b\n\"unterminated\n".utf8), contentType: "text/csv", token: t),
                      status: 400, code: 5007, "malformed CSV")
        // A record that decodes but fails validation: all or nothing, so the good one beside it is not written either.
        var mixed = String(decoding: GatewayHarness.jsonRecords(["GW-H2", "GW-H3"]), as: UTF8.self)
        mixed = mixed.replacingOccurrences(of: #""product_uid":"GW-H3","#, with: "")
        expectRefused(try await h.send(.POST, "/v1/records", body: Data(mixed.utf8), contentType: "application/json", token: t),
                      status: 422, code: 5010, "one bad record")

        // Billion laughs and external entities: refused before any XML parser sees them.
        let laughs = """
            <?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
            <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><records><record><product_uid>&lol3;</product_uid></record></records>
            """
        expectRefused(try await h.send(.POST, "/v1/records", body: Data(laughs.utf8), contentType: "application/xml", token: t),
                      status: 400, code: 6005, "billion laughs")
        let external = #"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><records><record><product_uid>&x;</product_uid></record></records>"#
        expectRefused(try await h.send(.POST, "/v1/records", body: Data(external.utf8), contentType: "text/xml", token: t),
                      status: 400, code: 6005, "external entity")
        let deepXML = String(repeating: "<a>", count: 200) + String(repeating: "</a>", count: 200)
        expectRefused(try await h.send(.POST, "/v1/records", body: Data(deepXML.utf8), contentType: "application/xml", token: t),
                      status: 400, code: 6004, "deep XML")

        // Deeply nested JSON, in an upload and in a JSON-object route.
        let deep = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        expectRefused(try await h.send(.POST, "/v1/records", body: Data(deep.utf8), contentType: "application/json", token: t),
                      status: 400, code: 6004, "deep JSON upload")
        expectRefused(try await h.send(.POST, "/v1/auth/login", body: Data(("{\"user\":" + deep + "}").utf8), contentType: "application/json"),
                      status: 400, code: 6004, "deep JSON login")
        expectRefused(try await h.send(.POST, "/v1/auth/login", body: Data("[1,2]".utf8), contentType: "application/json"),
                      status: 400, code: 6003, "a JSON array where an object is expected")
        expectRefused(try await h.send(.POST, "/v1/records/GW-H1/update", body: h.json(["expected_version": 1]), contentType: "application/json", token: t),
                      status: 400, code: 6003, "update without fields")

        // Wrong content type, oversized body (declared and streamed).
        expectRefused(try await h.send(.POST, "/v1/records", body: GatewayHarness.jsonRecords(["GW-H4"]), contentType: "text/plain", token: t),
                      status: 415, code: 6001, "text/plain upload")
        expectRefused(try await h.send(.POST, "/v1/auth/login", body: h.json(["user": "root", "password": "x"]), contentType: "application/xml"),
                      status: 415, code: 6001, "XML login")
        let ids = (0..<400).map { "GW-BIG-\($0)" }
        let big = GatewayHarness.jsonRecords(ids)
        #expect(big.count > 64 << 10)
        do {
            let tooBig = try await h.send(.POST, "/v1/records", body: big, contentType: "application/json", token: t)
            expectRefused(tooBig, status: 413, code: 6002, "oversized body")
        } catch {
            // Closing the connection is also an answer to an oversized body.
        }
        let streamed = "POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(t)\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(big.count, radix: 16) + "\r\n" + String(decoding: big, as: UTF8.self) + "\r\n0\r\n\r\n"
        let chunked = try await RawConnection.exchange(port: h.port, caPEM: h.caPEM, bytes: Array(streamed.utf8), wait: .seconds(20))
        #expect(chunked.received.hasPrefix("HTTP/1.1 413") || (chunked.received.isEmpty && chunked.closed), "chunked oversized body: \(chunked)")

        // A slow client that never finishes its body is answered 408 and cut off.
        let slow = "POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(t)\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"records\":["
        let cut = try await RawConnection.exchange(port: h.port, caPEM: h.caPEM, bytes: Array(slow.utf8), wait: .seconds(30))
        #expect(cut.closed, "the slow client's connection is closed: \(cut)")
        #expect(cut.received.hasPrefix("HTTP/1.1 408") || cut.received.isEmpty, "\(cut)")
        if !cut.received.isEmpty { #expect(cut.received.contains("\"code\":6011"), "\(cut)") }

        // Plain HTTP on the HTTPS port gets no HTTP answer (D-8).
        let plain = try await RawConnection.exchange(port: h.port, caPEM: nil, bytes: Array("GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                                                     wait: .seconds(20))
        #expect(!plain.received.contains("HTTP/1.1 200") && !plain.received.contains("openapi"), "\(plain)")

        // Routes, methods, parameters, token, Accept.
        expectRefused(try await h.send(.GET, "/v1/nothing-here", token: t), status: 404, code: 6008, "unknown route")
        let wrongMethod = try await h.send(.GET, "/v1/auth/logout", token: t)
        expectRefused(wrongMethod, status: 405, code: 6009, "GET on a POST route")
        #expect(wrongMethod.headers.first(name: "Allow") == "POST")
        expectRefused(try await h.send(.DELETE, "/v1/records/GW-H1", token: t), status: 405, code: 6009, "DELETE")
        expectRefused(try await h.send(.GET, "/v1/records?colour=red", token: t), status: 400, code: 6010, "unknown query parameter")
        expectRefused(try await h.send(.GET, "/v1/records?limit=0", token: t), status: 400, code: 6010, "limit below range")
        expectRefused(try await h.send(.GET, "/v1/records?limit=abc", token: t), status: 400, code: 6010, "limit not an integer")
        expectRefused(try await h.send(.GET, "/v1/records?limit=5&limit=6", token: t), status: 400, code: 6010, "repeated parameter")
        expectRefused(try await h.send(.GET, "/v1/records?kind=furniture", token: t), status: 400, code: 6010, "kind outside its set")
        expectRefused(try await h.send(.GET, "/v1/records?from=yesterday", token: t), status: 422, code: 5003, "bad time")
        expectRefused(try await h.send(.GET, "/v1/records?cursor=garbage", token: t), status: 400, code: 5202, "bad cursor")
        expectRefused(try await h.send(.GET, "/v1/events?after=1:2", token: t), status: 400, code: 6010, "bad checkpoint")
        expectRefused(try await h.send(.GET, "/v1/records"), status: 401, code: 6006, "no token")
        expectRefused(try await h.send(.GET, "/v1/records", token: "not-a-token"), status: 401, code: 5406, "malformed token")
        let png = try await h.send(.GET, "/v1/records", token: t, accept: "image/png")
        expectRefused(png, status: 406, code: 6013, "Accept image/png")
        let wrongPassword = try await h.send(.POST, "/v1/auth/login", body: h.json(["user": "root", "password": "wrong"]), contentType: "application/json")
        expectRefused(wrongPassword, status: 401, code: 5401, "wrong password")

        let after = try await h.state()
        #expect(after.records == before.records && after.head == before.head, "before \(before), after \(after)")
    }
}
