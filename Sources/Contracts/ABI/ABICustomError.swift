/// A custom error of a contract (`error NotOwner(address caller);`), as a JSON ABI declares it.
///
/// ```swift
/// let error = ABICustomError(name: "NotOwner", inputs: [ABIParameter(name: "caller", type: .address)])
/// error.signature   // "NotOwner(address)"
/// ```
public struct ABICustomError: Sendable, Hashable {
    /// The name.
    public let name: String
    /// The parameters.
    public let inputs: [ABIParameter]

    /// - Parameters:
    ///   - name: Required.
    ///   - inputs: Optional, default none.
    public init(name: String, inputs: [ABIParameter] = []) {
        self.name = name
        self.inputs = inputs
    }

    /// `name(type1,…)`.
    public var signature: String { ABI.signature(name, inputs.map(\.type)) }
    /// The 4-byte selector that starts its revert data.
    public var selector: [UInt8] { ABI.selector(signature) }
}
