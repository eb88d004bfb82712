import Testing
import LedgerCore
import LedgerCoreTesting

/// A small chain fixture: a genesis block and a child with signed
/// transactions, plus helpers to tamper with any field and re-sign.
struct ChainFixture {
    let algorithm: HashAlgorithm
    let producer: PrivateKey
    let genesis: Block
    let transactions: [Transaction]
    let child: Block
    let validator: BlockValidator
    let now = Timestamp(millisecondsSince1970: 1_764_000_100_000)

    init(algorithm: HashAlgorithm = .sha256, scheme: SignatureScheme = .p256, count: Int = 12) throws {
        self.algorithm = algorithm
        producer = try PrivateKey.generate(scheme)
        genesis = try Block.make(parent: nil, transactions: [], producerKey: producer, chainID: 1,
                                 hashAlgorithm: algorithm, timestamp: Timestamp(millisecondsSince1970: 1_764_000_000_000))
        transactions = try Workloads.signedTransactions(count: count, senders: 3, scheme: scheme, hashAlgorithm: algorithm)
        child = try Block.make(parent: genesis.header, transactions: transactions, producerKey: producer,
                               hashAlgorithm: algorithm, timestamp: Timestamp(millisecondsSince1970: 1_764_000_050_000))
        validator = BlockValidator(chainID: 1, hashAlgorithm: algorithm, authorizedProducers: [producer.publicKey])
    }

    /// Applies `change` to the child's header, then re-signs and re-hashes
    /// it as an honest-looking producer would.
    func resigned(_ change: (inout BlockHeader) -> Void, transactions: [Transaction]? = nil, key: PrivateKey? = nil) throws -> Block {
        var header = child.header
        change(&header)
        let key = key ?? producer
        header.producer = key.publicKey
        try header.sign(with: key, hashAlgorithm: algorithm)
        return Block(header: header, headerHash: header.hash(using: algorithm), transactions: transactions ?? child.transactions)
    }

    func validate(_ block: Block) throws(LedgerError) {
        try validator.validate(block, parent: genesis.header, now: now)
    }
}

struct BlockValidatorTests {
    @Test(arguments: [HashAlgorithm.sha256, .sm3, .sha3_256])
    func acceptsAnHonestChain(algorithm: HashAlgorithm) throws {
        let f = try ChainFixture(algorithm: algorithm)
        try f.validator.validate(f.genesis, parent: nil, now: f.now)
        try f.validate(f.child)
    }

    @Test(arguments: SignatureScheme.allCases)
    func acceptsEverySignatureScheme(scheme: SignatureScheme) throws {
        let f = try ChainFixture(scheme: scheme, count: 4)
        try f.validate(f.child)
    }

    // MARK: Header fields altered in transit (no re-signing): K-V-3.

    static let headerTampers: [(String, @Sendable (inout BlockHeader) -> Void)] = [
        ("height", { $0.height = Height($0.height.rawValue + 1) }),
        ("parentHash", { $0.parentHash = HashAlgorithm.sha256.hash([1]) }),
        ("timestamp", { $0.timestamp = $0.timestamp.adding(milliseconds: 1) }),
        ("transactionRoot", { $0.transactionRoot = HashAlgorithm.sha256.hash([2]) }),
        ("stateRoot", { $0.stateRoot = HashAlgorithm.sha256.hash([3]) }),
        ("receiptRoot", { $0.receiptRoot = HashAlgorithm.sha256.hash([4]) }),
        ("consensusData", { $0.consensusData = [9] }),
        ("chainID", { $0.chainID += 1 }),
    ]

    @Test(arguments: headerTampers.indices)
    func headerFieldAlteredInTransitFailsTheHeaderHash(index: Int) throws {
        let f = try ChainFixture()
        var block = f.child
        Self.headerTampers[index].1(&block.header)
        let error = #expect(throws: LedgerError.self, "\(Self.headerTampers[index].0)") { try f.validate(block) }
        #expect(error?.code == .headerHashMismatch)
        #expect(error?.details["height"] == block.header.height.description)
        #expect(error?.details["block"] == block.headerHash.hex)
    }

    @Test func producerKeySwappedInTransitFailsTheHeaderHash() throws {
        let f = try ChainFixture()
        var block = f.child
        block.header.producer = try PrivateKey.generate(.p256).publicKey
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .headerHashMismatch)
    }

    @Test func declaredHashAlteredFailsTheHeaderHash() throws {
        let f = try ChainFixture()
        var block = f.child
        block.headerHash = HashAlgorithm.sha256.hash([7])
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .headerHashMismatch)
    }

    // MARK: Forged headers (hash recomputed, not re-signed): K-V-1.

    @Test func forgedHeaderWithRecomputedHashFailsTheProducerSignature() throws {
        let f = try ChainFixture()
        var block = f.child
        block.header.stateRoot = HashAlgorithm.sha256.hash([5])
        block.headerHash = block.header.hash(using: f.algorithm)
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .producerSignatureInvalid)
    }

    @Test func alteredSignatureBytesFailTheProducerSignature() throws {
        let f = try ChainFixture()
        var block = f.child
        var raw = block.header.signature!.rawRepresentation
        raw[10] ^= 0x01
        block.header.signature = try? Signature(scheme: .p256, rawRepresentation: raw)
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .producerSignatureInvalid)
    }

    @Test func missingSignatureFailsTheProducerSignature() throws {
        let f = try ChainFixture()
        var block = f.child
        block.header.signature = nil
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .producerSignatureInvalid)
    }

    @Test func blockSignedByAnUnauthorisedKeyIsRejected() throws {
        let f = try ChainFixture()
        let block = try f.resigned({ _ in }, key: try PrivateKey.generate(.p256))
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .unauthorizedProducer)
    }

    // MARK: Properly signed but wrong blocks: each field's own check.

    @Test func wrongHeightIsRejected() throws {
        let f = try ChainFixture()
        let error = #expect(throws: LedgerError.self) { try f.validate(try f.resigned { $0.height = 5 }) }
        #expect(error?.code == .heightMismatch)
    }

    @Test func wrongParentHashIsRejected() throws {
        let f = try ChainFixture()
        let error = #expect(throws: LedgerError.self) {
            try f.validate(try f.resigned { $0.parentHash = HashAlgorithm.sha256.hash([1]) })
        }
        #expect(error?.code == .parentHashMismatch)
    }

    @Test func wrongChainIDIsRejected() throws {
        let f = try ChainFixture()
        let error = #expect(throws: LedgerError.self) { try f.validate(try f.resigned { $0.chainID = 2 }) }
        #expect(error?.code == .chainIDMismatch)
    }

    @Test func timestampNotAfterParentIsRejected() throws {
        let f = try ChainFixture()
        let error = #expect(throws: LedgerError.self) {
            try f.validate(try f.resigned { $0.timestamp = f.genesis.header.timestamp })
        }
        #expect(error?.code == .timestampNotAfterParent)
    }

    @Test func timestampTooFarAheadOfLocalClockIsRejected() throws {
        let f = try ChainFixture()
        let block = try f.resigned { $0.timestamp = f.now.adding(milliseconds: 15_001) }
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .timestampTooFarAhead)
        // exactly at the drift limit is accepted
        try f.validate(try f.resigned { $0.timestamp = f.now.adding(milliseconds: 15_000) })
    }

    @Test func wrongTransactionRootIsRejected() throws {
        let f = try ChainFixture()
        let error = #expect(throws: LedgerError.self) {
            try f.validate(try f.resigned { $0.transactionRoot = HashAlgorithm.sha256.hash([2]) })
        }
        #expect(error?.code == .transactionRootMismatch)
    }

    // MARK: Transactions altered: K-V-4 and per-transaction signatures.

    @Test func droppedOrReorderedTransactionsFailTheRoot() throws {
        let f = try ChainFixture()
        var dropped = f.child
        dropped.transactions.removeLast()
        let e1 = #expect(throws: LedgerError.self) { try f.validate(dropped) }
        #expect(e1?.code == .transactionRootMismatch)
        var swapped = f.child
        swapped.transactions.swapAt(0, 1)
        let e2 = #expect(throws: LedgerError.self) { try f.validate(swapped) }
        #expect(e2?.code == .transactionRootMismatch)
    }

    static let transactionTampers: [(String, @Sendable (inout Transaction) throws -> Void)] = [
        ("nonce", { $0.nonce += 1 }),
        ("timestamp", { $0.timestamp = $0.timestamp.adding(milliseconds: 1) }),
        ("payload.kind", { $0.payload.kind = "other" }),
        ("payload.body", { $0.payload.body[0] ^= 1 }),
        ("sender", { $0.sender = try PrivateKey.generate(.p256).publicKey }),
        ("signature", { tx in
            var raw = tx.signature!.rawRepresentation
            raw[5] ^= 0x40
            tx.signature = try Signature(scheme: .p256, rawRepresentation: raw)
        }),
    ]

    /// A transaction field altered and the root recomputed by a dishonest
    /// producer: the transaction's own signature catches it, and the error
    /// names the block and the transaction's index.
    @Test(arguments: transactionTampers.indices)
    func transactionFieldAlteredFailsItsSignature(index: Int) throws {
        let f = try ChainFixture()
        var txs = f.child.transactions
        try Self.transactionTampers[index].1(&txs[7])
        let root = Block.transactionRoot(of: txs, using: f.algorithm)
        let block = try f.resigned({ $0.transactionRoot = root }, transactions: txs)
        let error = #expect(throws: LedgerError.self, "\(Self.transactionTampers[index].0)") { try f.validate(block) }
        #expect(error?.code == .transactionSignatureInvalid)
        #expect(error?.details["transactionIndex"] == "7")
        #expect(error?.details["height"] == "1")
        #expect(error?.details["transaction"] == txs[7].id(using: f.algorithm).hex)
    }

    /// The same alteration without recomputing the root fails the root (K-V-4).
    @Test(arguments: transactionTampers.indices)
    func transactionFieldAlteredInTransitFailsTheRoot(index: Int) throws {
        let f = try ChainFixture()
        var block = f.child
        try Self.transactionTampers[index].1(&block.transactions[3])
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .transactionRootMismatch)
    }

    @Test func transactionForAnotherChainIsRejected() throws {
        let f = try ChainFixture()
        let key = try PrivateKey.generate(.p256)
        var foreign = Transaction(chainID: 2, sender: key.publicKey, nonce: 0, timestamp: f.now,
                                  payload: TransactionPayload(kind: "kv", body: [1]))
        try foreign.sign(with: key, hashAlgorithm: f.algorithm)
        let txs = f.transactions + [foreign]
        let block = try f.resigned({ $0.transactionRoot = Block.transactionRoot(of: txs, using: f.algorithm) }, transactions: txs)
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .transactionChainIDMismatch)
        #expect(error?.details["transactionIndex"] == String(f.transactions.count))
    }

    @Test func duplicateTransactionIsRejected() throws {
        let f = try ChainFixture()
        let txs = f.transactions + [f.transactions[2]]
        let block = try f.resigned({ $0.transactionRoot = Block.transactionRoot(of: txs, using: f.algorithm) }, transactions: txs)
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .duplicateTransaction)
    }

    @Test func unsignedTransactionIsRejected() throws {
        let f = try ChainFixture()
        var txs = f.transactions
        txs[4].signature = nil
        let block = try f.resigned({ $0.transactionRoot = Block.transactionRoot(of: txs, using: f.algorithm) }, transactions: txs)
        let error = #expect(throws: LedgerError.self) { try f.validate(block) }
        #expect(error?.code == .missingSignature)
        #expect(error?.details["transactionIndex"] == "4")
    }

    @Test func parallelAndSerialValidationReportTheSameFirstFailure() throws {
        let f = try ChainFixture(count: 300)
        var txs = f.child.transactions
        txs[250].nonce += 1
        txs[120].nonce += 1
        let block = try f.resigned({ $0.transactionRoot = Block.transactionRoot(of: txs, using: f.algorithm) }, transactions: txs)
        for threads in [1, 2, 4] {
            var v = f.validator
            v.parallelism = threads
            let error = #expect(throws: LedgerError.self) { try v.validate(block, parent: f.genesis.header, now: f.now) }
            #expect(error?.details["transactionIndex"] == "120", "threads \(threads)")
        }
    }
}
