import LedgerCore
import LedgerCoreTesting
import Synchronization
import Testing

/// The batch's progress callback, which `forgechain simulate` draws as its progress line.
struct SimulationBatchProgressTests {
    final class Calls: Sendable {
        let list = Mutex<[(finished: Int, total: Int)]>([])
    }

    @Test func progressIsCalledOncePerSeedWithTheCountSoFarAndTheTotal() {
        let calls = Calls()
        let result = SimulationBatch<RaftEngine>.run(nodes: 3, seeds: Array(1...6), parallelism: 2,
                                                     progress: { finished, total in calls.list.withLock { $0.append((finished, total)) } })
        #expect(result.passed + result.failed == 6)
        let seen = calls.list.withLock { $0 }
        #expect(seen.count == 6)
        #expect(seen.allSatisfy { $0.total == 6 })
        #expect(seen.map(\.finished).sorted() == Array(1...6))
    }
}
