import LedgerCrypto
import LedgerModel

/// Proof of stake as a pure state machine: Tendermint-style rounds (Buchman,
/// Kwon, Milosevic, "The latest gossip on BFT consensus", 2018) with every
/// quorum weighted by stake (K-A-1).
///
/// For each height, rounds run PROPOSAL → PREVOTE → PRECOMMIT:
/// - **Proposer**: for `(height, round)` the validator chosen by
///   ``proposer(height:round:)``, a deterministic stake-weighted draw
///   (`ValidatorSet.stakeWeightedProposer(seed:)` seeded by the height and
///   round), so a validator proposes in proportion to its stake and every
///   node computes the same proposer. It re-proposes its *valid* block (one
///   it saw > 2/3 prevotes for) or asks its host for a new one.
/// - **Prevote**: for the proposal if it passes the ``ProposalValidator``
///   and does not contradict the node's lock (or comes with a newer
///   > 2/3 prevote round), else nil.
/// - **Precommit / lock**: > 2/3 of the stake prevoting one block locks it
///   and precommits it; > 2/3 prevoting nil precommits nil.
/// - **Decide**: > 2/3 of the stake precommitting one block in one round
///   makes it final; those precommits are its `CommitCertificate` (kind
///   `.pos`), verifiable by a third party against the validator set.
/// - **Timeouts** (ticks): propose `T + r·T/2`, prevote and precommit
///   `T/2 + r·T/4` with `T = roundTimeoutTicks` and `r` the round (capped at
///   8); messages from validators with > 1/3 of the stake in a later round
///   make a node skip to it.
/// - **Stake changes**: the validator set deciding height `h` is the one of
///   `schedule.config(atHeight: h)`; a change scheduled at `h` takes effect at
///   `h` on every node.
/// - **Catch-up and persistence** as in ``PBFTEngine``: a node behind asks its
///   host to catch up (``ConsensusEffects/catchUp``); the height, round, step, lock and this
///   node's votes are persisted so a restarted node never signs two
///   different votes of one kind in one round.
///
/// Safe while Byzantine validators hold less than 1/3 of the stake; live
/// once the network is stable.
///
/// ```swift
/// var engine = try PoSEngine(context: ConsensusContext(node: 0, signingKey: key, genesis: genesis,
///                                                      schedule: ConsensusSchedule(initial: .pos(PoSConfig(validators: set)))))
/// let effects = engine.step(.tick)
/// ```
/// - Note: A value type; not for concurrent mutation.
public struct PoSEngine: ConsensusEngine {
    public typealias Message = PoSMessage
    /// True: blocks from the host's catch-up are decided in place, votes for later heights kept.
    public static var adoptsSyncedBlocks: Bool { true }
    public static let certificateKind = CertificateKind.pos

    public let id: NodeID
    public private(set) var status: ConsensusStatus
    /// Messages dropped because their signature did not verify.
    public private(set) var invalidSignatureCount = 0
    /// The height being decided (committed + 1).
    public var height: Height { lastHeader.height.next }
    /// The current round within ``height``.
    public private(set) var round: Round = 0
    /// The height of the last committed block.
    public var committedHeight: Height { lastHeader.height }

    private enum Step: UInt64, Sendable { case propose = 0, prevote = 1, precommit = 2 }

    private let key: PrivateKey
    private let chainID: UInt64
    private let hashAlgorithm: HashAlgorithm
    private var verdicts: ProposalVerdicts
    /// Signatures already verified (a memo; see ``VerifiedSignatureCache``).
    private let verifiedSignatures = VerifiedSignatureCache.shared
    private var schedule: ConsensusSchedule
    /// The last committed blocks in memory, older ones through the context's storage.
    private var history: CommittedHistory
    private var lastHeader: BlockHeader
    private var lastHash: Digest

    private var step: Step = .propose
    private var lockedRound: Round?
    private var lockedHash: Digest?
    private var validRound: Round?
    private var validHash: Digest?

    private struct VoteKey: Hashable, Sendable { var round: Round; var hash: Digest? }
    private var proposals: [Round: PoSMessage] = [:]
    private var blocks: [Digest: Block] = [:]
    private var validity: [Digest: Bool] = [:]
    private var prevotes = VoteTally<VoteKey, PoSMessage>()
    private var precommits = VoteTally<VoteKey, PoSMessage>()
    private var prevoteBy: [Round: [NodeID: Digest?]] = [:]
    private var precommitBy: [Round: [NodeID: Digest?]] = [:]
    private var precommitKeys: [Round: [VoteKey]] = [:]
    /// The blocks prevoted in each round, in the order first seen.
    private var prevoteKeys: [Round: [Digest]] = [:]
    private var myVotes: [VoteKind: Digest?] = [:]
    private struct VoteKind: Hashable, Sendable { var round: Round; var precommit: Bool }
    private var done = Set<String>()

    private var now: UInt64 = 0
    private var timeoutPropose: UInt64?
    private var timeoutPrevote: UInt64?
    private var timeoutPrecommit: UInt64?
    private var proposeAt: UInt64?
    private var requestedRound: Round?
    private var lastProgress: UInt64 = 0
    private var lastRetransmit: UInt64 = 0
    private var lastSyncRequest: UInt64?
    private var heightStarted: UInt64 = 0
    private var roundStarted: UInt64 = 0
    private var lastLatency: UInt64?
    private var phase: ConsensusPhase = .proposing

    /// Committed blocks held in memory (bounded; see ``ConsensusStorage``).
    package var blocksInMemory: Int { history.recentCount }

    // MARK: - Init

    /// Starts a PoS engine.
    /// - Parameters:
    ///   - context: Required. `schedule` must be a PoS schedule (``ConsensusConfig/pos(_:)``).
    ///   - recovery: Optional, default nil. The last persisted state and the last committed blocks (a suffix of the chain
    ///     ending at the head); older ones are read through the context's `storage`.
    /// - Throws: `.consensusEngineMismatch` (1702), `.invalidConsensusConfig` (1701), `.consensusStateCorrupt` (1724).
    public init(context: ConsensusContext, recovery: ConsensusRecovery?) throws(LedgerError) {
        guard case .pos = context.schedule.initial else {
            throw LedgerError(.consensusEngineMismatch, "PoSEngine needs a pos configuration, found \(context.schedule.engine)", details: ["field": "engine"])
        }
        try context.schedule.validate()
        id = context.node
        key = context.signingKey
        chainID = context.chainID
        hashAlgorithm = context.hashAlgorithm
        verdicts = ProposalVerdicts(context.proposalValidator)
        schedule = context.schedule
        lastHeader = context.genesis.header
        lastHash = context.genesis.headerHash
        status = ConsensusStatus(node: context.node, committedHeight: 0, round: 0, role: .validator, phase: .proposing)
        history = CommittedHistory(storage: context.storage)
        if let recovery {
            try history.load(recovery.committed, head: &lastHeader, hash: &lastHash)
            if let bytes = recovery.persistentState { try restore(bytes) }
        }
        proposeAt = 0
        timeoutPropose = timeoutFor(.propose)
        status = makeStatus()
    }

    // MARK: - Configuration and proposer

    private func config(at h: Height) -> PoSConfig {
        if case .pos(let c) = schedule.config(atHeight: h) { return c }
        if case .pos(let c) = schedule.initial { return c }
        preconditionFailure("PoS schedule checked at init")
    }
    private var current: PoSConfig { config(at: height) }
    /// The validator set deciding the current height.
    public var validators: ValidatorSet { current.validators }

    /// The proposer of `(height, round)`: a stake-weighted draw seeded by both, the same on every node.
    public func proposer(height h: Height, round r: Round) -> NodeID {
        var rng = SplitMix64(seed: h.rawValue &* 0x9E37_79B9_7F4A_7C15 ^ r.rawValue &* 0xC2B2_AE3D_27D4_EB4F)
        return config(at: h).validators.stakeWeightedProposer(seed: rng.next())
    }

    private func timeoutFor(_ s: Step) -> UInt64 {
        let t = current.roundTimeoutTicks, r = min(round.rawValue, 8)
        switch s {
        case .propose: return now + t + r * t / 2
        case .prevote, .precommit: return now + max(1, t / 2 + r * t / 4)
        }
    }

    private func hasQuorum(_ stake: UInt64) -> Bool { validators.hasStakeQuorum(stake) }
    private func exceedsThird(_ stake: UInt64) -> Bool { UInt128(stake) * 3 > UInt128(validators.totalStake) }

    // MARK: - Step

    public mutating func step(_ input: ConsensusInput<PoSMessage>) -> ConsensusEffects<PoSMessage> {
        var fx = ConsensusEffects<PoSMessage>()
        switch input {
        case .tick: onTick(&fx)
        case .receive(let from, let m): onReceive(from, m, &fx)
        case .proposal(let block): onProposal(block, &fx)
        case .configChange(let change):
            do { try schedule.schedule(change.config, atHeight: change.height) } catch { fx.rejections.append(error) }
        case .validated(let request, let error):
            _ = verdicts.record(request, error)   // `evaluate` below takes the verdict up
        case .synced(let blocks):
            adoptSynced(blocks, &fx)
        }
        evaluate(&fx)
        let s = makeStatus()
        if s != status { status = s; fx.status = s }
        return fx
    }

    private func makeStatus() -> ConsensusStatus {
        let p = proposer(height: height, round: round)
        return ConsensusStatus(node: id, committedHeight: lastHeader.height, round: round,
                               role: validators.contains(id) ? (p == id ? .proposer : .validator) : .observer,
                               phase: phase, leader: p, lastCommitLatencyTicks: lastLatency)
    }

    // MARK: - Timers

    private mutating func onTick(_ fx: inout ConsensusEffects<PoSMessage>) {
        now += 1
        guard validators.contains(id) else { return }
        if let t = proposeAt, now >= t, step == .propose, proposer(height: height, round: round) == id, requestedRound != round, proposals[round] == nil {
            proposeAt = nil
            propose(&fx)
        }
        if let t = timeoutPropose, now >= t {
            timeoutPropose = nil
            if step == .propose { vote(precommit: false, nil, &fx); step = .prevote }
        }
        if let t = timeoutPrevote, now >= t {
            timeoutPrevote = nil
            if step == .prevote { vote(precommit: true, nil, &fx); step = .precommit }
        }
        if let t = timeoutPrecommit, now >= t {
            timeoutPrecommit = nil
            startRound(round.next, &fx)
        }
        // Retransmit only what has been pending for a while: since the round started, or since the
        // proposer was due to propose after the last commit.
        let interval = max(2, current.roundTimeoutTicks / 4)
        if now >= max(lastProgress + current.blockIntervalTicks, lastRetransmit, roundStarted) + interval {
            lastRetransmit = now
            if let p = proposals[round], p.sender == id {
                fx.broadcast(p)
                relayJustification(of: p, &fx)
            } else if let vr = validRound, let vh = validHash, vr < round {
                // Gossip the proposal and the > 2/3 prevotes behind this node's valid block, so that every
                // correct node learns it as valid and the next correct proposer re-proposes it.
                if let p = proposals[vr], case .proposal(_, _, vh, _, _) = p.body { fx.broadcast(p) }
                for v in prevotes.votes(VoteKey(round: vr, hash: vh)) { fx.broadcast(v.vote) }
            }
            for kind in [VoteKind(round: round, precommit: false), VoteKind(round: round, precommit: true)] {
                if let h = myVotes[kind] { fx.broadcast(voteMessage(kind.precommit, round, h)) }
            }
            // Stuck at this height: the host catches up from any peer that decided it.
            fx.catchUp = CatchUpRequest(peer: nil, from: height)
            lastSyncRequest = now
        }
    }

    private func voteMessage(_ precommit: Bool, _ r: Round, _ h: Digest?) -> PoSMessage {
        .make(precommit ? .precommit(height: height, round: r, blockHash: h) : .prevote(height: height, round: r, blockHash: h),
              sender: id, key: key, chainID: chainID)
    }

    /// Signs and broadcasts a vote, once per (round, kind): a restarted node repeats its earlier choice.
    private mutating func vote(precommit: Bool, _ h: Digest?, _ fx: inout ConsensusEffects<PoSMessage>) {
        guard validators.contains(id) else { return }
        let kind = VoteKind(round: round, precommit: precommit)
        let choice = myVotes[kind] ?? h
        myVotes[kind] = choice
        let m = voteMessage(precommit, round, choice)
        record(m, &fx)
        fx.broadcast(m)
        fx.persistentState = persistedState()
        phase = .voting
    }

    private mutating func startRound(_ r: Round, _ fx: inout ConsensusEffects<PoSMessage>) {
        round = r
        roundStarted = now
        step = .propose
        phase = .proposing
        timeoutPrevote = nil
        timeoutPrecommit = nil
        timeoutPropose = timeoutFor(.propose)
        if proposer(height: height, round: r) == id { propose(&fx) }
        fx.persistentState = persistedState()
    }

    private mutating func propose(_ fx: inout ConsensusEffects<PoSMessage>) {
        if let vh = validHash, let vr = validRound, let b = blocks[vh] {
            let m = PoSMessage.make(.proposal(height: height, round: round, blockHash: vh, block: b, validRound: vr), sender: id, key: key, chainID: chainID)
            proposals[round] = m
            fx.broadcast(m)
            relayJustification(of: m, &fx)
            return
        }
        requestedRound = round
        fx.proposalRequests.append(ProposalRequest(height: height, parent: lastHeader, round: round,
                                                   maximumTransactions: current.maximumTransactionsPerBlock))
    }

    /// Gossip (Tendermint's assumption that what one correct node received every correct node
    /// eventually receives): with a re-proposal of round `validRound`, relay the signed prevotes of
    /// that round for the block, so validators that missed some (an equivocating validator sent
    /// them something else) can accept it.
    private func relayJustification(of proposal: PoSMessage, _ fx: inout ConsensusEffects<PoSMessage>) {
        guard case .proposal(_, _, let d, _, let vr?) = proposal.body else { return }
        for v in prevotes.votes(VoteKey(round: vr, hash: d)) { fx.broadcast(v.vote) }
    }

    private mutating func onProposal(_ block: Block, _ fx: inout ConsensusEffects<PoSMessage>) {
        guard requestedRound == round, step == .propose, proposals[round] == nil, block.header.height == height,
              block.header.parentHash == lastHash, block.headerHash == block.header.hash(using: hashAlgorithm) else {
            fx.rejections.append(LedgerError(.consensusInputIgnored, "proposal at height \(block.header.height) is stale or does not extend height \(lastHeader.height)",
                                             details: ["height": block.header.height.description]))
            return
        }
        requestedRound = nil
        let m = PoSMessage.make(.proposal(height: height, round: round, blockHash: block.headerHash, block: block, validRound: nil),
                                sender: id, key: key, chainID: chainID)
        proposals[round] = m
        blocks[block.headerHash] = block
        validity[block.headerHash] = true
        fx.broadcast(m)
    }

    // MARK: - Receiving

    private mutating func onReceive(_ from: NodeID, _ m: PoSMessage, _ fx: inout ConsensusEffects<PoSMessage>) {
        // Proposals and votes may be relayed by another validator (gossip, see relayJustification(of:_:));
        // their signatures authenticate them.
        guard from != id, validators.contains(from) else {
            fx.rejections.append(LedgerError(.consensusMessageFromUnknownNode, "PoS message from \(from) signed as \(m.sender) is not from a validator peer",
                                             details: ["from": from.description]))
            return
        }
        let set = m.height > height ? config(at: m.height).validators : validators
        guard m.isValidlySigned(chainID: chainID, validators: set.contains(m.sender) ? set : validators, cache: verifiedSignatures) else {
            invalidSignatureCount += 1
            fx.rejections.append(LedgerError(.consensusMessageSignatureInvalid, "PoS message kind \(m.kind) from \(from): signature does not verify",
                                             details: ["from": from.description]))
            return
        }
        if m.height > height { requestSync(from, &fx); return }
        guard m.height == height else { return }
        record(m, &fx)
    }

    private func isVote(_ m: PoSMessage) -> Bool {
        if case .prevote = m.body { return true }
        if case .precommit = m.body { return true }
        return false
    }

    private mutating func record(_ m: PoSMessage, _ fx: inout ConsensusEffects<PoSMessage>) {
        switch m.body {
        case .proposal(let h, let r, let d, let b, _):
            guard m.sender == proposer(height: h, round: r) else {
                fx.rejections.append(LedgerError(.posNotProposer, "proposal for height \(h) round \(r) from \(m.sender), proposer is \(proposer(height: h, round: r))",
                                                 details: ["height": h.description, "round": r.description]))
                return
            }
            guard let b, b.headerHash == d, b.header.height == h, b.header.hash(using: hashAlgorithm) == d else {
                fx.rejections.append(LedgerError(.posBlockMismatch, "proposal for height \(h) carries no block with hash \(d.hex)", details: ["height": h.description]))
                return
            }
            if let existing = proposals[r] {
                if existing != m, case .proposal(_, _, let d0, _, _) = existing.body, d0 != d {
                    fx.rejections.append(LedgerError(.posConflictingProposal, "proposer \(m.sender) sent a second block for height \(h) round \(r)",
                                                     details: ["height": h.description, "round": r.description]))
                    // Keep the block: it may gather > 2/3 prevotes elsewhere (see updateValidFromPastRounds).
                    if blocks[d] == nil { blocks[d] = b }
                }
                return
            }
            proposals[r] = m
            blocks[d] = b
        case .prevote(_, let r, let d), .precommit(_, let r, let d):
            let isPrecommit = m.kind == 3
            let prior = isPrecommit ? precommitBy[r]?[m.sender] : prevoteBy[r]?[m.sender]
            let k = VoteKey(round: r, hash: d)
            if let prior {
                guard prior != d else { return }
                fx.rejections.append(LedgerError(.posConflictingVote, "validator \(m.sender) signed two different \(isPrecommit ? "precommits" : "prevotes") in round \(r)",
                                                 details: ["round": r.description, "from": m.sender.description]))
                // An equivocator's vote still counts towards each value it signed (as in Tendermint's
                // vote sets): two > 2/3 quorums for different values would still need a correct node to
                // vote twice, and correct nodes that saw different votes can still agree on a quorum.
            } else if isPrecommit {
                precommitBy[r, default: [:]][m.sender] = d
            } else {
                prevoteBy[r, default: [:]][m.sender] = d
            }
            if isPrecommit {
                if precommits.add(m, from: m.sender, for: k), precommitKeys[r]?.contains(k) != true { precommitKeys[r, default: []].append(k) }
            } else {
                if prevotes.add(m, from: m.sender, for: k), let d, prevoteKeys[r]?.contains(d) != true { prevoteKeys[r, default: []].append(d) }
            }
        }
    }

    /// Whether block `d` is a valid next block; nil while the host's verdict is pending
    /// (``ProposalValidator/deferred``).
    private mutating func isValid(_ d: Digest, _ fx: inout ConsensusEffects<PoSMessage>) -> Bool? {
        if let v = validity[d] { return v }
        guard let b = blocks[d] else { return false }
        var ok = false
        if b.header.parentHash == lastHash {
            switch verdicts.check(b, hash: d, parent: lastHeader, &fx.validations) {
            case .pending: return nil
            case .valid: ok = true
            case .invalid: ok = false
            }
        }
        validity[d] = ok
        return ok
    }

    private func stake(_ tally: VoteTally<VoteKey, PoSMessage>, _ k: VoteKey) -> UInt64 { tally.stake(k, in: validators) }
    private func roundStake(_ by: [Round: [NodeID: Digest?]], _ r: Round) -> UInt64 { validators.stake(of: (by[r] ?? [:]).keys) }

    // MARK: - The rules

    private mutating func evaluate(_ fx: inout ConsensusEffects<PoSMessage>) {
        var changed = true
        while changed {
            changed = false
            let h = height
            // Decide: > 2/3 precommits for a block in any round.
            for r in proposalRoundsAndVotes() {
                for (key, _) in precommitValues(r) {
                    guard let d = key.hash, hasQuorum(stake(precommits, key)), let b = blocks[d], b.header.parentHash == lastHash else { continue }
                    let votes = precommits.votes(key).map { CertificateVote(signer: $0.signer, signature: $0.vote.signature) }
                    decide(CommittedBlock(block: b, certificate: CommitCertificate(kind: .pos, height: h, blockHash: d, round: r, votes: votes)), &fx)
                    changed = true
                    break
                }
                if changed { break }
            }
            if changed { continue }
            // Skip ahead: > 1/3 of the stake active in a later round.
            if let r = laterRoundWithThird() { startRound(r, &fx); changed = true; continue }

            let r = round
            // A proposal whose verdict is pending waits (the propose timeout still prevotes nil).
            if step == .propose, let p = proposals[r], case .proposal(_, _, let d, _, let vr) = p.body {
                if let vr {
                    if vr < r, hasQuorum(stake(prevotes, VoteKey(round: vr, hash: d))), let valid = isValid(d, &fx) {
                        let ok = valid && (lockedRound.map { $0 <= vr } ?? true || lockedHash == d)
                        vote(precommit: false, ok ? d : nil, &fx)
                        step = .prevote
                        changed = true
                    }
                } else if let valid = isValid(d, &fx) {
                    let ok = valid && (lockedRound == nil || lockedHash == d)
                    vote(precommit: false, ok ? d : nil, &fx)
                    step = .prevote
                    changed = true
                }
            }
            if step == .prevote, !done.contains("pvany\(r)"), hasQuorum(roundStake(prevoteBy, r)) {
                done.insert("pvany\(r)")
                timeoutPrevote = timeoutFor(.prevote)
            }
            if step != .propose, !done.contains("lock\(r)"), let p = proposals[r], case .proposal(_, _, let d, _, _) = p.body,
               hasQuorum(stake(prevotes, VoteKey(round: r, hash: d))), isValid(d, &fx) == true {
                done.insert("lock\(r)")
                if step == .prevote {
                    lockedRound = r
                    lockedHash = d
                    vote(precommit: true, d, &fx)
                    step = .precommit
                }
                validRound = r
                validHash = d
                changed = true
            }
            if step == .prevote, hasQuorum(stake(prevotes, VoteKey(round: r, hash: nil))) {
                vote(precommit: true, nil, &fx)
                step = .precommit
                changed = true
            }
            if !done.contains("pcany\(r)"), hasQuorum(roundStake(precommitBy, r)) {
                done.insert("pcany\(r)")
                timeoutPrecommit = timeoutFor(.precommit)
            }
            updateValidFromPastRounds(&fx)
        }
    }

    /// A block with > 2/3 prevotes in an earlier round than any this node knew of becomes its valid
    /// block (what it re-proposes). Safe: receivers of a re-proposal check those prevotes and their
    /// own lock themselves; this only lets correct nodes that missed a polka (an equivocator showed
    /// them something else) follow it once gossip delivers it.
    private mutating func updateValidFromPastRounds(_ fx: inout ConsensusEffects<PoSMessage>) {
        for r in prevoteKeys.keys.sorted(by: >) where r < round {
            if let vr = validRound, r <= vr { return }
            for d in prevoteKeys[r] ?? [] where blocks[d] != nil && hasQuorum(stake(prevotes, VoteKey(round: r, hash: d))) && isValid(d, &fx) == true {
                validRound = r
                validHash = d
                return
            }
        }
    }

    private func proposalRoundsAndVotes() -> [Round] { precommitBy.keys.sorted() }

    /// The values precommitted in round `r`, in the order first seen.
    private func precommitValues(_ r: Round) -> [(VoteKey, Int)] { (precommitKeys[r] ?? []).map { ($0, 0) } }

    private func laterRoundWithThird() -> Round? {
        let rounds = Set(prevoteBy.keys).union(precommitBy.keys).union(proposals.keys).filter { $0 > round }.sorted()
        for r in rounds {
            var senders = Set<NodeID>()
            for s in (prevoteBy[r] ?? [:]).keys { senders.insert(s) }
            for s in (precommitBy[r] ?? [:]).keys { senders.insert(s) }
            if let p = proposals[r] { senders.insert(p.sender) }
            if exceedsThird(validators.stake(of: senders)) { return r }
        }
        return nil
    }

    private mutating func decide(_ cb: CommittedBlock, _ fx: inout ConsensusEffects<PoSMessage>) {
        history.append(cb)
        lastHeader = cb.block.header
        lastHash = cb.hash
        fx.commits.append(cb)
        verdicts.forget(through: cb.height)
        lastLatency = now - heightStarted
        heightStarted = now
        lastProgress = now
        round = 0
        step = .propose
        lockedRound = nil; lockedHash = nil; validRound = nil; validHash = nil
        proposals = [:]; blocks = [:]; validity = [:]
        prevotes.removeAll(); precommits.removeAll()
        prevoteBy = [:]; precommitBy = [:]; precommitKeys = [:]; prevoteKeys = [:]; myVotes = [:]; done = []
        requestedRound = nil
        timeoutPrevote = nil; timeoutPrecommit = nil
        timeoutPropose = timeoutFor(.propose) + current.blockIntervalTicks
        phase = .committed
        proposeAt = now + current.blockIntervalTicks
        fx.persistentState = persistedState()
    }

    // MARK: - Catch-up

    /// Decides the host's catch-up blocks that extend the head and carry a PoS certificate that verifies.
    private mutating func adoptSynced(_ blocks: [CommittedBlock], _ fx: inout ConsensusEffects<PoSMessage>) {
        for cb in blocks where cb.height == height {
            do throws(LedgerError) {
                guard cb.block.header.parentHash == lastHash, cb.certificate.kind == .pos else {
                    throw LedgerError(.certificateBlockMismatch, "does not extend the chain or is not a pos certificate")
                }
                try cb.certificate.verify(block: cb.block, validators: validators, hashAlgorithm: hashAlgorithm)
            } catch {
                fx.rejections.append(LedgerError(.consensusSyncBlockInvalid, "synced block at height \(cb.height): \(error.message)",
                                                 details: ["height": cb.height.description, "cause": error.code.description]))
                return
            }
            decide(cb, &fx)
        }
    }

    /// A message from a later height: this node is behind; the host catches up from the sender.
    private mutating func requestSync(_ peer: NodeID, _ fx: inout ConsensusEffects<PoSMessage>) {
        if let last = lastSyncRequest, now - last < 2 { return }
        lastSyncRequest = now
        fx.catchUp = CatchUpRequest(peer: peer, from: height)
    }

    // MARK: - Persistence

    /// RLP `[version, height, round, step, lockedRound+1, lockedHash, validRound+1, validHash, [[round, precommit, hash]…]]`.
    private func persistedState() -> [UInt8] {
        func r(_ x: Round?) -> RLP.Item { .uint(x.map { $0.rawValue + 1 } ?? 0) }
        func d(_ x: Digest?) -> RLP.Item { .bytes(x?.bytes ?? []) }
        let votes = myVotes.keys.sorted { ($0.round, $0.precommit ? 1 : 0) < ($1.round, $1.precommit ? 1 : 0) }.map { k -> RLP.Item in
            .list([.uint(k.round.rawValue), .uint(k.precommit ? 1 : 0), d(myVotes[k]!)])
        }
        return RLP.encode(.list([.uint(1), .uint(height.rawValue), .uint(round.rawValue), .uint(step.rawValue), r(lockedRound), d(lockedHash),
                                 r(validRound), d(validHash), .list(votes)]))
    }

    private mutating func restore(_ bytes: [UInt8]) throws(LedgerError) {
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("pos.state", count: 9)
            guard try f[0].uint64("pos.state.version") == 1 else {
                throw LedgerError(.consensusStateCorrupt, "PoS state version is not 1", details: ["field": "pos.state.version"])
            }
            guard Height(try f[1].uint64("pos.state.height")) == height else { return }   // a newer block was committed since
            func r(_ i: RLP.Item) throws(LedgerError) -> Round? { let v = try i.uint64("pos.state.round"); return v == 0 ? nil : Round(v - 1) }
            func d(_ i: RLP.Item) throws(LedgerError) -> Digest? { let b = try i.bytes("pos.state.hash"); return b.isEmpty ? nil : try Digest(bytes: b) }
            round = Round(try f[2].uint64("pos.state.round"))
            step = Step(rawValue: try f[3].uint64("pos.state.step")) ?? .propose
            lockedRound = try r(f[4]); lockedHash = try d(f[5])
            validRound = try r(f[6]); validHash = try d(f[7])
            for v in try f[8].list("pos.state.votes") {
                let g = try v.list("pos.state.vote", count: 3)
                myVotes[VoteKind(round: Round(try g[0].uint64("round")), precommit: try g[1].uint64("precommit") != 0)] = .some(try d(g[2]))
            }
        } catch {
            if error.code == .consensusStateCorrupt { throw error }
            throw LedgerError(.consensusStateCorrupt, "PoS persisted state does not decode: \(error.message)", details: ["cause": error.code.description])
        }
    }
}

extension PoSEngine: ChainMemoryReporting {}
