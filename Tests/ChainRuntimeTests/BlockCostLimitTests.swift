@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import Testing

/// Blocks are packed by the cost transactions declare (a contract's gas limit) within their executor's block limit:
/// the proposer leaves what does not fit for a later block, and every node refuses a block that goes past it.
@Suite struct BlockCostLimitTests {
    /// Declares the first body byte as its cost; at most 10 a block.
    struct CostlyExecutor: TransactionExecutor {
        var payloadKinds: [String] { ["cost"] }
        func execute(_ transaction: Transaction, context: ExecutionContext, state: any StateReader) throws(LedgerError) -> ExecutionOutcome {
            ExecutionOutcome(costUnits: declaredCost(of: transaction))
        }
        func declaredCost(of transaction: Transaction) -> UInt64 { UInt64(transaction.payload.body.first ?? 0) }
        var blockCostLimit: UInt64? { 10 }
    }

    @Test func theProposerPacksByDeclaredCostAndEveryNodeRefusesABlockBeyondIt() throws {
        let dir = try TestChain.temporaryDirectory("block-cost")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 7, count: 32))
        let genesis = try ChainGenesis.make(chainID: 53, key: key)
        let store = try LedgerStore(path: dir + "/ledger.sqlite")
        try store.append(genesis)
        let processor = BlockProcessor(store: store, chainID: 53, hashAlgorithm: .sha256, maximumClockDriftMillis: 60_000,
                                       executors: [CostlyExecutor(), KeyValueExecutor()], genesisProducer: key.publicKey)
        let time = Timestamp(millisecondsSince1970: genesis.header.timestamp.rawValue + 1_000)
        // Four senders declaring 4, 4, 4, 1, and a key-value write (no limit) between them.
        var txs = [Transaction]()
        for (i, cost) in [4, 4, 4, 1].enumerated() {
            let sender = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: UInt8(20 + i), count: 32))
            var tx = Transaction(chainID: 53, sender: sender.publicKey, nonce: 0, timestamp: time,
                                 payload: TransactionPayload(kind: "cost", body: [UInt8(cost)]))
            try tx.sign(with: sender, hashAlgorithm: .sha256)
            txs.append(tx)
        }
        var writer = SigningAccount(key: try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 30, count: 32)), chainID: 53,
                                    hashAlgorithm: .sha256)
        txs.insert(try writer.set(key: Array("k".utf8), value: [1], timestamp: time), at: 2)

        let request = ProposalRequest(height: 1, parent: genesis.header, round: 0, maximumTransactions: 100)
        let block = try processor.build(request, candidates: txs, ids: txs.map { $0.id(using: .sha256) }, key: key, timestamp: time)
        #expect(block.transactions.map { $0.payload.kind == "cost" ? Int($0.payload.body[0]) : 0 } == [4, 4, 0, 1])

        // A block holding all of them (4 + 4 + 4 > 10) is refused before it executes, naming the transaction.
        let over = try Block.make(parent: genesis.header, transactions: txs, stateRoot: genesis.header.stateRoot, producerKey: key,
                                  hashAlgorithm: .sha256, timestamp: time)
        let error = processor.validate(over, parent: genesis.header)
        #expect(error?.code == .blockCostLimitExceeded, "\(String(describing: error))")
        #expect(error?.details["transactionIndex"] == "3" && error?.details["kind"] == "cost" && error?.details["limit"] == "10")
        // The packed block passes.
        #expect(processor.validate(block, parent: genesis.header) == nil)
    }
}
