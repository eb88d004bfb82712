import LedgerCore
import Testing

/// View-change liveness of PBFT, fed one input at a time to one replica of the 4-validator ``BFTFixture``
/// (primary of view `v` is node `v mod 4`; `f = 1`, quorum 3).
struct PBFTViewChangeTests {
    func config(_ f: BFTFixture, timeout: UInt64 = 10) -> ConsensusConfig {
        .pbft(PBFTConfig(validators: f.set, viewChangeTimeoutTicks: timeout))
    }

    /// Node `s`'s signed VIEW-CHANGE to view `v` from genesis, with `prepared` certificates.
    func viewChange(_ f: BFTFixture, from s: Int, to v: Round, prepared: [PBFTPreparedCertificate] = []) -> PBFTMessage {
        .make(.viewChange(PBFTViewChange(newView: v, stableHeight: 0, stableHash: f.genesis.headerHash, checkpointProof: [], prepared: prepared)),
              sender: NodeID(UInt32(s)), key: f.keys[s], chainID: f.chainID)
    }

    func newViews(_ fx: ConsensusEffects<PBFTMessage>) -> [PBFTNewView] {
        fx.messages.compactMap { if case .newView(let nv) = $0.message.body { return nv }; return nil }
    }

    @Test func aNewPrimaryLeavesOutAViewChangeWhosePreparedBlockNobodySent() throws {
        let f = try BFTFixture()
        let b = try f.block(producer: 0, variant: 1)
        let d = b.headerHash
        // Node 2 prepared block b in view 0 but its VIEW-CHANGE carries the certificate without the block
        // (it lost the body in a restart, or withholds it); no one else prepared b.
        let withheld = PBFTPreparedCertificate(
            prePrepare: .make(.prePrepare(view: 0, height: 1, blockHash: d, block: nil), sender: 0, key: f.keys[0], chainID: f.chainID),
            prepares: [2, 3].map { .make(.prepare(view: 0, height: 1, blockHash: d), sender: NodeID(UInt32($0)), key: f.keys[$0], chainID: f.chainID) })
        var primary = try PBFTEngine(context: f.context(1, config(f)))
        _ = primary.step(.receive(from: 2, viewChange(f, from: 2, to: 1, prepared: [withheld])))
        // f + 1 replicas are changing to view 1: node 1 joins and holds three VIEW-CHANGEs, but the O-set of
        // those three names b, whose body it cannot re-propose: it waits for another VIEW-CHANGE.
        let joined = primary.step(.receive(from: 0, viewChange(f, from: 0, to: 1)))
        #expect(primary.view == 1 && primary.isChangingView)
        #expect(newViews(joined).isEmpty)
        // With node 3's, {0, 1, 3} is a V-set whose O-set is empty: that NEW-VIEW goes out.
        let fx = primary.step(.receive(from: 3, viewChange(f, from: 3, to: 1)))
        let nv = try #require(newViews(fx).first)
        #expect(nv.view == 1)
        #expect(nv.viewChanges.map(\.sender) == [0, 1, 3])
        #expect(nv.prePrepares.isEmpty)
        #expect(!primary.isChangingView)
        // A backup recomputes the O-set from that V-set and installs the view.
        var backup = try PBFTEngine(context: f.context(3, config(f)))
        let signed = try #require(fx.messages.first { if case .newView = $0.message.body { return true }; return false }?.message)
        let installed = backup.step(.receive(from: 1, signed))
        #expect(installed.rejections.isEmpty)
        #expect(backup.view == 1 && !backup.isChangingView)
    }

    @Test func aReplicaAloneInAViewChangeWaitsThereInsteadOfRunningAhead() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: f.context(2, config(f)))
        for _ in 0..<10 { _ = engine.step(.tick) }
        #expect(engine.view == 1 && engine.isChangingView)
        // No other replica joins view 1: many timeouts later node 2 is still there, where the others will come.
        for _ in 0..<500 { _ = engine.step(.tick) }
        #expect(engine.view == 1 && engine.isChangingView)
        // Another replica is changing to view 3: after four more timeouts without a quorum node 2 joins it.
        _ = engine.step(.receive(from: 3, viewChange(f, from: 3, to: 3)))
        #expect(engine.view == 1)
        _ = engine.step(.tick)
        #expect(engine.view == 3 && engine.isChangingView)
    }

    @Test func aRestartedReplicaKeepsItsViewChangeBackoff() throws {
        let f = try BFTFixture()
        // Node 0 is primary of none of views 1...3, so no NEW-VIEW of its own ends them.
        var engine = try PBFTEngine(context: f.context(0, config(f, timeout: 10)))
        var state: [UInt8]?
        func tick(_ n: Int) { for _ in 0..<n { if let p = engine.step(.tick).persistentState { state = p } } }
        func joined(_ v: Round) {
            for s in [2, 3] { if let p = engine.step(.receive(from: NodeID(UInt32(s)), viewChange(f, from: s, to: v))).persistentState { state = p } }
        }
        tick(10)          // view 1, timer 10 ticks once a quorum joined
        joined(1)
        tick(10)          // view 2, timer 20
        joined(2)
        tick(20)          // view 3, timer 40
        #expect(engine.view == 3 && engine.isChangingView)
        var restarted = try PBFTEngine(context: f.context(0, config(f, timeout: 10)),
                                       recovery: ConsensusRecovery(persistentState: state, committed: []))
        for s in [2, 3] { _ = restarted.step(.receive(from: NodeID(UInt32(s)), viewChange(f, from: s, to: 3))) }
        // The restarted replica waits 40 ticks like its peers, not the 10 of a first attempt.
        for _ in 0..<39 { _ = restarted.step(.tick) }
        #expect(restarted.view == 3)
        _ = restarted.step(.tick)
        #expect(restarted.view == 4 && restarted.isChangingView)
    }
    /// Node `s`'s signed PREPARE of `b` in view 0 at height 1.
    func prepare(_ f: BFTFixture, from s: Int, _ b: Block) -> PBFTMessage {
        .make(.prepare(view: 0, height: 1, blockHash: b.headerHash), sender: NodeID(UInt32(s)), key: f.keys[s], chainID: f.chainID)
    }

    @Test func aReplicaThatPreparedABlockStillOffersItsBodyInAViewChangeAfterARestart() throws {
        let f = try BFTFixture()
        let b = try f.block(producer: 0, variant: 1)
        var engine = try PBFTEngine(context: f.context(2, config(f)))
        var state: [UInt8]?
        func keep(_ fx: ConsensusEffects<PBFTMessage>) { if let p = fx.persistentState { state = p } }
        keep(engine.step(.receive(from: 0, .make(.prePrepare(view: 0, height: 1, blockHash: b.headerHash, block: b), sender: 0, key: f.keys[0], chainID: f.chainID))))
        keep(engine.step(.receive(from: 3, prepare(f, from: 3, b))))
        #expect(engine.status.phase == .voting)
        // Prepared (its own PREPARE and node 3's), not committed; then the replica restarts from its state alone.
        var restarted = try PBFTEngine(context: f.context(2, config(f)), recovery: ConsensusRecovery(persistentState: state, committed: []))
        var sent = [PBFTMessage]()
        for _ in 0..<10 { sent += restarted.step(.tick).messages.map(\.message) }
        let vc = try #require(sent.compactMap { if case .viewChange(let vc) = $0.body { return vc }; return nil }.first)
        // Every replica that prepared b may have restarted like this one: the VIEW-CHANGE still carries b's
        // body, so the next primary can re-propose it instead of waiting for a body nobody has.
        let cert = try #require(vc.prepared.first?.slot)
        #expect(cert.blockHash == b.headerHash)
        #expect(cert.block == b)
    }

    @Test func aPrimaryThatPreparedABlockPrePreparesTheSameBlockAfterARestart() throws {
        let f = try BFTFixture()
        let b = try f.block(producer: 0, variant: 1)
        var engine = try PBFTEngine(context: f.context(0, config(f)))
        var state: [UInt8]?
        func keep(_ fx: ConsensusEffects<PBFTMessage>) { if let p = fx.persistentState { state = p } }
        #expect(engine.step(.tick).proposalRequests.map(\.height) == [1])
        keep(engine.step(.proposal(b)))
        keep(engine.step(.receive(from: 2, prepare(f, from: 2, b))))
        keep(engine.step(.receive(from: 3, prepare(f, from: 3, b))))
        var restarted = try PBFTEngine(context: f.context(0, config(f)), recovery: ConsensusRecovery(persistentState: state, committed: []))
        let fx = restarted.step(.tick)
        // No second block for view 0 height 1: the same pre-prepare goes out again with its body, and the
        // certificate's PREPAREs let the primary send its COMMIT again.
        #expect(fx.proposalRequests.isEmpty)
        let again = try #require(fx.messages.compactMap { m -> Block? in
            if case .prePrepare(0, 1, b.headerHash, let block) = m.message.body { return block }; return nil }.first)
        #expect(again == b)
        #expect(fx.messages.contains { if case .commit(0, 1, b.headerHash) = $0.message.body { return true }; return false })
        // A replica that never saw the first pre-prepare accepts the repeated one (the signature covers the hash).
        var backup = try PBFTEngine(context: f.context(1, config(f)))
        let repeated = try #require(fx.messages.first { if case .prePrepare = $0.message.body { return true }; return false }?.message)
        let accepted = backup.step(.receive(from: 0, repeated))
        #expect(accepted.rejections.isEmpty)
        #expect(accepted.messages.contains { if case .prepare(0, 1, b.headerHash) = $0.message.body { return true }; return false })
    }
}
