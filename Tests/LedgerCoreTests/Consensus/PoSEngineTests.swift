import LedgerCore
import Testing

struct PoSEngineTests {
    func pos(_ f: BFTFixture) -> ConsensusConfig { .pos(PoSConfig(validators: f.set)) }

    /// Byzantine validators `byzantine` (the first being height 1's round-0 proposer) tell honest `target` that `b` is the block.
    func drive(_ f: BFTFixture, target: Int, block b: Block, byzantine: [Int]) throws -> [CommittedBlock] {
        var engine = try PoSEngine(context: f.context(target, pos(f)))
        var commits = [CommittedBlock]()
        func send(_ body: PoSMessage.Body, from s: Int) {
            commits += engine.step(.receive(from: NodeID(UInt32(s)), .make(body, sender: NodeID(UInt32(s)), key: f.keys[s], chainID: f.chainID))).commits
        }
        send(.proposal(height: 1, round: 0, blockHash: b.headerHash, block: b, validRound: nil), from: byzantine[0])
        for s in byzantine { send(.prevote(height: 1, round: 0, blockHash: b.headerHash), from: s) }
        for s in byzantine { send(.precommit(height: 1, round: 0, blockHash: b.headerHash), from: s) }
        return commits
    }

    func setup(stakes: [UInt64]) throws -> (BFTFixture, proposer: Int, honest: [Int]) {
        let f = try BFTFixture(stakes: stakes)
        let engine = try PoSEngine(context: f.context(0, pos(f)))
        let p = Int(engine.proposer(height: 1, round: 0).rawValue)
        return (f, p, (0..<4).filter { $0 != p })
    }

    @Test func byzantineValidatorsWithAThirdOfTheStakeMakeHonestValidatorsCommitConflictingBlocks() throws {
        let (f, p, others) = try setup(stakes: [1, 1, 1, 1])
        let byz = [p, others[0]]   // 2 of 4 equal stakes: 1/2 ≥ 1/3
        let a = try f.block(producer: p, variant: 1), b = try f.block(producer: p, variant: 2)
        let x = try drive(f, target: others[1], block: a, byzantine: byz)
        let y = try drive(f, target: others[2], block: b, byzantine: byz)
        #expect(x.map(\.hash) == [a.headerHash])
        #expect(y.map(\.hash) == [b.headerHash])
        try x[0].certificate.verify(block: a, validators: f.set, hashAlgorithm: .sha256)
        try y[0].certificate.verify(block: b, validators: f.set, hashAlgorithm: .sha256)
    }

    @Test func byzantineStakeBelowAThirdCannotFinaliseAnEquivocation() throws {
        let (f, p, others) = try setup(stakes: [1, 1, 1, 1])
        let a = try f.block(producer: p, variant: 1)
        #expect(try drive(f, target: others[1], block: a, byzantine: [p]).isEmpty)
    }

    @Test func finalityFollowsStakeNotHeadCount() throws {
        // One validator with stake 7 of 10 signs alone: more than 2/3 of the stake.
        let f = try BFTFixture(stakes: [7, 1, 1, 1])
        let engine = try PoSEngine(context: f.context(1, pos(f)))
        let a = try f.block(producer: 0, variant: 1)
        let vote = try CommitCertificate.vote(kind: .pos, chainID: f.chainID, height: 1, round: 0, blockHash: a.headerHash, signer: 0, key: f.keys[0])
        try CommitCertificate(kind: .pos, height: 1, blockHash: a.headerHash, round: 0, votes: [vote])
            .verify(block: a, validators: f.set, hashAlgorithm: .sha256)
        #expect(engine.validators.totalStake == 10)
    }

    @Test func theProposerIsDeterministicAndWeightedByStake() throws {
        let f = try BFTFixture(stakes: [10, 1, 1, 1])
        let engine = try PoSEngine(context: f.context(1, pos(f)))
        var counts = [0, 0, 0, 0]
        for h in 1...400 { counts[Int(engine.proposer(height: Height(UInt64(h)), round: 0).rawValue)] += 1 }
        let again = try PoSEngine(context: f.context(2, pos(f)))
        #expect((1...50).allSatisfy { engine.proposer(height: Height(UInt64($0)), round: 1) == again.proposer(height: Height(UInt64($0)), round: 1) })
        #expect(counts[0] > 200 && counts[0] < 360, "\(counts)")
    }

    @Test func aStakeChangeTakesEffectAtItsHeight() throws {
        let f = try BFTFixture(stakes: [1, 1, 1, 1])
        let heavier = try ValidatorSet(f.set.map { Validator(id: $0.id, publicKey: $0.publicKey, stake: $0.id == 3 ? 9 : 1) })
        var schedule = ConsensusSchedule(initial: pos(f))
        try schedule.schedule(.pos(PoSConfig(validators: heavier)), atHeight: 5)
        let engine = try PoSEngine(context: ConsensusContext(node: 0, signingKey: f.keys[0], genesis: f.genesis, chainID: f.chainID, schedule: schedule))
        #expect(engine.validators.totalStake == 4)
        var counts = [0, 0, 0, 0]
        for h in 5...404 { counts[Int(engine.proposer(height: Height(UInt64(h)), round: 0).rawValue)] += 1 }
        #expect(counts[3] > 250, "\(counts)")
    }

    @Test func aConflictingSecondVoteIsRejectedAsEquivocation() throws {
        let (f, p, others) = try setup(stakes: [1, 1, 1, 1])
        var engine = try PoSEngine(context: f.context(others[0], pos(f)))
        let a = try f.block(producer: p, variant: 1)
        _ = engine.step(.receive(from: NodeID(UInt32(p)), .make(.prevote(height: 1, round: 0, blockHash: a.headerHash), sender: NodeID(UInt32(p)), key: f.keys[p], chainID: f.chainID)))
        let fx = engine.step(.receive(from: NodeID(UInt32(p)), .make(.prevote(height: 1, round: 0, blockHash: nil), sender: NodeID(UInt32(p)), key: f.keys[p], chainID: f.chainID)))
        #expect(fx.rejections.map(\.code) == [.posConflictingVote])
    }
}
