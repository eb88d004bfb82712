// Transports (3050–3099).
extension NetError.Code {
    /// The destination node is not attached to the network (never joined, crashed or closed); `details["node"]` names it.
    public static let peerUnreachable = Self(rawValue: 3050)
    /// The transport was closed; it sends and receives nothing more.
    public static let transportClosed = Self(rawValue: 3051)
    /// A node ID is already attached to the in-memory network.
    public static let duplicateEndpoint = Self(rawValue: 3052)
    /// A fault setting is outside its range (rates 0...1, delays ≥ 0); `details["field"]` names it.
    public static let invalidFaultSetting = Self(rawValue: 3053)
    /// A message is larger than the transport's ``InMemoryNetwork/maximumMessageBytes``.
    public static let messageTooLarge = Self(rawValue: 3054)
    /// A socket transport's configuration field is outside its range; `details["field"]` names it.
    public static let invalidTransportConfiguration = Self(rawValue: 3055)
    /// A socket transport cannot listen on its address (in use, or not an address of this machine); `details` give host and port.
    public static let bindFailed = Self(rawValue: 3056)
}
