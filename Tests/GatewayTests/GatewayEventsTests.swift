import AppAPI
import AsyncHTTPClient
import Foundation
import NIOHTTP1
import Gateway
import NIOCore
import Synchronization
import Testing

/// Change notifications over Server-Sent Events, read from the ledger: a client that stops after some events and
/// resumes from the last event's id (query or Last-Event-ID) gets every later change exactly once, including
/// changes committed while it was away and while it listens.
@Suite(.serialized, .timeLimit(.minutes(3))) struct GatewayEventsTests {
    /// Reads `GET path` as an event stream until it ends; returns the events' ids and record IDs.
    static func events(_ h: GatewayHarness, _ path: String, lastEventID: String? = nil, token: String? = nil,
                       raw: (@Sendable (String) -> Void)? = nil, opened: (@Sendable () -> Void)? = nil) async throws -> [(id: String, record: String)] {
        var request = HTTPClientRequest(url: "https://127.0.0.1:\(h.port)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer \(token ?? h.rootToken)")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await h.client.execute(request, timeout: .seconds(120))
        opened?()
        #expect(response.status.code == 200)
        #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
        var text = ""
        for try await buffer in response.body { text += String(buffer: buffer) }
        raw?(text)
        var found = [(String, String)]()
        for block in text.components(separatedBy: "\n\n") {
            let lines = block.split(separator: "\n")
            guard let id = lines.first(where: { $0.hasPrefix("id: ") })?.dropFirst(4),
                  let data = lines.first(where: { $0.hasPrefix("data: ") })?.dropFirst(6),
                  let object = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any],
                  let record = (object["record"] as? [String: Any])?["record_id"] as? String else { continue }
            #expect(object["checkpoint"] as? String == String(id))
            found.append((String(id), record))
        }
        return found
    }

    @Test func eventsResumeFromACheckpointWithNoGapAndNoDuplicate() async throws {
        let h = try await GatewayHarness { $0.eventPollInterval = .milliseconds(50) }
        do {
            try await resume(h)
        } catch {
            await h.close()
            throw error
        }
        await h.close()
    }

    private func upload(_ h: GatewayHarness, _ ids: [String]) async throws {
        let a = try await h.send(.POST, "/v1/records", body: GatewayHarness.jsonRecords(ids), contentType: "application/json", token: h.rootToken)
        #expect(a.status == 200, "\(a)")
    }

    private func resume(_ h: GatewayHarness) async throws {
        // Three transactions: one of two records, then one each; then an update (a change too).
        try await upload(h, ["E-1", "E-2"])
        try await upload(h, ["E-3"])
        try await upload(h, ["E-4"])
        let up = try await h.send(.POST, "/v1/records/E-1/update", body: h.json(["fields": ["propara.pro_humidity": "50"]]),
                                  contentType: "application/json", token: h.rootToken)
        #expect(up.status == 200, "\(up)")

        let firstTwo = try await Self.events(h, "/v1/events?limit=2")
        #expect(firstTwo.map(\.record) == ["E-1", "E-2"], "\(firstTwo)")
        let resumeAt = try #require(firstTwo.last?.id)
        // Resumed by query, and (the same) by Last-Event-ID.
        let rest = try await Self.events(h, "/v1/events?after=\(resumeAt)&limit=3")
        #expect(rest.map(\.record) == ["E-3", "E-4", "E-1"], "\(rest)")
        let viaHeader = try await Self.events(h, "/v1/events?limit=3", lastEventID: resumeAt)
        #expect(viaHeader.map(\.id) == rest.map(\.id))

        // A live stream from the last checkpoint sees changes committed while it listens, once each.
        let last = try #require(rest.last?.id)
        let live = Task { try await Self.events(h, "/v1/events?after=\(last)&limit=3") }
        try await Task.sleep(for: .milliseconds(300))
        try await upload(h, ["E-5"])
        try await upload(h, ["E-6", "E-7"])
        let followed = try await live.value
        #expect(followed.map(\.record) == ["E-5", "E-6", "E-7"], "\(followed)")

        // Stitched together: every change once, in chain order, checkpoints strictly increasing.
        let all = firstTwo + rest + followed
        let full = try await Self.events(h, "/v1/events?limit=\(all.count)")
        #expect(full.map(\.id) == all.map(\.id))
        #expect(Set(all.map(\.id)).count == all.count)
        func parts(_ id: String) -> [UInt64] { id.split(separator: ":").compactMap { UInt64($0) } }
        #expect(zip(all, all.dropFirst()).allSatisfy { parts($0.id).lexicographicallyPrecedes(parts($1.id)) })

        // A revoked token ends an open-ended stream with an error event; a stream never starts without a token.
        let session = try await h.platform.identity.login(user: "root", password: GatewayHarness.rootPassword, oneTimeCode: nil).token
        final class Box: Sendable { let text = Mutex("") }
        let box = Box()
        // Logged out only once the stream is open (its headers arrived): a loaded machine must not turn this into a
        // request refused at the door.
        let (isOpen, opened) = AsyncStream<Void>.makeStream()
        let open = Task {
            defer { opened.finish() }   // a stream that failed to open ends the wait too
            return try await Self.events(h, "/v1/events?after=\(followed.last?.id ?? "0:0:0")", token: session,
                                  raw: { t in box.text.withLock { $0 = t } }, opened: { opened.yield(); opened.finish() })
        }
        for await _ in isOpen { break }
        try await h.platform.identity.logout(token: session)
        let afterLogout = try await open.value
        #expect(afterLogout.isEmpty)
        let streamed = box.text.withLock { $0 }
        #expect(streamed.contains("event: error") && streamed.contains("\"code\":5408"), "\(streamed)")
        let noToken = try await h.send(.GET, "/v1/events")
        #expect(noToken.status == 401 && noToken.code == 6006)
    }
}
