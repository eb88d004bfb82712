import LedgerCore

/// Something that happened on a transport.
public enum TransportEvent: Hashable, Sendable {
    /// Bytes arrived from `from` (the transport authenticates the channel as that node's).
    case message(from: NodeID, bytes: [UInt8])
    /// A link to `node` came up (or back up).
    case connected(NodeID)
    /// A link to `node` went down (crash, close, cut, partition).
    case disconnected(NodeID)
}

/// How a node talks to its peers: send bytes to a node, broadcast, and an
/// `AsyncStream` of incoming messages and link events. The Net module
/// declares it; the in-memory transport (``InMemoryNetwork``) is here, TCP and
/// TLS (SwiftNIO) come later. Messages are opaque bytes: the node frames its
/// own messages.
///
/// Delivery is best effort: a message may be lost, delayed, duplicated or
/// reordered (the node's protocols tolerate all of these). Per link, messages
/// sent without faults arrive in order.
///
/// ```swift
/// let transport = try network.attach(3)
/// try await transport.send(bytes, to: 1)
/// for await event in transport.events { ... }
/// ```
/// - Note: `Sendable`; every method may be called concurrently.
public protocol Transport: Sendable {
    /// This node.
    var localNode: NodeID { get }
    /// Incoming messages and link events, in arrival order. One consumer;
    /// it finishes when the transport is closed.
    var events: AsyncStream<TransportEvent> { get }
    /// Sends `bytes` to `node`.
    /// - Parameters:
    ///   - bytes: Required. At most the transport's message size limit.
    ///   - node: Required. A peer (sending to ``localNode`` is a no-op).
    /// - Throws: `NetError` `.peerUnreachable` (3050) when the peer is not attached,
    ///   `.transportClosed` (3051), `.messageTooLarge` (3054). A message lost to a
    ///   link fault is not an error (delivery is best effort).
    func send(_ bytes: [UInt8], to node: NodeID) async throws(NetError)
    /// Sends `bytes` to every attached peer; unreachable peers are skipped.
    /// - Throws: `NetError` `.messageTooLarge` (3054) when `bytes` exceed the transport's limit (no peer gets them),
    ///   `.transportClosed` (3051). An unreachable peer or a message lost to a link fault is not an error.
    func broadcast(_ bytes: [UInt8]) async throws(NetError)
    /// The peers this transport currently has a working link to, ascending.
    func connectedPeers() async -> [NodeID]
    /// Tries to re-establish the link to `node` (a no-op when it is up).
    /// - Throws: `.peerUnreachable` (3050) when the peer cannot be reached, `.transportClosed` (3051).
    func reconnect(to node: NodeID) async throws(NetError)
    /// Closes the transport: peers see ``TransportEvent/disconnected(_:)`` and ``events`` finishes. Idempotent.
    func close() async
}
