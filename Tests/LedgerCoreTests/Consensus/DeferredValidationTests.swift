@testable import LedgerConsensus
import LedgerCore
import Testing

/// Validation as an effect (``ProposalValidator/deferred``): an engine asks its host through
/// `ConsensusEffects.validations`, does not vote before the verdict, and acts on `.validated`.
struct DeferredValidationTests {
    func deferredContext(_ f: BFTFixture, _ i: Int, _ config: ConsensusConfig) -> ConsensusContext {
        var c = f.context(i, config)
        c.proposalValidator = .deferred
        return c
    }

    static func prepares(_ fx: ConsensusEffects<PBFTMessage>) -> [Digest] {
        fx.messages.compactMap { if case .prepare(_, _, let d) = $0.message.body { d } else { nil } }
    }

    @Test func aPBFTBackupAsksOncePreparesOnlyAfterAValidVerdict() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: deferredContext(f, 2, .pbft(PBFTConfig(validators: f.set))))
        let b = try f.block(producer: 0, variant: 1)
        let pp = PBFTMessage.make(.prePrepare(view: 0, height: 1, blockHash: b.headerHash, block: b), sender: 0, key: f.keys[0], chainID: f.chainID)
        let first = engine.step(.receive(from: 0, pp))
        #expect(first.validations.map(\.hash) == [b.headerHash])
        #expect(first.validations.first?.parent == f.genesis.header)
        #expect(Self.prepares(first).isEmpty)
        // The same pre-prepare again (a retransmission) does not ask again.
        let again = engine.step(.receive(from: 0, pp))
        #expect(again.validations.isEmpty && Self.prepares(again).isEmpty)
        let request = try #require(first.validations.first)
        let verdict = engine.step(.validated(request, error: nil))
        #expect(Self.prepares(verdict) == [b.headerHash])
        // A second verdict for the same request is not asked for: nothing happens.
        #expect(engine.step(.validated(request, error: nil)).messages.isEmpty)
    }

    @Test func aPBFTBackupRejectsOnAnInvalidVerdictAndNeverPrepares() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: deferredContext(f, 3, .pbft(PBFTConfig(validators: f.set))))
        let b = try f.block(producer: 0, variant: 2)
        let pp = PBFTMessage.make(.prePrepare(view: 0, height: 1, blockHash: b.headerHash, block: b), sender: 0, key: f.keys[0], chainID: f.chainID)
        let request = try #require(engine.step(.receive(from: 0, pp)).validations.first)
        let fx = engine.step(.validated(request, error: LedgerError(.executionRootMismatch, "planted")))
        #expect(fx.rejections.map(\.code) == [.proposalRejected])
        #expect(Self.prepares(fx).isEmpty)
        #expect(Self.prepares(engine.step(.receive(from: 0, pp))).isEmpty)
    }

    @Test func aVerdictNobodyAskedForChangesNothing() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: deferredContext(f, 2, .pbft(PBFTConfig(validators: f.set))))
        let b = try f.block(producer: 0, variant: 3)
        let stray = ValidationRequest(block: b, hash: b.headerHash, parent: f.genesis.header)
        #expect(engine.step(.validated(stray, error: nil)).isEmpty)
        // It is not taken as a verdict later either: the pre-prepare still asks.
        let pp = PBFTMessage.make(.prePrepare(view: 0, height: 1, blockHash: b.headerHash, block: b), sender: 0, key: f.keys[0], chainID: f.chainID)
        #expect(engine.step(.receive(from: 0, pp)).validations.count == 1)
    }

    @Test func aPoSValidatorPrevotesForTheProposalOnlyOnceItIsValid() throws {
        let f = try BFTFixture()
        let config = ConsensusConfig.pos(PoSConfig(validators: f.set))
        var probe = try PoSEngine(context: f.context(0, config))
        let p = Int(probe.proposer(height: 1, round: 0).rawValue)
        let target = (p + 1) % 4
        var engine = try PoSEngine(context: deferredContext(f, target, config))
        _ = probe.step(.tick)
        let b = try f.block(producer: p, variant: 4)
        let proposal = PoSMessage.make(.proposal(height: 1, round: 0, blockHash: b.headerHash, block: b, validRound: nil),
                                       sender: NodeID(UInt32(p)), key: f.keys[p], chainID: f.chainID)
        func prevotes(_ fx: ConsensusEffects<PoSMessage>) -> [Digest?] {
            fx.messages.compactMap { if case .prevote(_, _, let d) = $0.message.body { d } else { nil } }
        }
        let first = engine.step(.receive(from: NodeID(UInt32(p)), proposal))
        let request = try #require(first.validations.first)
        #expect(prevotes(first).isEmpty)
        #expect(prevotes(engine.step(.validated(request, error: nil))) == [b.headerHash])
    }

    @Test func twoBodiesUnderOneHeaderHashGetAVerdictEach() throws {
        let f = try BFTFixture()
        let b = try f.block(producer: 0, variant: 5)
        var other = b
        // A body the header does not match; the header is the same, so is its hash.
        other.transactions = [Transaction(chainID: f.chainID, sender: f.keys[1].publicKey, nonce: 0, timestamp: b.header.timestamp,
                                          payload: TransactionPayload(kind: "kv.set", body: [1]))]
        #expect(other != b)
        var verdicts = ProposalVerdicts(.deferred)
        var requests = [ValidationRequest]()
        #expect(verdicts.check(other, hash: b.headerHash, parent: f.genesis.header, &requests) == .pending)
        #expect(verdicts.check(b, hash: b.headerHash, parent: f.genesis.header, &requests) == .pending)
        #expect(requests.count == 2)
        let recordedForged = verdicts.record(requests[0], LedgerError(.transactionRootMismatch, "forged"))
        let recordedValid = verdicts.record(requests[1], nil)
        #expect(recordedForged && recordedValid)
        #expect(verdicts.check(b, hash: b.headerHash, parent: f.genesis.header, &requests) == .valid)
        if case .invalid = verdicts.check(other, hash: b.headerHash, parent: f.genesis.header, &requests) {} else {
            Issue.record("the forged body borrowed the valid body's verdict")
        }
        #expect(requests.count == 2)
        verdicts.forget(through: 1)
        #expect(verdicts.check(b, hash: b.headerHash, parent: f.genesis.header, &requests) == .pending)
    }

    @Test func anInlineValidatorIsCalledInsideStepAndAsksNothing() throws {
        let f = try BFTFixture()
        var c = f.context(2, .pbft(PBFTConfig(validators: f.set)))
        c.proposalValidator = ProposalValidator { _, _ in nil }
        var engine = try PBFTEngine(context: c)
        let b = try f.block(producer: 0, variant: 6)
        let pp = PBFTMessage.make(.prePrepare(view: 0, height: 1, blockHash: b.headerHash, block: b), sender: 0, key: f.keys[0], chainID: f.chainID)
        let fx = engine.step(.receive(from: 0, pp))
        #expect(fx.validations.isEmpty)
        #expect(Self.prepares(fx) == [b.headerHash])
    }
}

/// Catch-up as an effect: a PBFT engine behind says so (`ConsensusEffects.catchUp`) and takes the
/// blocks its host fetched (`ConsensusInput.synced`) in place, refusing one whose certificate fails.
struct HostCatchUpTests {
    func certified(_ f: BFTFixture, _ b: Block, signers: [Int]) -> CommittedBlock {
        let votes = signers.map { i in
            let m = PBFTMessage.make(.commit(view: 0, height: 1, blockHash: b.headerHash), sender: NodeID(UInt32(i)), key: f.keys[i], chainID: f.chainID)
            return CertificateVote(signer: NodeID(UInt32(i)), signature: m.signature)
        }
        return CommittedBlock(block: b, certificate: CommitCertificate(kind: .pbft, height: 1, blockHash: b.headerHash, round: 0, votes: votes))
    }

    @Test func aPBFTEngineBehindAsksItsHostAndAPeerForItsView() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: f.context(3, .pbft(PBFTConfig(validators: f.set))))
        #expect(PBFTEngine.adoptsSyncedBlocks && PoSEngine.adoptsSyncedBlocks && !RaftEngine.adoptsSyncedBlocks)
        let ahead = PBFTMessage.make(.commit(view: 0, height: 5, blockHash: .zero), sender: 1, key: f.keys[1], chainID: f.chainID)
        let fx = engine.step(.receive(from: 1, ahead))
        #expect(fx.catchUp == CatchUpRequest(peer: 1, from: 1))
        #expect(fx.messages.contains { if case .viewQuery(view: 0) = $0.message.body { $0.to == .node(1) } else { false } })
        // Rate-limited: the same news a moment later asks nothing more.
        #expect(engine.step(.receive(from: 1, ahead)).catchUp == nil)
    }

    @Test func syncedBlocksAreCommittedInPlaceAndABadCertificateIsRefused() throws {
        let f = try BFTFixture()
        let b = try f.block(producer: 0, variant: 7)
        var engine = try PBFTEngine(context: f.context(3, .pbft(PBFTConfig(validators: f.set))))
        let short = engine.step(.synced([certified(f, b, signers: [0, 1])]))
        #expect(short.commits.isEmpty)
        #expect(short.rejections.map(\.code) == [.consensusSyncBlockInvalid])
        #expect(engine.committedHeight == 0)
        let good = certified(f, b, signers: [0, 1, 2])
        let fx = engine.step(.synced([good]))
        #expect(fx.commits == [good])
        #expect(engine.committedHeight == 1)
        // Already held: nothing again.
        #expect(engine.step(.synced([good])).commits.isEmpty)
    }
}
