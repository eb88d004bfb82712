/// One parameter of a function, constructor, event or error in a JSON ABI: its name, type and, for tuples, the
/// names of the members (``components``), which decoding uses to name fields in errors and to fill Swift structs.
///
/// ```swift
/// let parameter = ABIParameter(name: "batch", type: try ABIType("(string,uint64)"),
///                              components: [ABIParameter(name: "id", type: .string), ABIParameter(name: "qty", type: .uint(bits: 64))])
/// ```
public struct ABIParameter: Sendable, Hashable {
    /// The name; empty when the ABI gives none (outputs often have none).
    public var name: String
    /// The type, with tuples expanded.
    public var type: ABIType
    /// The compiler's source-level type (`struct Plant.Batch`, `contract IERC20`), when the file has one.
    public var internalType: String?
    /// For an event parameter: whether it is a topic rather than part of the data.
    public var indexed: Bool
    /// For a tuple (or an array of tuples, at any depth): its members, in order; empty otherwise.
    public var components: [ABIParameter]

    /// - Parameters:
    ///   - name: Optional, default empty.
    ///   - type: Required.
    ///   - internalType: Optional, default `nil`.
    ///   - indexed: Optional, default `false`; only events use it.
    ///   - components: Optional, default empty; the members of the tuple inside `type`, for names.
    public init(name: String = "", type: ABIType, internalType: String? = nil, indexed: Bool = false,
                components: [ABIParameter] = []) {
        self.name = name
        self.type = type
        self.internalType = internalType
        self.indexed = indexed
        self.components = components
    }
}

/// Where in a value a decoder or encoder is: indices from the top-level list down, rendered with parameter names when
/// they are known (`#1.parts[3].id`, or `batch.parts[3].id`).
struct ABIPath {
    var indices: [Int] = []

    /// Renders the path against the top-level types and, when given, their parameters (for names).
    func render(types: [ABIType], parameters: [ABIParameter]?) -> String {
        guard let first = indices.first, first < types.count else { return "" }
        var type = types[first]
        var parameter = parameters.flatMap { first < $0.count ? $0[first] : nil }
        var text = parameter.map(\.name).flatMap { $0.isEmpty ? nil : $0 } ?? "#\(first)"
        for index in indices.dropFirst() {
            switch type {
            case .array(let element, _), .dynamicArray(let element):
                text += "[\(index)]"
                type = element
            case .tuple(let members) where index < members.count:
                let member = parameter.flatMap { index < $0.components.count ? $0.components[index] : nil }
                text += "." + (member.map(\.name).flatMap { $0.isEmpty ? nil : $0 } ?? String(index))
                type = members[index]
                parameter = member
            default:
                return text
            }
        }
        return text
    }
}
