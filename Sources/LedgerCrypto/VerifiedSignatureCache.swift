/// Signatures an engine has already verified, keyed by a SHA-256 digest of
/// (public key, signature, signed payload): a pure memo, so hits and misses
/// give the same answers and engine output does not depend on it. Holds at
/// most a fixed number of entries (cleared when full).
///
/// One process-wide instance (``shared``) serves every PBFT and PoS engine:
/// what it records holds for everyone, so engines in one process (a
/// simulated cluster, a test) verify each signature once instead of once per
/// engine. Another (``transactions``) holds transaction signatures verified
/// at mempool intake (`Transaction.verifySignatureOnce(hashAlgorithm:)`), so
/// the nodes of an in-process cluster check a relayed transaction once.
/// `Sendable` through its ``BoundedMemo``.
package final class VerifiedSignatureCache: Sendable {
    /// The cache the engines use.
    package static let shared = VerifiedSignatureCache()
    /// The cache of transaction signatures (low-S enforced) verified at intake.
    package static let transactions = VerifiedSignatureCache(capacity: 1 << 18)
    private let verified: BoundedMemo<Digest, Bool>

    init(capacity: Int = 65_536) { verified = BoundedMemo(capacity: capacity) }

    package static func key(_ publicKey: PublicKey, _ signature: Signature, _ payload: [UInt8]) -> Digest {
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

    package func contains(_ key: Digest) -> Bool { verified[key] != nil }

    package func insert(_ key: Digest) { verified.insert(true, for: key) }
}
