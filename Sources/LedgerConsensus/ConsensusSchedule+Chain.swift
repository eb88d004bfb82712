import LedgerCrypto
import LedgerModel

/// Membership changes governed by the chain itself (N-D-3, N-D-4).
///
/// A governance transaction (the access executor's `scheduleConsensus` operation) appends a change to the list
/// kept in the world state under ``stateKey``; every node reads that list when it opens its store and learns each
/// new change the moment it executes the block that committed it, so all nodes switch configuration at the same
/// height. A change must lie at least ``minimumLead`` blocks above the block that schedules it: every node has
/// executed the scheduling block before any of them decides the first block the change governs.
///
/// ```swift
/// let changes = try ConsensusSchedule.chainChanges(from: try store.stateValue(forKey: ConsensusSchedule.stateKey))
/// let schedule = configuration.schedule.merging(chainChanges: changes).schedule
/// ```
extension ConsensusSchedule {
    /// The world-state key of the changes scheduled on chain (`consensus/schedule`).
    public static let stateKey: [UInt8] = Array("consensus/schedule".utf8)

    /// How far above the scheduling block a change must take effect: 3 blocks.
    public static let minimumLead: UInt64 = 3

    /// The most changes the chain keeps: 1,024 (a membership change a day for almost three years).
    public static let maximumChainChanges = 1_024

    /// Decodes the list stored under ``stateKey`` (nil or empty: none).
    /// - Parameter bytes: Optional. The state value, a JSON array of ``Change``.
    /// - Returns: The changes in the order stored.
    /// - Throws: `.consensusConfigFile` (1703) when the bytes are not such an array.
    public static func chainChanges(from bytes: [UInt8]?) throws(LedgerError) -> [Change] {
        guard let bytes, !bytes.isEmpty else { return [] }
        return try ConsensusJSON.decode([Change].self, from: bytes)
    }

    /// The state value holding `changes` (canonical JSON: keys sorted, so every node writes the same bytes).
    /// - Parameter changes: Required. Changes in ascending height order.
    /// - Returns: The bytes to store under ``stateKey``.
    public static func chainValue(_ changes: [Change]) -> [UInt8] {
        ConsensusJSON.encode(changes)
    }

    /// This schedule with the chain's changes added, and those it could not add.
    /// - Parameter chainChanges: Required. Changes read from the chain; one already in the schedule is skipped.
    /// - Returns: The merged schedule and, for each change refused (another engine, out of order, invalid), the
    ///   change and why. Every node refuses the same ones, so they stay in agreement.
    public func merging(chainChanges: [Change]) -> (schedule: ConsensusSchedule, refused: [(Change, LedgerError)]) {
        var merged = self
        var refused = [(Change, LedgerError)]()
        for change in chainChanges {
            do { try merged.schedule(change.config, atHeight: change.height) } catch { refused.append((change, error)) }
        }
        return (merged, refused)
    }
}
