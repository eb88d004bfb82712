import Foundation
import LedgerCore
import Testing
@testable import forgechain

/// `forgechain bench start`: the ledger generator writes blocks a node of the chain accepts, and the command
/// starts a node on them in a child process and reports its figures.
struct BenchStartTests {
    static let engines = ["pbft", "raft", "pos", "pow"]

    @Test(arguments: engines)
    func generatedBlocksValidateAndCarryCertificatesTheEngineAccepts(engine: String) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("forgechain-bench-start-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let wanted = StartBenchManifest(engine: engine, blocks: 4, transactionsPerBlock: 5, seed: 7, height: 4, generationSeconds: 0)
        let manifest = try await StartBenchLedger.generate(wanted, at: folder + "/ledger.sqlite")
        #expect(manifest.height == 4 && manifest.generationSeconds > 0)

        let chain = try StartBenchChain(engine: try #require(ConsensusEngineKind(rawValue: engine)), seed: 7, maximumTransactionsPerBlock: 5)
        let store = try LedgerStore(path: folder + "/ledger.sqlite", configuration: LedgerStore.Configuration(readOnly: true))
        #expect(store.head?.height == 4)
        #expect(try store.blockHash(atHeight: 0) == chain.genesis.headerHash)
        let committed = try store.committedBlocks(from: 1, through: 4)
        #expect(committed.count == 4)
        let validator = BlockValidator(chainID: StartBenchChain.chainID, hashAlgorithm: chain.hashAlgorithm, maximumClockDriftMillis: 0)
        var parent = chain.genesis.header
        for c in committed {
            try validator.validate(c.block, parent: parent)
            #expect(c.block.transactions.count == 5)
            switch chain.schedule.initial {
            case .pow(let config): try PoWEngine.verifyCertificate(c, config: config, hashAlgorithm: chain.hashAlgorithm)
            default: try c.certificate.verify(block: c.block, validators: chain.validators, hashAlgorithm: chain.hashAlgorithm)
            }
            parent = c.block.header
        }
        // The executed state: the last record, and its sender's next nonce.
        let last = committed[3].block.transactions[4]
        #expect(try store.stateValue(forKey: KeyValueExecutor.stateKey(Array("lot-00000019".utf8))) != nil)
        let nonce = StartBenchLedger.nonceWrite(last)
        #expect(try store.stateValue(forKey: nonce.key) == nonce.value)
        #expect(try store.receipts(atHeight: 4).allSatisfy { $0.status == Receipt.success })
    }

    @Test(arguments: engines)
    func startsANodeOnTheLedgerInAChildProcessAndReusesTheLedger(engine: String) async throws {
        let cli = try ForgeChainProcess()
        defer { cli.remove() }
        let arguments = ["bench", "start", "--engine", engine, "--blocks", "3", "--transactions-per-block", "5", "--baseline-blocks", "1",
                         "--json", "--data-dir", cli.path("ledgers")]
        let first = try await cli.run(arguments, withData: false)
        #expect(first.status == 0, "\(first)")
        let lines = Self.lines(first.stdout)
        #expect(Set(lines.keys) == ["start.generate.\(engine).1x5", "start.generate.\(engine).3x5", "start.\(engine).1x5",
                                    "start.\(engine).3x5", "start.\(engine).ratio"], "\(first)")
        for (name, height) in [("start.\(engine).1x5", 1.0), ("start.\(engine).3x5", 3.0)] {
            let line = try #require(lines[name], "\(first)")
            #expect(line["height"] as? Double == height, "\(name): \(line)")
            for field in ["start_ms", "init_ms", "process_ms", "peak_rss_mb", "ready_rss_mb", "store_mb", "store_open_ms", "store_open_peak_rss_mb"] {
                #expect((line[field] as? Double ?? 0) > 0, "\(name): \(field) in \(line)")
            }
        }
        for field in ["start_ratio", "peak_rss_ratio", "store_ratio"] {
            #expect((lines["start.\(engine).ratio"]?[field] as? Double ?? 0) > 0, "\(field): \(first)")
        }

        let again = try await cli.run(arguments, withData: false)
        #expect(again.status == 0, "\(again)")
        #expect(Set(Self.lines(again.stdout).keys) == ["start.\(engine).1x5", "start.\(engine).3x5", "start.\(engine).ratio"],
                "the kept ledgers were generated again: \(again)")
    }

    /// The JSON lines by name, their numbers as `Double`.
    static func lines(_ stdout: String) -> [String: [String: Any]] {
        var out = [String: [String: Any]]()
        for line in stdout.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let name = object["name"] as? String else { continue }
            out[name] = object.mapValues { ($0 as? NSNumber).map { $0.doubleValue } ?? $0 }
        }
        return out
    }
}
