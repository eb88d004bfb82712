import LedgerCrypto
import LedgerModel

/// A signed PBFT message (Castro–Liskov): the sender, what it says, and the
/// sender's signature over ``signingPayload(chainID:)``.
///
/// Every message is signed by its sender's validator key and verified on
/// receipt; a message whose signature does not verify is dropped and counted
/// (``PBFTEngine/invalidSignatureCount``). A COMMIT's signature is over
/// `CommitCertificate.signingPayload(kind:chainID:height:round:blockHash:)`
/// with kind `.pbft` and the view as the round, so `2f + 1` COMMITs are the
/// block's `CommitCertificate` as they are.
///
/// Canonical encoding: RLP `[kind, sender, [fields…], [scheme, signature]]`.
///
/// ```swift
/// let m = PBFTMessage.make(.prepare(view: 0, height: 5, blockHash: h), sender: 1, key: key, chainID: 7)
/// let same = try PBFTMessage(decoding: m.encoded)
/// ```
/// A value type; safe to share across threads.
public struct PBFTMessage: ConsensusMessage {
    /// What a PBFT message says.
    public enum Body: Hashable, Sendable {
        /// The primary of `view` assigns `block` (hash `blockHash`) to sequence number `height`.
        /// `block` is nil only inside persisted or nested copies whose block is known by hash.
        case prePrepare(view: Round, height: Height, blockHash: Digest, block: Block?)
        /// A backup accepted the pre-prepare of `(view, height, blockHash)`.
        case prepare(view: Round, height: Height, blockHash: Digest)
        /// The sender is prepared for `(view, height, blockHash)`; signed over the commit-certificate payload.
        case commit(view: Round, height: Height, blockHash: Digest)
        /// The sender's chain holds `blockHash` at checkpoint `height`.
        case checkpoint(height: Height, blockHash: Digest)
        /// The sender moves to a new view, with its stable checkpoint proof and prepared certificates.
        case viewChange(PBFTViewChange)
        /// The new primary's proof (2f+1 VIEW-CHANGEs) and its re-proposals (the O-set).
        case newView(PBFTNewView)
        /// "I am in `view` (or changing to it): send me your latest NEW-VIEW if it is at least that."
        /// A node that missed a view change rejoins with the answer; committed blocks come through
        /// the host's catch-up (``ConsensusEffects/catchUp``), not through the engine.
        case viewQuery(view: Round)
        /// The sender's latest installed NEW-VIEW (it authenticates itself: the new primary's
        /// pre-prepares and `2f + 1` signed VIEW-CHANGEs).
        case viewAnswer(PBFTNewView)
    }

    /// The signer. Required; must be in the validator set.
    public var sender: NodeID
    /// What the message says.
    public var body: Body
    /// The sender's signature over ``signingPayload(chainID:)``.
    public var signature: Signature

    /// Wraps parts as they are (no signing, no checks); use ``make(_:sender:key:chainID:)`` to sign.
    public init(sender: NodeID, body: Body, signature: Signature) {
        self.sender = sender
        self.body = body
        self.signature = signature
    }

    /// Builds and signs a message.
    /// - Parameters:
    ///   - body: Required. What to say.
    ///   - sender: Required. The signer's node ID.
    ///   - key: Required. The signer's validator key.
    ///   - chainID: Required. The chain the message is for (part of every signed payload).
    /// - Returns: The signed message. Never throws: a backend signing fault gives a signature that will not verify.
    public static func make(_ body: Body, sender: NodeID, key: PrivateKey, chainID: UInt64) -> PBFTMessage {
        var m = PBFTMessage(sender: sender, body: body, signature: Signature(uncheckedScheme: key.scheme, raw: []))
        m.signature = ConsensusSigning.sign(m.signingPayload(chainID: chainID), with: key)
        return m
    }

    /// The domain tag of every non-COMMIT payload.
    public static let domain = "forgechain/pbft/v1"

    /// The numeric kind of ``body`` used on the wire.
    public var kind: UInt8 {
        switch body {
        case .prePrepare: 1
        case .prepare: 2
        case .commit: 3
        case .checkpoint: 4
        case .viewChange: 5
        case .newView: 6
        case .viewQuery: 7
        case .viewAnswer: 8
        }
    }

    /// The bytes the signature covers: for a COMMIT the commit-certificate
    /// payload; otherwise RLP `[domain, kind, chainID, sender, [fields…]]`
    /// where a block is represented by its hash and nested messages by their
    /// full encodings.
    public func signingPayload(chainID: UInt64) -> [UInt8] {
        if case .commit(let view, let height, let hash) = body {
            return CommitCertificate.signingPayload(kind: .pbft, chainID: chainID, height: height, round: view, blockHash: hash)
        }
        return RLP.encode(.list([.string(Self.domain), .uint(UInt64(kind)), .uint(chainID), .uint(UInt64(sender.rawValue)),
                                 .list(fields(includingBlocks: false))]))
    }

    /// Whether the signature verifies under `sender`'s key in `validators`.
    public func isValidlySigned(chainID: UInt64, validators: ValidatorSet) -> Bool {
        ConsensusSigning.verify(signature, by: sender, over: signingPayload(chainID: chainID), in: validators)
    }

    /// As ``isValidlySigned(chainID:validators:)``, remembering verified signatures in `cache`.
    func isValidlySigned(chainID: UInt64, validators: ValidatorSet, cache: VerifiedSignatureCache) -> Bool {
        ConsensusSigning.verify(signature, by: sender, over: signingPayload(chainID: chainID), in: validators, cache: cache)
    }

    private func fields(includingBlocks: Bool) -> [RLP.Item] {
        switch body {
        case .prePrepare(let v, let h, let d, let block):
            return [.uint(v.rawValue), .uint(h.rawValue), .digest(d)] + (includingBlocks ? [.bytes(block?.encoded ?? [])] : [])
        case .prepare(let v, let h, let d), .commit(let v, let h, let d):
            return [.uint(v.rawValue), .uint(h.rawValue), .digest(d)]
        case .checkpoint(let h, let d):
            return [.uint(h.rawValue), .digest(d)]
        case .viewChange(let vc):
            return vc.items
        case .newView(let nv):
            return nv.items
        case .viewQuery(let v):
            return [.uint(v.rawValue)]
        case .viewAnswer(let nv):
            // The NEW-VIEW authenticates itself (nested signatures): the signature covers its view only.
            return includingBlocks ? [.list(nv.items)] : [.uint(nv.view.rawValue)]
        }
    }

    /// The canonical RLP item.
    public var item: RLP.Item {
        .list([.uint(UInt64(kind)), .uint(UInt64(sender.rawValue)), .list(fields(includingBlocks: true)),
               ConsensusSigning.signatureItem(signature)])
    }

    public var encoded: [UInt8] { RLP.encode(item) }

    /// Decodes ``encoded``.
    /// - Throws: encoding errors (10xx), `.malformedConsensusMessage` (1720), block and signature format errors. Never traps.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        try self.init(item: try RLP.decode(bytes))
    }

    /// Decodes a message from its RLP item.
    /// - Throws: as ``init(decoding:)``.
    public init(item: RLP.Item) throws(LedgerError) {
        let f = try item.list("pbft", count: 4)
        let kind = try f[0].uint64("pbft.kind")
        sender = try ConsensusSigning.node(f[1], "pbft.sender")
        let g = try f[2].list("pbft.fields")
        signature = try ConsensusSigning.signature(f[3], "pbft.signature")
        func need(_ n: Int) throws(LedgerError) {
            guard g.count == n else {
                throw LedgerError(.malformedConsensusMessage, "field 'pbft.fields': kind \(kind) needs \(n) fields, found \(g.count)",
                                  details: ["field": "pbft.fields"])
            }
        }
        switch kind {
        case 1:
            try need(4)
            body = .prePrepare(view: Round(try g[0].uint64("pbft.view")), height: Height(try g[1].uint64("pbft.height")),
                               blockHash: try g[2].digest("pbft.blockHash"), block: try ConsensusSigning.optionalBlock(g[3], "pbft.block"))
        case 2, 3:
            try need(3)
            let v = Round(try g[0].uint64("pbft.view")), h = Height(try g[1].uint64("pbft.height")), d = try g[2].digest("pbft.blockHash")
            body = kind == 2 ? .prepare(view: v, height: h, blockHash: d) : .commit(view: v, height: h, blockHash: d)
        case 4:
            try need(2)
            body = .checkpoint(height: Height(try g[0].uint64("pbft.height")), blockHash: try g[1].digest("pbft.blockHash"))
        case 5:
            body = .viewChange(try PBFTViewChange(items: g))
        case 6:
            body = .newView(try PBFTNewView(items: g))
        case 7:
            try need(1)
            body = .viewQuery(view: Round(try g[0].uint64("pbft.view")))
        case 8:
            try need(1)
            body = .viewAnswer(try PBFTNewView(items: try g[0].list("pbft.newView")))
        default:
            throw LedgerError(.malformedConsensusMessage, "field 'pbft.kind': unknown kind \(kind)", details: ["field": "pbft.kind"])
        }
    }
}

/// A prepared certificate: a pre-prepare and `2f` matching PREPAREs from
/// distinct backups, proving that no other block can be prepared at that
/// height in that view.
public struct PBFTPreparedCertificate: Hashable, Sendable {
    /// The primary's signed pre-prepare (carrying the block when it is needed for re-proposal).
    public var prePrepare: PBFTMessage
    /// Signed PREPAREs matching the pre-prepare, ascending by sender.
    public var prepares: [PBFTMessage]

    /// The PRE-PREPARE and 2f matching PREPAREs, from distinct replicas.
    public init(prePrepare: PBFTMessage, prepares: [PBFTMessage]) {
        self.prePrepare = prePrepare
        self.prepares = prepares
    }

    /// The view, height and block hash certified (nil if the pre-prepare is not one).
    public var slot: (view: Round, height: Height, blockHash: Digest, block: Block?)? {
        guard case .prePrepare(let v, let h, let d, let b) = prePrepare.body else { return nil }
        return (v, h, d, b)
    }

    var item: RLP.Item { .list([prePrepare.item, .list(prepares.map(\.item))]) }

    init(item: RLP.Item) throws(LedgerError) {
        let f = try item.list("pbft.prepared", count: 2)
        prePrepare = try PBFTMessage(item: f[0])
        var ps = [PBFTMessage]()
        for p in try f[1].list("pbft.prepared.prepares") { ps.append(try PBFTMessage(item: p)) }
        prepares = ps
    }
}

/// The contents of a VIEW-CHANGE: the view the sender moves to, its last
/// stable checkpoint with `2f + 1` signed CHECKPOINT messages proving it
/// (none for the genesis checkpoint at height 0), and its prepared
/// certificates above that checkpoint (the P-set).
public struct PBFTViewChange: Hashable, Sendable {
    /// The view the sender moves to.
    public var newView: Round
    /// The sender's last stable checkpoint height (0 = genesis).
    public var stableHeight: Height
    /// The block hash at ``stableHeight``.
    public var stableHash: Digest
    /// Signed CHECKPOINTs for `(stableHeight, stableHash)` from a quorum (empty at height 0).
    public var checkpointProof: [PBFTMessage]
    /// For each height above ``stableHeight`` the sender prepared, its certificate of the highest view.
    public var prepared: [PBFTPreparedCertificate]

    /// Parameters as the properties of the same names.
    public init(newView: Round, stableHeight: Height, stableHash: Digest, checkpointProof: [PBFTMessage], prepared: [PBFTPreparedCertificate]) {
        self.newView = newView
        self.stableHeight = stableHeight
        self.stableHash = stableHash
        self.checkpointProof = checkpointProof
        self.prepared = prepared
    }

    var items: [RLP.Item] {
        [.uint(newView.rawValue), .uint(stableHeight.rawValue), .digest(stableHash),
         .list(checkpointProof.map(\.item)), .list(prepared.map(\.item))]
    }

    init(items g: [RLP.Item]) throws(LedgerError) {
        guard g.count == 5 else {
            throw LedgerError(.malformedConsensusMessage, "field 'pbft.viewChange': 5 fields expected, found \(g.count)", details: ["field": "pbft.viewChange"])
        }
        newView = Round(try g[0].uint64("pbft.viewChange.newView"))
        stableHeight = Height(try g[1].uint64("pbft.viewChange.stableHeight"))
        stableHash = try g[2].digest("pbft.viewChange.stableHash")
        var cps = [PBFTMessage]()
        for c in try g[3].list("pbft.viewChange.checkpointProof") { cps.append(try PBFTMessage(item: c)) }
        checkpointProof = cps
        var ps = [PBFTPreparedCertificate]()
        for p in try g[4].list("pbft.viewChange.prepared") { ps.append(try PBFTPreparedCertificate(item: p)) }
        prepared = ps
    }
}

/// The contents of a NEW-VIEW: the view, `2f + 1` signed VIEW-CHANGEs for
/// it (the V-set), and the new primary's signed PRE-PREPAREs re-proposing
/// every block prepared in V above the highest stable checkpoint (the O-set).
public struct PBFTNewView: Hashable, Sendable {
    /// The view being installed.
    public var view: Round
    /// Signed VIEW-CHANGE messages for ``view`` from distinct validators, ascending by sender.
    public var viewChanges: [PBFTMessage]
    /// Signed PRE-PREPAREs of ``view`` by its primary, ascending by height, each with its block.
    public var prePrepares: [PBFTMessage]

    /// Parameters as the properties of the same names.
    public init(view: Round, viewChanges: [PBFTMessage], prePrepares: [PBFTMessage]) {
        self.view = view
        self.viewChanges = viewChanges
        self.prePrepares = prePrepares
    }

    var items: [RLP.Item] { [.uint(view.rawValue), .list(viewChanges.map(\.item)), .list(prePrepares.map(\.item))] }

    init(items g: [RLP.Item]) throws(LedgerError) {
        guard g.count == 3 else {
            throw LedgerError(.malformedConsensusMessage, "field 'pbft.newView': 3 fields expected, found \(g.count)", details: ["field": "pbft.newView"])
        }
        view = Round(try g[0].uint64("pbft.newView.view"))
        var vs = [PBFTMessage]()
        for v in try g[1].list("pbft.newView.viewChanges") { vs.append(try PBFTMessage(item: v)) }
        viewChanges = vs
        var ps = [PBFTMessage]()
        for p in try g[2].list("pbft.newView.prePrepares") { ps.append(try PBFTMessage(item: p)) }
        prePrepares = ps
    }
}
