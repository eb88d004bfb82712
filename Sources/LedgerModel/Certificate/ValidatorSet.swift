import LedgerCrypto

/// A consensus participant: its node ID, public key and stake.
///
/// JSON form: `{"id": 1, "scheme": "ed25519", "publicKey": "<hex>", "stake": 10}`.
///
/// ```swift
/// let v = Validator(id: 1, publicKey: key.publicKey, stake: 10)
/// ```
public struct Validator: Hashable, Sendable, Codable {
    /// Required. Unique within a set.
    public var id: NodeID
    /// Required. Verifies the node's votes and its produced blocks.
    public var publicKey: PublicKey
    /// Optional, default 1; range `1...UInt64.max` (the set's total must fit in 64 bits).
    /// Engines that do not weigh by stake (PBFT, Raft) ignore it.
    public var stake: UInt64

    /// - Parameters:
    ///   - id: Required. Unique in the set.
    ///   - publicKey: Required. The key its blocks and votes verify under.
    ///   - stake: Optional, default 1. Voting weight under PoS; at least 1.
    public init(id: NodeID, publicKey: PublicKey, stake: UInt64 = 1) {
        self.id = id
        self.publicKey = publicKey
        self.stake = stake
    }

    private enum CodingKeys: String, CodingKey { case id, scheme, publicKey, stake }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(NodeID.self, forKey: .id)
        let scheme = try c.decode(SignatureScheme.self, forKey: .scheme)
        let hex = try c.decode(String.self, forKey: .publicKey)
        do {
            publicKey = try PublicKey(scheme: scheme, rawRepresentation: try Hex.decode(hex))
        } catch {
            throw DecodingError.dataCorruptedError(forKey: .publicKey, in: c, debugDescription: "validator \(id): \(error)")
        }
        stake = try c.decodeIfPresent(UInt64.self, forKey: .stake) ?? 1
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(publicKey.scheme, forKey: .scheme)
        try c.encode(Hex.encode(publicKey.rawRepresentation), forKey: .publicKey)
        try c.encode(stake, forKey: .stake)
    }
}

/// The validators (PBFT, PoS) or members (Raft) of a chain, sorted by node
/// ID so that every node iterates them in the same order, with the quorum
/// rules of each engine.
///
/// | rule | size | used by |
/// |---|---|---|
/// | ``byzantineQuorum`` | `⌈(n + f + 1) / 2⌉`, i.e. `2f + 1` of `3f + 1` | PBFT |
/// | ``majority`` | `⌊n / 2⌋ + 1` | Raft |
/// | ``hasStakeQuorum(_:)`` | stake `> 2/3` of the total | PoS |
///
/// ```swift
/// let set = try ValidatorSet([Validator(id: 0, publicKey: k0), Validator(id: 1, publicKey: k1)])
/// set.maximumFaulty   // f
/// ```
/// A value type; safe to share across threads.
public struct ValidatorSet: Hashable, Sendable, Codable, RandomAccessCollection {
    /// The validators, sorted by ``Validator/id``.
    public let validators: [Validator]
    /// The sum of all stakes.
    public let totalStake: UInt64
    private let indexByID: [NodeID: Int]

    /// - Parameter validators: Required. At least one; IDs and public keys unique; stakes ≥ 1
    ///   with a total that fits in 64 bits. Any order (the set sorts by ID).
    /// - Throws: `LedgerError` `.emptyValidatorSet` (1706), `.duplicateValidator` (1705),
    ///   `.invalidStake` (1707).
    public init(_ validators: [Validator]) throws(LedgerError) {
        guard !validators.isEmpty else { throw LedgerError(.emptyValidatorSet, "validator set is empty", details: ["field": "validators"]) }
        let sorted = validators.sorted { $0.id < $1.id }
        var total: UInt64 = 0
        var index = [NodeID: Int]()
        var keys = Set<PublicKey>()
        for (i, v) in sorted.enumerated() {
            guard index[v.id] == nil else {
                throw LedgerError(.duplicateValidator, "validator id \(v.id.rawValue) appears twice", details: ["field": "validators", "id": String(v.id.rawValue)])
            }
            guard keys.insert(v.publicKey).inserted else {
                throw LedgerError(.duplicateValidator, "validator \(v.id.rawValue) reuses another validator's public key", details: ["field": "validators", "id": String(v.id.rawValue)])
            }
            guard v.stake > 0 else {
                throw LedgerError(.invalidStake, "validator \(v.id.rawValue) has stake 0, expected at least 1", details: ["field": "validators.stake", "id": String(v.id.rawValue)])
            }
            let (sum, overflow) = total.addingReportingOverflow(v.stake)
            guard !overflow else {
                throw LedgerError(.invalidStake, "total stake overflows 64 bits at validator \(v.id.rawValue)", details: ["field": "validators.stake"])
            }
            total = sum
            index[v.id] = i
        }
        self.validators = sorted
        self.totalStake = total
        self.indexByID = index
    }

    // MARK: Collection

    public var startIndex: Int { 0 }
    public var endIndex: Int { validators.count }
    public subscript(position: Int) -> Validator { validators[position] }

    /// The node IDs, ascending.
    public var ids: [NodeID] { validators.map(\.id) }

    /// The validator with `id`, or nil.
    public func validator(_ id: NodeID) -> Validator? { indexByID[id].map { validators[$0] } }

    /// The position of `id` in ``validators``, or nil.
    public func index(of id: NodeID) -> Int? { indexByID[id] }

    /// Whether `id` is in the set.
    public func contains(_ id: NodeID) -> Bool { indexByID[id] != nil }

    /// The validator whose key is `publicKey`, or nil (linear; sets are small).
    public func validator(withKey publicKey: PublicKey) -> Validator? { validators.first { $0.publicKey == publicKey } }

    // MARK: Quorums

    /// `f`: the most Byzantine nodes the set tolerates, `⌊(n − 1) / 3⌋`.
    public var maximumFaulty: Int { (count - 1) / 3 }

    /// `f` for crash faults: the most crashed nodes a majority quorum tolerates, `⌊(n − 1) / 2⌋`.
    public var maximumCrashed: Int { (count - 1) / 2 }

    /// The Byzantine quorum `⌈(n + f + 1) / 2⌉`: any two such quorums share at
    /// least `f + 1` nodes, hence one correct node. Equals `2f + 1` when `n = 3f + 1`.
    public var byzantineQuorum: Int { (count + maximumFaulty + 2) / 2 }

    /// The crash-fault quorum `⌊n / 2⌋ + 1` (Raft).
    public var majority: Int { count / 2 + 1 }

    /// Whether `stake` is strictly more than two thirds of ``totalStake`` (PoS finality).
    public func hasStakeQuorum(_ stake: UInt64) -> Bool {
        UInt128(stake) * 3 > UInt128(totalStake) * 2
    }

    /// The sum of the stakes of `ids` (unknown and repeated IDs count once / not at all).
    public func stake(of ids: some Sequence<NodeID>) -> UInt64 {
        var seen = Set<NodeID>()
        var sum: UInt64 = 0
        for id in ids where seen.insert(id).inserted {
            if let v = validator(id) { sum &+= v.stake }
        }
        return sum
    }

    // MARK: Proposer selection

    /// Round-robin proposer: validator `(height + round) mod n`.
    public func roundRobinProposer(height: Height, round: Round) -> NodeID {
        validators[Int((height.rawValue &+ round.rawValue) % UInt64(count))].id
    }

    /// Stake-weighted proposer: the validator whose cumulative-stake
    /// interval contains `seed mod totalStake`. Deterministic for a seed;
    /// pass a value every node agrees on (for example a hash of the parent
    /// block, height and round).
    public func stakeWeightedProposer(seed: UInt64) -> NodeID {
        var point = seed % totalStake
        for v in validators {
            if point < v.stake { return v.id }
            point -= v.stake
        }
        return validators[validators.count - 1].id
    }

    // MARK: Codable (a JSON array of validators)

    public init(from decoder: any Decoder) throws {
        let list = try decoder.singleValueContainer().decode([Validator].self)
        do { try self.init(list) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(validators)
    }

    public static func == (a: ValidatorSet, b: ValidatorSet) -> Bool { a.validators == b.validators }
    public func hash(into hasher: inout Hasher) { hasher.combine(validators) }
}
