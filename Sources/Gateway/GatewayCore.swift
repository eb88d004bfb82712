import AppAPI
import Foundation
import Hummingbird
import LedgerCore
import Logging
import NIOCore
import Synchronization

/// An empty payload for failure envelopes.
struct NoData: Codable, Sendable {}

/// Answers every request: matching, the gateway's checks, the handler, the envelope (see ``Gateway``).
final class GatewayCore: Sendable {
    let platform: Platform
    let routes: [GatewayRoute]
    let openAPI: Data
    let configuration: Gateway.Configuration
    let limiter: RateLimiter
    let stopping = Atomic<Bool>(false)
    let inFlight = Atomic<Int>(0)
    let served = Atomic<Int>(0)
    private let templates: [[Substring]]

    init(platform: Platform, routes: [GatewayRoute], openAPI: Data, configuration: Gateway.Configuration) {
        self.platform = platform
        self.routes = routes
        self.openAPI = openAPI
        self.configuration = configuration
        limiter = configuration.rateLimiter ?? RateLimiter(requestsPerSecond: configuration.requestsPerSecond, burst: configuration.burst)
        templates = routes.map { $0.path.split(separator: "/") }
    }

    // MARK: Matching

    /// The routes whose path template matches `path`, with the path parameters.
    private func match(_ path: String) -> [(route: GatewayRoute, parameters: [String: String])] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var found = [(GatewayRoute, [String: String])]()
        for (route, template) in zip(routes, templates) where template.count == segments.count {
            var parameters = [String: String]()
            var ok = true
            for (t, s) in zip(template, segments) {
                if t.hasPrefix("{"), t.hasSuffix("}") {
                    guard !s.isEmpty, let decoded = String(s).removingPercentEncoding else { ok = false; break }
                    parameters[String(t.dropFirst().dropLast())] = decoded
                } else if t != s {
                    ok = false
                    break
                }
            }
            if ok { found.append((route, parameters)) }
        }
        return found
    }

    /// Of the routes matching a path, the one for `method`; among several, a literal segment wins over a parameter
    /// (`POST /v1/receipts/verify` is the verify route, while `GET /v1/receipts/verify` is the receipt of a record
    /// named "verify").
    static func choose(_ candidates: [(route: GatewayRoute, parameters: [String: String])],
                       method: String) -> (route: GatewayRoute, parameters: [String: String])? {
        candidates.filter { $0.route.method.rawValue == method }.min { $0.parameters.count < $1.parameters.count }
    }

    /// JSON or XML from the Accept header: the first JSON or XML media range listed wins; `*/*`, `application/*` and
    /// no header mean JSON; `text/event-stream` is accepted for a streaming route.
    static func format(accept: String?, streams: Bool) throws(GatewayError) -> ResponseFormat {
        guard let accept, !accept.trimmingCharacters(in: .whitespaces).isEmpty else { return .json }
        for range in accept.split(separator: ",") {
            let type = range.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            switch type {
            case "application/json", "*/*", "application/*", "text/*": return .json
            case "application/xml", "text/xml": return .xml
            case "text/event-stream" where streams: return .json
            default: continue
            }
        }
        throw GatewayError(.notAcceptable, "Accept '\(accept.prefix(100))' names neither application/json nor application/xml",
                           details: ["field": "Accept"])
    }

    // MARK: Answering

    func respond(_ request: Request, context: GatewayRequestContext) async -> Response {
        inFlight.add(1, ordering: .relaxed)
        defer {
            inFlight.subtract(1, ordering: .relaxed)
            served.add(1, ordering: .relaxed)
        }
        var format = ResponseFormat.json
        do {
            let path = request.uri.path
            let candidates = match(path)
            guard !candidates.isEmpty else {
                throw GatewayError(.routeNotFound, "no route '\(path.prefix(200))'", details: ["path": String(path.prefix(200))])
            }
            guard let (route, pathParameters) = Self.choose(candidates, method: request.method.rawValue) else {
                let allowed = Array(Set(candidates.map(\.route.method.rawValue))).sorted().joined(separator: ", ")
                throw GatewayError(.methodNotAllowed, "\(request.method.rawValue) \(path.prefix(200)): use \(allowed)", details: ["allow": allowed])
            }
            format = try Self.format(accept: request.headers[.accept], streams: route.streams)
            let token = Self.bearer(request.headers[.authorization])
            if let wait = limiter.admit(token.map { "token:" + $0 } ?? "address:" + context.remoteAddress) {
                var response = envelope(GatewayError(.rateLimited, "too many requests; retry after \(wait) s", details: ["retryAfter": String(wait)]),
                                        format: format)
                response.headers[.retryAfter] = String(wait)
                return response
            }
            let query = try Self.parameters(request.uri.query ?? "", route: route)
            for p in route.parameters where p.location == .path {
                guard let value = pathParameters[p.name], value.utf8.count <= p.maximumLength else {
                    throw GatewayError(.invalidParameter, "path parameter '\(p.name)' is longer than \(p.maximumLength) bytes", details: ["field": p.name])
                }
            }
            if route.requiresToken, token == nil {
                throw GatewayError(.missingToken, "this route needs 'Authorization: Bearer TOKEN' (POST /v1/auth/login)", details: ["field": "Authorization"])
            }
            var contentType = ""
            var body = Data()
            if route.method == .post {
                contentType = request.headers[.contentType].flatMap { $0.split(separator: ";").first }
                    .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
                (body, contentType) = try await readBody(request, route: route, contentType: contentType)
            }
            let gatewayRequest = GatewayRequest(pathParameters: pathParameters, query: query, contentType: contentType, body: body, token: token,
                                                lastEventID: request.headers.first { $0.name.canonicalName == "last-event-id" }?.value)
            let environment = GatewayEnvironment(platform: platform, openAPIDocument: openAPI, requestsInFlight: inFlight.load(ordering: .relaxed),
                                                 requestsServed: served.load(ordering: .relaxed), eventPollInterval: configuration.eventPollInterval)
            let result = try await Self.within(configuration.requestTimeout,
                                               else: GatewayError(.requestTimeout, "the platform did not answer within the request timeout")) {
                try await route.handler(gatewayRequest, environment)
            }
            switch result.kind {
            case .envelope(let encode):
                return Response(status: .ok, headers: [.contentType: Self.contentType(format)], body: .init(byteBuffer: ByteBuffer(data: try encode(format))))
            case .document(let type, let data):
                return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(data: data)))
            case .events(let source):
                return stream(source, limit: gatewayRequest.integer("limit").map(Int.init))
            }
        } catch {
            var response = envelope(error, format: format)
            if let e = error as? GatewayError, [.payloadTooLarge, .bodyTimeout].contains(e.code) {
                // The rest of the body is never read: the connection cannot carry another request. It is closed once the
                // answer is written (the server would otherwise wait for the body's end before reading a next request).
                response.headers[.connection] = "close"
                let channel = context.channel
                channel.eventLoop.scheduleTask(in: .milliseconds(200)) { channel.close(promise: nil) }
            }
            if let e = error as? GatewayError, e.code == .methodNotAllowed, let allow = e.details["allow"] { response.headers[.allow] = allow }
            return response
        }
    }

    static func contentType(_ format: ResponseFormat) -> String {
        format == .xml ? "application/xml; charset=utf-8" : "application/json; charset=utf-8"
    }

    private static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// The failure envelope of `error` with its status from ``GatewayStatusTable``.
    func envelope(_ error: any Error, format: ResponseFormat) -> Response {
        var failure = Envelope<NoData>.failure(error)
        if !(error is any CodedError) {
            failure = Envelope<NoData>.failure(GatewayError(.internalError, "internal error: \(String(describing: error).prefix(300))"))
            configuration.logger.error("uncoded error", metadata: ["error": "\(error)"])
        }
        let status = GatewayStatusTable.status(for: failure.code)
        let data: Data
        do { data = format == .xml ? try failure.xmlData() : try failure.jsonData() } catch {
            data = Data(#"{"code":6015,"data":null,"details":{},"message":"the error envelope did not encode"}"#.utf8)
        }
        return Response(status: HTTPResponse.Status(code: status), headers: [.contentType: Self.contentType(format)],
                        body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    // MARK: Parameters

    /// The query's parameters, each checked against the route's table.
    static func parameters(_ query: String, route: GatewayRoute) throws(GatewayError) -> [String: String] {
        var values = [String: String]()
        if !query.isEmpty {
            for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = String(kv[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                      let value = (kv.count > 1 ? String(kv[1]) : "").replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw GatewayError(.invalidParameter, "the query is not percent-encoded correctly", details: ["field": "query"])
                }
                guard values[name] == nil else {
                    throw GatewayError(.invalidParameter, "query parameter '\(name.prefix(64))' is given twice", details: ["field": String(name.prefix(64))])
                }
                values[name] = value
            }
        }
        let known = Dictionary(uniqueKeysWithValues: route.parameters.filter { $0.location == .query }.map { ($0.name, $0) })
        for (name, value) in values {
            guard let p = known[name] else {
                throw GatewayError(.invalidParameter, "unknown query parameter '\(name.prefix(64))'; this route takes "
                                   + (known.keys.sorted().joined(separator: ", ").nilIfEmpty ?? "none"), details: ["field": String(name.prefix(64))])
            }
            try Self.check(value, against: p)
        }
        for p in known.values where p.required && values[p.name] == nil {
            throw GatewayError(.invalidParameter, "query parameter '\(p.name)' is required", details: ["field": p.name])
        }
        return values
    }

    static func check(_ value: String, against p: GatewayParameter) throws(GatewayError) {
        switch p.type {
        case .integer:
            guard let n = Int64(value) else {
                throw GatewayError(.invalidParameter, "'\(p.name)' must be an integer, got '\(value.prefix(64))'", details: ["field": p.name])
            }
            if let r = p.range, !r.contains(n) {
                throw GatewayError(.invalidParameter, "'\(p.name)' must be in \(r.lowerBound)...\(r.upperBound), got \(n)", details: ["field": p.name])
            }
        case .boolean:
            guard value == "true" || value == "false" else {
                throw GatewayError(.invalidParameter, "'\(p.name)' must be true or false, got '\(value.prefix(64))'", details: ["field": p.name])
            }
        default:
            guard value.utf8.count <= p.maximumLength else {
                throw GatewayError(.invalidParameter, "'\(p.name)' is longer than \(p.maximumLength) bytes", details: ["field": p.name])
            }
        }
        if let allowed = p.allowed, p.type != .array, !allowed.contains(value) {
            throw GatewayError(.invalidParameter, "'\(p.name)' must be one of \(allowed.joined(separator: ", ")), got '\(value.prefix(64))'",
                               details: ["field": p.name])
        }
    }

    // MARK: Body

    /// Reads the body within the size limit and the body timeout, after checking its Content-Type, then checks its
    /// nesting and (XML) declarations.
    private func readBody(_ request: Request, route: GatewayRoute, contentType: String) async throws -> (Data, String) {
        let limit = configuration.maximumBodyBytes
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw GatewayError(.payloadTooLarge, "the body's Content-Length \(declared) exceeds \(limit) bytes", details: ["limit": String(limit)])
        }
        let accepted = route.body?.contentTypes ?? []
        if !accepted.isEmpty, !accepted.contains(contentType) {
            throw GatewayError(.unsupportedMediaType, "Content-Type '\(contentType.prefix(100))' is not one of \(accepted.joined(separator: ", "))",
                               details: ["field": "Content-Type", "accepted": accepted.joined(separator: ",")])
        }
        let body = request.body
        let data = try await Self.withinAwaiting(configuration.bodyTimeout,
                                         else: GatewayError(.bodyTimeout, "the body did not arrive within the body timeout",
                                                            details: ["timeoutMs": String(Gateway.Configuration.milliseconds(configuration.bodyTimeout))])) {
            var collected = Data()
            for try await buffer in body {
                guard collected.count + buffer.readableBytes <= limit else {
                    throw GatewayError(.payloadTooLarge, "the body exceeds \(limit) bytes", details: ["limit": String(limit)])
                }
                collected.append(contentsOf: buffer.readableBytesView)
            }
            return collected
        }
        if accepted.isEmpty {
            // A route without a body takes none (or an empty JSON object).
            guard data.isEmpty || data.elementsEqual(Data("{}".utf8)) else {
                throw GatewayError(.malformedBody, "this route takes no body", details: ["field": "body"])
            }
            return (data, contentType)
        }
        switch contentType {
        case "application/json":
            try BodyGuard.checkJSON(data, maximumDepth: configuration.maximumNesting)
            if route.body?.fields.isEmpty == false {
                guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
                    throw GatewayError(.malformedBody, "the body is not a JSON object", details: ["field": "body"])
                }
            }
        case "application/xml", "text/xml":
            try BodyGuard.checkXML(data, maximumDepth: configuration.maximumNesting)
        default: break
        }
        return (data, contentType)
    }

    /// `body`'s value, or `timeout` thrown once `duration` passed; `body` is cancelled and awaited (reading a request
    /// body stops at once when cancelled, and the body must not be read by two tasks).
    static func withinAwaiting<T: Sendable>(_ duration: Duration, else timeout: GatewayError,
                                            _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: duration)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw timeout }
            return value
        }
    }

    /// `body`'s value, or `timeout` thrown once `duration` passed. On timeout `body` is cancelled but not waited for
    /// (a platform call that ignores cancellation must not hold the answer back).
    static func within<T: Sendable>(_ duration: Duration, else timeout: GatewayError,
                                    _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = ResumeOnce<T>()
        return try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                once.resume(result)
            }
            let timer = Task {
                try await Task.sleep(for: duration)
                if once.resume(.failure(timeout)) { work.cancel() }
            }
            once.onResume { timer.cancel() }
        }
    }

    // MARK: Events

    private func stream(_ source: GatewayResult.EventSource, limit: Int?) -> Response {
        let poll = configuration.eventPollInterval, keepAlive = configuration.eventKeepAlive
        let core = self, logger = configuration.logger
        let body = ResponseBody { writer in
            var after = source.start
            var sent = 0
            var quiet = Duration.zero
            try await writer.write(ByteBuffer(string: ": forgechain record events\n\n"))
            reading: while !core.stopping.load(ordering: .acquiring), !Task.isCancelled {
                let page: (events: [ServerSentEvent], next: String)
                do { page = try await source.next(after) } catch {
                    let failure = (try? Envelope<NoData>.failure(error).jsonData()).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                    logger.notice("event stream ended", metadata: ["code": "\(Envelope<NoData>.failure(error).code)"])
                    try await writer.write(ByteBuffer(string: "event: error\ndata: \(failure)\n\n"))
                    break reading
                }
                for event in page.events {
                    try await writer.write(ByteBuffer(string: event.wireForm))
                    after = event.id
                    sent += 1
                    if let limit, sent >= limit { break reading }
                }
                after = page.next
                if !page.events.isEmpty { quiet = .zero; continue }
                try await Task.sleep(for: poll)
                quiet += poll
                if quiet >= keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    quiet = .zero
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}

/// A continuation resumed by whichever of two tasks finishes first.
final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var done = false
        var cleanup: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    func set(_ continuation: CheckedContinuation<T, any Error>) { state.withLock { $0.continuation = continuation } }

    /// Runs `cleanup` once resumed (at once when already resumed).
    func onResume(_ cleanup: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.done { return true }
            s.cleanup = cleanup
            return false
        }
        if now { cleanup() }
    }

    /// Resumes with `result` unless already resumed; true when this call resumed it.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        let taken = state.withLock { s -> (CheckedContinuation<T, any Error>, (@Sendable () -> Void)?)? in
            guard !s.done, let c = s.continuation else { return nil }
            s.done = true
            s.continuation = nil
            defer { s.cleanup = nil }
            return (c, s.cleanup)
        }
        guard let (continuation, cleanup) = taken else { return false }
        continuation.resume(with: result)
        cleanup?()
        return true
    }
}
