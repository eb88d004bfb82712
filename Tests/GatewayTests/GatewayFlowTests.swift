import AppAPI
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Gateway
import LedgerCore
import NIOCore
import Testing

/// The REST interface end to end over HTTPS: login with TOTP, uploads in the three formats, queries with filters and
/// paging, conditional updates, receipts fetched and verified, administrators, node status, logout.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayFlowTests {
    @Test func loginUploadQueryUpdateVerifyAndLogoutOverHTTPS() async throws {
        let h = try await GatewayHarness()
        do {
            try await flow(h)
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    private func flow(_ h: GatewayHarness) async throws {
        // An administrator with TOTP logs in with the current code; the same code is refused a second time.
        _ = try await h.platform.identity.createAdministrator(user: "alice", password: "Alice-Strong-Pass-42", roles: [.recordManager],
                                                              token: h.rootToken)
        let enrollment = try await h.platform.identity.enrollTOTP(user: "alice", password: "Alice-Strong-Pass-42")
        let totp = TOTP(secret: try Base32.decode(enrollment.secretBase32))
        let noCode = try await h.send(.POST, "/v1/auth/login", body: h.json(["user": "alice", "password": "Alice-Strong-Pass-42"]),
                                      contentType: "application/json")
        #expect(noCode.status == 401 && noCode.code == 5404, "\(noCode)")
        let code = totp.code(at: UInt64(Date().timeIntervalSince1970))
        let login = try await h.send(.POST, "/v1/auth/login", body: h.json(["user": "alice", "password": "Alice-Strong-Pass-42", "otp": code]),
                                     contentType: "application/json")
        #expect(login.status == 200 && login.code == 0, "\(login)")
        let token = try #require(login.object["token"] as? String)
        #expect(login.object["user"] as? String == "alice")
        let replay = try await h.send(.POST, "/v1/auth/login", body: h.json(["user": "alice", "password": "Alice-Strong-Pass-42", "otp": code]),
                                      contentType: "application/json")
        #expect(replay.status == 401 && replay.code == 5405, "\(replay)")

        // Uploads: JSON, XML and CSV, each by its Content-Type.
        let json = try await h.send(.POST, "/v1/records", body: GatewayHarness.jsonRecords(["GW-J1", "GW-J2"]), contentType: "application/json", token: token)
        #expect(json.status == 200 && json.object["count"] as? Int == 2, "\(json)")
        let xml = try await h.send(.POST, "/v1/records", body: GatewayHarness.xmlRecords(["GW-X1"]), contentType: "application/xml", token: token)
        #expect(xml.status == 200 && xml.object["count"] as? Int == 1, "\(xml)")
        let csv = try await h.send(.POST, "/v1/records", body: GatewayHarness.csvRecords(["GW-C1", "GW-C2"], batch: "B-CSV"),
                                   contentType: "text/csv; charset=utf-8", token: token)
        #expect(csv.status == 200 && csv.object["count"] as? Int == 2, "\(csv)")
        let again = try await h.send(.POST, "/v1/records", body: GatewayHarness.jsonRecords(["GW-J1"]), contentType: "application/json", token: token)
        #expect(again.status == 409 && again.code == 5101, "\(again)")

        // Query with a filter and paging: two pages of one, then the end; no record twice.
        let first = try await h.send(.GET, "/v1/records?batch_number=B-CSV&limit=1", token: token)
        #expect(first.status == 200, "\(first)")
        let firstRecords = try #require(first.object["records"] as? [[String: Any]])
        let cursor = try #require(first.object["next_cursor"] as? String)
        let escaped = try #require(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let second = try await h.send(.GET, "/v1/records?batch_number=B-CSV&limit=1&cursor=\(escaped)", token: token)
        let secondRecords = try #require(second.object["records"] as? [[String: Any]])
        let ids = (firstRecords + secondRecords).compactMap { $0["record_id"] as? String }
        #expect(Set(ids) == ["GW-C1", "GW-C2"] && ids.count == 2, "\(ids)")
        let all = try await h.send(.GET, "/v1/records?kind=production&limit=100", token: token)
        #expect((all.object["records"] as? [Any])?.count == 5, "\(all)")

        // XML answers by Accept.
        let asXML = try await h.send(.GET, "/v1/records/GW-X1", token: token, accept: "application/xml")
        #expect(asXML.status == 200 && asXML.headers.first(name: "Content-Type")?.hasPrefix("application/xml") == true)
        #expect(asXML.text.contains("<envelope>") && asXML.text.contains("<code>0</code>") && asXML.text.contains("GW-X1"), "\(asXML)")

        // Update with a condition: the version must match; a stale version is refused and changes nothing.
        let one = try await h.send(.GET, "/v1/records/GW-J1", token: token)
        #expect((one.object["version"] as? Int) == 1, "\(one)")
        let updated = try await h.send(.POST, "/v1/records/GW-J1/update",
                                       body: h.json(["fields": ["propara.pro_temperature": "72.5"], "expected_version": 1]),
                                       contentType: "application/json", token: token)
        #expect(updated.status == 200 && updated.object["version"] as? Int == 2, "\(updated)")
        let stale = try await h.send(.POST, "/v1/records/GW-J1/update",
                                     body: h.json(["fields": ["propara.pro_temperature": "99.0"], "expected_version": 1]),
                                     contentType: "application/json", token: token)
        #expect(stale.status == 409 && stale.code == 5301, "\(stale)")
        let byField = try await h.send(.POST, "/v1/records/GW-J1/update",
                                       body: h.json(["fields": ["propara.pro_humidity": "45"],
                                                     "condition": ["field": "propara.pro_temperature", "equals": "72.5"]]),
                                       contentType: "application/json", token: token)
        #expect(byField.status == 200 && byField.object["version"] as? Int == 3, "\(byField)")
        let history = try await h.send(.GET, "/v1/records/GW-J1/history", token: token)
        #expect((history.data as? [[String: Any]])?.compactMap { $0["version"] as? Int } == [1, 2, 3], "\(history)")
        let missing = try await h.send(.GET, "/v1/records/NO-SUCH", token: token)
        #expect(missing.status == 404 && missing.code == 5203, "\(missing)")

        // Receipts: fetched for a version, verified offline against the trust anchor; a tampered one fails.
        let receipt = try await h.send(.GET, "/v1/receipts/GW-J1?version=2", token: token)
        #expect(receipt.status == 200, "\(receipt)")
        let receiptJSON = try JSONSerialization.data(withJSONObject: try #require(receipt.data))
        let decoded = try JSONDecoder().decode(UploadReceipt.self, from: receiptJSON)
        #expect(decoded.recordID == "GW-J1" && decoded.version == 2)
        try decoded.verify(against: h.platform.trustAnchor)
        let verified = try await h.send(.POST, "/v1/receipts/verify", body: receiptJSON, contentType: "application/json", token: token)
        #expect(verified.status == 200 && verified.object["valid"] as? Bool == true && verified.object["version"] as? Int == 2, "\(verified)")
        var tampered = try #require(receipt.data as? [String: Any])
        tampered["version"] = 7
        let forged = try await h.send(.POST, "/v1/receipts/verify", body: h.json(tampered), contentType: "application/json", token: token)
        #expect(forged.status == 422 && forged.code == 5104, "\(forged)")

        // Administrators (root's token) and node status.
        let created = try await h.send(.POST, "/v1/admins", body: h.json(["user": "bob", "password": "Bob-Strong-Pass-77", "roles": ["viewer"]]),
                                       contentType: "application/json", token: h.rootToken)
        #expect(created.status == 200 && created.object["user"] as? String == "bob", "\(created)")
        let denied = try await h.send(.POST, "/v1/admins", body: h.json(["user": "eve", "password": "Eve-Strong-Pass-77", "roles": ["viewer"]]),
                                      contentType: "application/json", token: token)
        #expect(denied.status == 403 && denied.code == 5409, "\(denied)")
        let disabled = try await h.send(.POST, "/v1/admins/bob/disable", token: h.rootToken)
        #expect(disabled.status == 200 && disabled.object["enabled"] as? Bool == false, "\(disabled)")
        let admins = try await h.send(.GET, "/v1/admins", token: h.rootToken)
        #expect(Set((admins.data as? [[String: Any]])?.compactMap { $0["user"] as? String } ?? []) == ["root", "alice", "bob"], "\(admins)")
        let status = try await h.send(.GET, "/v1/node/status", token: token)
        #expect(status.status == 200 && (status.object["height"] as? Int ?? 0) >= 4 && status.object["state"] as? String == "healthy", "\(status)")

        // Logout revokes the token at once.
        let logout = try await h.send(.POST, "/v1/auth/logout", token: token)
        #expect(logout.status == 200 && logout.code == 0, "\(logout)")
        let revoked = try await h.send(.GET, "/v1/records?limit=1", token: token)
        #expect(revoked.status == 401 && revoked.code == 5408, "\(revoked)")
    }
}
