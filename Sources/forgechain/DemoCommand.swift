import ArgumentParser
import ChainRuntime
import Foundation
import LedgerCore

/// `forgechain demo`: builds a small chain of signed sample transactions,
/// validates every block, and proves one transaction's inclusion.
/// `forgechain demo --cluster N`: runs an N-node PBFT cluster in memory,
/// crashes a node, shows the others keep committing, restarts it and shows
/// it catch up.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Build and validate a small chain, then prove a transaction's inclusion."
    )

    @Option(help: "Number of blocks after genesis (1-100).")
    var blocks: Int = 3

    @Option(help: "Transactions per block (1-10000).")
    var transactions: Int = 8

    @Option(help: "Hash algorithm: sha256, sha3-256, sm3.")
    var hash: String = "sha256"

    @Option(help: "Signature scheme: p256, ed25519, sm2, secp256k1.")
    var scheme: String = "p256"

    @Option(help: "Folder to leave the chain in (as ledger.sqlite); default: a new temporary folder.")
    var data: String?

    @Option(help: "Run an in-memory PBFT cluster of this many nodes (4-16) instead of the single-chain demo.")
    var cluster: Int?

    func validate() throws {
        if let cluster, !(4...16).contains(cluster) { throw ValidationError("--cluster must be 4...16") }
        guard (1...100).contains(blocks) else { throw ValidationError("--blocks must be 1...100") }
        guard (1...10_000).contains(transactions) else { throw ValidationError("--transactions must be 1...10000") }
    }

    func run() async throws {
        if let cluster {
            try await ClusterDemo.run(nodes: cluster, transactions: transactions)
            return
        }
        try runSingleChain()
    }

    func runSingleChain() throws {
        let algorithm = try HashAlgorithm(name: hash)
        guard let scheme = SignatureScheme(rawValue: scheme) else {
            throw ValidationError("unknown signature scheme '\(self.scheme)'")
        }
        let chainID: UInt64 = 53_1407
        let producer = try PrivateKey.generate(scheme)
        let stations = try (0..<3).map { _ in try PrivateKey.generate(scheme) }
        let validator = BlockValidator(chainID: chainID, hashAlgorithm: algorithm,
                                       authorizedProducers: [producer.publicKey])
        print("ForgeChain demo: chain \(chainID), hash \(algorithm.rawValue), signatures \(scheme.rawValue)")
        print("producer key \(Hex.encode(producer.publicKey.rawRepresentation))")
        let directory = data ?? FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-demo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ledgerPath = (directory as NSString).appendingPathComponent("ledger.sqlite")
        guard !FileManager.default.fileExists(atPath: ledgerPath) else {
            throw ValidationError("\(ledgerPath) already exists; pick another --data folder")
        }
        let store = try LedgerStore(path: ledgerPath, configuration: .init(hashAlgorithm: algorithm))

        var time = Timestamp.now().millisecondsSince1970 - UInt64(blocks + 1) * 1_000
        let genesis = try Block.make(parent: nil, transactions: [], stateRoot: try store.stateRoot(applying: StateChangeSet()),
                                     producerKey: producer, chainID: chainID,
                                     hashAlgorithm: algorithm, timestamp: Timestamp(millisecondsSince1970: time))
        try validator.validate(genesis, parent: nil)
        try store.append(genesis)
        print("block 0 \(genesis.headerHash.hex) genesis, validated")

        var chain = [genesis]
        var nonces = [UInt64](repeating: 0, count: stations.count)
        for height in 1...blocks {
            var txs = [Transaction]()
            var changes = StateChangeSet()
            for i in 0..<transactions {
                let s = i % stations.count
                let reading = "station-\(s + 1) batch B-\(height) unit \(i) temperature=\(70 + (i * 7 + height) % 9).\(i % 10)C"
                var tx = Transaction(chainID: chainID, sender: stations[s].publicKey, nonce: nonces[s],
                                     timestamp: Timestamp(millisecondsSince1970: time + UInt64(i)),
                                     payload: TransactionPayload(kind: "kv", body: Array(reading.utf8)))
                try tx.sign(with: stations[s], hashAlgorithm: algorithm)
                nonces[s] += 1
                txs.append(tx)
                changes.set(Array("station-\(s + 1)/latest".utf8), to: Array(reading.utf8))
            }
            time += 1_000
            let receipts = txs.map { Receipt(transactionID: $0.id(using: algorithm), costUnits: 1) }
            let block = try Block.make(parent: chain.last!.header, transactions: txs,
                                       stateRoot: try store.stateRoot(applying: changes),
                                       receiptRoot: Receipt.root(of: receipts, using: algorithm), producerKey: producer,
                                       hashAlgorithm: algorithm, timestamp: Timestamp(millisecondsSince1970: time))
            try validator.validate(block, parent: chain.last!.header)
            try store.append(block, receipts: receipts, stateChanges: changes)
            print("block \(height) \(block.headerHash.hex) \(txs.count) transactions, root \(block.header.transactionRoot.hex.prefix(16))…, validated")
            chain.append(block)
        }

        // Prove one transaction's inclusion against its block's header.
        let block = chain[min(2, blocks)]
        let index = min(5, transactions - 1)
        let ids = block.transactions.map { $0.id(using: algorithm) }
        let tree = MerkleTree(leaves: ids.map(\.bytes), algorithm: algorithm)
        let proof = try tree.inclusionProof(forLeafAt: index)
        print("\ninclusion proof for transaction \(index) of block \(block.header.height) (id \(ids[index].hex)):")
        print("  leaf \(proof.leafIndex) of \(proof.treeSize), \(proof.path.count) path hashes")
        for (i, node) in proof.path.enumerated() { print("  [\(i)] \(node.hex)") }
        try proof.verify(leafData: ids[index].bytes, root: block.header.transactionRoot)
        print("  verified against the header's transaction root: OK")

        // Show that tampering is caught.
        var forged = block
        forged.transactions[index].payload.body[0] ^= 0x01
        do {
            try validator.validate(forged, parent: chain[Int(block.header.height.rawValue) - 1].header)
            print("tampered block was accepted: this is a bug")
            throw ExitCode(1)
        } catch let error as LedgerError {
            print("\ntampered transaction \(index): validation fails with [\(error.numericCode)] \(error.message)")
        }
        do {
            try proof.verify(leafData: forged.transactions[index].id(using: algorithm).bytes, root: block.header.transactionRoot)
            print("tampered transaction proved: this is a bug")
            throw ExitCode(1)
        } catch let error as LedgerError {
            print("its inclusion proof fails with [\(error.numericCode)] \(error.message)")
        }

        // The world state is provable against the head's header.
        let key = Array("station-1/latest".utf8)
        let stateProof = try store.stateProof(key: key)
        try stateProof.verify(root: chain.last!.header.stateRoot, algorithm: algorithm)
        print("\nstate proof for 'station-1/latest' at height \(blocks) verified against the header's state root: OK")
        try store.checkIntegrity(.full)
        print("chain stored in \(ledgerPath) (head \(blocks)); check it with: forgechain ledger verify \(ledgerPath)")
    }
}
