
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

/// Signing and verification helpers shared by the engines' messages.
enum ConsensusSigning {
    /// Signs `payload` with `key`; a signing failure (an OpenSSL fault, never
    /// expected) yields an all-zero-looking placeholder that will not verify,
    /// so an engine never traps on a backend fault.
    static func sign(_ payload: [UInt8], with key: PrivateKey) -> Signature {
        if let s = try? key.signature(for: payload) { return s }
        return Signature(uncheckedScheme: key.scheme, raw: [UInt8](repeating: 1, count: key.scheme.signatureLength))
    }

    /// Whether `signature` by `signer` verifies over `payload` under `validators`.
    /// - Parameter cache: Optional. Remembers signatures that verified, so a message seen again (a
    ///   retransmission, or nested in a VIEW-CHANGE, NEW-VIEW or certificate) is not verified twice.
    static func verify(_ signature: Signature, by signer: NodeID, over payload: [UInt8], in validators: ValidatorSet,
                       cache: VerifiedSignatureCache? = nil) -> Bool {
        guard let v = validators.validator(signer), v.publicKey.scheme == signature.scheme else { return false }
        guard let cache else { return v.publicKey.isValidSignature(signature, for: payload) }
        let key = VerifiedSignatureCache.key(v.publicKey, signature, payload)
        if cache.contains(key) { return true }
        guard v.publicKey.isValidSignature(signature, for: payload) else { return false }
        cache.insert(key)
        return true
    }

    static func signatureItem(_ s: Signature) -> RLP.Item {
        .list([.string(s.scheme.rawValue), .bytes(s.rawRepresentation)])
    }

    static func signature(_ item: RLP.Item, _ field: String) throws(LedgerError) -> Signature {
        let f = try item.list(field, count: 2)
        let name = try f[0].string(field + ".scheme")
        guard let scheme = SignatureScheme(rawValue: name) else {
            throw LedgerError(.malformedConsensusMessage, "field '\(field).scheme': unknown scheme '\(name)'", details: ["field": field + ".scheme"])
        }
        return try Signature(scheme: scheme, rawRepresentation: try f[1].bytes(field + ".bytes"))
    }

    static func node(_ item: RLP.Item, _ field: String) throws(LedgerError) -> NodeID {
        let v = try item.uint64(field)
        guard v <= UInt32.max else {
            throw LedgerError(.malformedConsensusMessage, "field '\(field)': \(v) exceeds 32 bits", details: ["field": field])
        }
        return NodeID(UInt32(v))
    }

    static func optionalBlock(_ item: RLP.Item, _ field: String) throws(LedgerError) -> Block? {
        let bytes = try item.bytes(field)
        return bytes.isEmpty ? nil : try Block(decoding: bytes)
    }
}

/// Signatures an engine has already verified, keyed by a SHA-256 digest of
/// (public key, signature, signed payload): a pure memo, so hits and misses
/// give the same answers and engine output does not depend on it. Holds at
/// most a fixed number of entries (cleared when full).
///
/// One process-wide instance (``shared``) serves every PBFT and PoS engine:
/// what it records holds for everyone, so engines in one process (a
/// simulated cluster, a test) verify each signature once instead of once per
/// engine. Another (``transactions``) holds transaction signatures verified
/// at mempool intake (``Transaction/verifySignatureOnce(hashAlgorithm:)``), so
/// the nodes of an in-process cluster check a relayed transaction once.
/// `Sendable` through its ``BoundedMemo``.
package final class VerifiedSignatureCache: Sendable {
    /// The cache the engines use.
    static let shared = VerifiedSignatureCache()
    /// The cache of transaction signatures (low-S enforced) verified at intake.
    package static let transactions = VerifiedSignatureCache(capacity: 1 << 18)
    private let verified: BoundedMemo<Digest, Bool>

    init(capacity: Int = 65_536) { verified = BoundedMemo(capacity: capacity) }

    static func key(_ publicKey: PublicKey, _ signature: Signature, _ payload: [UInt8]) -> Digest {
        var bytes = [UInt8]()
        bytes.reserveCapacity(publicKey.rawRepresentation.count + signature.rawRepresentation.count + payload.count + 4)
        bytes.append(UInt8(truncatingIfNeeded: publicKey.rawRepresentation.count))
        bytes += publicKey.rawRepresentation
        bytes.append(UInt8(truncatingIfNeeded: signature.rawRepresentation.count))
        bytes += signature.rawRepresentation
        bytes += Array(signature.scheme.rawValue.utf8)
        bytes.append(0)
        bytes += payload
        return HashAlgorithm.sha256.hash(bytes)
    }

    func contains(_ key: Digest) -> Bool { verified[key] != nil }

    func insert(_ key: Digest) { verified.insert(true, for: key) }
}
