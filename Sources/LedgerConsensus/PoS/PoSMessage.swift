import LedgerCrypto
import LedgerModel

/// A signed proof-of-stake message (Tendermint-style rounds weighted by
/// stake): the sender, what it says, and its signature.
///
/// A non-nil PRECOMMIT is signed over
/// `CommitCertificate.signingPayload(kind:chainID:height:round:blockHash:)`
/// with kind `.pos`, so precommits from validators holding more than 2/3 of
/// the stake are the block's `CommitCertificate` as they are. Every other
/// message is signed over RLP `[domain, kind, chainID, sender, [fields…]]`
/// (a block by its hash).
///
/// Canonical encoding: RLP `[kind, sender, [fields…], [scheme, signature]]`.
///
/// ```swift
/// let vote = PoSMessage.make(.prevote(height: 3, round: 0, blockHash: h), sender: 2, key: key, chainID: 7)
/// ```
/// A value type; safe to share across threads.
public struct PoSMessage: ConsensusMessage {
    /// What a PoS message says.
    public enum Body: Hashable, Sendable {
        /// The proposer of `(height, round)` proposes `block`; `validRound` is the
        /// round in which it saw a > 2/3 prevote quorum for it (nil for a fresh block).
        case proposal(height: Height, round: Round, blockHash: Digest, block: Block?, validRound: Round?)
        /// A first-stage vote for `blockHash` (nil: for no block).
        case prevote(height: Height, round: Round, blockHash: Digest?)
        /// A second-stage vote; > 2/3 of the stake on one block makes it final.
        case precommit(height: Height, round: Round, blockHash: Digest?)
    }

    /// The signer. Required; must be a validator.
    public var sender: NodeID
    /// What the message says.
    public var body: Body
    /// The sender's signature over the canonical encoding of ``body``.
    public var signature: Signature

    /// Wraps parts as they are (no signing, no checks).
    public init(sender: NodeID, body: Body, signature: Signature) {
        self.sender = sender
        self.body = body
        self.signature = signature
    }

    /// Builds and signs a message.
    /// - Parameters:
    ///   - body: Required.
    ///   - sender: Required. The signer's node ID.
    ///   - key: Required. The signer's validator key.
    ///   - chainID: Required. Part of every signed payload.
    /// - Returns: The signed message. Never throws: a backend signing fault gives a signature that will not verify.
    public static func make(_ body: Body, sender: NodeID, key: PrivateKey, chainID: UInt64) -> PoSMessage {
        var m = PoSMessage(sender: sender, body: body, signature: Signature(uncheckedScheme: key.scheme, raw: []))
        m.signature = ConsensusSigning.sign(m.signingPayload(chainID: chainID), with: key)
        return m
    }

    /// The domain tag of every payload but a non-nil precommit's.
    public static let domain = "forgechain/pos/v1"

    /// The numeric kind used on the wire.
    public var kind: UInt8 {
        switch body {
        case .proposal: 1
        case .prevote: 2
        case .precommit: 3
        }
    }

    /// The height the message is about.
    public var height: Height {
        switch body {
        case .proposal(let h, _, _, _, _), .prevote(let h, _, _), .precommit(let h, _, _): h
        }
    }

    /// The bytes the signature covers.
    public func signingPayload(chainID: UInt64) -> [UInt8] {
        if case .precommit(let h, let r, let d?) = body {
            return CommitCertificate.signingPayload(kind: .pos, chainID: chainID, height: h, round: r, blockHash: d)
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

    private static func optionalHash(_ d: Digest?) -> RLP.Item { .bytes(d?.bytes ?? []) }
    private static func optionalRound(_ r: Round?) -> RLP.Item { .uint(r.map { $0.rawValue &+ 1 } ?? 0) }

    private func fields(includingBlocks: Bool) -> [RLP.Item] {
        switch body {
        case .proposal(let h, let r, let d, let b, let vr):
            return [.uint(h.rawValue), .uint(r.rawValue), .digest(d), Self.optionalRound(vr)] + (includingBlocks ? [.bytes(b?.encoded ?? [])] : [])
        case .prevote(let h, let r, let d), .precommit(let h, let r, let d):
            return [.uint(h.rawValue), .uint(r.rawValue), Self.optionalHash(d)]
        }
    }

    /// The canonical RLP form, signature included.
    public var item: RLP.Item {
        .list([.uint(UInt64(kind)), .uint(UInt64(sender.rawValue)), .list(fields(includingBlocks: true)),
               ConsensusSigning.signatureItem(signature)])
    }

    public var encoded: [UInt8] { RLP.encode(item) }

    /// Decodes ``encoded``.
    /// - Throws: encoding errors (10xx), `.malformedConsensusMessage` (1720), block and signature format errors. Never traps.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("pos", count: 4)
        let kind = try f[0].uint64("pos.kind")
        sender = try ConsensusSigning.node(f[1], "pos.sender")
        let g = try f[2].list("pos.fields")
        signature = try ConsensusSigning.signature(f[3], "pos.signature")
        // Kinds 4 and 5 were block-sync messages; committed blocks now come through the host's catch-up.
        let counts: [UInt64: Int] = [1: 5, 2: 3, 3: 3]
        guard let need = counts[kind], g.count == need else {
            throw LedgerError(.malformedConsensusMessage, "field 'pos.fields': kind \(kind) with \(g.count) fields is not a PoS message",
                              details: ["field": "pos.fields"])
        }
        func hash(_ i: RLP.Item) throws(LedgerError) -> Digest? {
            let b = try i.bytes("pos.blockHash")
            return b.isEmpty ? nil : try Digest(bytes: b)
        }
        switch kind {
        case 1:
            let vr = try g[3].uint64("pos.validRound")
            body = .proposal(height: Height(try g[0].uint64("pos.height")), round: Round(try g[1].uint64("pos.round")),
                             blockHash: try g[2].digest("pos.blockHash"), block: try ConsensusSigning.optionalBlock(g[4], "pos.block"),
                             validRound: vr == 0 ? nil : Round(vr - 1))
        default:
            let h = Height(try g[0].uint64("pos.height")), r = Round(try g[1].uint64("pos.round")), d = try hash(g[2])
            body = kind == 2 ? .prevote(height: h, round: r, blockHash: d) : .precommit(height: h, round: r, blockHash: d)
        }
    }
}
