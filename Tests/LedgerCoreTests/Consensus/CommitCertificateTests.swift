import LedgerCore
import Testing

struct CommitCertificateTests {
    let keys: [PrivateKey]
    let set: ValidatorSet
    let block: Block

    init() throws {
        let keys = try (0..<4).map { i in
            var raw = [UInt8](repeating: 7, count: 32)
            raw[31] = UInt8(i)
            return try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
        }
        self.keys = keys
        set = try ValidatorSet(keys.indices.map { Validator(id: NodeID(UInt32($0)), publicKey: keys[$0].publicKey, stake: UInt64($0 + 1)) })
        let genesis = try Block.make(parent: nil, transactions: [], producerKey: keys[0], chainID: 9, hashAlgorithm: .sha256,
                                     timestamp: Timestamp(millisecondsSince1970: 1_000))
        block = try Block.make(parent: genesis.header, transactions: [], producerKey: keys[1], hashAlgorithm: .sha256,
                               timestamp: Timestamp(millisecondsSince1970: 2_000))
    }

    func certificate(_ kind: CertificateKind, signers: [Int], round: Round = 3) throws -> CommitCertificate {
        let votes = try signers.map { i in
            try CommitCertificate.vote(kind: kind, chainID: 9, height: block.header.height, round: round,
                                       blockHash: block.headerHash, signer: NodeID(UInt32(i)), key: keys[i])
        }
        return CommitCertificate(kind: kind, height: block.header.height, blockHash: block.headerHash, round: round, votes: votes)
    }

    @Test func aQuorumCertificateVerifiesAndRoundTrips() throws {
        for (kind, signers) in [(CertificateKind.pbft, [0, 1, 3]), (.raft, [1, 2, 3]), (.pos, [2, 3])] {
            let cert = try certificate(kind, signers: signers)
            try cert.verify(block: block, validators: set, hashAlgorithm: .sha256)
            let decoded = try CommitCertificate(decoding: cert.encoded)
            #expect(decoded == cert)
            try decoded.verify(block: block, validators: set, hashAlgorithm: .sha256)
            let committed = CommittedBlock(block: block, certificate: cert)
            #expect(try CommittedBlock(decoding: committed.encoded) == committed)
        }
    }

    @Test func tooFewVotesOrTooLittleStakeIsRejected() throws {
        for (kind, signers) in [(CertificateKind.pbft, [0, 1]), (.raft, [1]), (.pos, [0, 1, 2])] {   // pos: stake 6 of 10 is not > 2/3
            let error = #expect(throws: LedgerError.self) { try certificate(kind, signers: signers).verify(block: block, validators: set, hashAlgorithm: .sha256) }
            #expect(error?.code == .certificateQuorumNotReached, "\(kind)")
        }
    }

    @Test func tamperingIsDetected() throws {
        let good = try certificate(.pbft, signers: [0, 1, 2])
        var otherRound = good
        otherRound.round = 4
        #expect((#expect(throws: LedgerError.self) { try otherRound.verify(block: block, validators: set, hashAlgorithm: .sha256) })?.code == .certificateSignatureInvalid)
        var forged = good
        forged.votes[1].signature = forged.votes[0].signature
        #expect((#expect(throws: LedgerError.self) { try forged.verify(block: block, validators: set, hashAlgorithm: .sha256) })?.code == .certificateSignatureInvalid)
        var duplicated = good
        duplicated.votes[2] = duplicated.votes[1]
        #expect((#expect(throws: LedgerError.self) { try duplicated.verify(block: block, validators: set, hashAlgorithm: .sha256) })?.code == .certificateDuplicateSigner)
        var stranger = good
        stranger.votes[2].signer = 9
        #expect((#expect(throws: LedgerError.self) { try stranger.verify(block: block, validators: set, hashAlgorithm: .sha256) })?.code == .certificateUnknownSigner)
        var otherBlock = block
        otherBlock.header.timestamp = Timestamp(millisecondsSince1970: 3_000)
        #expect((#expect(throws: LedgerError.self) { try good.verify(block: otherBlock, validators: set, hashAlgorithm: .sha256) })?.code == .certificateBlockMismatch)
        var bytes = good.encoded
        bytes[bytes.count - 5] ^= 1
        if let flipped = try? CommitCertificate(decoding: bytes) {
            #expect(throws: LedgerError.self) { try flipped.verify(block: block, validators: set, hashAlgorithm: .sha256) }
        }
    }

    @Test func proofOfWorkMeetsDifficultyExactly() throws {
        let maxHash = try Digest(bytes: [UInt8](repeating: 0xFF, count: 32))
        #expect(ProofOfWork.meets(hash: maxHash, difficulty: 1))
        #expect(!ProofOfWork.meets(hash: maxHash, difficulty: 2))
        var half = [UInt8](repeating: 0xFF, count: 32)
        half[0] = 0x7F   // 2^255 - 1: meets 2, not 3
        #expect(ProofOfWork.meets(hash: try Digest(bytes: half), difficulty: 2))
        #expect(!ProofOfWork.meets(hash: try Digest(bytes: half), difficulty: 3))
        let cert = CommitCertificate(kind: .pow, height: block.header.height, blockHash: block.headerHash, round: 0, difficulty: 1)
        try cert.verify(block: block, validators: set, hashAlgorithm: .sha256)
        var hard = cert
        hard.difficulty = 1 << 62
        #expect((#expect(throws: LedgerError.self) { try hard.verify(block: block, validators: set, hashAlgorithm: .sha256) })?.code == .certificateProofOfWorkInvalid)
    }
}
