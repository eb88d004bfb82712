import LedgerCrypto
import LedgerModel

/// A signed acknowledgement that the sender holds block `height` (see ``RaftEngine``).
public struct RaftAck: Hashable, Sendable {
    /// The acknowledged height.
    public var height: Height
    /// The sender's commit vote signature (`CommitCertificate.signingPayload(kind:chainID:height:round:blockHash:)`).
    public var signature: Signature
    /// Both are required.
    public init(height: Height, signature: Signature) {
        self.height = height
        self.signature = signature
    }
}

/// The messages of ``RaftEngine`` (Ongaro and Ousterhout, "In Search of an
/// Understandable Consensus Algorithm", 2014), with blocks as log entries.
///
/// Canonical encoding: RLP `[type, fields…]`, type 1–4 in case order.
public enum RaftMessage: ConsensusMessage {
    /// A candidate asks for a vote in `term`.
    case requestVote(term: Round, lastIndex: Height, lastTerm: Round)
    /// The answer to ``requestVote(term:lastIndex:lastTerm:)``.
    case voteResponse(term: Round, granted: Bool)
    /// The leader of `term` replicates `entries` after `prevIndex`/`prevTerm`,
    /// reports its commit index with the certificates of committed blocks the
    /// follower may lack, and asks for acknowledgements from `ackFrom` on.
    case appendEntries(term: Round, prevIndex: Height, prevTerm: Round, entries: [Block],
                       leaderCommit: Height, certificates: [CommitCertificate], ackFrom: Height)
    /// A follower's answer: on success `matchIndex` is the last index known to
    /// match the leader; on failure it is the index the leader should retry from.
    case appendResponse(term: Round, success: Bool, matchIndex: Height, commitIndex: Height, acks: [RaftAck])

    /// The term the message carries.
    public var term: Round {
        switch self {
        case .requestVote(let t, _, _), .voteResponse(let t, _), .appendEntries(let t, _, _, _, _, _, _),
             .appendResponse(let t, _, _, _, _): t
        }
    }

    public var encoded: [UInt8] {
        let item: RLP.Item = switch self {
        case let .requestVote(term, lastIndex, lastTerm):
            .list([.uint(1), .uint(term.rawValue), .uint(lastIndex.rawValue), .uint(lastTerm.rawValue)])
        case let .voteResponse(term, granted):
            .list([.uint(2), .uint(term.rawValue), .uint(granted ? 1 : 0)])
        case let .appendEntries(term, prevIndex, prevTerm, entries, leaderCommit, certificates, ackFrom):
            .list([.uint(3), .uint(term.rawValue), .uint(prevIndex.rawValue), .uint(prevTerm.rawValue),
                   .list(entries.map { .bytes($0.encoded) }), .uint(leaderCommit.rawValue),
                   .list(certificates.map(\.item)), .uint(ackFrom.rawValue)])
        case let .appendResponse(term, success, matchIndex, commitIndex, acks):
            .list([.uint(4), .uint(term.rawValue), .uint(success ? 1 : 0), .uint(matchIndex.rawValue), .uint(commitIndex.rawValue),
                   .list(acks.map { .list([.uint($0.height.rawValue), .string($0.signature.scheme.rawValue),
                                           .bytes($0.signature.rawRepresentation)]) })])
        }
        return RLP.encode(item)
    }

    /// - Throws: encoding errors (10xx), `.malformedConsensusMessage` (1720), block and signature errors.
    public init(decoding bytes: [UInt8]) throws(LedgerError) {
        let f = try RLP.decode(bytes).list("raft")
        guard let first = f.first else { throw LedgerError(.malformedConsensusMessage, "raft message is an empty list") }
        func expect(_ n: Int) throws(LedgerError) {
            guard f.count == n else {
                throw LedgerError(.malformedConsensusMessage, "raft message type \(try first.uint64("raft.type")) has \(f.count) fields, expected \(n)")
            }
        }
        func bool(_ i: Int, _ name: String) throws(LedgerError) -> Bool {
            let v = try f[i].uint64(name)
            guard v <= 1 else { throw LedgerError(.malformedConsensusMessage, "field '\(name)': \(v) is not a boolean", details: ["field": name]) }
            return v == 1
        }
        switch try first.uint64("raft.type") {
        case 1:
            try expect(4)
            self = .requestVote(term: Round(try f[1].uint64("raft.term")), lastIndex: Height(try f[2].uint64("raft.lastIndex")),
                                lastTerm: Round(try f[3].uint64("raft.lastTerm")))
        case 2:
            try expect(3)
            self = .voteResponse(term: Round(try f[1].uint64("raft.term")), granted: try bool(2, "raft.granted"))
        case 3:
            try expect(8)
            var entries = [Block]()
            for e in try f[4].list("raft.entries") { entries.append(try Block(decoding: try e.bytes("raft.entry"))) }
            var certificates = [CommitCertificate]()
            for c in try f[6].list("raft.certificates") { certificates.append(try CommitCertificate(item: c)) }
            self = .appendEntries(term: Round(try f[1].uint64("raft.term")), prevIndex: Height(try f[2].uint64("raft.prevIndex")),
                                  prevTerm: Round(try f[3].uint64("raft.prevTerm")), entries: entries,
                                  leaderCommit: Height(try f[5].uint64("raft.leaderCommit")), certificates: certificates,
                                  ackFrom: Height(try f[7].uint64("raft.ackFrom")))
        case 4:
            try expect(6)
            var acks = [RaftAck]()
            for a in try f[5].list("raft.acks") {
                let g = try a.list("raft.ack", count: 3)
                let name = try g[1].string("raft.ack.scheme")
                guard let scheme = SignatureScheme(rawValue: name) else {
                    throw LedgerError(.malformedConsensusMessage, "field 'raft.ack.scheme': unknown scheme '\(name)'", details: ["field": "raft.ack.scheme"])
                }
                acks.append(RaftAck(height: Height(try g[0].uint64("raft.ack.height")),
                                    signature: try Signature(scheme: scheme, rawRepresentation: try g[2].bytes("raft.ack.signature"))))
            }
            self = .appendResponse(term: Round(try f[1].uint64("raft.term")), success: try bool(2, "raft.success"),
                                   matchIndex: Height(try f[3].uint64("raft.matchIndex")),
                                   commitIndex: Height(try f[4].uint64("raft.commitIndex")), acks: acks)
        case let t:
            throw LedgerError(.malformedConsensusMessage, "unknown raft message type \(t)", details: ["field": "raft.type"])
        }
    }
}
