import LedgerModel

/// Signed-vote bookkeeping shared by the PBFT and PoS engines: collects at
/// most one vote per validator for each key and answers quorum questions
/// in ascending signer order (never by iterating a dictionary), so that the
/// votes an engine puts into a certificate or a message are the same on
/// every run.
struct VoteTally<Key: Hashable & Sendable, Vote: Sendable>: Sendable {
    private var votes: [Key: [NodeID: Vote]] = [:]

    /// Records `vote` from `signer` under `key`; false when that signer already voted for this key.
    @discardableResult
    mutating func add(_ vote: Vote, from signer: NodeID, for key: Key) -> Bool {
        if votes[key]?[signer] != nil { return false }
        votes[key, default: [:]][signer] = vote
        return true
    }

    /// How many distinct signers voted for `key`.
    func count(_ key: Key) -> Int { votes[key]?.count ?? 0 }

    /// Whether `signer` voted for `key`.
    func contains(_ key: Key, signer: NodeID) -> Bool { votes[key]?[signer] != nil }

    /// The signers for `key`, ascending.
    func signers(_ key: Key) -> [NodeID] { (votes[key]?.keys).map { $0.sorted() } ?? [] }

    /// The votes for `key` in ascending signer order.
    func votes(_ key: Key) -> [(signer: NodeID, vote: Vote)] {
        guard let map = votes[key] else { return [] }
        return map.keys.sorted().map { ($0, map[$0]!) }
    }

    /// The stake of the signers for `key` under `validators`.
    func stake(_ key: Key, in validators: ValidatorSet) -> UInt64 {
        guard let map = votes[key] else { return 0 }
        var sum: UInt64 = 0
        for id in map.keys { if let v = validators.validator(id) { sum &+= v.stake } }
        return sum
    }

    /// The keys that hold votes, ascending.
    func sortedKeys() -> [Key] where Key: Comparable { votes.keys.sorted() }

    /// Drops every key for which `isStale` is true.
    mutating func removeAll(where isStale: (Key) -> Bool) {
        votes = votes.filter { !isStale($0.key) }
    }

    /// Drops everything.
    mutating func removeAll() { votes.removeAll() }
}
