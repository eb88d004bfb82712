// The node's local control socket (4200–4249).
extension ChainError.Code {
    /// A control-socket request the node does not understand: not one JSON object per line, an unknown `op`, or a
    /// missing field.
    public static let invalidControlRequest = Self(rawValue: 4200)
    /// The control socket cannot be created, reached or read; `details["path"]` names it.
    public static let controlSocketFailed = Self(rawValue: 4201)
}
