// The compiler driver (2350–2359) and the bytecode audit and deployment policy (2360–2399).
extension ContractError.Code {
    /// No `vyper` or `solc` was found on PATH or at the given path, or the source's extension names no compiler (`.vy` for vyper, `.sol` for solc); `details["compiler"]` and `details["path"]` say which. Nothing was run.
    public static let compilerNotFound = Self(rawValue: 2350)
    /// The compiler ran and rejected the source; the message carries the compiler's own report and `details["exitStatus"]` its exit status. Nothing was written.
    public static let compilationFailed = Self(rawValue: 2351)
    /// The compiler's output could not be read as the expected JSON (no contract, no bytecode, a hex string that does not decode); `details["field"]` names what was missing.
    public static let compilerOutputInvalid = Self(rawValue: 2352)
    /// The compiler did not finish within the time allowed and was terminated; `details["seconds"]` is the limit.
    public static let compilerTimedOut = Self(rawValue: 2353)
    /// The source file or compiler could not be read or started (missing file, permission denied); `details["path"]` names it and `details["reason"]` the system's error.
    public static let compilerIOFailed = Self(rawValue: 2354)

    /// The bytecode given to the audit is not hex, or is empty, or exceeds the 24,576-byte code limit by more than the audit reads (49,152 bytes, the init-code limit); `details["field"]` says which.
    public static let auditBytecodeInvalid = Self(rawValue: 2360)
    /// A source map given to the audit could not be read (not vyper's `pc_pos_map` JSON, or a solc `srcmap` entry that does not parse); `details["entry"]` is the first bad one.
    public static let auditSourceMapInvalid = Self(rawValue: 2361)
    /// The deployment policy refused the code: an audit finding at or above the policy's severity is not on its allow list; `details["findings"]` lists the IDs that refused it and `details["codeHash"]` the code.
    public static let deploymentRefusedByAudit = Self(rawValue: 2362)
}
