/// Reads typed fields out of a ``FieldNode`` object, tracking the dotted
/// path of the field so every error names it (and the input line).
struct FieldReader {
    let node: FieldNode
    let path: String
    /// Child names that were read; anything else is an unknown field.
    private(set) var consumed: [String] = []

    init(_ node: FieldNode, path: String) throws(AppError) {
        guard case .object = node else {
            throw AppError(.invalidFieldType, "\(path.isEmpty ? "record" : "field '\(path)'") must be an object",
                           details: Self.details(path, node.line))
        }
        self.node = node
        self.path = path
    }

    static func details(_ field: String, _ line: Int?) -> [String: String] {
        var d = ["field": field]
        if let line { d["line"] = String(line) }
        return d
    }

    func fieldPath(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    /// The child node, treating `null` as absent.
    mutating func child(_ name: String) -> FieldNode? {
        consumed.append(name)
        if case .null = node[name] { return nil }
        return node[name]
    }

    /// A required string: non-empty after trimming, at most `maxLength`
    /// characters, no control characters.
    mutating func string(_ name: String, maxLength: Int = 256) throws(AppError) -> String {
        guard let v = try optionalString(name, maxLength: maxLength) else {
            throw AppError(.missingField, "required field '\(fieldPath(name))' is missing",
                           details: Self.details(fieldPath(name), node.line))
        }
        return v
    }

    mutating func optionalString(_ name: String, maxLength: Int = 256) throws(AppError) -> String? {
        guard let c = child(name) else { return nil }
        guard case .scalar(let raw, let line) = c else {
            throw AppError(.invalidFieldType, "field '\(fieldPath(name))' must be a string or number",
                           details: Self.details(fieldPath(name), c.line))
        }
        let v = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !v.isEmpty else {
            throw AppError(.invalidFieldValue, "field '\(fieldPath(name))' is empty", details: Self.details(fieldPath(name), line))
        }
        guard v.count <= maxLength else {
            throw AppError(.invalidFieldValue, "field '\(fieldPath(name))' has \(v.count) characters, at most \(maxLength)",
                           details: Self.details(fieldPath(name), line))
        }
        // Line breaks and tabs are allowed (multi-line remarks); other control characters are not.
        guard !v.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !"\n\r\t".unicodeScalars.contains($0) }) else {
            throw AppError(.invalidFieldValue, "field '\(fieldPath(name))' contains a control character",
                           details: Self.details(fieldPath(name), line))
        }
        return v
    }

    mutating func time(_ name: String) throws(AppError) -> RecordTime {
        let text = try string(name, maxLength: 64)
        do { return try RecordTime(parsing: text, field: fieldPath(name)) } catch {
            var e = error
            if let l = node[name]?.line { e.details["line"] = String(l) }
            throw e
        }
    }

    mutating func object(_ name: String) throws(AppError) -> FieldReader {
        guard let c = child(name) else {
            throw AppError(.missingField, "required field '\(fieldPath(name))' is missing",
                           details: Self.details(fieldPath(name), node.line))
        }
        return try FieldReader(c, path: fieldPath(name))
    }

    /// String-valued map (extensions, readings): `name → text`, sorted by name.
    mutating func stringMap(_ name: String, maxEntries: Int = 64) throws(AppError) -> [String: String] {
        guard let c = child(name) else { return [:] }
        guard case .object(let entries, _) = c else {
            throw AppError(.invalidFieldType, "field '\(fieldPath(name))' must be an object of strings",
                           details: Self.details(fieldPath(name), c.line))
        }
        guard entries.count <= maxEntries else {
            throw AppError(.invalidFieldValue, "field '\(fieldPath(name))' has \(entries.count) entries, at most \(maxEntries)",
                           details: Self.details(fieldPath(name), c.line))
        }
        var out = [String: String]()
        var inner = try FieldReader(c, path: fieldPath(name))
        for e in entries {
            guard !e.name.isEmpty, e.name.count <= 64 else {
                throw AppError(.invalidFieldValue, "field '\(fieldPath(name))' has an empty or over-long key",
                               details: Self.details(fieldPath(name), c.line))
            }
            out[e.name] = try inner.string(e.name, maxLength: 1024)
        }
        return out
    }

    /// Throws `.unknownField` for any child not read.
    func rejectUnknown(allowing extra: [String] = []) throws(AppError) {
        guard case .object(let entries, _) = node else { return }
        for e in entries where !consumed.contains(e.name) && !extra.contains(e.name) {
            throw AppError(.unknownField, "unknown field '\(fieldPath(e.name))'",
                           details: Self.details(fieldPath(e.name), e.value.line ?? node.line))
        }
    }
}
