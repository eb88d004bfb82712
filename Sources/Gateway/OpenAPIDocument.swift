import Foundation

/// Generates the OpenAPI 3.1 document of a route table (`GET /openapi.json`): every route with its parameters
/// (type, range, allowed values, example, default), body, the envelope it answers with, and each error code it can
/// answer grouped by HTTP status (from ``GatewayStatusTable``). Nothing is kept by hand beside the table.
///
/// ```swift
/// let data = try OpenAPIDocument.generate(routes: GatewayRoutes.standard, serverURL: "https://127.0.0.1:8443")
/// ```
public enum OpenAPIDocument {
    /// The document as JSON (keys sorted, so the same table gives the same bytes).
    /// - Parameters:
    ///   - routes: Required. The route table.
    ///   - serverURL: Optional, default none. The `servers` entry.
    ///   - limits: Optional, default none. Published as `x-limits` (body size, timeouts, rate).
    /// - Throws: `GatewayError` `.internalError` (6015) when a route's path repeats with the same method.
    public static func generate(routes: [GatewayRoute], serverURL: String? = nil, limits: [String: Int] = [:]) throws(GatewayError) -> Data {
        var paths = [String: [String: Any]]()
        var codes = Set<UInt32>()
        for route in routes {
            let method = route.method.rawValue.lowercased()
            guard paths[route.path]?[method] == nil else {
                throw GatewayError(.internalError, "route \(route.method.rawValue) \(route.path) appears twice in the table")
            }
            codes.formUnion(route.allErrorCodes)
            paths[route.path, default: [:]][method] = operation(route)
        }
        // Answers to requests no route takes (any path, any method).
        codes.formUnion([GatewayError.Code.routeNotFound.rawValue, GatewayError.Code.methodNotAllowed.rawValue])
        var document: [String: Any] = [
            "openapi": "3.1.0",
            "info": ["title": "ForgeChain records platform", "version": "1",
                     "description": "REST over HTTPS (DB53/T 1407 D-7..D-10). Every answer but this document and the event stream is the "
                         + "envelope {code, message, data, details}, in JSON or XML by the Accept header."],
            "paths": paths,
            "components": [
                "schemas": ["Envelope": envelopeSchema],
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
            ],
            "x-error-codes": codes.sorted().map { code -> [String: Any] in
                ["code": Int(code), "status": GatewayStatusTable.status(for: code)]
            },
            "x-status-table": GatewayStatusTable.rules.map { rule -> [String: Any] in
                ["from": Int(rule.codes.lowerBound), "through": Int(rule.codes.upperBound), "status": rule.status, "reason": rule.reason]
            },
        ]
        if let serverURL { document["servers"] = [["url": serverURL]] }
        if !limits.isEmpty { document["x-limits"] = limits }
        do {
            return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        } catch {
            throw GatewayError(.internalError, "the OpenAPI document does not serialise: \(error)")
        }
    }

    private static var envelopeSchema: [String: Any] { [
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": [
            "code": ["type": "integer", "minimum": 0, "description": "0 on success, else the error's stable code (Documentation/ErrorCodes.md)."],
            "message": ["type": "string", "description": "`ok`, or what is wrong, naming the field and value."],
            "data": ["description": "The result; absent on failure."],
            "details": ["type": "object", "additionalProperties": ["type": "string"], "description": "Extra information on failure."],
        ],
    ] }

    private static func schema(_ p: GatewayParameter) -> [String: Any] {
        var s: [String: Any] = ["type": p.type.rawValue]
        switch p.type {
        case .integer:
            if let r = p.range { s["minimum"] = r.lowerBound; s["maximum"] = r.upperBound }
            s["examples"] = [Int64(p.example) ?? 0]
            if let d = p.defaultValue.flatMap({ Int64($0) }) { s["default"] = d }
        case .boolean:
            s["examples"] = [p.example == "true"]
            if let d = p.defaultValue { s["default"] = d == "true" }
        case .string:
            s["maxLength"] = p.maximumLength
            if p.minimumLength > 0 { s["minLength"] = p.minimumLength }
            if let pattern = p.pattern { s["pattern"] = pattern }
            s["examples"] = [p.example]
            if let d = p.defaultValue { s["default"] = d }
        case .array:
            if let r = p.range { s["minItems"] = r.lowerBound; s["maxItems"] = r.upperBound }
            var items: [String: Any] = ["type": "string"]
            if let allowed = p.allowed { items["enum"] = allowed }
            s["items"] = items
            s["examples"] = [(try? JSONSerialization.jsonObject(with: Data(p.example.utf8))) ?? p.example]
        case .object:
            if let r = p.range { s["minProperties"] = r.lowerBound; s["maxProperties"] = r.upperBound }
            s["additionalProperties"] = ["type": "string"]
            s["examples"] = [(try? JSONSerialization.jsonObject(with: Data(p.example.utf8))) ?? p.example]
        }
        if let allowed = p.allowed, p.type != .array { s["enum"] = allowed }
        return s
    }

    private static func operation(_ route: GatewayRoute) -> [String: Any] {
        var op: [String: Any] = ["operationId": route.operationID, "summary": route.summary]
        let parameters = route.parameters.filter { $0.location != .body }.map { p -> [String: Any] in
            ["name": p.name, "in": p.location.rawValue, "required": p.location == .path || p.required, "description": p.description,
             "schema": schema(p), "example": p.example]
        }
        if !parameters.isEmpty { op["parameters"] = parameters }
        if route.requiresToken { op["security"] = [["bearer": [String]()]] }
        if let body = route.body {
            var content = [String: Any]()
            for type in body.contentTypes {
                if type == "application/json", !body.fields.isEmpty {
                    var props = [String: Any]()
                    for f in body.fields { props[f.name] = schema(f).merging(["description": f.description]) { a, _ in a } }
                    var schema: [String: Any] = ["type": "object", "properties": props, "required": body.fields.filter(\.required).map(\.name)]
                    if !body.exclusive.isEmpty { schema["not"] = ["required": body.exclusive] }
                    content[type] = ["schema": schema]
                } else if type == "application/json" {
                    let types = body.jsonTypes.map(\.rawValue)
                    content[type] = ["schema": ["type": types.count == 1 ? types[0] as Any : types as Any, "description": body.description]]
                } else {
                    content[type] = ["schema": ["type": "string", "description": body.description]]
                }
            }
            op["requestBody"] = ["required": true, "description": body.description, "content": content]
        }
        var responses = [String: Any]()
        let envelope: [String: Any] = ["schema": ["$ref": "#/components/schemas/Envelope"]]
        if route.streams {
            responses["200"] = ["description": route.responseDescription, "content": ["text/event-stream": ["schema": ["type": "string"]]]]
        } else if route.operationID == "openAPI" {
            responses["200"] = ["description": route.responseDescription, "content": ["application/json": ["schema": ["type": "object"]]]]
        } else {
            responses["200"] = ["description": "Envelope with code 0; data: " + route.responseDescription,
                                "content": ["application/json": envelope, "application/xml": envelope]]
        }
        var byStatus = [Int: [UInt32]]()
        for code in route.allErrorCodes { byStatus[GatewayStatusTable.status(for: code), default: []].append(code) }
        for (status, list) in byStatus {
            var response: [String: Any] = ["description": "Envelope with code " + list.map(String.init).joined(separator: ", "),
                                           "content": ["application/json": envelope, "application/xml": envelope],
                                           "x-error-codes": list.map { Int($0) }]
            if status == 429 { response["headers"] = ["Retry-After": ["schema": ["type": "integer", "minimum": 1], "description": "Seconds to wait."]] }
            responses[String(status)] = response
        }
        op["responses"] = responses
        op["x-error-codes"] = route.allErrorCodes.map { Int($0) }
        return op
    }
}
