import LedgerCrypto
import LedgerModel

/// Raft as a pure state machine: leader election with randomised timeouts,
/// log replication of blocks, a commit index, persistence of term, vote and
/// the uncommitted log, and membership change through the
/// ``ConsensusSchedule`` (crash-fault tolerant: `f` of `2f + 1`).
///
/// **Log.** Entry `h` is the block at height `h`; genesis is entry 0 of term
/// 0. The term of an entry is carried in its block's
/// `BlockHeader.consensusData` (RLP unsigned integer), so a block alone
/// says which leader term proposed it.
///
/// **Commit and certificate.** A follower that accepted the log of the leader
/// of term `T` up to index `m`, where entry `m` is of term `T`, signs an
/// acknowledgement `CommitCertificate.signingPayload(kind:chainID:height:round:blockHash:)` `(raft, chainID, h,
/// T, hash_h)` for each uncommitted `h ≤ m` the leader asks about. The
/// leader (which acknowledges its own log the same way) commits `h` once
/// acknowledgements from a majority of the members of the configuration at
/// `h` arrive; those acknowledgements are the block's
/// `CommitCertificate` (kind `.raft`, round `T`). A majority holding a
/// term-`T` entry at or above `h` is exactly Raft's commit rule, so a valid
/// certificate proves, under the crash-fault model, that the block is
/// committed: every later leader holds it. It does **not** hold against a
/// Byzantine majority (a node that signs anything), which the simulator's
/// unsafety test demonstrates. Followers commit when the leader ships them
/// the certificate.
///
/// **Membership.** The members deciding block `h` are those of
/// `schedule.config(atHeight: h)`. A candidate needs a majority of every
/// configuration between its commit index and its next index (joint
/// consensus across a change); only members of the configuration at the
/// next index campaign.
///
/// **Persistence.** ``ConsensusEffects/persistentState`` = RLP `[term,
/// votedFor + 1 (0 = none), [uncommitted blocks]]`; committed blocks come
/// back through ``ConsensusRecovery/committed``.
///
/// ```swift
/// var raft = try RaftEngine(context: context)
/// let effects = raft.step(.tick)
/// ```
/// - Note: A value type; not for concurrent mutation.
public struct RaftEngine: ConsensusEngine {
    public typealias Message = RaftMessage
    public static var certificateKind: CertificateKind { .raft }

    public let id: NodeID
    public private(set) var status: ConsensusStatus

    private let context: ConsensusContext
    private var schedule: ConsensusSchedule
    private var rng: SplitMix64

    // Persistent.
    private var term: Round = 0
    private var votedFor: NodeID?
    /// The uncommitted suffix and the last committed entries; older ones through the context's storage.
    private var log: RaftLog
    private var commitIndex = 0

    // Volatile.
    private var role: ConsensusRole = .follower
    private var leader: NodeID?
    private var now: UInt64 = 0
    private var electionElapsed: UInt64 = 0
    private var electionTimeout: UInt64 = 0
    private var heartbeatElapsed: UInt64 = 0
    private var votesGranted = Set<NodeID>()
    private var nextIndex = [NodeID: Int]()
    private var matchIndex = [NodeID: Int]()
    private var peerCommit = [NodeID: Int]()
    private var acks = [Int: [NodeID: CertificateVote]]()
    private var ownAcks = [Int: Signature]()
    private var pendingProposal: (height: Int, since: UInt64)?
    private var sinceLastProposal: UInt64 = 0
    private var firstSeen = [Int: UInt64]()
    private var lastLatency: UInt64?
    private var verdicts: ProposalVerdicts
    /// An AppendEntries that stopped at an entry whose verdict is pending: received again when it comes.
    private var parkedAppend: (from: NodeID, message: RaftMessage)?
    private var appendWaitsForVerdict = false

    // Per-step output.
    private var out = ConsensusEffects<RaftMessage>()
    private var dirty = false

    public init(context: ConsensusContext, recovery: ConsensusRecovery?) throws(LedgerError) {
        guard case .raft = context.schedule.initial else {
            throw LedgerError(.consensusEngineMismatch, "field 'engine': RaftEngine needs a raft configuration, got \(context.schedule.engine)",
                              details: ["field": "engine"])
        }
        try context.schedule.validate()
        self.context = context
        self.schedule = context.schedule
        self.id = context.node
        self.rng = SplitMix64(seed: context.seed ^ 0x5241_4654 &* (UInt64(context.node.rawValue) &+ 1))
        verdicts = ProposalVerdicts(context.proposalValidator)
        log = RaftLog(genesis: context.genesis, storage: context.storage)
        status = ConsensusStatus(node: context.node, committedHeight: 0, round: 0, role: .follower, phase: .committed)
        if let recovery {
            for (i, c) in recovery.committed.enumerated() {
                if i == 0, c.height.rawValue > UInt64(log.lastIndex + 1) {
                    log.rebase(at: c)   // a suffix: the host's store vouches for the blocks below
                    continue
                }
                guard c.height.rawValue == UInt64(log.lastIndex + 1), c.block.header.parentHash == log.last.headerHash else {
                    throw LedgerError(.consensusStateCorrupt, "committed block \(c.height) does not extend height \(log.lastIndex)",
                                      details: ["height": c.height.description])
                }
                log.append(c.block, term: Self.entryTerm(of: c.block), certificate: c.certificate)
            }
            commitIndex = log.lastIndex
            if let bytes = recovery.persistentState { try restore(bytes) }
        }
        resetElectionTimer()
        status = currentStatus()
    }

    /// Log entries held in memory (the uncommitted suffix and the last committed ones).
    package var blocksInMemory: Int { log.count }

    // MARK: Step

    public mutating func step(_ input: ConsensusInput<RaftMessage>) -> ConsensusEffects<RaftMessage> {
        out = ConsensusEffects()
        dirty = false
        switch input {
        case .tick: tick()
        case .receive(let from, let message): receive(message, from: from)
        case .proposal(let block): propose(block)
        case .configChange(let change):
            do { try schedule.schedule(change.config, atHeight: change.height) } catch { out.rejections.append(error) }
        case .synced:
            break   // not adopted: the host restarts a Raft engine from its store after a catch-up
        case .validated(let request, let error):
            if verdicts.record(request, error), let parked = parkedAppend {
                parkedAppend = nil
                receive(parked.message, from: parked.from)
            }
        }
        if dirty { out.persistentState = persistentState() }
        let s = currentStatus()
        if s != status {
            status = s
            out.status = s
        }
        return out
    }

    private var lastIndex: Int { log.lastIndex }
    private var hasLeaderEntry: Bool { log.lastTerm == term && role == .leader }
    private func raftConfig(at index: Int) -> RaftConfig {
        guard case .raft(let c) = schedule.config(atHeight: Height(UInt64(max(0, index)))) else {
            preconditionFailure("schedule validated as raft")
        }
        return c
    }
    private func members(at index: Int) -> ValidatorSet { raftConfig(at: index).members }
    private var config: RaftConfig { raftConfig(at: lastIndex + 1) }

    /// Distinct member sets for indices commitIndex+1 ... lastIndex+1, in height order.
    private func electionConfigs() -> [ValidatorSet] {
        var sets = [members(at: commitIndex + 1)]
        for change in schedule.changes where change.height.rawValue > UInt64(commitIndex + 1) && change.height.rawValue <= UInt64(lastIndex + 1) {
            if let set = change.config.validators, set != sets[sets.count - 1] { sets.append(set) }
        }
        return sets
    }

    /// Every other node that must hear from this one: members of every election configuration, ascending.
    private func peers() -> [NodeID] {
        var ids = [NodeID]()
        for set in electionConfigs() { for v in set.validators where v.id != id && !ids.contains(v.id) { ids.append(v.id) } }
        return ids.sorted()
    }

    // MARK: Ticks and elections

    private mutating func tick() {
        now += 1
        sinceLastProposal += 1
        if role == .leader, commitIndex >= lastIndex, !members(at: lastIndex + 1).contains(id) {
            // Removed by a membership change, with every entry it led committed: it steps down and, its heartbeats
            // over, the remaining members elect a leader among themselves (it no longer campaigns).
            becomeFollower(term: term, leader: nil)
        }
        if role == .leader {
            heartbeatElapsed += 1
            if heartbeatElapsed >= config.heartbeatIntervalTicks {
                heartbeatElapsed = 0
                for p in peers() { sendAppend(to: p) }
            }
            if let pending = pendingProposal, now - pending.since > config.electionTimeoutMaxTicks { pendingProposal = nil }
            maybeRequestProposal()
        } else {
            electionElapsed += 1
            if electionElapsed >= electionTimeout { campaign() }
        }
    }

    private mutating func resetElectionTimer() {
        electionElapsed = 0
        let c = config
        electionTimeout = c.electionTimeoutMinTicks + rng.next() % (c.electionTimeoutMaxTicks - c.electionTimeoutMinTicks + 1)
    }

    private mutating func campaign() {
        resetElectionTimer()
        guard members(at: lastIndex + 1).contains(id) else { return }
        term = term.next
        votedFor = id
        role = .candidate
        leader = nil
        votesGranted = [id]
        dirty = true
        ownAcks = [:]
        if hasElectionQuorum() { becomeLeader(); return }
        for p in peers() {
            out.send(.requestVote(term: term, lastIndex: Height(UInt64(lastIndex)), lastTerm: log.lastTerm), to: p)
        }
    }

    private func hasElectionQuorum() -> Bool {
        electionConfigs().allSatisfy { set in set.ids.filter { votesGranted.contains($0) }.count >= set.majority }
    }

    private mutating func becomeFollower(term newTerm: Round, leader newLeader: NodeID?) {
        if newTerm > term {
            term = newTerm
            votedFor = nil
            dirty = true
            ownAcks = [:]
        }
        if role != .follower { resetElectionTimer() }
        role = .follower
        leader = newLeader
        pendingProposal = nil
        acks = [:]
    }

    private mutating func becomeLeader() {
        role = .leader
        leader = id
        nextIndex = [:]
        matchIndex = [:]
        peerCommit = [:]
        acks = [:]
        heartbeatElapsed = 0
        pendingProposal = nil
        sinceLastProposal = UInt64.max / 2
        for p in peers() {
            nextIndex[p] = commitIndex + 1
            sendAppend(to: p)
        }
        maybeRequestProposal()
        tryCommit()
    }

    // MARK: Messages

    private mutating func receive(_ message: RaftMessage, from: NodeID) {
        if message.term > term {
            let leaderHint: NodeID? = if case .appendEntries = message { from } else { nil }
            becomeFollower(term: message.term, leader: leaderHint)
        }
        switch message {
        case let .requestVote(t, lastIdx, lastTerm):
            let myLastTerm = log.lastTerm
            let upToDate = lastTerm > myLastTerm || (lastTerm == myLastTerm && lastIdx.rawValue >= UInt64(lastIndex))
            let grant = t == term && (votedFor == nil || votedFor == from) && upToDate && role != .leader
            if grant {
                votedFor = from
                dirty = true
                resetElectionTimer()
            }
            out.send(.voteResponse(term: term, granted: grant), to: from)
        case let .voteResponse(t, granted):
            guard role == .candidate, t == term, granted else { return }
            votesGranted.insert(from)
            if hasElectionQuorum() { becomeLeader() }
        case let .appendEntries(t, prevIndex, prevTerm, entries, leaderCommit, certs, ackFrom):
            guard t == term else {
                out.send(.appendResponse(term: term, success: false, matchIndex: 0, commitIndex: Height(UInt64(commitIndex)), acks: []), to: from)
                return
            }
            if role != .follower || leader != from { becomeFollower(term: t, leader: from) }
            electionElapsed = 0
            appendWaitsForVerdict = false
            handleAppend(from: from, prevIndex: Int(prevIndex.rawValue), prevTerm: prevTerm, entries: entries,
                         leaderCommit: Int(leaderCommit.rawValue), certificates: certs, ackFrom: Int(ackFrom.rawValue))
            if appendWaitsForVerdict { parkedAppend = (from, message) }
        case let .appendResponse(t, success, match, peerCommitIndex, peerAcks):
            guard role == .leader, t == term else { return }
            handleAppendResponse(from: from, success: success, match: Int(match.rawValue),
                                 peerCommitIndex: Int(peerCommitIndex.rawValue), acks: peerAcks)
        }
    }

    private mutating func handleAppend(from: NodeID, prevIndex: Int, prevTerm: Round, entries: [Block], leaderCommit: Int,
                                       certificates certs: [CommitCertificate], ackFrom: Int) {
        func reply(_ success: Bool, _ match: Int, _ acks: [RaftAck] = []) {
            out.send(.appendResponse(term: term, success: success, matchIndex: Height(UInt64(match)),
                                     commitIndex: Height(UInt64(commitIndex)), acks: acks), to: from)
        }
        guard prevIndex <= lastIndex else { reply(false, lastIndex + 1); return }
        // Below the in-memory log every entry is committed, and committed entries agree on every node.
        guard prevIndex < log.first || log.term(at: prevIndex) == prevTerm else {
            // Retry from the first index of the conflicting term (never below the commit index).
            var i = prevIndex
            while i > commitIndex + 1 && log.term(at: i - 1) == log.term(at: prevIndex) { i -= 1 }
            reply(false, max(commitIndex + 1, min(i, prevIndex)))
            return
        }
        var match = prevIndex
        for block in entries {
            let index = match + 1
            let entryTerm = Self.entryTerm(of: block)
            if index < log.first { match = index; continue }   // committed here, compacted
            if index <= lastIndex {
                if log.term(at: index) == entryTerm && log[index].headerHash == block.headerHash { match = index; continue }
                guard index > commitIndex else {
                    out.rejections.append(LedgerError(.raftCommittedEntryConflict,
                        "leader \(from) sent block \(block.headerHash.hex.prefix(16)) at committed height \(index)",
                        details: ["height": String(index), "leader": String(from.rawValue)]))
                    break
                }
                log.truncate(from: index)
                dirty = true
            }
            guard block.header.height.rawValue == UInt64(index), entryTerm <= term else { break }
            let verdict = verdicts.check(block, hash: block.header.hash(using: context.hashAlgorithm), parent: log[index - 1].header,
                                         &out.validations)
            if verdict == .pending {
                appendWaitsForVerdict = true   // acknowledge what matched so far; the rest once the verdict is in
                break
            }
            if case .invalid(let error) = verdict {
                out.rejections.append(LedgerError(.proposalRejected, "block \(index) from leader \(from) rejected: \(error.message)",
                                                  details: ["height": String(index), "cause": String(error.numericCode)]))
                break
            }
            log.append(block, term: entryTerm)
            if firstSeen[index] == nil { firstSeen[index] = now }
            dirty = true
            match = index
        }
        // Commit what the leader proved committed and this log holds.
        for cert in certs.sorted(by: { $0.height < $1.height }) {
            let h = Int(cert.height.rawValue)
            guard h == commitIndex + 1, h <= lastIndex, log[h].headerHash == cert.blockHash else { continue }
            commit(h, cert)
        }
        _ = leaderCommit
        // Acknowledge: only when the matched prefix ends in an entry of the leader's term.
        var acks = [RaftAck]()
        if log.term(at: match) == term {
            // From the leader's commit index on, even where this node already committed (a new leader may lag).
            var h = max(ackFrom, 1)
            while h <= match && acks.count < 64 {
                if let sig = ownAck(h) { acks.append(RaftAck(height: Height(UInt64(h)), signature: sig)) }
                h += 1
            }
        }
        reply(true, match, acks)
    }

    private mutating func ownAck(_ h: Int) -> Signature? {
        if let s = ownAcks[h] { return s }
        guard let block = log.block(at: h) else { return nil }
        let payload = CommitCertificate.signingPayload(kind: .raft, chainID: context.chainID, height: Height(UInt64(h)),
                                                       round: term, blockHash: block.headerHash)
        guard let s = try? context.signingKey.signature(for: payload) else { return nil }
        ownAcks[h] = s
        return s
    }

    private mutating func handleAppendResponse(from: NodeID, success: Bool, match: Int, peerCommitIndex: Int, acks peerAcks: [RaftAck]) {
        peerCommit[from] = peerCommitIndex
        guard success else {
            let next = max(1, min(match, (nextIndex[from] ?? 1) - 1, lastIndex + 1))
            nextIndex[from] = next
            // Probe again at once only where the history to send is at hand (else the next heartbeat does).
            if log.term(at: next - 1) != nil { sendAppend(to: from) }
            return
        }
        guard match <= lastIndex else { return }
        let advanced = match > (matchIndex[from] ?? 0)
        matchIndex[from] = max(matchIndex[from] ?? 0, match)
        nextIndex[from] = max(nextIndex[from] ?? 1, match + 1)
        if let key = knownKey(of: from) {
            for ack in peerAcks {
                let h = Int(ack.height.rawValue)
                guard h > commitIndex, h <= match, acks[h]?[from] == nil else { continue }
                let payload = CommitCertificate.signingPayload(kind: .raft, chainID: context.chainID, height: ack.height,
                                                               round: term, blockHash: log[h].headerHash)
                guard key.isValidSignature(ack.signature, for: payload) else {
                    out.rejections.append(LedgerError(.raftAckSignatureInvalid, "ack of \(from) for height \(h) does not verify",
                                                      details: ["height": String(h), "node": String(from.rawValue)]))
                    continue
                }
                acks[h, default: [:]][from] = CertificateVote(signer: from, signature: ack.signature)
            }
        }
        let committedBefore = commitIndex
        tryCommit()
        // Send more only on news: the peer advanced and lags, or nothing was committed that tryCommit already shipped.
        if advanced && commitIndex == committedBefore && (nextIndex[from] ?? 1) <= lastIndex { sendAppend(to: from) }
    }

    private func knownKey(of node: NodeID) -> PublicKey? {
        for set in electionConfigs() { if let v = set.validator(node) { return v.publicKey } }
        return members(at: lastIndex).validator(node)?.publicKey
    }

    private mutating func sendAppend(to peer: NodeID) {
        let next = min(max(1, nextIndex[peer] ?? lastIndex + 1), lastIndex + 1)
        let prev = next - 1
        let end = min(lastIndex, prev + config.maximumEntriesPerAppend)
        // Entries the storage cannot supply (compacted and not held) are not sent: a bare heartbeat keeps
        // this leader's authority and the peer catches up through its host's block sync.
        guard let entries = log.entries(from: next, through: end), let prevTerm = log.term(at: prev) else {
            out.send(.appendEntries(term: term, prevIndex: Height(UInt64(lastIndex)), prevTerm: log.lastTerm, entries: [],
                                    leaderCommit: Height(UInt64(commitIndex)), certificates: [],
                                    ackFrom: Height(UInt64(commitIndex + 1))), to: peer)
            return
        }
        var certs = [CommitCertificate]()
        let known = peerCommit[peer] ?? 0
        if known < commitIndex {
            for h in (known + 1)...min(commitIndex, known + config.maximumEntriesPerAppend) {
                if let c = log.certificate(at: h) { certs.append(c) }
            }
        }
        out.send(.appendEntries(term: term, prevIndex: Height(UInt64(prev)), prevTerm: prevTerm, entries: entries,
                                leaderCommit: Height(UInt64(commitIndex)), certificates: certs,
                                ackFrom: Height(UInt64(commitIndex + 1))), to: peer)
    }

    // MARK: Proposals and commits

    private mutating func maybeRequestProposal() {
        // A new leader always needs one entry of its own term: only that lets it commit older entries.
        guard role == .leader, pendingProposal == nil,
              lastIndex - commitIndex < config.maximumInflightBlocks || log.lastTerm != term,
              sinceLastProposal >= config.blockIntervalTicks, members(at: lastIndex + 1).contains(id) else { return }
        let height = lastIndex + 1
        pendingProposal = (height, now)
        out.proposalRequests.append(ProposalRequest(height: Height(UInt64(height)), parent: log.last.header, round: term,
                                                    consensusData: RLP.encode(.uint(term.rawValue)),
                                                    maximumTransactions: raftConfig(at: height).maximumTransactionsPerBlock))
    }

    private mutating func propose(_ block: Block) {
        guard role == .leader, let pending = pendingProposal, block.header.height.rawValue == UInt64(pending.height),
              pending.height == lastIndex + 1, block.header.parentHash == log.last.headerHash,
              Self.entryTerm(of: block) == term, block.header.producer == context.signingKey.publicKey else {
            out.rejections.append(LedgerError(.consensusInputIgnored, "proposal at height \(block.header.height) does not answer an open request",
                                              details: ["height": block.header.height.description]))
            return
        }
        pendingProposal = nil
        sinceLastProposal = 0
        log.append(block, term: term)
        firstSeen[lastIndex] = now
        dirty = true
        for p in peers() { sendAppend(to: p) }
        tryCommit()
        maybeRequestProposal()
    }

    private mutating func tryCommit() {
        guard role == .leader, log.lastTerm == term else { return }
        var committed = false
        defer {
            // Ship the new certificates (and any further entries) at once.
            if committed {
                for p in peers() { sendAppend(to: p) }
                maybeRequestProposal()
            }
        }
        while commitIndex < lastIndex {
            let h = commitIndex + 1
            let set = members(at: h)
            var votes = [CertificateVote]()
            for v in set.validators {
                if v.id == id {
                    if let s = ownAck(h) { votes.append(CertificateVote(signer: id, signature: s)) }
                } else if let vote = acks[h]?[v.id] {
                    votes.append(vote)
                }
            }
            guard votes.count >= set.majority else { return }
            let cert = CommitCertificate(kind: .raft, height: Height(UInt64(h)), blockHash: log[h].headerHash, round: term, votes: votes)
            commit(h, cert)
            committed = true
        }
    }

    private mutating func commit(_ h: Int, _ cert: CommitCertificate) {
        let block = log[h]
        commitIndex = h
        log.commit(h, certificate: cert)
        verdicts.forget(through: Height(UInt64(h)))
        acks[h] = nil
        ownAcks[h] = nil
        if let seen = firstSeen.removeValue(forKey: h) { lastLatency = now - seen }
        dirty = true
        out.commits.append(CommittedBlock(block: block, certificate: cert))
    }

    // MARK: Status and persistence

    private func currentStatus() -> ConsensusStatus {
        let phase: ConsensusPhase = switch role {
        case .candidate: .electing
        case .leader where pendingProposal != nil: .proposing
        default: lastIndex > commitIndex ? .voting : .committed
        }
        return ConsensusStatus(node: id, committedHeight: Height(UInt64(commitIndex)), round: term, role: role, phase: phase,
                               leader: leader, lastCommitLatencyTicks: lastLatency)
    }

    private func persistentState() -> [UInt8] {
        let suffix = log.suffix(after: commitIndex).map { RLP.Item.bytes($0.encoded) }
        return RLP.encode(.list([.uint(term.rawValue), .uint(votedFor.map { UInt64($0.rawValue) + 1 } ?? 0), .list(suffix)]))
    }

    private mutating func restore(_ bytes: [UInt8]) throws(LedgerError) {
        do {
            let f = try RLP.decode(bytes).list("raftState", count: 3)
            term = Round(try f[0].uint64("raftState.term"))
            let vote = try f[1].uint64("raftState.votedFor")
            votedFor = vote == 0 ? nil : NodeID(UInt32(truncatingIfNeeded: vote - 1))
            for item in try f[2].list("raftState.log") {
                let block = try Block(decoding: try item.bytes("raftState.entry"))
                let h = Int(block.header.height.rawValue)
                if h <= lastIndex { continue }   // committed meanwhile
                guard h == lastIndex + 1, block.header.parentHash == log.last.headerHash else { break }
                log.append(block, term: Self.entryTerm(of: block))
            }
        } catch {
            throw LedgerError(.consensusStateCorrupt, "raft persistent state: \(error.message)", details: error.details)
        }
    }

    /// The term that proposed `block` (its consensus data), 0 for genesis or unreadable data.
    public static func entryTerm(of block: Block) -> Round {
        guard !block.header.consensusData.isEmpty, let item = try? RLP.decode(block.header.consensusData),
              let t = try? item.uint64("raft.entryTerm") else { return 0 }
        return Round(t)
    }
}

extension RaftEngine: ChainMemoryReporting {}
