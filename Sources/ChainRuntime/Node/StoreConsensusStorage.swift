import LedgerCore
import Logging

/// A node's ledger store as its engine's ``ConsensusStorage``: committed
/// blocks and their certificates, read from SQLite on demand, so the engine
/// keeps only the last few in memory.
///
/// A block decided but not yet written (the commit pipeline runs at most a
/// couple of blocks behind) is not found here; the engine still holds it in
/// its recent window. A read that fails is logged and returns fewer blocks;
/// the engine treats them as unavailable, and the peer that asked retries.
package struct StoreConsensusStorage: ConsensusStorage {
    let store: LedgerStore
    let logger: Logger

    package init(store: LedgerStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    package func committedBlocks(from height: Height, limit: Int) -> [CommittedBlock] {
        guard limit > 0, height.rawValue >= 1, let head = store.head?.height, height <= head else { return [] }
        let through = Height(min(head.rawValue, height.rawValue &+ UInt64(limit) &- 1))
        do {
            return try store.committedBlocks(from: height, through: through, maximumCount: limit)
        } catch {
            logger.warning("consensus history read failed", metadata: [
                "from": "\(height)", "through": "\(through)", "code": "\(error.numericCode)", "error": "\(error.message)",
            ])
            return []
        }
    }
}
