// The node's control endpoints and clients (4200–4249).
extension ChainError.Code {
    /// A control-socket request the node does not understand: not one JSON object per line, an unknown `op`, or a
    /// missing field.
    public static let invalidControlRequest = Self(rawValue: 4200)
    /// The control socket cannot be created, reached or read; `details["path"]` names it.
    public static let controlSocketFailed = Self(rawValue: 4201)
    /// A ``ForgeChainClient`` configuration field is outside its range; `details["field"]` names it.
    public static let invalidClientConfiguration = Self(rawValue: 4202)
    /// The client was closed; it takes no more submissions (its outbox keeps what is pending).
    public static let clientClosed = Self(rawValue: 4203)
    /// Submissions were still pending when a client's wait ended.
    public static let clientTimeout = Self(rawValue: 4204)
}
