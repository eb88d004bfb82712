import Foundation
import LedgerCore
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A node's transport over TCP sockets or Unix domain sockets (N-T-1, N-T-2), with SwiftNIO: one link per pair of member nodes, framed
/// with ``Frame`` (checksums, size limits), opened by a ``LinkHello`` exchange, kept alive by heartbeats and
/// re-established with back-off.
///
/// **Links.** Of two members, the one with the lower node ID dials the other (so a pair never holds two links);
/// both check the other's hello (protocol version, chain ID, genesis hash, membership, the node dialled) and refuse
/// a mismatch with a ``FrameKind/refusal`` frame and the reason logged. A link that stays silent for
/// ``Configuration/deadAfter`` is closed (a heartbeat goes out after every ``Configuration/heartbeatInterval``
/// without traffic); the dialling side then redials, waiting 50 ms doubling up to
/// ``Configuration/maximumReconnectDelay``, with ±25% jitter.
///
/// **Bad input.** A corrupt, truncated or oversized frame, a frame before the hello, or a frame naming another
/// sender closes the link at once (a byte stream cannot be resynchronised), with the `NetError` code logged; the
/// decoder never buffers more than one frame's declared size.
///
/// **Back-pressure.** Each link queues at most ``Configuration/outboundQueueBytes`` of unsent frames; what a slow
/// peer would push beyond that is dropped (delivery is best effort; the node's protocols resend) and counted in
/// `forgechain_transport_dropped_messages_total`.
///
/// **Peer exchange and relaying (N-T-3).** Linked nodes exchange ``PeerList`` frames (their own address, the
/// addresses they trust, their links), so a node given ``Configuration/seeds`` or a partial ``Configuration/peers``
/// finds the other ``Configuration/members``; a learned address is a hint, the hello and TLS still decide. A message
/// for a member without a link goes in a ``RelayEnvelope`` through a peer that links with it; it arrives as
/// ``TransportEvent/message(from:bytes:)`` from the origin the relays name, so trust its sender only as far as
/// its contents are signed (consensus messages are). Documentation/Network.md has the rules.
///
/// The node's identity is claimed in the hello, not proven: on a network it does not trust, run it over mutual
/// TLS (the network issue's TLS transport), not plain TCP.
///
/// ```swift
/// var configuration = TCPTransport.Configuration(node: 1, chainID: 53, genesisHash: genesis.headerHash)
/// configuration.peers = [0: .init(host: "10.0.0.10", port: 7400), 2: .init(host: "10.0.0.12", port: 7400)]
/// configuration.port = 7400
/// let transport = try await TCPTransport.start(configuration)
/// let node = try await Node<PBFTEngine>(configuration: nodeConfiguration, transport: transport, executors: executors)
/// ```
/// - Note: `Sendable`; every method may be called from any task.
public final class TCPTransport: Transport, Sendable {
    /// Where a node listens: a TCP host and port, or a Unix domain socket (nodes on one machine, N-T-2).
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        /// A host name or IP address; empty for a Unix socket.
        public var host: String
        /// The TCP port, 1...65535; 0 for a Unix socket.
        public var port: Int
        /// The Unix domain socket's path, or nil for TCP.
        public var path: String?
        /// A TCP endpoint.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
        /// A Unix domain socket endpoint (at most 107 bytes of path).
        public init(unixPath: String) {
            host = ""
            port = 0
            path = unixPath
        }
        public var description: String { path.map { "unix:\($0)" } ?? "\(host):\(port)" }
    }

    /// Mutual TLS for a transport's links (N-D-2, N-T-2): TLS 1.3, both sides presenting a certificate issued by
    /// the consortium's CA, and each peer's certificate naming the node its hello claims
    /// (``commonName(of:)``). A peer whose certificate comes from another CA, has expired or names another node
    /// is refused at the handshake, with the reason logged.
    public struct TLS: Sendable {
        /// The consortium CA's certificate: the only issuer trusted.
        public var authority: X509Certificate
        /// This node's certificate, issued by ``authority`` with the common name ``commonName(of:)``.
        public var certificate: X509Certificate
        /// The private key of ``certificate`` (P-256 recommended; kept in the node's keystore).
        public var key: PrivateKey

        /// Parameters as the properties of the same names.
        public init(authority: X509Certificate, certificate: X509Certificate, key: PrivateKey) {
            self.authority = authority
            self.certificate = certificate
            self.key = key
        }

        /// The common name of node `node`'s certificate: `forgechain-node-<id>`.
        public static func commonName(of node: NodeID) -> String { "forgechain-node-\(node.rawValue)" }

        /// The server and client contexts.
        package func contexts() throws(NetError) -> (server: NIOSSLContext, client: NIOSSLContext) {
            do {
                let chain = [NIOSSLCertificateSource.certificate(try NIOSSLCertificate(bytes: certificate.derRepresentation, format: .der))]
                let privateKey = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem))
                let roots = NIOSSLTrustRoots.certificates([try NIOSSLCertificate(bytes: authority.derRepresentation, format: .der)])
                var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: privateKey)
                var client = TLSConfiguration.makeClientConfiguration()
                client.certificateChain = chain
                client.privateKey = privateKey
                server.trustRoots = roots
                client.trustRoots = roots
                server.certificateVerification = .noHostnameVerification
                client.certificateVerification = .noHostnameVerification
                server.minimumTLSVersion = .tlsv13
                client.minimumTLSVersion = .tlsv13
                return (try NIOSSLContext(configuration: server), try NIOSSLContext(configuration: client))
            } catch {
                throw NetError(.invalidTransportConfiguration, "transport configuration field 'tls': \(error)", details: ["field": "tls"])
            }
        }
    }

    /// How a transport listens, whom it links with and its limits.
    public struct Configuration: Sendable {
        /// Required. This node's ID.
        public var node: NodeID
        /// Required. The chain's ID, checked in every hello.
        public var chainID: UInt64
        /// Required. The hash of the chain's genesis block, checked in every hello.
        public var genesisHash: Digest
        /// Optional, default `127.0.0.1`. The address to listen on.
        public var host = "127.0.0.1"
        /// Optional, default 0: a port the system chooses (read ``TCPTransport/port``). Range 0...65535.
        public var port = 0
        /// Optional, default nil. Listen on this Unix domain socket instead of ``host`` and ``port`` (a stale socket
        /// file there is replaced; the file is made mode 0600).
        public var unixPath: String?
        /// Optional, default none. Members and where they listen, as the operator configured them (never replaced by
        /// what peers say). This node dials the members with higher IDs; the others dial it.
        public var peers: [NodeID: Endpoint] = [:]
        /// Optional, default none. Further members whose addresses this node learns from its peers (N-T-3): links are
        /// made with the nodes of ``peers`` and ``members`` only, and learned addresses of other nodes are ignored.
        public var members: Set<NodeID> = []
        /// Optional, default none. Addresses to dial whatever node listens there (a node given one seed finds the
        /// others through it): dialled at start and again by the keeper while no link to the node found there is up.
        public var seeds: [Endpoint] = []
        /// Optional, default nil: ``host`` and the listening port, unless ``host`` is a wildcard (`0.0.0.0`, `::`)
        /// or the node listens on a Unix socket (then it advertises nothing). The TCP address this node tells its
        /// peers to reach it at.
        public var advertisedEndpoint: Endpoint?
        /// Optional, default 2; range 0...4 (``RelayEnvelope/maximumHops``). How many relays a message of this node may
        /// cross to reach a member it has no link to, and whether this node forwards others' messages (0: neither).
        public var maximumRelayHops = 2
        /// Optional, default 1,024; range 1...65,536. The most learned addresses kept (one per member).
        public var maximumLearnedAddresses = 1_024
        /// Optional, default frames up to 64 MiB plus framing. The largest frame accepted and sent.
        public var frames = FrameConfiguration(maxFrameBytes: (64 << 20) + Frame.overheadBytes(authenticated: false))
        /// Optional, default 1 s; range 10 ms...60 s. A heartbeat goes out after this long without sending.
        public var heartbeatInterval: Duration = .seconds(1)
        /// Optional, default 5 s; at least twice ``heartbeatInterval``. A link that receives nothing for this
        /// long is closed (a dead or hung peer).
        public var deadAfter: Duration = .seconds(5)
        /// Optional, default 5 s; range 50 ms...5 min. The longest wait between two dials of a peer.
        public var maximumReconnectDelay: Duration = .seconds(5)
        /// Optional, default 2 s. How long a dial may take.
        public var connectTimeout: Duration = .seconds(2)
        /// Optional, default 128 MiB; at least ``frames``' largest frame. Unsent bytes a link may queue before messages
        /// are dropped.
        public var outboundQueueBytes = 128 << 20
        /// Optional, default `Logger(label: "forgechain.transport")`. Links made, refused and lost, and bad frames,
        /// with the peer and the reason.
        public var logger = Logger(label: "forgechain.transport")
        /// Optional, default nil: the host's `MetricsSystem.factory`.
        public var metricsFactory: (any MetricsFactory)?
        /// Optional, default nil (plain TCP, for a network the operator trusts). Mutual TLS with the consortium's
        /// certificates.
        public var tls: TLS?

        /// The required parameters; see the properties for the others' defaults.
        public init(node: NodeID, chainID: UInt64, genesisHash: Digest) {
            self.node = node
            self.chainID = chainID
            self.genesisHash = genesisHash
        }

        func validate() throws(NetError) {
            func bad(_ field: String, _ message: String) -> NetError {
                NetError(.invalidTransportConfiguration, "transport configuration field '\(field)': \(message)", details: ["field": field])
            }
            guard (0...65_535).contains(port) else { throw bad("port", "\(port), expected 0...65535") }
            guard heartbeatInterval >= .milliseconds(10), heartbeatInterval <= .seconds(60) else {
                throw bad("heartbeatInterval", "\(heartbeatInterval), expected 10 ms...60 s")
            }
            guard deadAfter >= heartbeatInterval * 2 else { throw bad("deadAfter", "\(deadAfter), expected at least twice heartbeatInterval") }
            guard maximumReconnectDelay >= .milliseconds(50), maximumReconnectDelay <= .seconds(300) else {
                throw bad("maximumReconnectDelay", "\(maximumReconnectDelay), expected 50 ms...5 min")
            }
            guard outboundQueueBytes >= frames.maxFrameBytes else {
                throw bad("outboundQueueBytes", "\(outboundQueueBytes), expected at least maxFrameBytes \(frames.maxFrameBytes)")
            }
            for (id, endpoint) in peers where endpoint.path == nil && !(1...65_535).contains(endpoint.port) {
                throw bad("peers", "node \(id.rawValue)'s port \(endpoint.port), expected 1...65535")
            }
            for seed in seeds where seed.path == nil && !(1...65_535).contains(seed.port) {
                throw bad("seeds", "\(seed)'s port \(seed.port), expected 1...65535")
            }
            guard (0...RelayEnvelope.maximumHops).contains(maximumRelayHops) else {
                throw bad("maximumRelayHops", "\(maximumRelayHops), expected 0...\(RelayEnvelope.maximumHops)")
            }
            guard (1...65_536).contains(maximumLearnedAddresses) else {
                throw bad("maximumLearnedAddresses", "\(maximumLearnedAddresses), expected 1...65536")
            }
            try frames.validate()
        }
    }

    /// One established link.
    final class Link: Sendable {
        let peer: NodeID
        let channel: any Channel
        /// The certificate the peer presented (mutual TLS), for admission checks later on.
        let certificate: X509Certificate?
        /// Whether this node dialled it (of two links to one peer, both sides keep the one the lower ID dialled).
        let dialledHere: Bool
        let pending = Atomic<Int>(0)
        init(peer: NodeID, channel: any Channel, certificate: X509Certificate?, dialledHere: Bool) {
            self.peer = peer
            self.channel = channel
            self.certificate = certificate
            self.dialledHere = dialledHere
        }
    }

    /// Decides whether a node that passed the hello (and the TLS handshake) may link: a reason to refuse, or nil.
    public typealias Admission = @Sendable (_ node: NodeID, _ certificate: X509Certificate?) -> String?

    struct State: Sendable {
        var peers: [NodeID: Endpoint]
        var members: Set<NodeID>
        var learned: [NodeID: LearnedAddress] = [:]
        /// The node found at each seed that answered.
        var seedNodes: [Endpoint: NodeID] = [:]
        var seedsDialing: Set<Endpoint> = []
        /// The members each linked peer last said it links with.
        var routes: [NodeID: Set<NodeID>] = [:]
        var links: [NodeID: Link] = [:]
        var dialing: Set<NodeID> = []
        var attempts: [NodeID: Int] = [:]
        var closed = false
        var children: [ObjectIdentifier: any Channel] = [:]
        var reconnects: [NodeID: Task<Void, Never>] = [:]
        var keeper: Task<Void, Never>?
        var admission: Admission?
    }

    public let localNode: NodeID
    public let events: AsyncStream<TransportEvent>
    /// The port the transport listens on (the system's choice when ``Configuration/port`` was 0).
    public let port: Int
    let configuration: Configuration
    let state: Mutex<State>
    /// The committed head height said in each hello (``noteHead(height:)``).
    private let headHeight = Atomic<UInt64>(0)
    private let sentBytes = Atomic<UInt64>(0)
    private let receivedBytes = Atomic<UInt64>(0)
    let relayedFrames = Atomic<UInt64>(0)
    let throughRelayMessages = Atomic<UInt64>(0)
    let droppedMessages = Atomic<UInt64>(0)
    /// The address this node advertises (``Configuration/advertisedEndpoint`` or the one derived from where it listens).
    let advertised: Endpoint?

    /// What a transport has carried so far.
    public struct Traffic: Hashable, Sendable {
        /// Bytes of frames written to every link.
        public var sent: UInt64
        /// Bytes of frames read from every link.
        public var received: UInt64
        /// Envelopes this node forwarded for other nodes (N-T-3).
        public var relayed: UInt64
        /// This node's own messages that went out, or came in, inside an envelope through a relay.
        public var throughRelay: UInt64
        /// Messages dropped: a full link queue, or an envelope with no way on (no route, hop limit, refused).
        public var dropped: UInt64
    }

    /// What the transport has carried so far (the node's bandwidth, for load reports, and its relaying).
    public var traffic: Traffic {
        Traffic(sent: sentBytes.load(ordering: .relaxed), received: receivedBytes.load(ordering: .relaxed),
                relayed: relayedFrames.load(ordering: .relaxed), throughRelay: throughRelayMessages.load(ordering: .relaxed),
                dropped: droppedMessages.load(ordering: .relaxed))
    }

    func noteReceived(_ bytes: Int) { receivedBytes.wrappingAdd(UInt64(bytes), ordering: .relaxed) }
    private let continuation: AsyncStream<TransportEvent>.Continuation
    private let server: any Channel
    private let group: MultiThreadedEventLoopGroup
    let encoder: FrameEncoder
    /// The TLS contexts when ``Configuration/tls`` is set.
    private let tlsContexts: (server: NIOSSLContext, client: NIOSSLContext)?
    let dropped: Counter
    private let refusedLinks: Counter
    let relayedCounter: Counter

    private init(configuration: Configuration, server: any Channel, port: Int, group: MultiThreadedEventLoopGroup,
                 stream: (AsyncStream<TransportEvent>, AsyncStream<TransportEvent>.Continuation)) throws(NetError) {
        self.configuration = configuration
        localNode = configuration.node
        self.server = server
        self.port = port
        self.group = group
        (events, continuation) = stream
        state = Mutex(State(peers: configuration.peers, members: configuration.members))
        encoder = try FrameEncoder(configuration: configuration.frames)
        tlsContexts = try configuration.tls?.contexts()
        let factory = configuration.metricsFactory ?? MetricsSystem.factory
        dropped = Counter(label: "forgechain_transport_dropped_messages_total", dimensions: [("node", String(configuration.node.rawValue))], factory: factory)
        refusedLinks = Counter(label: "forgechain_transport_refused_links_total", dimensions: [("node", String(configuration.node.rawValue))], factory: factory)
        relayedCounter = Counter(label: "forgechain_transport_relayed_messages_total", dimensions: [("node", String(configuration.node.rawValue))], factory: factory)
        if let endpoint = configuration.advertisedEndpoint {
            advertised = endpoint
        } else if configuration.unixPath == nil, !["0.0.0.0", "::", "", "[::]"].contains(configuration.host) {
            advertised = Endpoint(host: configuration.host, port: port)
        } else {
            advertised = nil
        }
    }

    /// Listens, then dials the members with higher IDs; returns once listening (links come up in the background:
    /// watch ``events`` for ``TransportEvent/connected(_:)``).
    /// - Parameter configuration: Required. See ``Configuration``.
    /// - Throws: `NetError` `.invalidTransportConfiguration` (3055) naming the field, `.bindFailed` (3056) when the
    ///   address cannot be listened on (in use, not local).
    public static func start(_ configuration: Configuration) async throws(NetError) -> TCPTransport {
        try configuration.validate()
        let group = MultiThreadedEventLoopGroup.singleton
        let stream = AsyncStream<TransportEvent>.makeStream()
        // The server's child channels need the transport, which needs the bound server: a box closes the loop.
        let box = TransportBox()
        let server: any Channel
        do {
            let serverBootstrap = ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 256)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    guard let transport = box.transport else { return channel.close() }
                    return transport.initialize(channel, dialled: nil)
                }
            if let path = configuration.unixPath {
                if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
                let bootstrap = ServerBootstrap(group: group)
                    .childChannelInitializer { channel in
                        guard let transport = box.transport else { return channel.close() }
                        return transport.initialize(channel, dialled: nil)
                    }
                server = try await bootstrap.bind(unixDomainSocketPath: path).get()
                guard chmod(path, 0o600) == 0 else { throw NetError(.bindFailed, "cannot restrict \(path) to its owner") }
            } else {
                server = try await serverBootstrap.bind(host: configuration.host, port: configuration.port).get()
            }
        } catch {
            let place = configuration.unixPath.map { "unix:\($0)" } ?? "\(configuration.host):\(configuration.port)"
            throw NetError(.bindFailed, "cannot listen on \(place): \(error)",
                           details: ["host": configuration.host, "port": String(configuration.port), "path": configuration.unixPath ?? ""])
        }
        let transport = try TCPTransport(configuration: configuration, server: server, port: server.localAddress?.port ?? configuration.port,
                                         group: group, stream: stream)
        box.transport = transport
        configuration.logger.info("transport listening", metadata: ["node": "\(configuration.node.rawValue)", "port": "\(transport.port)"])
        transport.dialAll()
        transport.dialSeeds()
        transport.startKeeper()
        return transport
    }

    /// Replaces the members and their endpoints (a reloaded peer list): links to nodes no longer listed close,
    /// new members with higher IDs are dialled.
    /// - Parameter peers: Required. Every other member and its endpoint.
    public func updatePeers(_ peers: [NodeID: Endpoint]) {
        let gone = state.withLock { s -> [Link] in
            s.peers = peers
            let gone = s.links.values.filter { !s.isMember($0.peer) }
            for link in gone { s.links[link.peer] = nil }
            return gone
        }
        for link in gone {
            link.channel.close(promise: nil)
            continuation.yield(.disconnected(link.peer))
        }
        dialAll()
    }

    // MARK: Transport

    public func send(_ bytes: [UInt8], to node: NodeID) async throws(NetError) {
        guard node != localNode else { return }
        let (link, relay) = try state.withLock { (s) throws(NetError) -> (Link?, Link?) in
            guard !s.closed else { throw NetError(.transportClosed, "the transport is closed") }
            if let link = s.links[node] { return (link, nil) }
            if let relay = route(to: node, avoiding: [localNode], in: s) { return (nil, relay) }
            throw NetError(.peerUnreachable, "no link to node \(node.rawValue) and no peer that links with it",
                           details: ["node": String(node.rawValue)])
        }
        try checkSize(bytes)
        if let link {
            write(Frame(kind: .message, sender: localNode, payload: bytes), on: link)
        } else if let relay {
            sendThrough(relay, RelayEnvelope(destination: node, hopsLeft: configuration.maximumRelayHops, path: [localNode], payload: bytes))
        }
    }

    public func broadcast(_ bytes: [UInt8]) async throws(NetError) {
        let (links, relays) = try state.withLock { (s) throws(NetError) -> ([Link], [(NodeID, Link)]) in
            guard !s.closed else { throw NetError(.transportClosed, "the transport is closed") }
            // Members without a link get it through a peer that links with them.
            let relays = s.memberIDs.filter { s.links[$0] == nil }.sorted().compactMap { m in route(to: m, avoiding: [localNode], in: s).map { (m, $0) } }
            return (Array(s.links.values), relays)
        }
        try checkSize(bytes)
        let frame = Frame(kind: .message, sender: localNode, payload: bytes)
        for link in links { write(frame, on: link) }
        for (member, relay) in relays {
            sendThrough(relay, RelayEnvelope(destination: member, hopsLeft: configuration.maximumRelayHops, path: [localNode], payload: bytes))
        }
    }

    public func connectedPeers() async -> [NodeID] {
        state.withLock { $0.links.keys.sorted() }
    }

    /// Dials `node` now when this node is the one that dials it and no link is up; otherwise waits for it to dial.
    /// - Throws: `.transportClosed` (3051); `.peerUnreachable` (3050) when `node` is not a member.
    public func reconnect(to node: NodeID) async throws(NetError) {
        let (member, up) = try state.withLock { (s) throws(NetError) -> (Bool, Bool) in
            guard !s.closed else { throw NetError(.transportClosed, "the transport is closed") }
            return (s.isMember(node), s.links[node] != nil)
        }
        guard member else { throw NetError(.peerUnreachable, "node \(node.rawValue) is not a member", details: ["node": String(node.rawValue)]) }
        if !up, node > localNode { dial(node, after: .zero) }
    }

    public func close() async {
        let (links, children, reconnects) = state.withLock { s -> ([Link], [any Channel], [Task<Void, Never>]) in
            if s.closed { return ([], [], []) }
            s.closed = true
            defer {
                s.links = [:]
                s.children = [:]
                s.reconnects = [:]
                s.keeper = nil
            }
            return (Array(s.links.values), Array(s.children.values), Array(s.reconnects.values) + (s.keeper.map { [$0] } ?? []))
        }
        for task in reconnects { task.cancel() }
        try? await server.close()
        if let path = configuration.unixPath { try? FileManager.default.removeItem(atPath: path) }
        for channel in children + links.map(\.channel) { try? await channel.close() }
        continuation.finish()
    }

    // MARK: Links

    private func checkSize(_ bytes: [UInt8]) throws(NetError) {
        let limit = configuration.frames.maxPayloadBytes(authenticated: false)
        guard bytes.count <= limit else {
            throw NetError(.messageTooLarge, "message of \(bytes.count) bytes exceeds \(limit)", details: ["size": String(bytes.count)])
        }
    }

    /// Writes a frame unless the link's queue is full (then it is dropped and counted).
    func write(_ frame: Frame, on link: Link) {
        let bytes: [UInt8]
        do { bytes = try encoder.encode(frame) } catch {
            configuration.logger.error("frame not encoded", metadata: ["peer": "\(link.peer.rawValue)", "code": "\(error.code.rawValue)"])
            return
        }
        let size = bytes.count
        if link.pending.wrappingAdd(size, ordering: .relaxed).newValue > configuration.outboundQueueBytes {
            link.pending.wrappingSubtract(size, ordering: .relaxed)
            dropped.increment()
            droppedMessages.wrappingAdd(1, ordering: .relaxed)
            configuration.logger.debug("message dropped: the peer's queue is full", metadata: ["peer": "\(link.peer.rawValue)", "bytes": "\(size)"])
            return
        }
        var buffer = link.channel.allocator.buffer(capacity: size)
        buffer.writeBytes(bytes)
        sentBytes.wrappingAdd(UInt64(size), ordering: .relaxed)
        link.channel.writeAndFlush(buffer).whenComplete { _ in link.pending.wrappingSubtract(size, ordering: .relaxed) }
    }

    /// The hello this node sends.
    var hello: LinkHello {
        LinkHello(chainID: configuration.chainID, genesisHash: configuration.genesisHash, node: localNode,
                  headHeight: headHeight.load(ordering: .relaxed))
    }

    /// Sets the check every peer passes after its hello (N-D-1): the node asks its chain whether the peer is
    /// registered and not suspended or revoked. Links up already are checked again every
    /// ``Configuration/maximumReconnectDelay`` and closed when refused.
    /// - Parameter admission: Required. A reason to refuse, or nil to admit.
    public func setAdmission(_ admission: @escaping Admission) {
        state.withLock { $0.admission = admission }
    }

    /// Why `node` may not link now (the admission check), or nil.
    func admissionRefusal(_ node: NodeID, certificate: X509Certificate?) -> String? {
        state.withLock { $0.admission }?(node, certificate)
    }

    /// Records the node's committed head height, said in the hellos of links made from now on.
    /// - Parameter height: Required. The committed head's height.
    public func noteHead(height: UInt64) {
        headHeight.store(height, ordering: .relaxed)
    }

    /// Why a hello from `other` is refused on a link dialled to `dialled` (nil for an accepted link), or nil.
    func refusal(of other: LinkHello, dialled: NodeID?) -> String? {
        if let reason = hello.refusal(of: other) { return reason }
        if let dialled, other.node != dialled { return "node \(other.node.rawValue) answered at node \(dialled.rawValue)'s endpoint" }
        let member = state.withLock { $0.isMember(other.node) }
        return member ? nil : "node \(other.node.rawValue) is not a member of this node's peer list"
    }

    /// Registers an established link (replacing an older one to the same node) and reports it.
    func linkUp(_ peer: NodeID, channel: any Channel, peerHeight: UInt64, certificate: X509Certificate?, dialledHere: Bool, seed: Endpoint?) -> Link? {
        let link = Link(peer: peer, channel: channel, certificate: certificate, dialledHere: dialledHere)
        // Of two links to one peer, both sides keep the one the lower ID dialled (a seed dial by the higher ID and the
        // lower ID's own dial may cross); between two such links, the newer (the peer restarted).
        let preferred = dialledHere == (localNode < peer)
        let old = state.withLock { s -> Link?? in
            if s.closed { return .none }
            let old = s.links[peer]
            if let old, old.dialledHere == (localNode < peer), !preferred, old.channel.isActive { return .none }
            s.links[peer] = link
            s.attempts[peer] = 0
            if let seed {
                s.seedNodes[seed] = peer
                // The seed proved to reach this node: the address to dial it at again, unless configured.
                if s.peers[peer] == nil, s.learned[peer]?.rank != .proven {
                    s.learned[peer] = LearnedAddress(endpoint: seed, rank: .proven)
                }
            }
            return .some(old)
        }
        guard case .some(let replaced) = old else {
            channel.close(promise: nil)
            return nil
        }
        if let replaced { replaced.channel.close(promise: nil) }
        configuration.logger.info("link up", metadata: ["node": "\(localNode.rawValue)", "peer": "\(peer.rawValue)", "peerHeight": "\(peerHeight)"])
        if replaced == nil { continuation.yield(.connected(peer)) }
        return link
    }

    /// Deregisters a closed channel: reports the link down when it was the registered one, and redials a peer this
    /// node dials.
    func channelClosed(_ channel: any Channel, peer: NodeID?, dialled: NodeID?) {
        let (wasLink, closed) = state.withLock { s -> (Bool, Bool) in
            s.children[ObjectIdentifier(channel)] = nil
            // A dial that never became a link (refused, or another node answered) counts against a learned address.
            if peer == nil, let dialled, s.peers[dialled] == nil { s.learned[dialled]?.failures += 1 }
            guard let peer, let link = s.links[peer], link.channel === channel else { return (false, s.closed) }
            s.links[peer] = nil
            s.routes[peer] = nil
            return (true, s.closed)
        }
        if wasLink, let peer {
            configuration.logger.info("link down", metadata: ["node": "\(localNode.rawValue)", "peer": "\(peer.rawValue)"])
            continuation.yield(.disconnected(peer))
            if !closed { advertise() }
        }
        if !closed, let target = dialled ?? (peer.flatMap { $0 > localNode ? $0 : nil }) { dial(target, after: nil) }
    }

    func deliver(_ bytes: [UInt8], from peer: NodeID) {
        continuation.yield(.message(from: peer, bytes: bytes))
    }

    func refused(peer: String, reason: String, code: UInt32? = nil) {
        refusedLinks.increment()
        var metadata: Logger.Metadata = ["node": "\(localNode.rawValue)", "peer": "\(peer)", "reason": "\(reason)"]
        if let code { metadata["code"] = "\(code)" }
        configuration.logger.warning("link refused", metadata: metadata)
    }

    /// Every ``Configuration/maximumReconnectDelay``, dials the members this node dials that have neither a link nor a
    /// dial under way: whatever race ended a redial chain, the link comes back.
    private func startKeeper() {
        let interval = configuration.maximumReconnectDelay
        let task = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                guard let self else { return }
                self.recheckLinks()
                self.dialAll()
                self.dialSeeds()
                self.advertise()
            }
        }
        let stop = state.withLock { s -> Bool in
            if s.closed { return true }
            s.keeper = task
            return false
        }
        if stop { task.cancel() }
    }

    /// Closes the links whose peers the admission check now refuses (a node suspended or revoked on chain).
    private func recheckLinks() {
        let (links, admission) = state.withLock { (Array($0.links.values), $0.admission) }
        guard let admission else { return }
        for link in links {
            if let reason = admission(link.peer, link.certificate) {
                refused(peer: String(link.peer.rawValue), reason: "open link closed: " + reason)
                link.channel.close(promise: nil)
            }
        }
    }

    /// Dials every member with a higher ID that has no link.
    func dialAll() {
        let targets = state.withLock { s in
            s.memberIDs.filter { $0 > localNode && s.links[$0] == nil && !s.dialing.contains($0) && s.address(of: $0) != nil }
        }
        for target in targets.sorted() { dial(target, after: .zero) }
    }

    /// Dials `peer` after `delay` (nil: the back-off for its failed attempts so far, with jitter).
    private func dial(_ peer: NodeID, after delay: Duration?) {
        let wait: Duration? = state.withLock { s in
            guard !s.closed, s.links[peer] == nil, s.address(of: peer) != nil, !s.dialing.contains(peer) else { return nil }
            s.dialing.insert(peer)
            let attempt = s.attempts[peer, default: 0]
            s.attempts[peer] = attempt + 1
            if let delay { return delay }
            let base = min(configuration.maximumReconnectDelay, .milliseconds(50) * (1 << min(attempt, 12)))
            return base * Double.random(in: 0.75...1.25)
        }
        guard let wait else { return }
        let task = Task { [weak self] in
            if wait > .zero {
                do { try await Task.sleep(for: wait) } catch {
                    self?.state.withLock { _ = $0.dialing.remove(peer) }
                    return
                }
            }
            await self?.connect(peer)
        }
        state.withLock { s in if !s.closed { s.reconnects[peer] = task } }
    }

    private func connect(_ peer: NodeID) async {
        guard let endpoint = state.withLock({ $0.closed ? nil : $0.address(of: peer) }) else {
            state.withLock { _ = $0.dialing.remove(peer) }
            return
        }
        do {
            var bootstrap = ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelInitializer { [self] channel in initialize(channel, dialled: peer) }
            if endpoint.path == nil { bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1) }
            let channel = try await (endpoint.path.map { bootstrap.connect(unixDomainSocketPath: $0) }
                ?? bootstrap.connect(host: endpoint.host, port: endpoint.port)).get()
            // A link refused or dropped before this point found the peer still marked as being dialled and did not
            // redial: do it now.
            let again = state.withLock { s -> Bool in
                s.dialing.remove(peer)
                return !channel.isActive && s.links[peer] == nil && !s.closed
            }
            if again { dial(peer, after: nil) }
        } catch {
            state.withLock { s in
                s.dialing.remove(peer)
                // A learned address that keeps failing may give way to another peer's hint.
                if s.peers[peer] == nil, s.learned[peer]?.endpoint == endpoint { s.learned[peer]?.failures += 1 }
            }
            configuration.logger.debug("dial failed", metadata: ["peer": "\(peer.rawValue)", "endpoint": "\(endpoint)", "error": "\(error)"])
            dial(peer, after: nil)
        }
    }

    /// Sets up a new channel's pipeline: frame decoding, idle detection and the link's handshake.
    func initialize(_ channel: any Channel, dialled: NodeID?, seed: Endpoint? = nil) -> EventLoopFuture<Void> {
        let tracked = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            if dialled == nil { s.children[ObjectIdentifier(channel)] = channel }
            return true
        }
        guard tracked else { return channel.close() }
        return channel.eventLoop.makeCompletedFuture {
            let decoder = try FrameDecoder(configuration: configuration.frames)
            if let tlsContexts {
                if dialled == nil && seed == nil {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContexts.server))
                } else {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tlsContexts.client, serverHostname: nil))
                }
            }
            try channel.pipeline.syncOperations.addHandlers([
                IdleStateHandler(readTimeout: TimeAmount(configuration.deadAfter), writeTimeout: TimeAmount(configuration.heartbeatInterval)),
                FrameReader(decoder: decoder),
                LinkHandler(transport: self, dialled: dialled, seed: seed),
            ])
        }
    }
}

/// Holds the transport for the server's child initializer, set once after the server is bound.
private final class TransportBox: Sendable {
    private let value = Mutex<TCPTransport?>(nil)
    var transport: TCPTransport? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// Turns the byte stream into frames; closes the channel on the first bad frame.
final class FrameReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Frame
    private var decoder: FrameDecoder

    init(decoder: FrameDecoder) { self.decoder = decoder }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        decoder.append(buffer.readableBytesView)
        do {
            while let frame = try decoder.next() { context.fireChannelRead(wrapInboundOut(frame)) }
        } catch {
            context.fireErrorCaught(error)
        }
    }
}

/// The link's handshake and traffic, on the channel's event loop.
final class LinkHandler: ChannelInboundHandler {
    typealias InboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private let transport: TCPTransport
    /// The node this side dialled; nil on an accepted link.
    private let dialled: NodeID?
    /// The seed this side dialled (whoever answers there); nil otherwise.
    private let seed: TCPTransport.Endpoint?
    private var dialler: Bool { dialled != nil || seed != nil }
    private var peer: NodeID?
    private var link: TCPTransport.Link?
    /// On an accepted link: the dialler's hello (and certificate) once this side has answered it.
    private var answered: (LinkHello, X509Certificate?)?
    private var closing = false

    init(transport: TCPTransport, dialled: NodeID?, seed: TCPTransport.Endpoint?) {
        self.transport = transport
        self.dialled = dialled
        self.seed = seed
    }

    private var peerName: String { peer.map { String($0.rawValue) } ?? dialled.map { String($0.rawValue) } ?? "unknown" }

    func channelActive(context: ChannelHandlerContext) {
        if dialler {
            var hello = transport.hello
            hello.dialled = dialled
            send(Frame(kind: .hello, sender: transport.localNode, payload: hello.encoded), context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard !closing else { return }
        transport.noteReceived(frame.payload.count + Frame.overheadBytes(authenticated: false))
        if link == nil, let (hello, certificate) = answered {
            // The dialler's first frame after both hellos: it holds the link now, so this side takes it up too (a
            // message sent on this side's `connected` event then never finds the dialler without the link).
            answered = nil
            guard frame.sender == hello.node else {
                return refuse("a frame from node \(frame.sender.rawValue) on node \(hello.node.rawValue)'s link", context: context, notify: false)
            }
            if frame.kind == .refusal {
                transport.refused(peer: peerName, reason: "the peer refused the link: " + String(decoding: frame.payload, as: UTF8.self))
                return close(context)
            }
            link = transport.linkUp(hello.node, channel: context.channel, peerHeight: hello.headHeight, certificate: certificate,
                                    dialledHere: false, seed: nil)
            guard link != nil else { return close(context) }
            transport.advertise()
        }
        guard let link else { return handshake(frame, context: context) }
        guard frame.sender == link.peer else {
            return refuse("a frame from node \(frame.sender.rawValue) on node \(link.peer.rawValue)'s link", context: context, notify: false)
        }
        switch frame.kind {
        case .message: transport.deliver(frame.payload, from: link.peer)
        case .heartbeat: break
        case .peers: transport.receivePeerList(frame.payload, from: link.peer)
        case .relay: transport.receiveRelay(frame.payload, from: link.peer)
        case .refusal:
            transport.refused(peer: peerName, reason: "the peer closed the link: " + String(decoding: frame.payload, as: UTF8.self))
            close(context)
        default: refuse("unexpected \(frame.kind) on an open link", context: context, notify: true)
        }
    }

    private func handshake(_ frame: Frame, context: ChannelHandlerContext) {
        switch frame.kind {
        case .hello:
            let hello: LinkHello
            do { hello = try LinkHello(decoding: frame.payload) } catch {
                return refuse("malformed hello: \(error.message)", context: context, notify: true, code: error.code.rawValue)
            }
            guard frame.sender == hello.node else { return refuse("hello from node \(hello.node.rawValue) in a frame of node \(frame.sender.rawValue)", context: context, notify: true) }
            if let reason = transport.refusal(of: hello, dialled: dialled) { return refuse(reason, context: context, notify: true) }
            var certificate: X509Certificate?
            if transport.configuration.tls != nil {
                switch peerCertificate(for: hello.node, context: context) {
                case .success(let c): certificate = c
                case .failure(let reason): return refuse(reason.text, context: context, notify: true)
                }
            }
            if let reason = transport.admissionRefusal(hello.node, certificate: certificate) { return refuse(reason, context: context, notify: true) }
            peer = hello.node
            if !dialler {
                // Answer, and take the link up at the dialler's first frame after it (see `channelRead`).
                send(Frame(kind: .hello, sender: transport.localNode, payload: transport.hello.encoded), context: context)
                answered = (hello, certificate)
                return
            }
            link = transport.linkUp(hello.node, channel: context.channel, peerHeight: hello.headHeight, certificate: certificate,
                                    dialledHere: dialler, seed: seed)
            if link == nil { close(context) } else { transport.advertise() }
        case .refusal:
            transport.refused(peer: peerName, reason: "the peer refused the link: " + String(decoding: frame.payload, as: UTF8.self))
            close(context)
        default:
            refuse("\(frame.kind) before the hello", context: context, notify: true)
        }
    }

    struct Reason: Error { var text: String }

    /// The TLS peer's certificate when it speaks for `node` (the chain and validity were checked during the TLS
    /// handshake), or why it does not.
    private func peerCertificate(for node: NodeID, context: ChannelHandlerContext) -> Result<X509Certificate, Reason> {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self), let presented = tls.peerCertificate else {
            return .failure(Reason(text: "the peer presented no certificate"))
        }
        let certificate: X509Certificate
        do { certificate = try X509Certificate(derRepresentation: try presented.toDERBytes()) } catch {
            return .failure(Reason(text: "the peer's certificate does not parse: \(error)"))
        }
        let expected = TCPTransport.TLS.commonName(of: node)
        guard certificate.commonName == expected else {
            return .failure(Reason(text: "the peer's certificate names '\(certificate.commonName)', its hello node \(node.rawValue) ('\(expected)')"))
        }
        return .success(certificate)
    }

    private func send(_ frame: Frame, context: ChannelHandlerContext) {
        let bytes: [UInt8]
        do { bytes = try transport.encoder.encode(frame) } catch {
            // Hello, refusal and heartbeat frames are far below any frame limit.
            return refuse("\(frame.kind) not encoded: \(error.message)", context: context, notify: false, code: error.code.rawValue)
        }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Logs the refusal, tells the peer why when `notify`, and closes the link.
    private func refuse(_ reason: String, context: ChannelHandlerContext, notify: Bool, code: UInt32? = nil) {
        transport.refused(peer: peerName, reason: reason, code: code)
        if notify { send(Frame(kind: .refusal, sender: transport.localNode, payload: Array(reason.utf8)), context: context) }
        close(context)
    }

    private func close(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent {
            switch idle {
            case .write:
                if link != nil { send(Frame(kind: .heartbeat, sender: transport.localNode, payload: []), context: context) }
            case .read:
                transport.refused(peer: peerName, reason: "nothing received for \(transport.configuration.deadAfter); the peer is presumed dead")
                close(context)
            default: break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let code = (error as? NetError)?.code.rawValue
        transport.refused(peer: peerName, reason: "link closed on an error: \((error as? NetError)?.message ?? "\(error)")", code: code)
        close(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        transport.channelClosed(context.channel, peer: peer, dialled: dialled)
        context.fireChannelInactive()
    }
}
