import Foundation
import LedgerCore
import Testing

struct ConsensusConfigTests {
    static func validators(_ n: Int, stakes: [UInt64]? = nil) throws -> ValidatorSet {
        try ValidatorSet((0..<n).map { i in
            var raw = [UInt8](repeating: 0, count: 32)
            raw[0] = UInt8(i + 1)
            let key = try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
            return Validator(id: NodeID(UInt32(i)), publicKey: key.publicKey, stake: stakes?[i] ?? 1)
        })
    }

    @Test func everyEngineConfigRoundTripsThroughAJSONFile() throws {
        let set = try Self.validators(4, stakes: [5, 1, 2, 9])
        let configs: [ConsensusConfig] = [
            .pbft(PBFTConfig(validators: set, viewChangeTimeoutTicks: 33)),
            .raft(RaftConfig(members: set, electionTimeoutMinTicks: 30, electionTimeoutMaxTicks: 60)),
            .pow(PoWConfig(initialDifficulty: 1_000, confirmationDepth: 6)),
            .pos(PoSConfig(validators: set, roundTimeoutTicks: 7)),
        ]
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("consensus-\(UInt32.random(in: 0...UInt32.max)).json")
        defer { try? FileManager.default.removeItem(at: url) }
        for config in configs {
            try config.save(to: url)
            let loaded = try ConsensusConfig.load(from: url)
            #expect(loaded == config)
            #expect(loaded.validators == config.validators)
        }
    }

    @Test func loadModifySaveKeepsTheChange() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("raft-\(UInt32.random(in: 0...UInt32.max)).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try ConsensusConfig.raft(RaftConfig(members: try Self.validators(3))).save(to: url)
        guard case .raft(var raft) = try ConsensusConfig.load(from: url) else { Issue.record("engine changed"); return }
        raft.heartbeatIntervalTicks = 5
        raft.electionTimeoutMinTicks = 50
        raft.electionTimeoutMaxTicks = 90
        try ConsensusConfig.raft(raft).save(to: url)
        guard case .raft(let again) = try ConsensusConfig.load(from: url) else { Issue.record("engine changed"); return }
        #expect(again.heartbeatIntervalTicks == 5 && again.electionTimeoutMaxTicks == 90)
    }

    @Test func omittedParametersTakeTheirDefaults() throws {
        let json = #"{"engine": "pow", "pow": {"initialDifficulty": 128}}"#
        guard case .pow(let pow) = try ConsensusConfig(json: Array(json.utf8)) else { Issue.record("not pow"); return }
        #expect(pow.initialDifficulty == 128)
        #expect(pow == PoWConfig(initialDifficulty: 128))
    }

    static let badConfigs: [(String, String, UInt32)] = [
        (#"{"engine":"pow","pow":{"hashesPerTick":0}}"#, "pow.hashesPerTick", 1701),
        (#"{"engine":"pow","pow":{"minimumDifficulty":10,"initialDifficulty":5}}"#, "pow.initialDifficulty", 1701),
        (#"{"engine":"pow","pow":{"maximumRetargetFactor":40}}"#, "pow.maximumRetargetFactor", 1701),
        (#"{"engine":"pow","pow":{"confirmationDepth":5000}}"#, "pow.confirmationDepth", 1701),
        (#"{"engine":"pow","pow":{"confirmationDepth":"six"}}"#, "pow.confirmationDepth", 1703),
        (#"{"engine":"raft","raft":{}}"#, "raft.members", 1703),
        (#"{"engine":"bft"}"#, "engine", 1703),
        (#"{"pow":{}}"#, "engine", 1703),
    ]

    @Test(arguments: ConsensusConfigTests.badConfigs)
    func rejectsABadValueNamingTheField(json: String, field: String, code: UInt32) {
        let error = #expect(throws: LedgerError.self) { try ConsensusConfig(json: Array(json.utf8)) }
        #expect(error?.numericCode == code, "\(String(describing: error))")
        #expect(error?.details["field"] == field, "\(String(describing: error))")
    }

    @Test func rejectsRaftTimeoutsOutOfOrderNamingTheField() throws {
        let set = try Self.validators(3)
        let bad = ConsensusConfig.raft(RaftConfig(members: set, heartbeatIntervalTicks: 5, electionTimeoutMinTicks: 8))
        let error = #expect(throws: LedgerError.self) { try bad.validate() }
        #expect(error?.code == .invalidConsensusConfig)
        #expect(error?.details["field"] == "raft.electionTimeoutMinTicks")
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("never-\(UInt32.random(in: 0...UInt32.max)).json")
        #expect(throws: LedgerError.self) { try bad.save(to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func validatorSetsRejectDuplicatesAndZeroStake() throws {
        let set = try Self.validators(2)
        let dup = #expect(throws: LedgerError.self) { try ValidatorSet([set[0], set[0]]) }
        #expect(dup?.code == .duplicateValidator)
        var zero = set[1]
        zero.stake = 0
        #expect((#expect(throws: LedgerError.self) { try ValidatorSet([set[0], zero]) })?.code == .invalidStake)
        #expect((#expect(throws: LedgerError.self) { try ValidatorSet([]) })?.code == .emptyValidatorSet)
    }

    @Test func quorumsFollowTheory() throws {
        for (n, f, q, m) in [(1, 0, 1, 1), (4, 1, 3, 3), (5, 1, 4, 3), (7, 2, 5, 4), (10, 3, 7, 6)] {
            let set = try Self.validators(n)
            #expect(set.maximumFaulty == f)
            #expect(set.byzantineQuorum == q)
            #expect(set.majority == m)
            // Two Byzantine quorums share at least f + 1 nodes.
            #expect(2 * set.byzantineQuorum - n >= f + 1)
        }
        let staked = try Self.validators(4, stakes: [1, 1, 1, 3])
        #expect(!staked.hasStakeQuorum(4))
        #expect(staked.hasStakeQuorum(5))
    }

    @Test func scheduleAppliesAChangeFromItsHeightOn() throws {
        let three = try Self.validators(3)
        let four = try Self.validators(4)
        var schedule = ConsensusSchedule(initial: .raft(RaftConfig(members: three)))
        try schedule.schedule(.raft(RaftConfig(members: four)), atHeight: 10)
        #expect(schedule.config(atHeight: 9).validators == three)
        #expect(schedule.config(atHeight: 10).validators == four)
        #expect(try ConsensusSchedule(json: schedule.json) == schedule)
        #expect((#expect(throws: LedgerError.self) { try schedule.schedule(.pow(PoWConfig()), atHeight: 20) })?.code == .consensusEngineMismatch)
        #expect((#expect(throws: LedgerError.self) { try schedule.schedule(.raft(RaftConfig(members: three)), atHeight: 5) })?.code == .consensusScheduleOrder)
    }
}
