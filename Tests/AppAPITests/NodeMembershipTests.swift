@testable import AppAPI
@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import Net
import Synchronization
import Testing

/// Membership by the chain (N-D-3, N-D-4): a governance transaction schedules a consensus configuration at a
/// height, every node switches there, a validator added joins consensus at that height and one removed leaves it
/// without halting the others. Nodes on real sockets (`TCPTransport`, plain TCP on 127.0.0.1).
@Suite(.serialized, .timeLimit(.minutes(3))) struct NodeMembershipTests {
    @Test func aValidatorJoinsAtItsHeightAndAnotherLeavesWithoutHaltingConsensus() async throws {
        let dir = try temporaryFolder("forgechain-membership")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keys = try (0..<5).map { i in try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(80 + i), count: 32)) }
        let genesisKey = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 79, count: 32))
        let genesis = try ChainGenesis.make(chainID: 53, key: genesisKey)
        func set(_ ids: [Int]) throws -> ValidatorSet { try ValidatorSet(ids.map { Validator(id: NodeID(UInt32($0)), publicKey: keys[$0].publicKey) }) }
        func config(_ ids: [Int]) throws -> ConsensusConfig {
            try ClusterEngines.networkConfig(.pbft, validators: try set(ids), maximumTransactionsPerBlock: 500, timeoutTicks: 100)
        }
        let schedule = ConsensusSchedule(initial: try config([0, 1, 2, 3]))
        var transports = [TCPTransport]()
        for i in 0..<5 {
            var c = TCPTransport.Configuration(node: NodeID(UInt32(i)), chainID: 53, genesisHash: genesis.headerHash)
            c.maximumReconnectDelay = .milliseconds(200)
            transports.append(try await TCPTransport.start(c))
        }
        for i in 0..<5 {
            transports[i].updatePeers(Dictionary(uniqueKeysWithValues: (0..<5).filter { $0 != i }.map {
                (NodeID(UInt32($0)), TCPTransport.Endpoint(host: "127.0.0.1", port: transports[$0].port))
            }))
        }
        // Node 4 starts as an observer: the genesis configures four validators.
        var nodes = [Node<PBFTEngine>]()
        for i in 0..<5 {
            var configuration = NodeConfiguration(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, schedule: schedule,
                                                  storePath: "\(dir)/node\(i).sqlite")
            configuration.tickInterval = .milliseconds(10)
            let node = try await Node<PBFTEngine>(configuration: configuration, transport: transports[i],
                                                  executors: [KeyValueExecutor(), AccessExecutor()])
            await node.start()
            nodes.append(node)
        }
        var founder = SigningAccount(key: genesisKey, chainID: 53)
        var alice = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32)), chainID: 53)
        func write(_ n: Int, _ label: String) async throws -> Receipt {
            try await nodes[n].submit(try alice.set(key: Array(label.utf8), value: [1]), timeout: .seconds(60))
        }
        #expect(try await write(0, "before").status == Receipt.success)
        #expect(await nodes[4].consensusStatus.role == .observer)

        // Too soon: a change must lie `minimumLead` blocks above the block that schedules it.
        let early = try await nodes[0].submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .scheduleConsensus(height: await nodes[0].head.height, config: try config([0, 1, 2, 3, 4])),
        ])), timeout: .seconds(60))
        #expect(early.status == UInt64(AppError.Code.invalidFieldValue.rawValue), "\(String(decoding: early.output, as: UTF8.self))")
        #expect(await nodes[0].consensusSchedule.changes.isEmpty)

        // Node 4 joins at `join`.
        let join = Height(await nodes[0].head.height.rawValue + 6)
        let joined = try await nodes[0].submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .scheduleConsensus(height: join, config: try config([0, 1, 2, 3, 4])),
        ])), timeout: .seconds(60))
        #expect(joined.status == Receipt.success, "\(String(decoding: joined.output, as: UTF8.self))")
        var i = 0
        #expect(await eventually {
            i += 1
            _ = try? await write(i % 5, "fill-\(i)")
            for n in nodes where await n.head.height < join.next { return false }
            return true
        }, "every node past the join height")
        for n in nodes { #expect(await n.consensusSchedule.config(atHeight: join).validators?.count == 5) }
        #expect(await nodes[4].consensusStatus.role != .observer, "node 4 is a validator from its height on")

        // Node 3 leaves at `leave`: it stops voting there and may then stop.
        let leave = Height(await nodes[0].head.height.rawValue + 6)
        let left = try await nodes[1].submit(try founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([
            .scheduleConsensus(height: leave, config: try config([0, 1, 2, 4])),
        ])), timeout: .seconds(60))
        #expect(left.status == Receipt.success)
        #expect(await eventually {
            i += 1
            _ = try? await write([0, 1, 2, 4][i % 4], "fill-\(i)")
            for n in nodes where await n.head.height < leave.next { return false }
            return true
        }, "every node past the leave height")
        #expect(await nodes[3].consensusStatus.role == .observer, "node 3 left consensus at its height")
        await nodes[3].stop()

        // Validators 0, 1, 2, 4 (quorum 3): with node 1 down too, 0, 2 and 4 commit only if node 4 votes and
        // node 3 no longer counts (as five validators the quorum would be four).
        await nodes[1].stop()
        let after = try await write(2, "after-leave")
        #expect(after.status == Receipt.success)
        let height = await nodes[2].head.height
        #expect(await eventually {
            let (a, b) = (await nodes[0].head.height, await nodes[4].head.height)
            return a >= height && b >= height
        })
        #expect(try await nodes[0].ledger.blockHash(atHeight: height) == nodes[4].ledger.blockHash(atHeight: height))

        // A restarted node reads the changes from its store: node 1 comes back a validator of the new set.
        let reopened = try await Node<PBFTEngine>(configuration: nodes[1].configuration, transport: try InMemoryNetwork().attach(1),
                                                  executors: [KeyValueExecutor(), AccessExecutor()])
        #expect(await reopened.consensusSchedule.changes.map(\.height) == [join, leave])
        await reopened.stop()
        for n in nodes { await n.stop() }
        for t in transports { await t.close() }
    }
}

/// The same membership change on simulated time, under dropped and delayed messages and crashed nodes: five
/// nodes, four validators at genesis; the genesis key schedules all five on chain, and by the end every running
/// node runs the five and the fifth votes, with every checker (agreement, state roots, acknowledged transactions,
/// liveness after healing) passing.
@Suite(.serialized) struct NodeMembershipSimulationTests {
    static func run(_ kind: ConsensusEngineKind, seed: UInt64, options: NodeSimulationOptions) async -> NodeSimulationReport {
        await withCheckedContinuation { c in
            let thread = Thread { c.resume(returning: NodeSimulationBatch.runOne(kind, seed: seed, options: options)) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    @Test(arguments: [ConsensusEngineKind.pbft, .raft, .pos], [UInt64(1)])
    func aValidatorAddedOnChainJoinsUnderFaults(_ kind: ConsensusEngineKind, seed: UInt64) async throws {
        let genesisKey = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 77, count: 32))
        var options = NodeSimulationOptions()
        options.nodes = 5
        options.genesisValidators = 4
        options.genesisKey = genesisKey
        options.executors = [KeyValueExecutor(), AccessExecutor()]
        options.faults = [.drop, .delay, .crash]
        options.faultTicks = 150
        options.quietTicks = NodeSimulator<PBFTEngine>.healingTicks(kind) + 200
        // Scheduled 20 blocks above the head it first sees; re-signed every 15 ticks (the clock-drift window) until
        // tick 120 in case a crash lost it: once one copy commits, the others are refused (nonce used).
        let target = Mutex<Height?>(nil)
        options.governance = { tick, height, all in
            guard height >= 3, tick <= 120 else { return nil }
            let at: Height = target.withLock { t in
                if t == nil { t = Height(height.rawValue + 20) }
                return t!
            }
            guard tick % 15 == 0 || at.rawValue == height.rawValue + 20 else { return nil }
            guard let config = try? ClusterEngines.config(kind, validators: all, maximumTransactionsPerBlock: 64) else { return nil }
            var founder = SigningAccount(key: genesisKey, chainID: 53)
            return try? founder.transaction(kind: AccessExecutor.kind, body: AccessOperation.body([.scheduleConsensus(height: at, config: config)]),
                                            timestamp: Timestamp(millisecondsSince1970: SimulatedClock.simulationBase + tick * 1_000))
        }
        let report = await Self.run(kind, seed: seed, options: options)
        #expect(report.passed, "\(report)")
        let at = try #require(target.withLock { $0 })
        #expect(report.committedHeights.allSatisfy { $0 > at }, "every node past the change at \(at): \(report.committedHeights)")
        #expect(report.validators.allSatisfy { $0.count == 5 }, "every node runs five validators: \(report.validators)")
        #expect(report.roles[4] != nil && report.roles[4] != .observer, "node 4 votes: \(report.roles)")
    }
}
