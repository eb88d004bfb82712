import ChainRuntime
import Foundation
import LedgerCore
import LedgerCoreTesting
import Net
import Testing

@Suite(.serialized) struct NodeIntakeTests {
    @Test func fullMempoolRejectsWithAClearError() async throws {
        var config = ClusterConfiguration(nodes: 1, consensus: .raft, seed: 41)
        config.mempool = MempoolConfiguration(chainID: 53, maxTransactions: 5, maxPerSender: 5)
        let cluster = try await Cluster.start(config.simulated)
        var alice = cluster.account(1)
        var txs = [Transaction]()
        for i in 0..<8 { txs.append(try TestChain.kv(&alice, "k\(i)", "v")) }
        let results = try await cluster.enqueue(txs)
        let failures = results.compactMap { r -> ChainError? in if case .failure(let e) = r { e } else { nil } }
        #expect(results.prefix(5).allSatisfy { if case .success = $0 { true } else { false } })
        #expect(failures.count == 3)
        #expect(failures.allSatisfy { $0.code == .mempoolFull || $0.code == .senderLimitReached })
        #expect(failures.first?.message.contains("5") == true)
        await cluster.shutdown()
    }

    @Test func clientTransactionWithABrokenSignatureIsRejected() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 1, consensus: .raft, seed: 42).simulated)
        var alice = cluster.account(1)
        var tx = try TestChain.kv(&alice, "k", "v")
        tx.payload.body += [1]
        let error = await #expect(throws: ChainError.self) { _ = try await cluster.submit(tx, timeout: TestChain.patience) }
        #expect(error?.code == .invalidSignature)
        #expect(try await cluster.node(0).metrics.rejectedClientTransactions == 1)
        await cluster.shutdown()
    }

    @Test func invalidTransactionsFromAPeerAreDroppedCountedAndNeverCommitted() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 3, consensus: .raft, seed: 43).simulated)
        var alice = cluster.account(1)
        _ = try await TestChain.load(cluster, account: &alice, count: 5, prefix: "warm")
        let leader = try await cluster.node(0).consensusStatus.leader ?? 0
        let liar = (await cluster.runningNodes).first { $0 != leader }!
        await (try cluster.node(liar)).injectFaults(invalidTransactions: true)
        var mallory = cluster.account(9)
        var sent = [Transaction]()
        for i in 0..<10 { sent.append(try TestChain.kv(&mallory, "m\(i)", "x")) }
        _ = try await cluster.enqueue(sent, to: liar)
        // Honest traffic keeps the chain moving meanwhile.
        _ = try await TestChain.load(cluster, account: &alice, count: 20, prefix: "more", to: leader)
        try await Task.sleep(for: .milliseconds(300))
        var counted = 0
        for id in await cluster.runningNodes where id != liar {
            counted += try await cluster.node(id).metrics.rejectedPeerTransactions
        }
        #expect(counted == 20)   // ten broken transactions reached each of two honest nodes
        for id in await cluster.runningNodes where id != liar {
            let store = try await cluster.node(id).ledger
            for var tx in sent {
                tx.payload.body += [0xEE]
                #expect(try store.location(ofTransaction: tx.id(using: .sha256)) == nil)
            }
        }
        await cluster.shutdown()
    }

    @Test func keyValueExecutorFailuresBecomeFailedReceiptsAndWriteNothing() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 1, consensus: .raft, seed: 44).simulated)
        var alice = cluster.account(1)
        let bad = try alice.transaction(kind: KeyValueExecutor.kind, body: [0xC0])
        let unknown = try alice.transaction(kind: "nope", body: [1])
        let good = try alice.set(key: Array("k".utf8), value: Array("v".utf8))
        let del = try alice.transaction(kind: KeyValueExecutor.kind, body: KeyValueExecutor.deleteBody(key: Array("k".utf8)))
        let r1 = try await cluster.submit(bad, timeout: TestChain.patience)
        let r2 = try await cluster.submit(unknown, timeout: TestChain.patience)
        let r3 = try await cluster.submit(good, timeout: TestChain.patience)
        #expect(r1.status == UInt64(LedgerError.Code.malformedPayload.rawValue))
        #expect(r2.status == UInt64(LedgerError.Code.unknownPayloadKind.rawValue))
        #expect(r3.status == Receipt.success)
        let store = try await cluster.node(0).ledger
        #expect(try store.stateValue(forKey: KeyValueExecutor.stateKey(Array("k".utf8))) == Array("v".utf8))
        let r4 = try await cluster.submit(del, timeout: TestChain.patience)
        #expect(r4.output == [1])
        #expect(try store.stateValue(forKey: KeyValueExecutor.stateKey(Array("k".utf8))) == nil)
        // Failed transactions still consume their nonce: the next nonce is 4.
        #expect(try await cluster.node(0).nextNonce(for: alice.key.publicKey) == 4)
        await cluster.shutdown()
    }

    @Test func replayedTransactionIsNeverCommittedTwice() async throws {
        let cluster = try await Cluster.start(ClusterConfiguration(nodes: 1, consensus: .raft, seed: 45).simulated)
        var alice = cluster.account(1)
        let tx = try TestChain.kv(&alice, "once", "1")
        _ = try await cluster.submit(tx, timeout: TestChain.patience)
        let error = await #expect(throws: ChainError.self) { _ = try await cluster.submit(tx, timeout: TestChain.patience) }
        #expect(error?.code == .nonceTooLow)
        await cluster.shutdown()
    }
}
