/// A parsed but untyped record, the common form that JSON, XML and CSV input
/// are read into before typed validation. Each node remembers the line of
/// the input it came from, so errors can name it.
public indirect enum FieldNode: Sendable, Hashable {
    /// A string or number, as text.
    case scalar(String, line: Int?)
    /// Named children, in input order.
    case object([Entry], line: Int?)
    /// A JSON array or repeated XML elements.
    case list([FieldNode], line: Int?)
    /// JSON `null` or an empty CSV cell: the same as absent.
    case null(line: Int?)

    /// One named child of an object.
    public struct Entry: Sendable, Hashable {
        /// The field's name as in the input.
        public var name: String
        /// The field's value.
        public var value: FieldNode
        /// Both are required.
        public init(name: String, value: FieldNode) {
            self.name = name
            self.value = value
        }
    }

    /// The input line this node starts on, when known.
    public var line: Int? {
        switch self {
        case .scalar(_, let l), .object(_, let l), .list(_, let l), .null(let l): return l
        }
    }

    /// The child named `name`, if this is an object holding it.
    public subscript(name: String) -> FieldNode? {
        guard case .object(let entries, _) = self else { return nil }
        return entries.first { $0.name == name }?.value
    }
}
