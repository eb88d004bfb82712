import LedgerCore
import Testing

/// A hand-driven 4-validator cluster for scripted PBFT and PoS scenarios.
struct BFTFixture {
    let keys: [PrivateKey]
    let set: ValidatorSet
    let genesis: Block
    let chainID: UInt64 = 9

    init(stakes: [UInt64] = [1, 1, 1, 1]) throws {
        let k = try stakes.indices.map { i in try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(i + 1), count: 32)) }
        keys = k
        set = try ValidatorSet(stakes.indices.map { Validator(id: NodeID(UInt32($0)), publicKey: k[$0].publicKey, stake: stakes[$0]) })
        genesis = try Block.make(parent: nil, transactions: [], producerKey: k[0], chainID: 9, hashAlgorithm: .sha256,
                                 timestamp: Timestamp(millisecondsSince1970: 1_000))
    }

    func context(_ i: Int, _ config: ConsensusConfig) -> ConsensusContext {
        ConsensusContext(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, chainID: chainID,
                         schedule: ConsensusSchedule(initial: config))
    }

    /// A block at height 1 by validator `producer`; `variant` changes its timestamp (and so its hash).
    func block(producer: Int, variant: UInt64) throws -> Block {
        try Block.make(parent: genesis.header, transactions: [], producerKey: keys[producer], chainID: chainID, hashAlgorithm: .sha256,
                       timestamp: Timestamp(millisecondsSince1970: 2_000 + variant))
    }
}

struct PBFTEngineTests {
    func pbft(_ f: BFTFixture) -> ConsensusConfig { .pbft(PBFTConfig(validators: f.set)) }

    /// Feeds a scripted Byzantine primary (node 0) and, when `twoByzantine`, a second Byzantine node (1) to
    /// honest node `target`, telling it that block `b` is the one; returns what `target` committed.
    func drive(_ f: BFTFixture, target: Int, block b: Block, twoByzantine: Bool) throws -> [CommittedBlock] {
        var engine = try PBFTEngine(context: f.context(target, pbft(f)))
        var commits = [CommittedBlock]()
        let d = b.headerHash
        func send(_ body: PBFTMessage.Body, from s: Int) {
            commits += engine.step(.receive(from: NodeID(UInt32(s)), .make(body, sender: NodeID(UInt32(s)), key: f.keys[s], chainID: f.chainID))).commits
        }
        send(.prePrepare(view: 0, height: 1, blockHash: d, block: b), from: 0)
        if twoByzantine {
            send(.prepare(view: 0, height: 1, blockHash: d), from: 1)
            send(.commit(view: 0, height: 1, blockHash: d), from: 1)
        }
        send(.commit(view: 0, height: 1, blockHash: d), from: 0)
        return commits
    }

    @Test func withFPlusOneByzantineReplicasTwoHonestReplicasCommitConflictingBlocks() throws {
        let f = try BFTFixture()
        let a = try f.block(producer: 0, variant: 1), b = try f.block(producer: 0, variant: 2)
        let at2 = try drive(f, target: 2, block: a, twoByzantine: true)
        let at3 = try drive(f, target: 3, block: b, twoByzantine: true)
        #expect(at2.map(\.hash) == [a.headerHash])
        #expect(at3.map(\.hash) == [b.headerHash])
        // Both certificates convince a third party: f + 1 Byzantine replicas break PBFT's safety, as theory says.
        try at2[0].certificate.verify(block: a, validators: f.set, hashAlgorithm: .sha256)
        try at3[0].certificate.verify(block: b, validators: f.set, hashAlgorithm: .sha256)
    }

    @Test func withFByzantineReplicasTheSameEquivocationCommitsNothing() throws {
        let f = try BFTFixture()
        let a = try f.block(producer: 0, variant: 1), b = try f.block(producer: 0, variant: 2)
        #expect(try drive(f, target: 2, block: a, twoByzantine: false).isEmpty)
        #expect(try drive(f, target: 3, block: b, twoByzantine: false).isEmpty)
    }

    @Test func aMessageWithABadSignatureIsDroppedAndCounted() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: f.context(2, pbft(f)))
        let b = try f.block(producer: 0, variant: 1)
        // Signed by node 1's key but claiming to be node 0.
        var m = PBFTMessage.make(.prePrepare(view: 0, height: 1, blockHash: b.headerHash, block: b), sender: 1, key: f.keys[1], chainID: f.chainID)
        m.sender = 0
        let fx = engine.step(.receive(from: 0, m))
        #expect(engine.invalidSignatureCount == 1)
        #expect(fx.rejections.map(\.code) == [.consensusMessageSignatureInvalid])
        #expect(fx.messages.isEmpty)
    }

    @Test func theCommitCertificateFailsVerificationWhenAVoteIsRemoved() throws {
        let f = try BFTFixture()
        let a = try f.block(producer: 0, variant: 1)
        var cert = try drive(f, target: 2, block: a, twoByzantine: true)[0].certificate
        #expect(cert.votes.count == 3)
        cert.votes.removeLast()
        #expect(throws: LedgerError.self) { try cert.verify(block: a, validators: f.set, hashAlgorithm: .sha256) }
    }

    @Test func messagesRoundTripThroughTheirCanonicalEncoding() throws {
        let f = try BFTFixture()
        let a = try f.block(producer: 0, variant: 1)
        let pp = PBFTMessage.make(.prePrepare(view: 3, height: 1, blockHash: a.headerHash, block: a), sender: 0, key: f.keys[0], chainID: 9)
        let vc = PBFTMessage.make(.viewChange(PBFTViewChange(newView: 4, stableHeight: 0, stableHash: f.genesis.headerHash, checkpointProof: [],
                                                             prepared: [PBFTPreparedCertificate(prePrepare: pp, prepares: [])])),
                                  sender: 2, key: f.keys[2], chainID: 9)
        for m in [pp, vc] {
            let back = try PBFTMessage(decoding: m.encoded)
            #expect(back == m)
            #expect(back.isValidlySigned(chainID: 9, validators: f.set))
        }
    }

    @Test func aPrimaryAsksForAProposalAndPrePreparesIt() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: f.context(0, pbft(f)))
        let fx = engine.step(.tick)
        #expect(fx.proposalRequests.map(\.height) == [1])
        #expect(engine.status.role == .primary)
        let b = try f.block(producer: 0, variant: 1)
        let out = engine.step(.proposal(b))
        guard case .prePrepare(0, 1, let d, _)? = out.messages.first?.message.body else { Issue.record("no pre-prepare"); return }
        #expect(d == b.headerHash)
    }

    @Test func aPBFTEngineRefusesAnotherEnginesConfiguration() throws {
        let f = try BFTFixture()
        #expect(throws: LedgerError.self) { try PBFTEngine(context: f.context(0, .pos(PoSConfig(validators: f.set)))) }
    }

    @Test func aRestartedReplicaKeepsItsViewAndPreparedCertificates() throws {
        let f = try BFTFixture()
        var engine = try PBFTEngine(context: f.context(2, pbft(f)))
        var state: [UInt8]?
        for _ in 0..<25 { if let p = engine.step(.tick).persistentState { state = p } }
        #expect(engine.view == 1)
        let restarted = try PBFTEngine(context: f.context(2, pbft(f)), recovery: ConsensusRecovery(persistentState: state, committed: []))
        #expect(restarted.view == 1)
        #expect(throws: LedgerError.self) {
            try PBFTEngine(context: f.context(2, pbft(f)), recovery: ConsensusRecovery(persistentState: [1, 2, 3], committed: []))
        }
    }
}
