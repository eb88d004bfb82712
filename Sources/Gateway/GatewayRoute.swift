import AppAPI
import Foundation

/// One entry of the gateway's route table: what the server routes, what it checks before the handler runs, and what
/// the OpenAPI document (`GET /openapi.json`) says about it. The document is generated from these values only.
///
/// ```swift
/// let ping = GatewayRoute(method: .get, path: "/v1/ping", operationID: "ping", summary: "Answers ok.",
///                         requiresToken: false, errorCodes: []) { _, _ in .ok("pong") }
/// var configuration = Gateway.Configuration(tls: tls)
/// configuration.extraRoutes = [ping]
/// ```
public struct GatewayRoute: Sendable {
    /// GET for queries, POST for submissions (D-9).
    public enum Method: String, Sendable, Hashable, CaseIterable {
        case get = "GET"
        case post = "POST"
    }

    /// The method.
    public var method: Method
    /// The path, with `{name}` for a path parameter (`/v1/records/{id}`).
    public var path: String
    /// A unique operation name (the OpenAPI `operationId`).
    public var operationID: String
    /// One sentence on what it does.
    public var summary: String
    /// Whether it needs `Authorization: Bearer TOKEN` (from `POST /v1/auth/login`).
    public var requiresToken: Bool
    /// Path and query parameters; the gateway refuses an unknown query parameter and checks each one's type and range.
    public var parameters: [GatewayParameter]
    /// The body, for a POST.
    public var body: GatewayBody?
    /// The error codes the route itself can answer (the gateway adds its common ones: 6002–6013 as they apply).
    public var errorCodes: [UInt32]
    /// What `data` holds on success.
    public var responseDescription: String
    /// Whether the response is a Server-Sent Events stream (`text/event-stream`) instead of an envelope.
    public var streams: Bool
    /// Answers a request whose parameters, body type and token presence were checked.
    public var handler: @Sendable (GatewayRequest, GatewayEnvironment) async throws -> GatewayResult

    /// - Parameters: as the properties; `parameters` default none, `body` nil, `responseDescription` "the result",
    ///   `streams` false.
    public init(method: Method, path: String, operationID: String, summary: String, requiresToken: Bool,
                parameters: [GatewayParameter] = [], body: GatewayBody? = nil, errorCodes: [UInt32],
                responseDescription: String = "the result", streams: Bool = false,
                handler: @escaping @Sendable (GatewayRequest, GatewayEnvironment) async throws -> GatewayResult) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.summary = summary
        self.requiresToken = requiresToken
        self.parameters = parameters
        self.body = body
        self.errorCodes = errorCodes
        self.responseDescription = responseDescription
        self.streams = streams
        self.handler = handler
    }

    /// The gateway's own codes every route may answer: body checks for a POST, token for a protected route, and
    /// always rate, parameters, Accept and timeouts.
    public var commonErrorCodes: [UInt32] {
        var codes: [GatewayError.Code] = [.rateLimited, .invalidParameter, .notAcceptable, .requestTimeout, .internalError]
        if method == .post { codes += [.unsupportedMediaType, .payloadTooLarge, .malformedBody, .bodyTooDeep, .xmlEntitiesRefused, .bodyTimeout] }
        if requiresToken { codes.append(.missingToken) }
        return codes.map(\.rawValue)
    }

    /// ``errorCodes`` and ``commonErrorCodes``, sorted, without repeats.
    public var allErrorCodes: [UInt32] { Array(Set(errorCodes + commonErrorCodes)).sorted() }
}

/// A path, query or body parameter: its type, range, example and default, checked by the gateway and published in
/// the OpenAPI document.
public struct GatewayParameter: Sendable, Hashable {
    /// Where it is.
    public enum Location: String, Sendable, Hashable {
        case path, query, body
    }
    /// Its JSON type.
    public enum ValueType: String, Sendable, Hashable {
        case string, integer, boolean, object, array
    }

    /// The name (snake_case).
    public var name: String
    /// Where it is.
    public var location: Location
    /// Its type.
    public var type: ValueType
    /// Whether it must be present.
    public var required: Bool
    /// What it means.
    public var description: String
    /// For integers: the smallest and largest value; for arrays and objects: the fewest and most elements or members.
    public var range: ClosedRange<Int64>?
    /// For strings: the shortest value, in characters. Default 0.
    public var minimumLength: Int
    /// For strings: the longest value, in bytes. Default 1,024.
    public var maximumLength: Int
    /// The allowed values, when a closed set.
    public var allowed: [String]?
    /// For strings: a regular expression (ECMA 262) every value matches, when the form is fixed. Default nil.
    public var pattern: String?
    /// An example value (as text).
    public var example: String
    /// The default, when optional.
    public var defaultValue: String?

    /// - Parameters: as the properties; `required` default false, `range`, `allowed`, `pattern`, `defaultValue` nil,
    ///   `minimumLength` 0, `maximumLength` 1,024.
    public init(_ name: String, in location: Location, _ type: ValueType, required: Bool = false, _ description: String,
                range: ClosedRange<Int64>? = nil, minimumLength: Int = 0, maximumLength: Int = 1_024, allowed: [String]? = nil,
                pattern: String? = nil, example: String, defaultValue: String? = nil) {
        self.minimumLength = minimumLength
        self.pattern = pattern
        self.name = name
        self.location = location
        self.type = type
        self.required = required
        self.description = description
        self.range = range
        self.maximumLength = maximumLength
        self.allowed = allowed
        self.example = example
        self.defaultValue = defaultValue
    }
}

/// A route's request body: the content types it takes and, for a JSON object, its members.
public struct GatewayBody: Sendable, Hashable {
    /// Accepted Content-Types (`application/json`, `application/xml`, `text/csv`, ...).
    public var contentTypes: [String]
    /// What it holds.
    public var description: String
    /// The members of a JSON object body (location `.body`); empty for a document handed to a decoder whole.
    public var fields: [GatewayParameter]
    /// Members of ``fields`` that may not all be given together.
    public var exclusive: [String]
    /// The JSON types a JSON document body may have (for a body without ``fields``). Default `object`.
    public var jsonTypes: [GatewayParameter.ValueType]

    /// - Parameters: as the properties; `fields` and `exclusive` default none, `jsonTypes` `[.object]`.
    public init(contentTypes: [String], description: String, fields: [GatewayParameter] = [], exclusive: [String] = [],
                jsonTypes: [GatewayParameter.ValueType] = [.object]) {
        self.contentTypes = contentTypes
        self.description = description
        self.fields = fields
        self.exclusive = exclusive
        self.jsonTypes = jsonTypes
    }
}

/// A request as a route's handler sees it: checked parameters, the body (read whole, within the limits), the token.
public struct GatewayRequest: Sendable {
    /// Path parameters by name.
    public var pathParameters: [String: String]
    /// Query parameters by name (each checked against the route's table).
    public var query: [String: String]
    /// The body's media type (`application/json`, ...), lowercased, without parameters; empty when none.
    public var contentType: String
    /// The body.
    public var body: Data
    /// The bearer token, when sent.
    public var token: String?
    /// The `Last-Event-ID` header, when sent.
    public var lastEventID: String?

    /// - Parameters: as the properties.
    public init(pathParameters: [String: String] = [:], query: [String: String] = [:], contentType: String = "", body: Data = Data(),
                token: String? = nil, lastEventID: String? = nil) {
        self.pathParameters = pathParameters
        self.query = query
        self.contentType = contentType
        self.body = body
        self.token = token
        self.lastEventID = lastEventID
    }

    /// The token, or `.missingToken` (6006).
    public func requireToken() throws(GatewayError) -> String {
        guard let token, !token.isEmpty else {
            throw GatewayError(.missingToken, "this route needs 'Authorization: Bearer TOKEN' (POST /v1/auth/login)", details: ["field": "Authorization"])
        }
        return token
    }

    /// An integer query parameter (already range-checked by the gateway), or `fallback`.
    public func integer(_ name: String, default fallback: Int64? = nil) -> Int64? {
        query[name].flatMap { Int64($0) } ?? fallback
    }

    /// Decodes the JSON body as `T` (members snake_case as the route table lists them).
    /// - Throws: `.malformedBody` (6003) naming what is wrong.
    public func decodeJSON<T: Decodable>(_ type: T.Type) throws(GatewayError) -> T {
        do { return try JSONDecoder().decode(T.self, from: body) } catch let DecodingError.keyNotFound(key, _) {
            throw GatewayError(.malformedBody, "the body lacks '\(key.stringValue)'", details: ["field": key.stringValue])
        } catch let DecodingError.typeMismatch(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw GatewayError(.malformedBody, "the body's '\(field)' has the wrong type", details: ["field": field])
        } catch let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw GatewayError(.malformedBody, "the body's '\(field)' is null", details: ["field": field])
        } catch {
            throw GatewayError(.malformedBody, "the body is not the JSON object this route takes", details: ["field": "body"])
        }
    }
}

/// What a handler answers: an envelope around a value (JSON or XML by the Accept header), or an event stream.
public struct GatewayResult: Sendable {
    enum Kind: Sendable {
        case envelope(@Sendable (ResponseFormat) throws -> Data)
        case events(EventSource)
        case document(contentType: String, Data)
    }
    let kind: Kind

    /// The success envelope around `payload`.
    public static func ok<Payload: Codable & Sendable>(_ payload: Payload) -> GatewayResult {
        GatewayResult(kind: .envelope { format in
            let envelope = Envelope.success(payload)
            return format == .xml ? try envelope.xmlData() : try envelope.jsonData()
        })
    }

    /// A document that is not an envelope (the OpenAPI document), with its content type.
    public static func document(_ data: Data, contentType: String) -> GatewayResult {
        GatewayResult(kind: .document(contentType: contentType, data))
    }

    /// A Server-Sent Events stream: `next` is called with the position after the last event handled and answers
    /// the next events and the position to continue from (no events: none yet; it is called again after the poll
    /// interval). A thrown error ends the stream with an `error` event carrying the envelope. The request's `limit`
    /// query parameter, when the route has one, ends the stream after that many events.
    public static func events(start: String,
                              next: @escaping @Sendable (_ after: String) async throws -> (events: [ServerSentEvent], next: String)) -> GatewayResult {
        GatewayResult(kind: .events(EventSource(start: start, next: next)))
    }

    struct EventSource: Sendable {
        var start: String
        var next: @Sendable (String) async throws -> (events: [ServerSentEvent], next: String)
    }
}

/// One Server-Sent Event.
public struct ServerSentEvent: Sendable, Hashable {
    /// The event's ID (the checkpoint to resume after, sent as `id:`).
    public var id: String
    /// The event type (`event:`).
    public var event: String
    /// The data line (one line of JSON).
    public var data: String

    /// - Parameters: as the properties.
    public init(id: String, event: String, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }

    /// The wire form: `id:`, `event:`, `data:` lines and a blank line.
    public var wireForm: String { "id: \(id)\nevent: \(event)\ndata: \(data)\n\n" }
}

/// The response body's format, chosen by the Accept header.
public enum ResponseFormat: String, Sendable, Hashable {
    case json, xml
}

/// What a route handler may use besides its request.
public struct GatewayEnvironment: Sendable {
    /// The platform served.
    public var platform: Platform
    /// The OpenAPI document of every route served (JSON).
    public var openAPIDocument: Data
    /// Requests being answered now (event streams count while their request is answered, not while they stream).
    public var requestsInFlight: Int
    /// Requests answered since the gateway started.
    public var requestsServed: Int
    /// How often an event stream looks for new commits.
    public var eventPollInterval: Duration
}
