import LedgerCore

/// The frame kinds of a socket link between two nodes (``TCPTransport``).
extension FrameKind {
    /// ``LinkHello``: the first frame each side sends.
    public static let hello: FrameKind = 1
    /// A node message: opaque bytes for the node above the transport.
    public static let message: FrameKind = 2
    /// Why a link is refused (UTF-8 text), sent before the refusing side closes it.
    public static let refusal: FrameKind = 3
    /// Sent when a link has been idle for the heartbeat interval; carries nothing.
    public static let heartbeat: FrameKind = 4
}

/// What two nodes tell each other first on a new link (N-T-1): the protocol version, the chain (its ID and
/// genesis hash), who they are and how far their chain reaches. A link whose hello does not match (another
/// protocol version, chain or genesis; a node that is not a member; a node claiming to be the local one) is
/// refused with the reason logged on both sides.
///
/// **Wire form**: the payload of a ``FrameKind/hello`` frame, RLP `[version, chainID, genesisHash, node, headHeight]`,
/// followed on a link the sender dialled to a known node by that node's ID (`dialled`), so that a node reached at an
/// address another node gave for someone else refuses at once instead of taking the link over.
///
/// ```swift
/// let hello = LinkHello(chainID: 53, genesisHash: genesis.headerHash, node: 2, headHeight: 1_204)
/// ```
public struct LinkHello: Hashable, Sendable {
    /// The protocol version this build speaks: 1.
    public static let currentVersion: UInt64 = 1

    /// The sender's protocol version.
    public var version: UInt64
    /// The chain's ID.
    public var chainID: UInt64
    /// The hash of the chain's genesis block.
    public var genesisHash: Digest
    /// The sender's node ID.
    public var node: NodeID
    /// The sender's committed head height when it said hello.
    public var headHeight: UInt64
    /// The node the sender meant to reach, when it dialled a known node (nil when it accepted the link or dialled a
    /// seed): a receiver that is another node refuses.
    public var dialled: NodeID?

    /// Parameters as the properties of the same names; `version` defaults to ``currentVersion``, `dialled` to nil.
    public init(version: UInt64 = LinkHello.currentVersion, chainID: UInt64, genesisHash: Digest, node: NodeID, headHeight: UInt64,
                dialled: NodeID? = nil) {
        self.version = version
        self.chainID = chainID
        self.genesisHash = genesisHash
        self.node = node
        self.headHeight = headHeight
        self.dialled = dialled
    }

    /// The canonical encoding.
    public var encoded: [UInt8] {
        var fields: [RLP.Item] = [.uint(version), .uint(chainID), .digest(genesisHash), .uint(UInt64(node.rawValue)), .uint(headHeight)]
        if let dialled { fields.append(.uint(UInt64(dialled.rawValue))) }
        return RLP.encode(.list(fields))
    }

    /// Decodes ``encoded``.
    /// - Throws: `NetError` `.malformedFrame` (3007) naming the field; never traps.
    public init(decoding bytes: [UInt8]) throws(NetError) {
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("hello")
            guard f.count == 5 || f.count == 6 else {
                throw LedgerError(.fieldCount, "field 'hello': expected 5 or 6 elements, found \(f.count)", details: ["field": "hello"])
            }
            version = try f[0].uint64("hello.version")
            chainID = try f[1].uint64("hello.chainID")
            genesisHash = try f[2].digest("hello.genesisHash")
            let node = try f[3].uint64("hello.node")
            guard node <= UInt64(UInt32.max) else {
                throw LedgerError(.invalidFieldValue, "field 'hello.node': \(node) is not a node ID", details: ["field": "hello.node"])
            }
            self.node = NodeID(UInt32(node))
            headHeight = try f[4].uint64("hello.headHeight")
            if f.count == 6 {
                let dialled = try f[5].uint64("hello.dialled")
                guard dialled <= UInt64(UInt32.max) else {
                    throw LedgerError(.invalidFieldValue, "field 'hello.dialled': \(dialled) is not a node ID", details: ["field": "hello.dialled"])
                }
                self.dialled = NodeID(UInt32(dialled))
            } else {
                dialled = nil
            }
        } catch {
            throw NetError(.malformedFrame, "hello: \(error.message)", details: error.details)
        }
    }

    /// Why `other` may not link with a node whose own hello is `self`, or nil when it may.
    func refusal(of other: LinkHello) -> String? {
        if other.version != version { return "protocol version \(other.version), expected \(version)" }
        if other.chainID != chainID { return "chain \(other.chainID), expected \(chainID)" }
        if other.genesisHash != genesisHash { return "genesis \(other.genesisHash.hex.prefix(16)), expected \(genesisHash.hex.prefix(16))" }
        if other.node == node { return "node \(other.node.rawValue) is this node" }
        if let dialled = other.dialled, dialled != node { return "node \(node.rawValue) answered at node \(dialled.rawValue)'s endpoint" }
        return nil
    }
}
