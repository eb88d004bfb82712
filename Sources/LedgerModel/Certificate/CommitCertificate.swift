import LedgerCrypto

/// Which rule made a block final, and so how its ``CommitCertificate`` is verified.
public enum CertificateKind: UInt8, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// `⌈(n+f+1)/2⌉` (2f+1 of 3f+1) signed PBFT commit votes of one view.
    case pbft = 1
    /// Signed append acknowledgements from a majority of the members (the leader's included).
    case raft = 2
    /// The block hash meets the stated difficulty (no votes).
    case pow = 3
    /// Signed votes of validators holding more than 2/3 of the stake.
    case pos = 4

    public var description: String { ["", "pbft", "raft", "pow", "pos"][Int(rawValue)] }
}

/// One signed vote in a certificate: `signature` is `signer`'s signature
/// over ``CommitCertificate/signingPayload(kind:chainID:height:round:blockHash:)``.
public struct CertificateVote: Hashable, Sendable {
    /// The voting validator.
    public var signer: NodeID
    /// Its signature over the certificate's signing payload.
    public var signature: Signature
    /// Both are required; ``CommitCertificate/vote(kind:chainID:height:round:blockHash:signer:key:)`` makes one.
    public init(signer: NodeID, signature: Signature) {
        self.signer = signer
        self.signature = signature
    }
}

/// The proof that a block is final, checkable by a third party that holds
/// only the block and the validator set (K-R, D-6).
///
/// Every vote signs the same canonical payload ``signingPayload(kind:chainID:height:round:blockHash:)`` =
/// RLP `["forgechain/commit/v1", kind, chainID, height, round, blockHash]`
/// with the signer's key (`PrivateKey.signature(for:)`). Engines sign
/// their commit votes with exactly this payload, so the votes they collect
/// are the certificate.
///
/// What each kind proves:
/// - **pbft**: a Byzantine quorum (`2f+1` of `3f+1`) of validators committed
///   `blockHash` at `height` in view `round`; any two quorums share a correct
///   node, so no other block can gather a certificate at that height.
/// - **raft**: a member (the block's producer, leader of the term written in
///   its consensus data) proposed the block, and a majority of members
///   acknowledged, in term `round`, holding it in a log that ends in an entry
///   of term `round` (see `RaftEngine`): Raft's commit rule. Under Raft's
///   crash-fault model that is commitment; it does not protect against a
///   Byzantine member.
/// - **pow**: the block's header hash meets `difficulty`
///   (``ProofOfWork/meets(hash:difficulty:)``) and `difficulty` is at least
///   the minimum the verifier accepts. Finality is probabilistic; the engine
///   commits a block only once it is buried under its confirmation depth.
/// - **pos**: validators holding more than 2/3 of the total stake signed it.
///
/// Canonical encoding: RLP `[version, kind, height, blockHash, round,
/// [[signer, scheme, signature]…], difficulty, evidence]`.
///
/// ```swift
/// try committed.certificate.verify(block: committed.block, validators: set, hashAlgorithm: .sha256)
/// ```
public struct CommitCertificate: Hashable, Sendable {
    /// The encoding version written by this build.
    public static let encodingVersion: UInt64 = 1
    /// The domain tag of ``signingPayload(kind:chainID:height:round:blockHash:)``.
    public static let domain = "forgechain/commit/v1"

    /// The engine that committed the block.
    public var kind: CertificateKind
    /// The committed block's height.
    public var height: Height
    /// The header hash of the committed block.
    public var blockHash: Digest
    /// View, term or round in which the block was committed; 0 for PoW.
    public var round: Round
    /// Signed votes, in ascending signer order (empty for PoW).
    public var votes: [CertificateVote]
    /// PoW: the difficulty the block hash meets; 0 for other kinds.
    public var difficulty: UInt64
    /// Engine-specific extra evidence (opaque; not checked by ``verify(block:validators:hashAlgorithm:minimumDifficulty:)``).
    public var evidence: [UInt8]

    /// - Parameters:
    ///   - kind: Required. The engine that committed the block.
    ///   - height: Required. The committed block's height.
    ///   - blockHash: Required. The committed block's header hash.
    ///   - round: Required. View, term or round of the commit; 0 for PoW.
    ///   - votes: Optional, default empty. Sorted by signer on init.
    ///   - difficulty: Optional, default 0; PoW only.
    ///   - evidence: Optional, default empty.
    public init(kind: CertificateKind, height: Height, blockHash: Digest, round: Round,
                votes: [CertificateVote] = [], difficulty: UInt64 = 0, evidence: [UInt8] = []) {
        self.kind = kind
        self.height = height
        self.blockHash = blockHash
        self.round = round
        self.votes = votes.sorted { $0.signer < $1.signer }
        self.difficulty = difficulty
        self.evidence = evidence
    }

    /// The bytes every vote of a certificate of `kind` signs.
    public static func signingPayload(kind: CertificateKind, chainID: UInt64, height: Height,
                                      round: Round, blockHash: Digest) -> [UInt8] {
        RLP.encode(.list([.string(domain), .uint(UInt64(kind.rawValue)), .uint(chainID),
                          .uint(height.rawValue), .uint(round.rawValue), .digest(blockHash)]))
    }

    /// Signs a commit vote for `blockHash` as `signer`.
    /// - Throws: crypto errors (13xx, 1404).
    public static func vote(kind: CertificateKind, chainID: UInt64, height: Height, round: Round,
                            blockHash: Digest, signer: NodeID, key: PrivateKey) throws(LedgerError) -> CertificateVote {
        CertificateVote(signer: signer, signature: try key.signature(
            for: signingPayload(kind: kind, chainID: chainID, height: height, round: round, blockHash: blockHash)))
    }

    /// Verifies that this certificate makes `block` final under `validators`.
    /// - Parameters:
    ///   - block: Required. The block the certificate claims.
    ///   - validators: Required for pbft, raft, pos: the set in force at the block's height. Ignored for pow.
    ///   - hashAlgorithm: Required. The chain's hash algorithm.
    ///   - minimumDifficulty: Optional, default 1. PoW only: the least difficulty accepted.
    /// - Throws: `LedgerError` `.certificateBlockMismatch` (1710), `.certificateUnknownSigner` (1711),
    ///   `.certificateDuplicateSigner` (1712), `.certificateSignatureInvalid` (1713),
    ///   `.certificateQuorumNotReached` (1714), `.certificateProofOfWorkInvalid` (1715),
    ///   `.certificateLeaderMissing` (1717).
    /// - Note: Pure; safe to call concurrently. Does not validate the block itself (use ``BlockValidator``).
    public func verify(block: Block, validators: ValidatorSet, hashAlgorithm: HashAlgorithm,
                       minimumDifficulty: UInt64 = 1) throws(LedgerError) {
        let context = ["height": height.description, "block": blockHash.hex, "kind": kind.description]
        func fail(_ code: LedgerError.Code, _ message: String, _ extra: [String: String] = [:]) -> LedgerError {
            LedgerError(code, "\(kind) certificate for height \(height): \(message)", details: context.merging(extra) { a, _ in a })
        }
        let computed = block.header.hash(using: hashAlgorithm)
        guard computed == blockHash, block.headerHash == blockHash else {
            throw fail(.certificateBlockMismatch, "block hash \(computed.hex) differs from the certified \(blockHash.hex)")
        }
        guard block.header.height == height else {
            throw fail(.certificateBlockMismatch, "block height \(block.header.height), certified \(height)")
        }
        if kind == .pow {
            guard difficulty >= max(1, minimumDifficulty) else {
                throw fail(.certificateProofOfWorkInvalid, "difficulty \(difficulty) is below the minimum \(max(1, minimumDifficulty))")
            }
            guard ProofOfWork.meets(hash: blockHash, difficulty: difficulty) else {
                throw fail(.certificateProofOfWorkInvalid, "block hash does not meet difficulty \(difficulty)")
            }
            return
        }
        let payload = Self.signingPayload(kind: kind, chainID: block.header.chainID, height: height, round: round, blockHash: blockHash)
        var signers = [NodeID]()
        signers.reserveCapacity(votes.count)
        var previous: NodeID?
        for vote in votes {
            guard validators.validator(vote.signer) != nil else {
                throw fail(.certificateUnknownSigner, "signer \(vote.signer.rawValue) is not a validator", ["signer": String(vote.signer.rawValue)])
            }
            if let previous, vote.signer <= previous {
                throw fail(.certificateDuplicateSigner, "signer \(vote.signer.rawValue) votes twice or out of order", ["signer": String(vote.signer.rawValue)])
            }
            previous = vote.signer
            // Through the verified-signature memo: PBFT and PoS COMMIT/precommit votes are usually already
            // verified by the engine that collected them (same key, signature and payload).
            guard ConsensusSigning.verify(vote.signature, by: vote.signer, over: payload, in: validators, cache: .shared) else {
                throw fail(.certificateSignatureInvalid, "vote of \(vote.signer.rawValue) does not verify", ["signer": String(vote.signer.rawValue)])
            }
            signers.append(vote.signer)
        }
        switch kind {
        case .pbft:
            guard signers.count >= validators.byzantineQuorum else {
                throw fail(.certificateQuorumNotReached, "\(signers.count) votes, need \(validators.byzantineQuorum) of \(validators.count)")
            }
        case .raft:
            guard validators.validator(withKey: block.header.producer) != nil else {
                throw fail(.certificateLeaderMissing, "the block's producer is not a member")
            }
            guard signers.count >= validators.majority else {
                throw fail(.certificateQuorumNotReached, "\(signers.count) acknowledgements, need a majority \(validators.majority) of \(validators.count)")
            }
        case .pos:
            let stake = validators.stake(of: signers)
            guard validators.hasStakeQuorum(stake) else {
                throw fail(.certificateQuorumNotReached, "signers hold stake \(stake) of \(validators.totalStake), need more than 2/3")
            }
        case .pow:
            break
        }
    }

    // MARK: Encoding

    /// The canonical encoding as an RLP item.
    public var item: RLP.Item {
        .list([.uint(Self.encodingVersion), .uint(UInt64(kind.rawValue)), .uint(height.rawValue), .digest(blockHash),
               .uint(round.rawValue),
               .list(votes.map { .list([.uint(UInt64($0.signer.rawValue)), .string($0.signature.scheme.rawValue),
                                        .bytes($0.signature.rawRepresentation)]) }),
               .uint(difficulty), .bytes(evidence)])
    }

    /// The canonical encoding.
    public var encoded: [UInt8] { RLP.encode(item) }

    /// Decodes a canonical certificate.
    /// - Throws: encoding errors (10xx), `.unsupportedVersion` (1012), `.certificateMalformed` (1716),
    ///   signature format errors (13xx). Never traps on any input.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        try self.init(item: try RLP.decode(bytes))
    }

    /// Decodes a certificate from its RLP item.
    public init(item: RLP.Item) throws(LedgerError) {
        let f = try item.list("certificate", count: 8)
        let version = try f[0].uint64("certificate.version")
        guard version == Self.encodingVersion else {
            throw LedgerError(.unsupportedVersion, "certificate version \(version), expected \(Self.encodingVersion)",
                              details: ["field": "certificate.version"])
        }
        let k = try f[1].uint64("certificate.kind")
        guard k <= UInt8.max, let kind = CertificateKind(rawValue: UInt8(k)) else {
            throw LedgerError(.certificateMalformed, "field 'certificate.kind': unknown kind \(k)", details: ["field": "certificate.kind"])
        }
        self.kind = kind
        height = Height(try f[2].uint64("certificate.height"))
        blockHash = try f[3].digest("certificate.blockHash")
        round = Round(try f[4].uint64("certificate.round"))
        var votes = [CertificateVote]()
        for v in try f[5].list("certificate.votes") {
            let g = try v.list("certificate.vote", count: 3)
            let signer = try g[0].uint64("certificate.vote.signer")
            guard signer <= UInt32.max else {
                throw LedgerError(.certificateMalformed, "field 'certificate.vote.signer': \(signer) exceeds 32 bits", details: ["field": "certificate.vote.signer"])
            }
            let name = try g[1].string("certificate.vote.scheme")
            guard let scheme = SignatureScheme(rawValue: name) else {
                throw LedgerError(.certificateMalformed, "field 'certificate.vote.scheme': unknown scheme '\(name)'", details: ["field": "certificate.vote.scheme"])
            }
            votes.append(CertificateVote(signer: NodeID(UInt32(signer)),
                                         signature: try Signature(scheme: scheme, rawRepresentation: try g[2].bytes("certificate.vote.signature"))))
        }
        self.votes = votes
        difficulty = try f[6].uint64("certificate.difficulty")
        evidence = try f[7].bytes("certificate.evidence")
    }
}

/// A block together with the certificate that made it final: what an
/// engine hands its host to store and apply, in height order.
public struct CommittedBlock: Hashable, Sendable {
    /// The committed block.
    public var block: Block
    /// The certificate that makes it final.
    public var certificate: CommitCertificate
    /// Both are required; the certificate must be for this block.
    public init(block: Block, certificate: CommitCertificate) {
        self.block = block
        self.certificate = certificate
    }
    /// The block's height.
    public var height: Height { block.header.height }
    /// The block's declared header hash.
    public var hash: Digest { block.headerHash }

    /// Canonical encoding: RLP `[block, certificate]` (the block as its encoded bytes).
    public var encoded: [UInt8] { RLP.encode(.list([.bytes(block.encoded), certificate.item])) }

    /// Decodes ``encoded``.
    /// - Throws: block and certificate decoding errors.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("committedBlock", count: 2)
        block = try Block(decoding: try f[0].bytes("committedBlock.block"))
        certificate = try CommitCertificate(item: f[1])
    }
}

/// The proof-of-work rule shared by the PoW engine and certificate
/// verification: a hash `h` (read as a 256-bit big-endian integer) meets
/// difficulty `d` when `h · d < 2^256`, i.e. `h ≤ ⌊(2^256 − 1) / d⌋`. A
/// block at difficulty `d` takes `d` hash attempts on average, so the work
/// of a chain is the sum of its blocks' difficulties.
public enum ProofOfWork {
    /// Whether `hash` meets `difficulty`. Difficulty 0 or 1 accepts any hash.
    public static func meets(hash: Digest, difficulty: UInt64) -> Bool {
        guard difficulty > 1 else { return true }
        let bytes = hash.bytes
        // Multiply the 256-bit hash by d from the least significant 64-bit limb up; any carry out of the top limb means overflow.
        var carry: UInt64 = 0
        for limb in stride(from: 3, through: 0, by: -1) {
            var w: UInt64 = 0
            for i in 0..<8 { w = w << 8 | UInt64(bytes[limb * 8 + i]) }
            let (high, low) = w.multipliedFullWidth(by: difficulty)
            let (sum, overflow) = low.addingReportingOverflow(carry)
            _ = sum
            carry = high &+ (overflow ? 1 : 0)
        }
        return carry == 0
    }
}
