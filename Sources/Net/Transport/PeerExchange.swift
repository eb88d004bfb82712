import LedgerCore

/// The frame kinds of peer exchange and relaying (N-T-3).
extension FrameKind {
    /// ``PeerList``: the addresses the sender knows (its own first) and the nodes it links with.
    public static let peers: FrameKind = 5
    /// ``RelayEnvelope``: a node message on its way from one node to another through the nodes they both link with.
    public static let relay: FrameKind = 6
}

/// What a node tells each peer about the network (N-T-3): where members listen (its own address among them) and
/// which members it has a link to. Sent when a link comes up, when the sender's links change and at every keeper
/// round of ``TCPTransport``.
///
/// An address in a list is a hint: a node dialling it still proves who answers with the hello, the TLS handshake
/// and the admission check. Receivers keep entries of members only.
///
/// **Wire form**: the payload of a ``FrameKind/peers`` frame, RLP `[[[node, host, port], ...], [linked node, ...]]`,
/// at most ``maximumEntries`` entries and ``maximumLinks`` linked nodes; hosts are 1...253 bytes of letters, digits
/// and `.-:_%` (names, IPv4 and IPv6 literals), ports 1...65535. Unix socket paths are never exchanged.
///
/// ```swift
/// let list = PeerList(entries: [.init(node: 2, endpoint: .init(host: "10.0.0.12", port: 7400))], links: [0, 1])
/// let again = try PeerList(decoding: list.encoded)
/// ```
public struct PeerList: Hashable, Sendable {
    /// The most entries a list may carry: 256.
    public static let maximumEntries = 256
    /// The most linked nodes a list may name: 256.
    public static let maximumLinks = 256
    /// The longest host: 253 bytes (a DNS name).
    public static let maximumHostBytes = 253

    /// Where one member listens.
    public struct Entry: Hashable, Sendable {
        /// The member.
        public var node: NodeID
        /// Its TCP endpoint (never a Unix socket).
        public var endpoint: TCPTransport.Endpoint
        /// Parameters as the properties of the same names.
        public init(node: NodeID, endpoint: TCPTransport.Endpoint) {
            self.node = node
            self.endpoint = endpoint
        }
    }

    /// Addresses, at most ``maximumEntries``.
    public var entries: [Entry]
    /// The nodes the sender has a link to now, at most ``maximumLinks``.
    public var links: [NodeID]

    /// - Parameters:
    ///   - entries: Required; at most ``maximumEntries`` (more are not encoded).
    ///   - links: Required; at most ``maximumLinks`` (more are not encoded).
    public init(entries: [Entry], links: [NodeID]) {
        self.entries = entries
        self.links = links
    }

    /// The canonical encoding (the first ``maximumEntries`` entries and ``maximumLinks`` links).
    public var encoded: [UInt8] {
        RLP.encode(.list([
            .list(entries.prefix(Self.maximumEntries).map {
                .list([.uint(UInt64($0.node.rawValue)), .string($0.endpoint.host), .uint(UInt64($0.endpoint.port))])
            }),
            .list(links.prefix(Self.maximumLinks).map { .uint(UInt64($0.rawValue)) }),
        ]))
    }

    /// Decodes ``encoded``.
    /// - Parameter bytes: Required. A peer's frame payload (untrusted).
    /// - Throws: `NetError` `.malformedPeerList` (3120) naming the field: not the RLP shape, too many entries or
    ///   links, a node ID above `UInt32.max`, a host that is empty, too long or has other characters, a port outside
    ///   1...65535. Never traps.
    public init(decoding bytes: [UInt8]) throws(NetError) {
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("peers", count: 2)
            let items = try f[0].list("peers.entries")
            let linkItems = try f[1].list("peers.links")
            guard items.count <= Self.maximumEntries else { throw Self.bad("peers.entries", "\(items.count) entries, at most \(Self.maximumEntries)") }
            guard linkItems.count <= Self.maximumLinks else { throw Self.bad("peers.links", "\(linkItems.count) links, at most \(Self.maximumLinks)") }
            var entries = [Entry]()
            entries.reserveCapacity(items.count)
            for item in items {
                let e = try item.list("peers.entry", count: 3)
                let node = try Self.node(e[0], "peers.entry.node")
                let host = try e[1].bytes("peers.entry.host")
                guard Self.isHost(host) else { throw Self.bad("peers.entry.host", "not a host name or address of 1...\(Self.maximumHostBytes) bytes") }
                let port = try e[2].uint64("peers.entry.port")
                guard (1...65_535).contains(port) else { throw Self.bad("peers.entry.port", "\(port), expected 1...65535") }
                entries.append(Entry(node: node, endpoint: .init(host: String(decoding: host, as: UTF8.self), port: Int(port))))
            }
            var links = [NodeID]()
            for item in linkItems { links.append(try Self.node(item, "peers.links")) }
            self.entries = entries
            self.links = links
        } catch {
            throw NetError(.malformedPeerList, "peer list: \(error.message)", details: error.details)
        }
    }

    private static func bad(_ field: String, _ message: String) -> LedgerError {
        LedgerError(.invalidFieldValue, "field '\(field)': \(message)", details: ["field": field])
    }

    static func node(_ item: RLP.Item, _ field: String) throws(LedgerError) -> NodeID {
        let n = try item.uint64(field)
        guard n <= UInt64(UInt32.max) else { throw bad(field, "\(n) is not a node ID") }
        return NodeID(UInt32(n))
    }

    /// Letters, digits and `.-:_%`, 1...253 bytes: a DNS name or an IP literal, nothing a shell or a URL would read
    /// differently.
    static func isHost(_ bytes: [UInt8]) -> Bool {
        guard (1...maximumHostBytes).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x2D || b == 0x3A || b == 0x5F || b == 0x25
        }
    }
}

/// A node message relayed between two nodes that have no link of their own (N-T-3): the origin hands it to a
/// peer that links with the destination, which forwards it. ``path`` starts with the origin and grows by each node
/// that forwards it; a node never forwards an envelope whose path holds itself (no loops), and only while
/// ``hopsLeft`` is above zero.
///
/// A relay sees the payload (TLS protects each link, not the whole way) and can drop, delay or repeat it, or
/// claim another origin; it cannot change what the origin signed: consensus messages carry the sender's signature,
/// which the receiving engine checks against the origin.
///
/// **Wire form**: the payload of a ``FrameKind/relay`` frame, RLP `[destination, hopsLeft, [path node, ...], payload]`.
///
/// ```swift
/// let envelope = RelayEnvelope(destination: 3, hopsLeft: 2, path: [0], payload: message)
/// ```
public struct RelayEnvelope: Hashable, Sendable {
    /// The most relays any envelope may cross, whatever a node is configured to: 4.
    public static let maximumHops = 4

    /// The node the payload is for.
    public var destination: NodeID
    /// How many more times it may be forwarded, 0...``maximumHops`` (the origin sets its configured
    /// ``TCPTransport/Configuration/maximumRelayHops``; each relay spends one).
    public var hopsLeft: Int
    /// The origin, then each node that forwarded it; 1...``maximumHops``+1 distinct nodes, without the destination.
    public var path: [NodeID]
    /// The node message.
    public var payload: [UInt8]

    /// The node that sent the payload: the first of ``path`` (nil only for an envelope built with an empty path,
    /// which never decodes).
    public var origin: NodeID? { path.first }

    /// - Parameters:
    ///   - destination: Required.
    ///   - hopsLeft: Required, 0...``maximumHops``.
    ///   - path: Required; the origin first.
    ///   - payload: Required.
    public init(destination: NodeID, hopsLeft: Int, path: [NodeID], payload: [UInt8]) {
        self.destination = destination
        self.hopsLeft = hopsLeft
        self.path = path
        self.payload = payload
    }

    /// The canonical encoding.
    public var encoded: [UInt8] {
        RLP.encode(.list([.uint(UInt64(destination.rawValue)), .uint(UInt64(max(0, hopsLeft))),
                          .list(path.map { .uint(UInt64($0.rawValue)) }), .bytes(payload)]))
    }

    /// Decodes ``encoded``.
    /// - Parameter bytes: Required. A peer's frame payload (untrusted).
    /// - Throws: `NetError` `.malformedRelayEnvelope` (3160) naming the field: not the RLP shape, a node ID above
    ///   `UInt32.max`, `hopsLeft` above ``maximumHops``, an empty or too long path, a node twice in it or the
    ///   destination in it. Never traps.
    public init(decoding bytes: [UInt8]) throws(NetError) {
        func bad(_ field: String, _ message: String) -> NetError {
            NetError(.malformedRelayEnvelope, "relay envelope field '\(field)': \(message)", details: ["field": field])
        }
        let destination: NodeID, hops: UInt64, path: [NodeID], payload: [UInt8]
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("relay", count: 4)
            destination = try PeerList.node(f[0], "relay.destination")
            hops = try f[1].uint64("relay.hopsLeft")
            var nodes = [NodeID]()
            let items = try f[2].list("relay.path")
            guard items.count <= Self.maximumHops + 1 else { throw LedgerError(.fieldCount, "path of \(items.count) nodes", details: ["field": "relay.path"]) }
            for item in items { nodes.append(try PeerList.node(item, "relay.path")) }
            path = nodes
            payload = try f[3].bytes("relay.payload")
        } catch {
            throw NetError(.malformedRelayEnvelope, "relay envelope: \(error.message)", details: error.details)
        }
        guard hops <= UInt64(Self.maximumHops) else { throw bad("hopsLeft", "\(hops), expected 0...\(Self.maximumHops)") }
        guard !path.isEmpty else { throw bad("path", "empty, expected the origin first") }
        guard Set(path).count == path.count else { throw bad("path", "a node appears twice (a loop)") }
        guard !path.contains(destination) else { throw bad("path", "holds the destination \(destination.rawValue)") }
        self.destination = destination
        hopsLeft = Int(hops)
        self.path = path
        self.payload = payload
    }
}
