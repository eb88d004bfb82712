// In-memory cluster (4150–4199).
extension ChainError.Code {
    /// A cluster configuration field is out of its documented range; `details["field"]` names it.
    public static let invalidClusterConfiguration = Self(rawValue: 4150)
    /// No node of the cluster has this ID.
    public static let unknownClusterNode = Self(rawValue: 4151)
    /// The node is crashed (or already running, for restart).
    public static let clusterNodeState = Self(rawValue: 4152)
    /// The awaited height was not reached by every node asked about within the timeout; `details` give each node's height.
    public static let heightTimeout = Self(rawValue: 4153)
    /// This build has no engine of the configured consensus kind.
    public static let unsupportedEngine = Self(rawValue: 4154)
}
