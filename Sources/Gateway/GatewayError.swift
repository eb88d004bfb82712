import LedgerCore

/// The error of the HTTPS gateway (codes 6000–6099): what the gateway itself refuses before a request reaches the
/// platform (content type, size, nesting, XML entities, rate, time, routes and parameters). The platform's own
/// refusals keep their codes (`AppError` 5xxx and the others); every one of them reaches the client as the uniform
/// envelope, with the HTTP status of ``GatewayStatusTable``.
public struct GatewayError: CodedError, Hashable {
    /// A stable numeric code.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public var description: String { String(rawValue) }
    }

    /// The stable code (60xx; see ``Code``).
    public var code: Code
    public var message: String
    public var details: [String: String]

    /// - Parameters:
    ///   - code: Required.
    ///   - message: Required. Names the field or header and the value at fault.
    ///   - details: Optional, default empty.
    public init(_ code: Code, _ message: String, details: [String: String] = [:]) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var numericCode: UInt32 { code.rawValue }
}

extension GatewayError.Code {
    /// The request's Content-Type is not one the route takes (the `accepted` detail lists them).
    public static let unsupportedMediaType = Self(rawValue: 6001)
    /// The request body (or its declared Content-Length) is larger than the gateway's body limit.
    public static let payloadTooLarge = Self(rawValue: 6002)
    /// The request body is not well-formed JSON (or not the JSON object the route expects; `field` names the member).
    public static let malformedBody = Self(rawValue: 6003)
    /// The request body nests arrays, objects or XML elements deeper than the gateway allows.
    public static let bodyTooDeep = Self(rawValue: 6004)
    /// An XML body declares a document type or entities (refused: entity expansion, external entities).
    public static let xmlEntitiesRefused = Self(rawValue: 6005)
    /// The route needs `Authorization: Bearer TOKEN` and the request has none.
    public static let missingToken = Self(rawValue: 6006)
    /// The token (or, before login, the client address) sent more requests than its rate allows; see Retry-After.
    public static let rateLimited = Self(rawValue: 6007)
    /// No route has this path.
    public static let routeNotFound = Self(rawValue: 6008)
    /// The path exists but not with this method (queries are GET, submissions POST).
    public static let methodNotAllowed = Self(rawValue: 6009)
    /// A path or query parameter is missing, unknown, of the wrong type or out of its range (`field` names it).
    public static let invalidParameter = Self(rawValue: 6010)
    /// The client did not send its whole body within the body timeout.
    public static let bodyTimeout = Self(rawValue: 6011)
    /// The platform did not answer within the request timeout (an upload or update may still commit: query it).
    public static let requestTimeout = Self(rawValue: 6012)
    /// The Accept header names neither JSON nor XML.
    public static let notAcceptable = Self(rawValue: 6013)
    /// The gateway cannot start: a bad listen address, certificate or key file, or a port in use.
    public static let invalidConfiguration = Self(rawValue: 6014)
    /// An error without a code reached the gateway (a bug: the message says what).
    public static let internalError = Self(rawValue: 6015)
}
