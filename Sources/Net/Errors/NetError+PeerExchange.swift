// Peer exchange (3120–3129, in the membership range).
extension NetError.Code {
    /// A peer's ``PeerList`` payload does not decode (shape, counts, node IDs, hosts, ports); `details["field"]` names the field. The list is ignored.
    public static let malformedPeerList = Self(rawValue: 3120)
}

// Relaying (3160–3169, in the gossip range).
extension NetError.Code {
    /// A peer's ``RelayEnvelope`` payload does not decode or breaks its rules (hop limit, a loop in its path); `details["field"]` names the field. The envelope is dropped.
    public static let malformedRelayEnvelope = Self(rawValue: 3160)
    /// A relayed envelope was refused: its path does not end with the peer that handed it over, its origin is not a member, or it cannot go further (no route, hop limit); `details["reason"]` says which. The envelope is dropped and counted.
    public static let relayRefused = Self(rawValue: 3161)
}
