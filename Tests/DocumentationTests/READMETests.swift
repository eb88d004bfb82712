import LedgerCore
import Testing

/// The Swift example of the README's "Using the library", verbatim (``DocumentationCodeTests`` checks that).
struct READMETests {
    @Test func theUsingTheLibraryExampleBuildsAValidBlock() throws {
        let key = try PrivateKey.generate(.p256)
        var tx = Transaction(chainID: 1, sender: key.publicKey, nonce: 0, timestamp: .now(),
                             payload: TransactionPayload(kind: "kv", body: Array("line-3/temp=71.2".utf8)))
        try tx.sign(with: key, hashAlgorithm: .sha256)

        let block = try Block.make(parent: nil, transactions: [tx], producerKey: key, chainID: 1,
                                   hashAlgorithm: .sha256, timestamp: .now())
        try BlockValidator(chainID: 1).validate(block, parent: nil)

        #expect(block.transactions == [tx])
        #expect(block.header.height.rawValue == 0)
    }
}
