// Requests to a running node or platform over its control endpoint (5430–5439).
extension AppError.Code {
    /// A signed request (a record query on a node's client endpoint) whose signature does not verify with the key it
    /// names, or whose key or signature is malformed; the `field` detail names the part at fault.
    public static let requestSignatureInvalid = Self(rawValue: 5430)
    /// A signed request whose time is more than 5 minutes from the node's clock (a replayed or delayed request);
    /// the `time` and `now` details give both, milliseconds since 1970.
    public static let requestExpired = Self(rawValue: 5431)
    /// The process serving a data folder (its `node.sock` answers) is a chain node without the records platform,
    /// so platform commands (`records`, `admin`) have nothing to talk to; the `socket` detail names it.
    public static let platformNotServed = Self(rawValue: 5432)
}
