@testable import ChainRuntime
import Foundation
@testable import LedgerCore
import Logging
import Testing

/// A node's store as its engine's history (`StoreConsensusStorage`): ranges as the engines ask for them,
/// nothing past the head, and a failed read logged with its code rather than lost.
struct StoreConsensusStorageTests {
    static func store(blocks count: Int) throws -> (LedgerStore, String, [Block]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let key = try PrivateKey(scheme: .ed25519, rawRepresentation: [UInt8](repeating: 9, count: 32))
        let genesis = try ChainGenesis.make(chainID: 53, key: key)
        let store = try LedgerStore(path: dir + "/ledger.sqlite")
        try store.append(genesis)
        var blocks = [Block]()
        var parent = genesis.header
        for _ in 0..<count {
            let b = try Block.make(parent: parent, transactions: [], stateRoot: parent.stateRoot, producerKey: key,
                                   hashAlgorithm: .sha256, timestamp: Timestamp(millisecondsSince1970: parent.timestamp.rawValue + 1))
            try store.append(b, certificate: CommitCertificate(kind: .raft, height: b.header.height, blockHash: b.headerHash, round: 1, votes: []))
            blocks.append(b)
            parent = b.header
        }
        return (store, dir, blocks)
    }

    @Test func rangesComeBackConsecutiveAndStopAtTheHead() throws {
        let (store, dir, blocks) = try Self.store(blocks: 40)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let capture = LogCapture()
        let history = StoreConsensusStorage(store: store, logger: capture.logger(label: "test"))
        #expect(history.committedBlocks(from: 5, limit: 10).map(\.height.rawValue) == Array(5...14))
        #expect(history.committedBlocks(from: 35, limit: 10).map(\.height.rawValue) == Array(35...40))
        #expect(history.committedBlocks(from: 40, limit: 1).first?.hash == blocks[39].headerHash)
        #expect(history.committedBlocks(from: 41, limit: 5).isEmpty)
        #expect(history.committedBlocks(from: 0, limit: 5).isEmpty, "genesis is the engine's own")
        #expect(history.committedBlocks(from: 3, limit: 0).isEmpty)
        #expect(capture.records.isEmpty)
        store.close()
    }

    @Test func aFailedReadReturnsNothingAndIsLoggedWithItsCode() throws {
        let (store, dir, _) = try Self.store(blocks: 3)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let capture = LogCapture()
        let history = StoreConsensusStorage(store: store, logger: capture.logger(label: "test"))
        // Another writer damages block 2's certificate: the read of 1...3 fails as a whole.
        try SQLiteConnection(path: store.path!, mode: .readWrite).execute("UPDATE certificates SET encoded = x'C0' WHERE height = 2")
        #expect(history.committedBlocks(from: 1, limit: 3).isEmpty)
        let warning = try #require(capture.records.first { $0.level == .warning })
        #expect(warning.message == "consensus history read failed")
        #expect(warning.metadata["code"]?.description == "1501", "\(warning)")
        #expect(warning.metadata["from"]?.description == "1" && warning.metadata["through"]?.description == "3")
        // What is intact is still served.
        #expect(history.committedBlocks(from: 3, limit: 1).map(\.height.rawValue) == [3])
        store.close()
    }
}
