import LedgerCrypto
import LedgerModel

/// Practical Byzantine Fault Tolerance (Castro & Liskov, OSDI 1999 / TOCS
/// 2002) as a pure state machine: safe with `f` Byzantine validators of
/// `3f + 1`, live once the network is stable (K-A-1).
///
/// Each block is one request batch with sequence number = height. The
/// primary of view `v` (validator `v mod n`) asks its host for a block
/// (``ProposalRequest``), then broadcasts a PRE-PREPARE carrying it.
/// Backups check it with the ``ProposalValidator`` and PREPARE; a node with
/// the pre-prepare and `2f` matching PREPAREs is *prepared* and COMMITs; a
/// prepared node with `2f + 1` matching COMMITs commits the block, in height
/// order, with those COMMITs as its `CommitCertificate`. Blocks are
/// decided one at a time (each extends the last committed block).
///
/// - **Checkpoints and watermarks**: after every `checkpointIntervalBlocks`
///   blocks each node broadcasts a signed CHECKPOINT; `2f + 1` matching ones
///   make it stable (the low watermark); older log entries are discarded and
///   nothing beyond `low + watermarkWindowBlocks` is accepted or proposed.
/// - **View change**: a node that sees no commit for
///   `viewChangeTimeoutTicks` (doubling on each consecutive failure, up to
///   8×) broadcasts VIEW-CHANGE for the next view with its stable
///   checkpoint proof and prepared certificates; `f + 1` VIEW-CHANGEs for
///   higher views make a node join the smallest. The new primary, holding
///   `2f + 1`, broadcasts NEW-VIEW with them and re-proposes every block
///   prepared above the highest stable checkpoint (the O-set); backups
///   recompute the O-set from the V-set before accepting.
/// - **Catch-up**: a node that sees messages for later heights, or makes no
///   progress, asks its host to catch up (``ConsensusEffects/catchUp``: the
///   host fetches committed blocks with certificates, verifies them and
///   restarts the engine from its store) and asks peers for their latest
///   NEW-VIEW (``PBFTMessage/Body/viewQuery(view:)``), so a node that missed a
///   view change rejoins.
/// - **Persistence**: the view, the view-change backoff, the stable
///   checkpoint with its proof, the accepted pre-prepares and the prepared
///   certificates (without block bodies) are emitted in ``ConsensusEffects/persistentState`` whenever
///   they change; a restarted engine gets them back with the committed
///   chain and never votes against what it voted before.
///
/// Signatures: every message is signed with the node's key and verified on
/// receipt (``invalidSignatureCount`` counts the dropped ones, each also
/// reported as `.consensusMessageSignatureInvalid` (1721)).
///
/// ```swift
/// var engine = try PBFTEngine(context: ConsensusContext(node: 0, signingKey: key, genesis: genesis,
///                                                       schedule: ConsensusSchedule(initial: .pbft(PBFTConfig(validators: set)))))
/// var effects = engine.step(.tick)          // the primary asks for a proposal
/// effects = engine.step(.proposal(block))   // and pre-prepares it
/// ```
/// - Note: A value type; not for concurrent mutation (own it from one actor or thread).
public struct PBFTEngine: ConsensusEngine {
    public typealias Message = PBFTMessage
    /// True: blocks from the host's catch-up are committed in place, the view and votes kept.
    public static var adoptsSyncedBlocks: Bool { true }
    public static let certificateKind = CertificateKind.pbft


    public let id: NodeID
    public private(set) var status: ConsensusStatus
    /// Messages dropped because their signature (or a nested signature) did not verify.
    public private(set) var invalidSignatureCount = 0
    /// The current view (the view being changed to during a view change).
    public private(set) var view: Round = 0
    /// Whether a view change is in progress (normal-case messages are ignored).
    public private(set) var isChangingView = false
    /// The low watermark: the last stable checkpoint's height.
    public var stableCheckpointHeight: Height { stable.height }
    /// The height of the last committed block.
    public var committedHeight: Height { lastHeader.height }

    private let key: PrivateKey
    private let chainID: UInt64
    private let hashAlgorithm: HashAlgorithm
    private var verdicts: ProposalVerdicts
    /// Signatures already verified (a memo; see ``VerifiedSignatureCache``).
    private let verifiedSignatures = VerifiedSignatureCache.shared
    private var schedule: ConsensusSchedule

    private var genesis: Block
    /// The last committed blocks in memory, older ones through the context's storage.
    private var history: CommittedHistory
    private var lastHeader: BlockHeader
    private var lastHash: Digest

    private struct VoteKey: Hashable, Sendable { var view: Round; var hash: Digest }
    private struct Slot: Sendable {
        var accepted: PBFTMessage?
        var candidates: [PBFTMessage] = []
        var prepares = VoteTally<VoteKey, PBFTMessage>()
        var commits = VoteTally<VoteKey, PBFTMessage>()
        var prepared: PBFTPreparedCertificate?
        /// The canonical encoding of `prepared` without its block (what is persisted), computed once.
        var preparedBytes: [UInt8]?
        /// The prepared block's canonical encoding, persisted while the block is not committed: a restart
        /// must not lose the only copy a later NEW-VIEW may need (computed once).
        var preparedBody: [UInt8]?
        var blocks: [Digest: Block] = [:]
        var sentCommit: VoteKey?
        var firstSeen: UInt64?
        var acceptedKey: VoteKey? {
            guard let m = accepted, case .prePrepare(let v, _, let d, _) = m.body else { return nil }
            return VoteKey(view: v, hash: d)
        }
    }
    private var slots: [UInt64: Slot] = [:]
    /// Pre-prepares accepted in earlier runs: (view, height) → hash. Never vote for another.
    private var acceptedBefore: [UInt64: VoteKey] = [:]

    private struct Checkpoint: Sendable { var height: Height; var hash: Digest; var proof: [PBFTMessage] }
    private struct CheckpointKey: Hashable, Sendable { var height: Height; var hash: Digest }
    private var stable: Checkpoint
    private var checkpointVotes = VoteTally<CheckpointKey, PBFTMessage>()
    private var myCheckpoint: PBFTMessage?
    /// Set by a restart: sign and broadcast the checkpoint of the store's head on the first tick.
    private var signsHeadCheckpoint = false

    private var viewChanges = VoteTally<Round, PBFTMessage>()
    private var myViewChange: PBFTMessage?
    private var lastNewView: PBFTNewView?
    /// `lastNewView` as this node signed it, when it is the primary that sent it (re-sent as is, never re-signed).
    private var lastNewViewMessage: PBFTMessage?
    private var sentNewViewFor: Round?

    private var now: UInt64 = 0
    private var deadline: UInt64 = 0
    private var lastProgress: UInt64 = 0
    private var lastRetransmit: UInt64 = 0
    /// Retransmissions so far (the full pre-prepare goes to every backup on each fourth).
    private var retransmissions: UInt64 = 0
    private var viewChangeAttempts: UInt64 = 0
    private var nextProposalTick: UInt64 = 0
    private var requestedView: Round?
    private var requestedHeight: Height?
    private var lastSyncRequest: UInt64?
    private var lastLatency: UInt64?
    private var phase: ConsensusPhase = .committed

    // MARK: - Init

    /// Starts a PBFT engine.
    /// - Parameters:
    ///   - context: Required. `schedule` must be a PBFT schedule (``ConsensusConfig/pbft(_:)``); `signingKey` must be this node's key in the validator set.
    ///     Older committed blocks are read through its `storage`.
    ///   - recovery: Optional, default nil. The last persisted state and the last committed blocks (a suffix of the chain ending at the head).
    /// - Throws: `LedgerError` `.consensusEngineMismatch` (1702) for a non-PBFT schedule,
    ///   `.invalidConsensusConfig` (1701) for an invalid configuration,
    ///   `.consensusStateCorrupt` (1724) when the persisted state or committed chain does not decode or link.
    public init(context: ConsensusContext, recovery: ConsensusRecovery?) throws(LedgerError) {
        guard case .pbft = context.schedule.initial else {
            throw LedgerError(.consensusEngineMismatch, "PBFTEngine needs a pbft configuration, found \(context.schedule.engine)",
                              details: ["field": "engine"])
        }
        try context.schedule.validate()
        id = context.node
        key = context.signingKey
        chainID = context.chainID
        hashAlgorithm = context.hashAlgorithm
        verdicts = ProposalVerdicts(context.proposalValidator)
        schedule = context.schedule
        genesis = context.genesis
        lastHeader = context.genesis.header
        lastHash = context.genesis.headerHash
        stable = Checkpoint(height: 0, hash: context.genesis.headerHash, proof: [])
        status = ConsensusStatus(node: context.node, committedHeight: 0, round: 0, role: .backup, phase: .committed)
        history = CommittedHistory(storage: context.storage)
        if let recovery {
            try history.load(recovery.committed, head: &lastHeader, hash: &lastHash)
            if let bytes = recovery.persistentState { try restore(bytes) }
            signsHeadCheckpoint = true
        }
        if !isChangingView { deadline = timeout << min(viewChangeAttempts, 3) }
        status = makeStatus()
    }

    /// Committed blocks held in memory (bounded; see ``ConsensusStorage``).
    package var blocksInMemory: Int { history.recentCount }

    // MARK: - Configuration

    private func config(at height: Height) -> PBFTConfig {
        if case .pbft(let c) = schedule.config(atHeight: height) { return c }
        if case .pbft(let c) = schedule.initial { return c }
        preconditionFailure("PBFT schedule checked at init")
    }
    private var current: PBFTConfig { config(at: lastHeader.height.next) }
    private var validators: ValidatorSet { current.validators }
    private var quorum: Int { validators.byzantineQuorum }
    private var timeout: UInt64 { current.viewChangeTimeoutTicks }
    private var retransmitInterval: UInt64 { max(2, timeout / 4) }

    /// The primary of view `v`: validator `v mod n` of the current set.
    public func primary(of v: Round) -> NodeID { validators[Int(v.rawValue % UInt64(validators.count))].id }

    // MARK: - Step

    public mutating func step(_ input: ConsensusInput<PBFTMessage>) -> ConsensusEffects<PBFTMessage> {
        var fx = ConsensusEffects<PBFTMessage>()
        switch input {
        case .tick: onTick(&fx)
        case .receive(let from, let message): onReceive(from, message, &fx)
        case .proposal(let block): onProposal(block, &fx)
        case .configChange(let change):
            do { try schedule.schedule(change.config, atHeight: change.height) } catch { fx.rejections.append(error) }
        case .validated(let request, let error):
            if verdicts.record(request, error) { advance(&fx) }
        case .synced(let blocks):
            adoptSynced(blocks, &fx)
        }
        maybePropose(&fx)
        let s = makeStatus()
        if s != status { status = s; fx.status = s }
        return fx
    }

    private func makeStatus() -> ConsensusStatus {
        ConsensusStatus(node: id, committedHeight: lastHeader.height, round: view,
                        role: validators.contains(id) ? (primary(of: view) == id ? .primary : .backup) : .observer,
                        phase: isChangingView ? .viewChange : phase, leader: isChangingView ? nil : primary(of: view),
                        lastCommitLatencyTicks: lastLatency)
    }

    // MARK: - Ticks, timers, retransmission

    private mutating func onTick(_ fx: inout ConsensusEffects<PBFTMessage>) {
        now += 1
        guard validators.contains(id) else { return }
        if signsHeadCheckpoint {
            signsHeadCheckpoint = false
            signCheckpointOfHead(&fx)
        }
        // Castro–Liskov: a replica changing view moves on to the next view only once 2f + 1 replicas
        // joined this one (the timer runs from then), so one replica never races ahead alone.
        if now >= deadline, !isChangingView || viewChanges.count(view) >= quorum {
            startViewChange(to: view.next, &fx)
            return
        }
        // Without that quorum, after four more timeouts it joins the smallest later view another replica
        // is changing to, so replicas split across views cannot wait for each other forever. With none,
        // it stays: the others reach its view in time, and it would otherwise run ahead of them alone.
        if isChangingView, now >= deadline + 4 * timeout, let later = viewChanges.sortedKeys().first(where: { $0 > view }) {
            startViewChange(to: later, &fx)
            return
        }
        // Retransmit only what has been pending for a while: the current slot since it was first seen,
        // or, with no slot, since the primary was due to propose.
        var since = max(lastProgress + current.blockIntervalTicks, lastRetransmit)
        if !isChangingView, let seen = slots[lastHeader.height.next.rawValue]?.firstSeen { since = max(since, seen) }
        if now >= since + retransmitInterval {
            lastRetransmit = now
            retransmit(&fx)
        }
    }

    private mutating func retransmit(_ fx: inout ConsensusEffects<PBFTMessage>) {
        retransmissions &+= 1
        let n = lastHeader.height.next.rawValue
        if isChangingView {
            if let m = myViewChange { fx.broadcast(m) }
        } else if let slot = slots[n] {
            if let pp = slot.accepted, pp.sender == id, let k = slot.acceptedKey {
                // The block goes again to backups that have neither prepared nor committed it, and to
                // every backup only on each fourth retransmission (a backup that restarted may have lost
                // it): re-sending a large block to all on every retransmission starves a loaded node.
                if retransmissions % 4 == 1 {
                    fx.broadcast(pp)
                } else {
                    for v in validators.ids where v != id && !slot.prepares.contains(k, signer: v) && !slot.commits.contains(k, signer: v) {
                        fx.send(pp, to: v)
                    }
                }
            }
            if let k = slot.acceptedKey, let mine = slot.prepares.votes(k).first(where: { $0.signer == id }) { fx.broadcast(mine.vote) }
            if let k = slot.sentCommit, let mine = slot.commits.votes(k).first(where: { $0.signer == id }) { fx.broadcast(mine.vote) }
        }
        if let nv = lastNewViewMessage, case .newView(let body) = nv.body, body.view == view, !isChangingView { fx.broadcast(nv) }
        if let c = myCheckpoint, case .checkpoint(let h, _) = c.body, h > stable.height { fx.broadcast(c) }
        // Stuck: the host catches up from any peer ahead, and peers tell this node their view.
        fx.catchUp = CatchUpRequest(peer: nil, from: lastHeader.height.next)
        fx.broadcast(.make(.viewQuery(view: view), sender: id, key: key, chainID: chainID))
        lastSyncRequest = now
    }

    private mutating func madeProgress() {
        lastProgress = now
        viewChangeAttempts = 0
        deadline = now + timeout
    }

    // MARK: - Receiving

    private mutating func onReceive(_ from: NodeID, _ m: PBFTMessage, _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard m.sender == from, validators.contains(from), from != id else {
            fx.rejections.append(LedgerError(.consensusMessageFromUnknownNode, "PBFT message from \(from) signed as \(m.sender) is not from a validator peer",
                                             details: ["from": from.description]))
            return
        }
        guard m.isValidlySigned(chainID: chainID, validators: validators, cache: verifiedSignatures) else {
            invalidSignatureCount += 1
            fx.rejections.append(LedgerError(.consensusMessageSignatureInvalid, "PBFT message kind \(m.kind) from \(from): signature does not verify",
                                             details: ["from": from.description]))
            return
        }
        switch m.body {
        case .prePrepare(let v, let h, let d, let block): onPrePrepare(m, v, h, d, block, &fx)
        case .prepare(let v, let h, let d): onVote(m, v, h, d, isCommit: false, &fx)
        case .commit(let v, let h, let d): onVote(m, v, h, d, isCommit: true, &fx)
        case .checkpoint(let h, let d): onCheckpoint(m, h, d, &fx)
        case .viewChange(let vc): onViewChange(m, vc, &fx)
        case .newView(let nv): onNewView(m, nv, &fx)
        case .viewQuery(let v): onViewQuery(m.sender, v, &fx)
        case .viewAnswer(let nv): onViewAnswer(nv, &fx)
        }
    }

    private func inWindow(_ h: Height) -> Bool {
        h > stable.height && h.rawValue <= stable.height.rawValue + current.watermarkWindowBlocks
    }

    private mutating func requestSync(from peer: NodeID, _ fx: inout ConsensusEffects<PBFTMessage>) {
        if let last = lastSyncRequest, now - last < 2 { return }
        lastSyncRequest = now
        fx.catchUp = CatchUpRequest(peer: peer, from: lastHeader.height.next)
        fx.send(.make(.viewQuery(view: view), sender: id, key: key, chainID: chainID), to: peer)
    }

    private mutating func onPrePrepare(_ m: PBFTMessage, _ v: Round, _ h: Height, _ d: Digest, _ block: Block?,
                                       _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard h > lastHeader.height else { return }
        guard inWindow(h) else {
            fx.rejections.append(LedgerError(.pbftOutsideWatermarks, "pre-prepare for height \(h) outside (\(stable.height), \(stable.height.rawValue + current.watermarkWindowBlocks)]",
                                             details: ["height": h.description]))
            requestSync(from: m.sender, &fx)
            return
        }
        guard m.sender == primary(of: v) else {
            fx.rejections.append(LedgerError(.pbftNotPrimary, "pre-prepare for view \(v) from \(m.sender), primary is \(primary(of: v))",
                                             details: ["view": v.description, "from": m.sender.description]))
            return
        }
        guard let block, block.headerHash == d, block.header.height == h, block.header.hash(using: hashAlgorithm) == d else {
            fx.rejections.append(LedgerError(.pbftBlockMismatch, "pre-prepare for height \(h) carries no block with hash \(d.hex)",
                                             details: ["height": h.description]))
            return
        }
        if v > view || (v == view && isChangingView) {
            requestSync(from: m.sender, &fx)
            return
        }
        guard v == view else { return }
        var slot = slots[h.rawValue] ?? Slot()
        if slot.firstSeen == nil { slot.firstSeen = now }
        if let k = slot.acceptedKey, k.view == v {
            if k.hash != d {
                fx.rejections.append(LedgerError(.pbftConflictingPrePrepare, "primary \(m.sender) sent a second block \(d.hex) for view \(v) height \(h)",
                                                 details: ["view": v.description, "height": h.description]))
            }
            slots[h.rawValue] = slot
            return
        }
        slot.candidates.removeAll { if case .prePrepare(let cv, _, _, _) = $0.body { return cv < v || $0 == m }; return true }
        slot.candidates.append(m)
        slots[h.rawValue] = slot
        if h > lastHeader.height.next { requestSync(from: m.sender, &fx) }
        advance(&fx)
    }

    /// Validates and accepts the candidate pre-prepare of the next height, if any.
    private mutating func acceptCandidate(_ fx: inout ConsensusEffects<PBFTMessage>) {
        let n = lastHeader.height.next.rawValue
        guard !isChangingView, var slot = slots[n], slot.acceptedKey?.view != view else { return }
        guard let idx = slot.candidates.firstIndex(where: { if case .prePrepare(let v, _, _, _) = $0.body { return v == view }; return false }) else { return }
        let m = slot.candidates.remove(at: idx)
        guard case .prePrepare(let v, let h, let d, let block?) = m.body else { slots[n] = slot; return }
        slots[n] = slot
        if let before = acceptedBefore[n], before.view == v, before.hash != d {
            fx.rejections.append(LedgerError(.pbftConflictingPrePrepare, "pre-prepare \(d.hex) for view \(v) height \(h) conflicts with one accepted before a restart",
                                             details: ["view": v.description, "height": h.description]))
            return
        }
        guard block.header.parentHash == lastHash else {
            fx.rejections.append(LedgerError(.pbftBlockMismatch, "pre-prepared block at height \(h) does not extend \(lastHash.hex)",
                                             details: ["height": h.description]))
            return
        }
        if m.sender != id {
            switch verdicts.check(block, hash: d, parent: lastHeader, &fx.validations) {
            case .valid:
                break
            case .pending:
                // The host's verdict comes back as `.validated`, which runs `advance` again.
                slot.candidates.insert(m, at: idx)
                slots[n] = slot
                return
            case .invalid(let error):
                fx.rejections.append(LedgerError(.proposalRejected, "block \(d.hex) at height \(h) rejected: \(error.message)",
                                                 details: ["height": h.description, "cause": error.code.description]))
                return
            }
        }
        slot.accepted = m
        slot.blocks[d] = block
        phase = .voting
        let k = VoteKey(view: v, hash: d)
        acceptedBefore[n] = k
        if m.sender != id {
            let p = PBFTMessage.make(.prepare(view: v, height: h, blockHash: d), sender: id, key: key, chainID: chainID)
            slot.prepares.add(p, from: id, for: k)
            fx.broadcast(p)
        }
        slots[n] = slot
        fx.persistentState = persistedState()
    }

    private mutating func onVote(_ m: PBFTMessage, _ v: Round, _ h: Height, _ d: Digest, isCommit: Bool,
                                 _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard h > lastHeader.height else { return }
        guard inWindow(h) else {
            requestSync(from: m.sender, &fx)
            return
        }
        guard isCommit || v >= view else { return }
        var slot = slots[h.rawValue] ?? Slot()
        if slot.firstSeen == nil { slot.firstSeen = now }
        let k = VoteKey(view: v, hash: d)
        if isCommit { slot.commits.add(m, from: m.sender, for: k) } else if m.sender != primary(of: v) { slot.prepares.add(m, from: m.sender, for: k) }
        slots[h.rawValue] = slot
        if h > lastHeader.height.next || v > view { requestSync(from: m.sender, &fx) }
        advance(&fx)
    }

    /// Runs the normal-case rules on the next height until nothing changes.
    private mutating func advance(_ fx: inout ConsensusEffects<PBFTMessage>) {
        while true {
            acceptCandidate(&fx)
            let n = lastHeader.height.next.rawValue
            guard var slot = slots[n] else { return }
            if !isChangingView, let k = slot.acceptedKey, k.view == view, slot.sentCommit != k,
               slot.prepares.count(k) >= quorum - 1, let pp = slot.accepted {
                let cert = PBFTPreparedCertificate(prePrepare: stripped(pp), prepares: slot.prepares.votes(k).map(\.vote))
                slot.prepared = cert
                slot.preparedBytes = RLP.encode(cert.item)
                slot.preparedBody = slot.blocks[k.hash]?.encoded
                slot.sentCommit = k
                let c = PBFTMessage.make(.commit(view: k.view, height: Height(n), blockHash: k.hash), sender: id, key: key, chainID: chainID)
                slot.commits.add(c, from: id, for: k)
                slots[n] = slot
                fx.broadcast(c)
                fx.persistentState = persistedState()
            }
            // Commit once prepared (or holding the block) with a quorum of matching commits.
            guard let k = committable(slot), let block = slot.blocks[k.hash] else { return }
            let votes = slot.commits.votes(k).map { CertificateVote(signer: $0.signer, signature: $0.vote.signature) }
            let cert = CommitCertificate(kind: .pbft, height: Height(n), blockHash: k.hash, round: k.view, votes: votes)
            commit(CommittedBlock(block: block, certificate: cert), &fx)
        }
    }

    private func committable(_ slot: Slot) -> VoteKey? {
        if let k = slot.sentCommit, slot.commits.count(k) >= quorum { return k }
        // A quorum of commits proves the block committed even if this node missed the prepares.
        for (hash, block) in slot.blocks.sorted(by: { $0.key < $1.key }) where block.header.parentHash == lastHash {
            var v = view
            while true {
                if slot.commits.count(VoteKey(view: v, hash: hash)) >= quorum { return VoteKey(view: v, hash: hash) }
                if v == 0 { break }
                v = Round(v.rawValue - 1)
                if view.rawValue - v.rawValue > 4 { break }
            }
        }
        return nil
    }

    private func stripped(_ m: PBFTMessage) -> PBFTMessage {
        guard case .prePrepare(let v, let h, let d, .some) = m.body else { return m }
        return PBFTMessage(sender: m.sender, body: .prePrepare(view: v, height: h, blockHash: d, block: nil), signature: m.signature)
    }

    private mutating func commit(_ cb: CommittedBlock, _ fx: inout ConsensusEffects<PBFTMessage>) {
        let n = cb.height
        if let first = slots[n.rawValue]?.firstSeen { lastLatency = now - first }
        history.append(cb)
        lastHeader = cb.block.header
        lastHash = cb.hash
        fx.commits.append(cb)
        verdicts.forget(through: n)
        phase = .committed
        let backedOff = viewChangeAttempts != 0
        madeProgress()
        if backedOff { fx.persistentState = persistedState() }
        nextProposalTick = now + current.blockIntervalTicks
        // Keep only the prepared certificate (for VIEW-CHANGE) of committed heights.
        if var slot = slots[n.rawValue] {
            slot.candidates = []
            slot.prepares.removeAll()
            slot.commits.removeAll()
            slot.blocks = [:]
            slot.preparedBody = nil   // committed: the store has the block
            slots[n.rawValue] = slot
        }
        if n.rawValue % config(at: n).checkpointIntervalBlocks == 0 {
            let c = PBFTMessage.make(.checkpoint(height: n, blockHash: cb.hash), sender: id, key: key, chainID: chainID)
            myCheckpoint = c
            checkpointVotes.add(c, from: id, for: CheckpointKey(height: n, hash: cb.hash))
            fx.broadcast(c)
            checkStable(CheckpointKey(height: n, hash: cb.hash), &fx)
        }
    }

    // MARK: - Proposing

    private mutating func maybePropose(_ fx: inout ConsensusEffects<PBFTMessage>) {
        let h = lastHeader.height.next
        guard !isChangingView, primary(of: view) == id, now >= nextProposalTick, inWindow(h) else { return }
        if let rh = requestedHeight, rh == h, requestedView == view { return }
        if let slot = slots[h.rawValue], slot.acceptedKey?.view == view { return }
        // Before a restart this primary pre-prepared a block for (view, h): it must not propose another one in
        // this view. If that block was prepared, its body was kept with the certificate, and the primary
        // pre-prepares it again (the signature covers the hash, not the body); otherwise it waits for the
        // view change.
        if let before = acceptedBefore[h.rawValue], before.view == view {
            guard var slot = slots[h.rawValue], let pp = slot.prepared?.prePrepare, pp.sender == id,
                  let certified = slot.prepared?.slot, certified.view == view, certified.height == h, certified.blockHash == before.hash,
                  let block = slot.blocks[before.hash], block.header.parentHash == lastHash, slot.candidates.isEmpty,
                  let prepares = slot.prepared?.prepares else { return }
            let again = PBFTMessage(sender: id, body: .prePrepare(view: view, height: h, blockHash: before.hash, block: block), signature: pp.signature)
            slot.candidates = [again]
            // The certificate's PREPAREs count again, so this primary commits without the backups preparing twice.
            for p in prepares { slot.prepares.add(p, from: p.sender, for: before) }
            slot.firstSeen = slot.firstSeen ?? now
            slots[h.rawValue] = slot
            fx.broadcast(again)
            advance(&fx)
            return
        }
        if slots[h.rawValue]?.candidates.contains(where: { if case .prePrepare(let v, _, _, _) = $0.body { return v == view }; return false }) == true { return }
        requestedView = view
        requestedHeight = h
        phase = .proposing
        fx.proposalRequests.append(ProposalRequest(height: h, parent: lastHeader, round: view,
                                                   maximumTransactions: current.maximumTransactionsPerBlock))
    }

    private mutating func onProposal(_ block: Block, _ fx: inout ConsensusEffects<PBFTMessage>) {
        let h = lastHeader.height.next
        guard !isChangingView, primary(of: view) == id, requestedHeight == h, requestedView == view,
              block.header.height == h, block.header.parentHash == lastHash,
              block.headerHash == block.header.hash(using: hashAlgorithm) else {
            fx.rejections.append(LedgerError(.consensusInputIgnored, "proposal at height \(block.header.height) is stale or does not extend height \(lastHeader.height)",
                                             details: ["height": block.header.height.description]))
            return
        }
        requestedHeight = nil
        let m = PBFTMessage.make(.prePrepare(view: view, height: h, blockHash: block.headerHash, block: block), sender: id, key: key, chainID: chainID)
        var slot = slots[h.rawValue] ?? Slot()
        slot.firstSeen = slot.firstSeen ?? now
        slot.candidates = [m]
        slots[h.rawValue] = slot
        fx.broadcast(m)
        advance(&fx)
    }

    // MARK: - Checkpoints

    private mutating func onCheckpoint(_ m: PBFTMessage, _ h: Height, _ d: Digest, _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard h > stable.height else { return }
        let k = CheckpointKey(height: h, hash: d)
        checkpointVotes.add(m, from: m.sender, for: k)
        checkStable(k, &fx)
    }

    private mutating func checkStable(_ k: CheckpointKey, _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard k.height > stable.height, checkpointVotes.count(k) >= quorum else { return }
        let proof = checkpointVotes.votes(k).map(\.vote)
        adoptStable(Checkpoint(height: k.height, hash: k.hash, proof: proof))
        fx.persistentState = persistedState()
        if k.height > lastHeader.height, let peer = proof.first(where: { $0.sender != id })?.sender { requestSync(from: peer, &fx) }
    }

    private mutating func adoptStable(_ c: Checkpoint) {
        guard c.height > stable.height else { return }
        stable = c
        slots = slots.filter { $0.key > c.height.rawValue }
        checkpointVotes.removeAll { $0.height <= c.height }
        acceptedBefore = acceptedBefore.filter { $0.key > c.height.rawValue }
    }

    private func validCheckpointProof(_ h: Height, _ d: Digest, _ proof: [PBFTMessage], _ set: ValidatorSet) -> Bool {
        if h == 0 { return d == genesis.headerHash }
        var signers = Set<NodeID>()
        for m in proof {
            guard case .checkpoint(let ch, let cd) = m.body, ch == h, cd == d, set.contains(m.sender),
                  m.isValidlySigned(chainID: chainID, validators: set, cache: verifiedSignatures) else { return false }
            signers.insert(m.sender)
        }
        return signers.count >= set.byzantineQuorum
    }

    // MARK: - View change

    private mutating func startViewChange(to v: Round, _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard v > view || (v == view && !isChangingView) else { return }
        viewChangeAttempts += 1
        view = v
        isChangingView = true
        requestedHeight = nil
        deadline = now + timeout << min(viewChangeAttempts - 1, 3)
        let m = makeViewChange(to: v)
        myViewChange = m
        viewChanges.add(m, from: id, for: v)
        viewChanges.removeAll { $0 < v }
        fx.broadcast(m)
        fx.persistentState = persistedState()
        tryNewView(&fx)
    }

    /// This node's signed VIEW-CHANGE to `v`: its stable checkpoint with proof and its prepared certificates above it.
    private func makeViewChange(to v: Round) -> PBFTMessage {
        var prepared = [PBFTPreparedCertificate]()
        for n in slots.keys.sorted() where n > stable.height.rawValue {
            guard var cert = slots[n]?.prepared, let s = cert.slot else { continue }
            if let b = block(at: Height(n), hash: s.blockHash) {
                cert.prePrepare.body = .prePrepare(view: s.view, height: s.height, blockHash: s.blockHash, block: b)
            }
            prepared.append(cert)
        }
        let vc = PBFTViewChange(newView: v, stableHeight: stable.height, stableHash: stable.hash, checkpointProof: stable.proof, prepared: prepared)
        return PBFTMessage.make(.viewChange(vc), sender: id, key: key, chainID: chainID)
    }

    private func block(at h: Height, hash: Digest) -> Block? {
        if h.rawValue >= 1, h <= lastHeader.height {
            guard let b = history.block(at: h)?.block else { return nil }
            return b.headerHash == hash ? b : nil
        }
        if let b = slots[h.rawValue]?.blocks[hash] { return b }
        for m in slots[h.rawValue]?.candidates ?? [] { if case .prePrepare(_, _, let d, let b?) = m.body, d == hash { return b } }
        return nil
    }

    private func validPrepared(_ cert: PBFTPreparedCertificate, before v: Round, above stableHeight: Height, _ set: ValidatorSet) -> Bool {
        guard let s = cert.slot, s.view < v, s.height > stableHeight,
              cert.prePrepare.sender == primaryIn(set, s.view), cert.prePrepare.isValidlySigned(chainID: chainID, validators: set, cache: verifiedSignatures) else { return false }
        if let b = s.block, b.headerHash != s.blockHash || b.header.height != s.height || b.header.hash(using: hashAlgorithm) != s.blockHash { return false }
        var signers = Set<NodeID>()
        for p in cert.prepares {
            guard case .prepare(let pv, let ph, let pd) = p.body, pv == s.view, ph == s.height, pd == s.blockHash,
                  p.sender != cert.prePrepare.sender, set.contains(p.sender), p.isValidlySigned(chainID: chainID, validators: set, cache: verifiedSignatures) else { return false }
            signers.insert(p.sender)
        }
        return signers.count >= set.byzantineQuorum - 1
    }

    private func primaryIn(_ set: ValidatorSet, _ v: Round) -> NodeID { set[Int(v.rawValue % UInt64(set.count))].id }

    private func validViewChange(_ m: PBFTMessage, _ set: ValidatorSet) -> Bool {
        guard case .viewChange(let vc) = m.body,
              validCheckpointProof(vc.stableHeight, vc.stableHash, vc.checkpointProof, set) else { return false }
        var heights = Set<Height>()
        for c in vc.prepared {
            guard validPrepared(c, before: vc.newView, above: vc.stableHeight, set), let h = c.slot?.height,
                  heights.insert(h).inserted else { return false }
        }
        return true
    }

    private mutating func onViewChange(_ m: PBFTMessage, _ vc: PBFTViewChange, _ fx: inout ConsensusEffects<PBFTMessage>) {
        let v = vc.newView
        guard v > view || (v == view && isChangingView) || (v == view && primary(of: v) == id) else { return }
        guard !viewChanges.contains(v, signer: m.sender) else { return }
        guard validViewChange(m, validators) else {
            fx.rejections.append(LedgerError(.pbftInvalidViewChange, "VIEW-CHANGE to view \(v) from \(m.sender) carries a proof that does not verify",
                                             details: ["view": v.description, "from": m.sender.description]))
            return
        }
        viewChanges.add(m, from: m.sender, for: v)
        if isChangingView, v == view, viewChanges.count(v) == quorum {
            // 2f + 1 replicas are changing to this view: start the timer for its NEW-VIEW now.
            deadline = now + timeout << min(max(viewChangeAttempts, 1) - 1, 3)
        }
        // f + 1 VIEW-CHANGEs from others for later views: join the smallest of them.
        var senders = Set<NodeID>()
        var smallest: Round?
        for w in viewChanges.sortedKeys() where w > view {
            for s in viewChanges.signers(w) where s != id { senders.insert(s) }
            if smallest == nil { smallest = w }
        }
        if let smallest, senders.count >= validators.maximumFaulty + 1 { startViewChange(to: smallest, &fx) }
        tryNewView(&fx)
    }

    /// The O-set implied by a V-set: the highest stable checkpoint and, for
    /// each height above it up to the highest prepared one, the prepared
    /// certificate of the highest view (stopping at the first height none has).
    private func computeO(_ vcs: [PBFTViewChange]) -> (stable: PBFTViewChange?, picks: [(height: Height, hash: Digest, view: Round)]) {
        let best = vcs.max { $0.stableHeight < $1.stableHeight }
        let minS = best?.stableHeight ?? 0
        var byHeight = [Height: (Digest, Round)]()
        var maxS = minS
        for vc in vcs {
            for c in vc.prepared {
                guard let s = c.slot, s.height > minS else { continue }
                if let e = byHeight[s.height], e.1 >= s.view { continue }
                byHeight[s.height] = (s.blockHash, s.view)
                maxS = max(maxS, s.height)
            }
        }
        var picks = [(Height, Digest, Round)]()
        var n = minS.next
        while n <= maxS, let e = byHeight[n] {
            picks.append((n, e.0, e.1))
            n = n.next
        }
        return (best, picks)
    }

    private mutating func tryNewView(_ fx: inout ConsensusEffects<PBFTMessage>) {
        guard isChangingView, primary(of: view) == id, sentNewViewFor != view, viewChanges.count(view) >= quorum else { return }
        let received = viewChanges.votes(view).map(\.vote)
        let all = received.compactMap { if case .viewChange(let vc) = $0.body { return vc }; return nil }
        func body(_ h: Height, _ d: Digest) -> Block? {
            if let b = block(at: h, hash: d) { return b }
            for vc in all { for c in vc.prepared { if let s = c.slot, s.height == h, s.blockHash == d, let b = s.block { return b } } }
            return nil
        }
        // Any 2f + 1 VIEW-CHANGEs make a V-set. Take first those whose prepared blocks this node can
        // re-propose: one that names a block nobody supplied (lost in a restart, or withheld by a
        // Byzantine replica) would otherwise hold the NEW-VIEW back for good (Architecture.md, PBFT liveness).
        let complete = received.filter { m in
            guard case .viewChange(let vc) = m.body else { return false }
            return vc.prepared.allSatisfy { c in c.slot.map { body($0.height, $0.blockHash) != nil } ?? true }
        }
        let vms = (complete + received.filter { !complete.contains($0) }).prefix(quorum).sorted { $0.sender < $1.sender }
        let vcs = vms.compactMap { if case .viewChange(let vc) = $0.body { return vc }; return nil }
        let (_, picks) = computeO(vcs)
        var prePrepares = [PBFTMessage]()
        for p in picks {
            guard let b = body(p.height, p.hash) else { return }   // wait for a VIEW-CHANGE that carries the block
            prePrepares.append(.make(.prePrepare(view: view, height: p.height, blockHash: p.hash, block: b), sender: id, key: key, chainID: chainID))
        }
        let nv = PBFTNewView(view: view, viewChanges: vms, prePrepares: prePrepares)
        sentNewViewFor = view
        let signed = PBFTMessage.make(.newView(nv), sender: id, key: key, chainID: chainID)
        fx.broadcast(signed)
        install(nv, &fx)
        lastNewViewMessage = signed
    }

    private func validNewView(_ nv: PBFTNewView, from sender: NodeID) -> Bool {
        let set = validators
        guard sender == primaryIn(set, nv.view) else { return false }
        var signers = Set<NodeID>()
        var vcs = [PBFTViewChange]()
        for m in nv.viewChanges {
            guard case .viewChange(let vc) = m.body, vc.newView == nv.view, set.contains(m.sender),
                  m.isValidlySigned(chainID: chainID, validators: set, cache: verifiedSignatures), validViewChange(m, set),
                  signers.insert(m.sender).inserted else { return false }
            vcs.append(vc)
        }
        guard signers.count >= set.byzantineQuorum else { return false }
        let picks = computeO(vcs).picks
        guard picks.count == nv.prePrepares.count else { return false }
        for (p, m) in zip(picks, nv.prePrepares) {
            guard m.sender == sender, case .prePrepare(let v, let h, let d, let b?) = m.body, v == nv.view, h == p.height, d == p.hash,
                  b.headerHash == d, b.header.hash(using: hashAlgorithm) == d, m.isValidlySigned(chainID: chainID, validators: set, cache: verifiedSignatures) else { return false }
        }
        return true
    }

    private mutating func onNewView(_ m: PBFTMessage, _ nv: PBFTNewView, _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard nv.view > view || (nv.view == view && isChangingView) else { return }
        guard validNewView(nv, from: m.sender) else {
            fx.rejections.append(LedgerError(.pbftInvalidNewView, "NEW-VIEW for view \(nv.view) from \(m.sender) does not verify",
                                             details: ["view": nv.view.description, "from": m.sender.description]))
            return
        }
        install(nv, &fx)
    }

    private mutating func install(_ nv: PBFTNewView, _ fx: inout ConsensusEffects<PBFTMessage>) {
        view = nv.view
        isChangingView = false
        lastNewView = nv
        lastNewViewMessage = nil
        requestedHeight = nil
        deadline = now + timeout << min(viewChangeAttempts, 3)
        viewChanges.removeAll { $0 <= nv.view }
        myViewChange = nil
        // Adopt the V-set's highest stable checkpoint.
        for m in nv.viewChanges {
            if case .viewChange(let vc) = m.body, vc.stableHeight > stable.height {
                adoptStable(Checkpoint(height: vc.stableHeight, hash: vc.stableHash, proof: vc.checkpointProof))
            }
        }
        for pp in nv.prePrepares {
            guard case .prePrepare(_, let h, _, _) = pp.body, h > lastHeader.height else { continue }
            var slot = slots[h.rawValue] ?? Slot()
            slot.firstSeen = slot.firstSeen ?? now
            slot.candidates = [pp]
            slots[h.rawValue] = slot
        }
        if stable.height > lastHeader.height, let peer = nv.viewChanges.first(where: { $0.sender != id })?.sender { requestSync(from: peer, &fx) }
        fx.persistentState = persistedState()
        advance(&fx)
    }

    // MARK: - Catch-up

    /// Commits the host's catch-up blocks that extend the head and carry a PBFT certificate that verifies.
    private mutating func adoptSynced(_ blocks: [CommittedBlock], _ fx: inout ConsensusEffects<PBFTMessage>) {
        for cb in blocks where cb.height > lastHeader.height {
            do throws(LedgerError) {
                guard cb.height == lastHeader.height.next, cb.block.header.parentHash == lastHash, cb.certificate.kind == .pbft else {
                    throw LedgerError(.certificateBlockMismatch, "does not extend height \(lastHeader.height) or is not a pbft certificate")
                }
                try cb.certificate.verify(block: cb.block, validators: config(at: cb.height).validators, hashAlgorithm: hashAlgorithm)
            } catch {
                fx.rejections.append(LedgerError(.consensusSyncBlockInvalid, "synced block at height \(cb.height): \(error.message)",
                                                 details: ["height": cb.height.description, "cause": error.code.description]))
                break
            }
            commit(cb, &fx)
        }
        advance(&fx)
    }

    private mutating func onViewQuery(_ peer: NodeID, _ v: Round, _ fx: inout ConsensusEffects<PBFTMessage>) {
        guard !isChangingView, let nv = lastNewView, nv.view >= v else { return }
        fx.send(.make(.viewAnswer(nv), sender: id, key: key, chainID: chainID), to: peer)
    }

    private mutating func onViewAnswer(_ nv: PBFTNewView, _ fx: inout ConsensusEffects<PBFTMessage>) {
        if nv.view > view || (nv.view == view && isChangingView), validNewView(nv, from: primary(of: nv.view)) {
            install(nv, &fx)
        } else {
            advance(&fx)
        }
    }

    /// Blocks the host committed while this engine was down, or through its catch-up, never passed
    /// through ``commit(_:_:)``: sign the latest checkpoint the store now holds, as committing it would
    /// have, so the low watermark can move on (it needs `2f + 1` signatures).
    private mutating func signCheckpointOfHead(_ fx: inout ConsensusEffects<PBFTMessage>) {
        guard validators.contains(id) else { return }
        let head = lastHeader.height.rawValue
        let c = head - head % config(at: lastHeader.height).checkpointIntervalBlocks
        guard c >= 1, c > stable.height.rawValue else { return }
        guard let hash = c == head ? lastHash : history.block(at: Height(c))?.hash else { return }
        let m = PBFTMessage.make(.checkpoint(height: Height(c), blockHash: hash), sender: id, key: key, chainID: chainID)
        myCheckpoint = m
        checkpointVotes.add(m, from: id, for: CheckpointKey(height: Height(c), hash: hash))
        fx.broadcast(m)
        checkStable(CheckpointKey(height: Height(c), hash: hash), &fx)
    }

    // MARK: - Persistence

    /// RLP `[version, view, changing, stableHeight, stableHash, [checkpoint…], [[view, height, hash]…], [encoded prepared certificate…],
    /// viewChangeAttempts, [encoded prepared block above the head…]]` (version 3; version 2 has no prepared blocks,
    /// version 1 neither nor `viewChangeAttempts`, restored as 0). The prepared blocks above the head are kept
    /// because a NEW-VIEW must re-propose every prepared block: when every replica holding one's body restarted
    /// without it, no new primary could build a NEW-VIEW again (seed 4560).
    private func persistedState() -> [UInt8] {
        let accepted = acceptedBefore.keys.sorted().map { n -> RLP.Item in
            let k = acceptedBefore[n]!
            return .list([.uint(k.view.rawValue), .uint(n), .digest(k.hash)])
        }
        let prepared = slots.keys.sorted().compactMap { n in slots[n]?.preparedBytes.map { RLP.Item.bytes($0) } }
        let bodies = slots.keys.sorted().filter { $0 > lastHeader.height.rawValue }.compactMap { n in slots[n]?.preparedBody.map { RLP.Item.bytes($0) } }
        return RLP.encode(.list([.uint(3), .uint(view.rawValue), .uint(isChangingView ? 1 : 0), .uint(stable.height.rawValue),
                                 .digest(stable.hash), .list(stable.proof.map(\.item)), .list(accepted), .list(prepared),
                                 .uint(viewChangeAttempts), .list(bodies)]))
    }

    private mutating func restore(_ bytes: [UInt8]) throws(LedgerError) {
        do throws(LedgerError) {
            let f = try RLP.decode(bytes).list("pbft.state")
            let version = try f.first?.uint64("pbft.state.version")
            guard (version == 1 && f.count == 8) || (version == 2 && f.count == 9) || (version == 3 && f.count == 10) else {
                throw LedgerError(.consensusStateCorrupt, "PBFT state version \(version.map(String.init) ?? "-") with \(f.count) fields; expected version 1 with 8, 2 with 9 or 3 with 10",
                                  details: ["field": "pbft.state.version"])
            }
            if version ?? 0 >= 2 { viewChangeAttempts = try f[8].uint64("pbft.state.viewChangeAttempts") }
            view = Round(try f[1].uint64("pbft.state.view"))
            isChangingView = try f[2].uint64("pbft.state.changing") != 0
            let sh = Height(try f[3].uint64("pbft.state.stableHeight"))
            let sd = try f[4].digest("pbft.state.stableHash")
            var proof = [PBFTMessage]()
            for i in try f[5].list("pbft.state.stableProof") { proof.append(try PBFTMessage(item: i)) }
            if sh > 0 { stable = Checkpoint(height: sh, hash: sd, proof: proof) }
            for i in try f[6].list("pbft.state.accepted") {
                let g = try i.list("pbft.state.accepted", count: 3)
                acceptedBefore[try g[1].uint64("height")] = VoteKey(view: Round(try g[0].uint64("view")), hash: try g[2].digest("hash"))
            }
            for i in try f[7].list("pbft.state.prepared") {
                let bytes = try i.bytes("pbft.state.prepared")
                let c = try PBFTPreparedCertificate(item: try RLP.decode(bytes))
                guard let s = c.slot else { continue }
                var slot = slots[s.height.rawValue] ?? Slot()
                slot.prepared = c
                slot.preparedBytes = bytes
                slots[s.height.rawValue] = slot
            }
            if version == 3 {
                for i in try f[9].list("pbft.state.preparedBlocks") {
                    let bytes = try i.bytes("pbft.state.preparedBlock")
                    let block = try Block(decoding: bytes)
                    let hash = block.header.hash(using: hashAlgorithm)
                    let n = block.header.height.rawValue
                    // Only the body a restored prepared certificate names (anything else is ignored).
                    guard var slot = slots[n], slot.prepared?.slot?.blockHash == hash, block.headerHash == hash else { continue }
                    slot.blocks[hash] = block
                    slot.preparedBody = bytes
                    slots[n] = slot
                }
            }
        } catch {
            if error.code == .consensusStateCorrupt { throw error }
            throw LedgerError(.consensusStateCorrupt, "PBFT persisted state does not decode: \(error.message)", details: ["cause": error.code.description])
        }
        if isChangingView {
            // Resume the view change: re-sign this node's VIEW-CHANGE (the same content it sent before
            // the restart) and re-broadcast it on the first retransmission; the timer keeps its backoff.
            deadline = timeout << min(max(viewChangeAttempts, 1) - 1, 3)
            let m = makeViewChange(to: view)
            myViewChange = m
            viewChanges.add(m, from: id, for: view)
        }
    }
}

extension PBFTEngine: ChainMemoryReporting {}
