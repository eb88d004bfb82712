/// What a compiler produced for one contract: its ABI, deployment code, runtime code and source map.
///
/// ```swift
/// let contract = try ContractCompiler.locate(forSourceAt: "Traceability.vy").compile(sourceAt: "Traceability.vy")[0]
/// contract.runtimeBytecode.count   // the code a deployment leaves on chain
/// ```
public struct CompiledContract: Sendable, Hashable {
    /// The contract's name (vyper: the file's stem; solc: the contract's name).
    public let name: String
    /// The JSON ABI, as the compiler wrote it (a JSON array).
    public let abiJSON: String
    /// The deployment (init) code.
    public let bytecode: [UInt8]
    /// The runtime code.
    public let runtimeBytecode: [UInt8]
    /// The runtime source map as the compiler wrote it: vyper's `source_map_runtime` JSON or solc's compressed
    /// `srcmap-runtime`; `nil` when the compiler gave none.
    public let runtimeSourceMap: String?
    /// The runtime source map read for the audit, when ``runtimeSourceMap`` could be read.
    public let auditSourceMap: AuditSourceMap?
    /// The compiler's version (`0.4.3+commit.bff19ea2`).
    public let compilerVersion: String

    /// - Parameters:
    ///   - name: Required.
    ///   - abiJSON: Required. A JSON array.
    ///   - bytecode: Required. Init code.
    ///   - runtimeBytecode: Required. Runtime code.
    ///   - runtimeSourceMap: Optional, default `nil`.
    ///   - auditSourceMap: Optional, default `nil`.
    ///   - compilerVersion: Required.
    public init(name: String, abiJSON: String, bytecode: [UInt8], runtimeBytecode: [UInt8], runtimeSourceMap: String? = nil,
                auditSourceMap: AuditSourceMap? = nil, compilerVersion: String) {
        self.name = name
        self.abiJSON = abiJSON
        self.bytecode = bytecode
        self.runtimeBytecode = runtimeBytecode
        self.runtimeSourceMap = runtimeSourceMap
        self.auditSourceMap = auditSourceMap
        self.compilerVersion = compilerVersion
    }
}
