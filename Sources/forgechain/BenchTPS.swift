import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore
import Net

/// `forgechain bench tps`: committed transactions per second and commit
/// latency (enqueue to commit) for one node, for a 4-node PBFT cluster in
/// one process, for four PBFT nodes over mutual TLS on loopback sockets, and
/// for four node processes (``ProcessClusterBench``),
/// key-value transactions signed with ECDSA P-256 by default
/// (`--sender-scheme`), signatures checked at intake (K-T-2) and in every
/// validated block.
enum TPSBench {
    /// Which run `--only` selects.
    enum Run: String, ExpressibleByArgument, CaseIterable {
        case node1, pbft4
        case pbft4TLS = "pbft4-tls"
        case pbft4Processes = "pbft4-processes"
    }

    /// The senders' signature scheme `--sender-scheme` selects.
    enum Scheme: String, ExpressibleByArgument, CaseIterable {
        case p256, ed25519, sm2, secp256k1

        var signatureScheme: SignatureScheme { SignatureScheme(rawValue: rawValue)! }
    }

    struct Result {
        var count: Int
        var seconds: Double
        var p50: Double
        var p99: Double
        /// Process CPU time (user + system, all threads) from the first enqueue to the last commit.
        var cpuSeconds: Double
        /// The load average (1 minute) when the run finished.
        var loadAverage: Double
    }

    /// Pre-signed transactions from `senders` accounts, round-robin, nonces in order.
    static func workload(count: Int, senders: Int, chainID: UInt64, seed: UInt64, scheme: SignatureScheme) throws -> [Transaction] {
        var rng = SplitMix64(seed: seed)
        var accounts = try (0..<senders).map { _ -> SigningAccount in
            var raw = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
            return SigningAccount(key: try PrivateKey(scheme: scheme, rawRepresentation: raw), chainID: chainID)
        }
        let now = Timestamp.now()
        var txs = [Transaction]()
        txs.reserveCapacity(count)
        for i in 0..<count {
            let s = i % senders
            txs.append(try accounts[s].set(key: Array("k\(i % 4_096)".utf8), value: Array("value-\(i)".utf8), timestamp: now))
        }
        return txs
    }

    /// Enqueues `txs` at `node` in chunks and waits until every one is committed there; on a terminal,
    /// standard error shows the transactions committed (`label`).
    static func drive(_ node: any ChainNode, _ txs: [Transaction], chunk: Int = 1_000, label: String) async throws -> Result {
        let progress = ProgressReporter(label: label, unit: "transactions", total: txs.count)
        defer { progress.finish() }
        let commits = await node.commits()
        let algorithm = HashAlgorithm.sha256
        let ids = txs.map { $0.id(using: algorithm) }
        var submitted = [Digest: ContinuousClock.Instant]()
        submitted.reserveCapacity(txs.count)
        let start = ContinuousClock.now
        let cpuStart = cpuTime()
        let consumer = Task { () -> (ContinuousClock.Instant, [Digest: ContinuousClock.Instant]) in
            var seen = [Digest: ContinuousClock.Instant]()
            var last = ContinuousClock.now
            for await notice in commits {
                for id in notice.transactionIDs { seen[id] = notice.committedAt }
                progress.update(completed: seen.count)
                last = notice.committedAt
                if seen.count >= txs.count { break }
            }
            return (last, seen)
        }
        var offset = 0
        while offset < txs.count {
            let end = min(txs.count, offset + chunk)
            let batch = Array(txs[offset..<end])
            let t = ContinuousClock.now
            var pending = batch
            var pendingIDs = Array(ids[offset..<end])
            while !pending.isEmpty {
                let results = await node.enqueue(pending)
                var retry = [Transaction]()
                var retryIDs = [Digest]()
                for (i, r) in results.enumerated() {
                    switch r {
                    case .success: submitted[pendingIDs[i]] = t
                    case .failure(let e) where e.code == .mempoolFull || e.code == .senderLimitReached || e.code == .nonceGap:
                        retry.append(pending[i])
                        retryIDs.append(pendingIDs[i])
                    case .failure(let e): throw e
                    }
                }
                pending = retry
                pendingIDs = retryIDs
                if !pending.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            }
            offset = end
        }
        let (last, seen) = await consumer.value
        let cpuSeconds = cpuTime() - cpuStart
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        var latencies = [Double]()
        latencies.reserveCapacity(seen.count)
        for (id, at) in seen {
            if let s = submitted[id] { latencies.append(Double((at - s).components.attoseconds) / 1e18 + Double((at - s).components.seconds)) }
        }
        latencies.sort()
        func pct(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let total = last - start
        return Result(count: seen.count, seconds: Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18,
                      p50: pct(0.50), p99: pct(0.99), cpuSeconds: cpuSeconds, loadAverage: load[0])
    }

    static func singleNode(count: Int, scheme: Scheme) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-tps-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = try NodeConfiguration.singleNode(storePath: dir + "/ledger.sqlite", nodeKey: try .generate(.ed25519), genesisKey: try .generate(.ed25519),
                                                    maximumTransactionsPerBlock: 2_000)
        config.tickInterval = .milliseconds(5)
        let network = InMemoryNetwork()
        let node = try await Node<RaftEngine>(configuration: config, transport: try network.attach(0))
        await node.start()
        let txs = try workload(count: count, senders: max(8, count / 500), chainID: config.genesis.header.chainID, seed: 3, scheme: scheme.signatureScheme)
        let r = try await drive(node, txs, label: "bench tps.node1")
        await node.stop()
        return r
    }

    /// A round of a 2,000-transaction block on a loaded 2-core machine outlasts PBFT's default
    /// 20 ticks (100 ms at 5 ms ticks): views then change under load and the last transactions
    /// wait tens of seconds. Every node gets the same schedule with 100 ticks.
    @Sendable static func slowViewChanges(_ node: inout NodeConfiguration) {
        guard case .pbft(var pbft) = node.schedule.initial else { return }
        pbft.viewChangeTimeoutTicks = 100
        node.schedule = ConsensusSchedule(initial: .pbft(pbft))
    }

    /// Four PBFT nodes in this process, each with its own `TCPTransport` on 127.0.0.1 over mutual TLS (TLS 1.3,
    /// P-256 certificates of one CA): what the sockets, framing and encryption cost against ``cluster(count:scheme:)``.
    static func socketCluster(count: Int, scheme: Scheme) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-tps-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 6)
        func key() throws -> PrivateKey {
            var raw = [UInt8]()
            for _ in 0..<4 { withUnsafeBytes(of: rng.next().littleEndian) { raw += $0 } }
            return try PrivateKey(scheme: .ed25519, rawRepresentation: raw)
        }
        let keys = try (0..<4).map { _ in try key() }
        let genesis = try ChainGenesis.make(chainID: 53, key: try key())
        let validators = try ValidatorSet(keys.enumerated().map { Validator(id: NodeID(UInt32($0.offset)), publicKey: $0.element.publicKey) })
        let schedule = ConsensusSchedule(initial: try ClusterEngines.networkConfig(.pbft, validators: validators, maximumTransactionsPerBlock: 2_000,
                                                                                    timeoutTicks: 100))
        let caKey = try PrivateKey.generate(.p256)
        let ca = try X509Certificate.authority(commonName: "bench CA", key: caKey, validFor: 86_400)
        var transports = [TCPTransport]()
        for i in 0..<4 {
            let tlsKey = try PrivateKey.generate(.p256)
            var c = TCPTransport.Configuration(node: NodeID(UInt32(i)), chainID: 53, genesisHash: genesis.headerHash)
            c.tls = TCPTransport.TLS(authority: ca, certificate: try X509Certificate.issue(commonName: TCPTransport.TLS.commonName(of: NodeID(UInt32(i))),
                                                                                             publicKey: tlsKey.publicKey, issuer: ca, issuerKey: caKey,
                                                                                             validFor: 86_400), key: tlsKey)
            transports.append(try await TCPTransport.start(c))
        }
        for i in 0..<4 {
            transports[i].updatePeers(Dictionary(uniqueKeysWithValues: (0..<4).filter { $0 != i }.map {
                (NodeID(UInt32($0)), TCPTransport.Endpoint(host: "127.0.0.1", port: transports[$0].port))
            }))
        }
        var nodes = [Node<PBFTEngine>]()
        for i in 0..<4 {
            var configuration = NodeConfiguration(node: NodeID(UInt32(i)), signingKey: keys[i], genesis: genesis, schedule: schedule,
                                                  storePath: "\(dir)/node\(i).sqlite")
            configuration.tickInterval = .milliseconds(5)
            let node = try await Node<PBFTEngine>(configuration: configuration, transport: transports[i])
            await node.start()
            nodes.append(node)
        }
        for t in transports { while await t.connectedPeers().count < 3 { try await Task.sleep(for: .milliseconds(10)) } }
        let txs = try workload(count: count, senders: max(8, count / 500), chainID: 53, seed: 4, scheme: scheme.signatureScheme)
        let r = try await drive(nodes[0], txs, label: "bench tps.pbft4-tls")
        for node in nodes { await node.stop() }
        for t in transports { await t.close() }
        return r
    }

    static func cluster(count: Int, scheme: Scheme) async throws -> Result {
        var config = ClusterConfiguration(nodes: 4, consensus: .pbft, seed: 5)
        config.maximumTransactionsPerBlock = 2_000
        config.tickInterval = .milliseconds(5)
        config.customize = slowViewChanges
        let cluster = try await Cluster.start(config)
        let txs = try workload(count: count, senders: max(8, count / 500), chainID: config.chainID, seed: 4, scheme: scheme.signatureScheme)
        let r = try await drive(try await cluster.node(0), txs, label: "bench tps.pbft4")
        await cluster.shutdown()
        return r
    }
}
