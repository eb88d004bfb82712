import Foundation
import Testing
import LedgerCore

struct PoWEncodingTests {
    @Test func sealRoundTripsThroughConsensusData() throws {
        for seal in [PoWSeal(difficulty: 1, nonce: 0), PoWSeal(difficulty: 1 << 40, nonce: .max)] {
            #expect(try PoWSeal(decoding: seal.encoded) == seal)
        }
    }

    @Test(arguments: [[], [0xC0], RLP.encode(.list([.uint(2), .uint(4), .uint(1)])),
                      RLP.encode(.list([.uint(1), .uint(0), .uint(1)])), RLP.encode(.list([.uint(1), .uint(4)])),
                      RLP.encode(.bytes([1, 2, 3]))])
    func malformedSealIsRejectedWithTheSealCode(bytes: [UInt8]) {
        let error = #expect(throws: LedgerError.self) { try PoWSeal(decoding: bytes) }
        #expect(error?.code == .powMalformedSeal)
    }

    @Test func everyMessageRoundTripsAndGarbageNeverTraps() throws {
        let key = try PoWTestCluster.key(1)
        let genesis = try Block.make(parent: nil, transactions: [], producerKey: key, chainID: 1, hashAlgorithm: .sha256,
                                     timestamp: Timestamp(millisecondsSince1970: 1))
        let child = try powChild(of: genesis, difficulty: 4, key: key, tag: "e")
        let messages: [PoWMessage] = [.block(child), .getBlocks(hash: child.headerHash, count: 9), .blocks([genesis, child]),
                                      .blocks([]), .tip(hash: child.headerHash, height: 1),
                                      .getBlocksAt(hash: child.headerHash, count: 64, height: 1)]
        for m in messages { #expect(try PoWMessage(decoding: m.encoded) == m) }
        var rng = SplitMix64(seed: 11)
        for m in messages {
            var bytes = m.encoded
            for _ in 0..<50 {
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                _ = try? PoWMessage(decoding: bytes)
            }
        }
        let error = #expect(throws: LedgerError.self) { try PoWMessage(decoding: RLP.encode(.list([.uint(9)]))) }
        #expect(error?.code == .malformedConsensusMessage)
        let tooMany = RLP.encode(.list([.uint(3), .list(Array(repeating: .bytes(genesis.encoded), count: 65))]))
        #expect(throws: LedgerError.self) { try PoWMessage(decoding: tooMany) }
        // A request by height with a field missing is refused by its count.
        let short = RLP.encode(.list([.uint(5), .digest(child.headerHash), .uint(3)]))
        #expect((#expect(throws: LedgerError.self) { try PoWMessage(decoding: short) })?.code == .malformedConsensusMessage)
    }

    /// The persisted state a restarted PoW engine reads back (a damaged store): garbage is refused with 1724, never trapped on.
    @Test func damagedPersistedStateIsRefusedNeverTrappedOn() throws {
        let config = PoWConfig(initialDifficulty: 8, retargetIntervalBlocks: 3, targetBlockIntervalTicks: 5, hashesPerTick: 2, confirmationDepth: 2)
        var c = try PoWTestCluster(nodes: 1, config: config)
        try c.run(ticks: 120)
        let state = try #require(c.persisted[0])
        let suffix = Array(c.commits[0].suffix(1))
        var rng = SplitMix64(seed: 29)
        var refused = 0
        for _ in 0..<300 {
            var bytes = state
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
            }
            do {
                _ = try PoWEngine(context: c.context(0, config: config), recovery: ConsensusRecovery(persistentState: bytes, committed: suffix))
            } catch {
                #expect(error.code == .consensusStateCorrupt, "\(error)")
                refused += 1
            }
        }
        #expect(refused > 0)
    }

    @Test func retargetScalesByExpectedOverActualTimeWithinTheClamp() {
        let config = PoWConfig(initialDifficulty: 64, minimumDifficulty: 2, retargetIntervalBlocks: 10,
                               targetBlockIntervalTicks: 20, maximumRetargetFactor: 4)
        // Expected window: 10 × 20 = 200 ticks.
        #expect(PoWDifficulty.retarget(64, actualTicks: 200, config: config) == 64)
        #expect(PoWDifficulty.retarget(64, actualTicks: 400, config: config) == 32)
        #expect(PoWDifficulty.retarget(64, actualTicks: 100, config: config) == 128)
        #expect(PoWDifficulty.retarget(64, actualTicks: 1, config: config) == 256)      // ×4 at most
        #expect(PoWDifficulty.retarget(64, actualTicks: 100_000, config: config) == 16) // ÷4 at most
        #expect(PoWDifficulty.retarget(4, actualTicks: 100_000, config: config) == 2)   // never below the minimum
        #expect(PoWDifficulty.retarget(1 << 62, actualTicks: 1, config: config) == 1 << 62)
    }

    @Test func powConfigurationRoundTripsThroughJSON() throws {
        let config = ConsensusConfig.pow(PoWConfig(initialDifficulty: 300, minimumDifficulty: 3, retargetIntervalBlocks: 7,
                                                   targetBlockIntervalTicks: 11, maximumRetargetFactor: 8, hashesPerTick: 5,
                                                   confirmationDepth: 9, maximumTransactionsPerBlock: 50))
        #expect(try ConsensusConfig(json: config.json) == config)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pow-\(UInt64.random(in: 0...UInt64.max)).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try config.save(to: url)
        #expect(try ConsensusConfig.load(from: url) == config)
        let defaults = try ConsensusConfig(json: Array(#"{"engine": "pow", "pow": {}}"#.utf8))
        #expect(defaults == .pow(PoWConfig()))
    }

    @Test(arguments: [("initialDifficulty", "0"), ("minimumDifficulty", "0"), ("retargetIntervalBlocks", "0"),
                      ("targetBlockIntervalTicks", "0"), ("maximumRetargetFactor", "1"), ("maximumRetargetFactor", "17"),
                      ("confirmationDepth", "1001"), ("hashesPerTick", "0"), ("maximumTransactionsPerBlock", "0")])
    func outOfRangePoWParameterIsRejectedNamingTheField(field: String, value: String) {
        let json = #"{"engine": "pow", "pow": {"\#(field)": \#(value)}}"#
        let error = #expect(throws: LedgerError.self) { try ConsensusConfig(json: Array(json.utf8)) }
        #expect(error?.code == .invalidConsensusConfig)
        #expect(error?.details["field"] == "pow.\(field)")
    }

    @Test func difficultyChangeScheduledAtAHeightTakesEffectAtThatHeight() throws {
        let before = PoWConfig(initialDifficulty: 4, retargetIntervalBlocks: 1_000, targetBlockIntervalTicks: 10,
                               hashesPerTick: 4, confirmationDepth: 1)
        var after = before
        after.initialDifficulty = 32
        var cluster = try PoWTestCluster(nodes: 2, config: before)
        for i in 0..<2 { _ = cluster.engines[i].step(.configChange(.init(height: 5, config: .pow(after)))) }
        try cluster.run(ticks: 200)
        for i in 0..<2 {
            let seals = try cluster.commits[i].map { try PoWSeal(decoding: $0.block.header.consensusData).difficulty }
            #expect(seals.count >= 6)
            #expect(Array(seals.prefix(4)) == [4, 4, 4, 4])
            #expect(seals.dropFirst(4).allSatisfy { $0 == 32 })
        }
    }
}
