import LedgerCore
import Logging

/// The consensus schedule a node runs: its configured one plus the membership changes committed on chain
/// (`ConsensusSchedule.stateKey`, written by governance transactions).
enum ChainSchedule {
    /// `base` merged with the changes in `store`'s committed state. A change the schedule cannot take (another
    /// engine, out of order, invalid) is logged and left out, the same on every node.
    /// - Throws: `ChainError` `.storeFailure` (4053) when the state cannot be read.
    static func effective(_ base: ConsensusSchedule, store: LedgerStore, logger: Logger) throws(ChainError) -> ConsensusSchedule {
        let bytes: [UInt8]?
        do { bytes = try store.stateValue(forKey: ConsensusSchedule.stateKey) } catch {
            throw ChainError(.storeFailure, "reading the consensus schedule on chain: \(error.message)", details: ["cause": String(error.numericCode)])
        }
        return merged(base, bytes: bytes, logger: logger)
    }

    /// `base` merged with the changes encoded in `bytes` (a state value under `ConsensusSchedule.stateKey`).
    static func merged(_ base: ConsensusSchedule, bytes: [UInt8]?, logger: Logger = Logger(label: "forgechain.node")) -> ConsensusSchedule {
        let changes: [ConsensusSchedule.Change]
        do { changes = try ConsensusSchedule.chainChanges(from: bytes) } catch {
            logger.error("the consensus schedule on chain does not decode; running without it", metadata: ["code": "\(error.numericCode)", "error": "\(error.message)"])
            return base
        }
        let (schedule, refused) = base.merging(chainChanges: changes)
        for (change, error) in refused {
            logger.error("consensus change on chain refused", metadata: ["height": "\(change.height)", "code": "\(error.numericCode)", "error": "\(error.message)"])
        }
        return schedule
    }

    /// The new value of the chain's schedule when `changes` (a block's writes) set it, else nil.
    static func written(in changes: StateChangeSet) -> [UInt8]? {
        guard let change = changes.changes.last(where: { $0.key == ConsensusSchedule.stateKey }) else { return nil }
        return change.value ?? []
    }
}
