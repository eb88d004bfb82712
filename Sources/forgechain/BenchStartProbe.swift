import ChainRuntime
import Foundation
import LedgerCore
import Net

/// `forgechain bench start-probe --ledger DIR --store FILE` (hidden): the child process of `bench start`. It opens a
/// node of the ledger's chain on `FILE` (a copy of the ledger's store), starts it, waits until the node is ready
/// (the store's head and the engine's committed height both at the ledger's height), stops it, and prints one JSON
/// object (``StartBenchProbe/Result``) on standard output. Its own process, so its peak RSS is the node's.
/// With `--store-only` it opens the store alone, as `Node.init` does first (the head block's check, the genesis
/// read; SQLite's whole-file check when the configuration asks for it), which separates the cost of opening the
/// file from that of building the engine.
enum StartBenchProbe {
    /// What one probe measured. Times in milliseconds from just before `Node.init` (which opens the store and
    /// builds the engine from it); memory in KiB.
    struct Result: Codable, Sendable {
        var engine: String
        /// The height the ledger's manifest gives.
        var expectedHeight: UInt64
        /// The store's head when the node was ready.
        var committedHeight: UInt64
        /// The engine's committed height when the node was ready.
        var engineCommittedHeight: UInt64
        /// `Node.init`: open the store, check genesis, build the engine from the committed blocks.
        var initMilliseconds: Double
        /// From `Node.init`'s start to ready (init, `start()`, the wait for ready).
        var readyMilliseconds: Double
        /// Resident memory when ready (`VmRSS`).
        var readyRSSKibibytes: Int
        /// Peak resident memory of the process after the node stopped (`VmHWM`).
        var peakRSSKibibytes: Int
        /// Whether only the store was opened (no node, no engine: `engineCommittedHeight` is the store's head).
        var storeOnly = false
    }

    static let resultPrefix = "bench-start-probe: "

    /// Runs the probe.
    /// - Parameters:
    ///   - ledger: Required. A generated ledger's folder (its `manifest.json`).
    ///   - store: Required. The store file the node opens.
    ///   - timeout: Optional, default 30 minutes. Longest wait for ready.
    /// - Throws: the node's init errors (4050–4057, 1520), `ChainError` `.invalidNodeConfiguration` when the node is
    ///   not ready in time, decoding errors for a bad manifest.
    static func run(ledger: String, store: String, timeout: Duration = .seconds(1_800)) async throws -> Result {
        let manifest = try StartBench.readManifest(in: ledger)
        guard let engine = ConsensusEngineKind(rawValue: manifest.engine) else {
            throw ChainError(.invalidNodeConfiguration, "ledger \(ledger): unknown engine '\(manifest.engine)'", details: ["field": "engine"])
        }
        let chain = try StartBenchChain(engine: engine, seed: manifest.seed, maximumTransactionsPerBlock: manifest.transactionsPerBlock)
        let configuration = chain.nodeConfiguration(storePath: store)
        let network = InMemoryNetwork()
        let transport = try network.attach(configuration.node)
        let began = ContinuousClock.now
        let node = try await chain.makeNode(configuration, transport: transport)
        let constructed = ContinuousClock.now
        await node.start()
        let deadline = began + timeout
        var store = await node.head.height
        var engineHeight = await node.consensusStatus.committedHeight
        while store.rawValue < manifest.height || engineHeight.rawValue < manifest.height {
            guard ContinuousClock.now < deadline else {
                await node.stop()
                throw ChainError(.invalidNodeConfiguration, "node not ready after \(timeout): store at \(store), engine at \(engineHeight), ledger at \(manifest.height)")
            }
            try await Task.sleep(for: .milliseconds(1))
            store = await node.head.height
            engineHeight = await node.consensusStatus.committedHeight
        }
        let ready = ContinuousClock.now
        let readyRSS = statusKibibytes("VmRSS")
        await node.stop()
        return Result(engine: manifest.engine, expectedHeight: manifest.height, committedHeight: store.rawValue,
                      engineCommittedHeight: engineHeight.rawValue, initMilliseconds: milliseconds(constructed - began),
                      readyMilliseconds: milliseconds(ready - began), readyRSSKibibytes: readyRSS, peakRSSKibibytes: peakRSSKibibytes())
    }

    /// Opens the store of `ledger` at `store` as a node's init does, without the node.
    /// - Throws: `LedgerError` from opening the store, `ChainError` `.genesisMismatch` (4057) for another chain's store.
    static func runStoreOnly(ledger: String, store path: String) throws -> Result {
        let manifest = try StartBench.readManifest(in: ledger)
        guard let engine = ConsensusEngineKind(rawValue: manifest.engine) else {
            throw ChainError(.invalidNodeConfiguration, "ledger \(ledger): unknown engine '\(manifest.engine)'", details: ["field": "engine"])
        }
        let chain = try StartBenchChain(engine: engine, seed: manifest.seed, maximumTransactionsPerBlock: manifest.transactionsPerBlock)
        let configuration = chain.nodeConfiguration(storePath: path)
        let began = ContinuousClock.now
        // As the node opens it (`Node.init`): the head's check, SQLite's whole-file check only when configured.
        let store = try LedgerStore(path: path, configuration: LedgerStore.Configuration(hashAlgorithm: configuration.hashAlgorithm,
                                                                                         durability: configuration.storeDurability,
                                                                                         quickCheckBlocks: configuration.storeBlocksCheckedOnOpen,
                                                                                         sqliteQuickCheckOnOpen: configuration.storeFileCheckOnOpen))
        guard try store.blockHash(atHeight: 0) == configuration.genesis.headerHash else {
            throw ChainError(.genesisMismatch, "the store at \(path) holds another chain (genesis differs)")
        }
        let height = store.head?.height.rawValue ?? 0
        let opened = milliseconds(ContinuousClock.now - began)
        let readyRSS = statusKibibytes("VmRSS")
        store.close()
        return Result(engine: manifest.engine, expectedHeight: manifest.height, committedHeight: height, engineCommittedHeight: height,
                      initMilliseconds: opened, readyMilliseconds: opened, readyRSSKibibytes: readyRSS,
                      peakRSSKibibytes: peakRSSKibibytes(), storeOnly: true)
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
    }

    /// This process's peak resident set in KiB: `VmHWM` on Linux. Not `getrusage`'s `ru_maxrss` there: Linux
    /// carries the peak of the process image before `exec` into it, so a child spawned by a large parent would
    /// report the parent's size. Elsewhere `ru_maxrss` (bytes on macOS).
    static func peakRSSKibibytes() -> Int {
        #if os(Linux)
        return statusKibibytes("VmHWM")
        #else
        var usage = rusage()
        guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
        return Int(usage.ru_maxrss) / 1_024
        #endif
    }

    /// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), or of another process's `file`; 0 where there is none
    /// (off Linux, or once that process has exited).
    static func statusKibibytes(_ field: String, file: String = "/proc/self/status") -> Int {
        // Read to the end: /proc files report a size of 0, so a read sized by it gets nothing.
        guard let handle = FileHandle(forReadingAtPath: file) else { return 0 }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return 0 }
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }
}
