import Foundation
import LedgerCore

/// A request to a node's client endpoint signed by a key the chain lists for an account (``ChainAccount``): how a
/// `ForgeChainClient` that holds no platform token proves who is asking. The node checks the signature, that the
/// time is within ``maximumSkewMillis`` of its clock, and the account's rights in its committed state.
///
/// Wire form (one JSON object): `{"op":"records.query","body":"<JSON text>","scheme":"ed25519","key":"<hex public
/// key>","time":<ms since 1970>,"signature":"<hex>"}`. The signature covers ``message(op:body:chainID:time:)``:
/// the domain `forgechain signed request v1`, a zero byte, the chain ID and the time (8 bytes big-endian each), the
/// op, a zero byte and the body's bytes, so a request cannot be replayed on another chain, as another operation or
/// after its time window.
struct SignedRequest: Codable, Sendable {
    var op: String
    var body: String
    var scheme: String
    var key: String
    var time: UInt64
    var signature: String

    /// How far a request's time may be from the node's clock: 5 minutes.
    static let maximumSkewMillis: UInt64 = 300_000

    static func message(op: String, body: String, chainID: UInt64, time: UInt64) -> [UInt8] {
        func be(_ v: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8(truncatingIfNeeded: v >> (UInt64($0) * 8)) } }
        return Array("forgechain signed request v1".utf8) + [0] + be(chainID) + be(time) + Array(op.utf8) + [0] + Array(body.utf8)
    }

    /// Signs `body` for `op` with `key`, now.
    /// - Throws: `LedgerError` signing errors (13xx).
    init(op: String, body: String, key: PrivateKey, chainID: UInt64, time: UInt64 = Timestamp.now().rawValue) throws(LedgerError) {
        self.op = op
        self.body = body
        scheme = key.scheme.rawValue
        self.key = Hex.encode(key.publicKey.rawRepresentation)
        self.time = time
        signature = Hex.encode(try key.signature(for: Self.message(op: op, body: body, chainID: chainID, time: time)).rawRepresentation)
    }

    /// The enabled account that signed the request, with `permission`.
    /// - Throws: `AppError` `.requestSignatureInvalid` (5430), `.requestExpired` (5431), `.signerNotRegistered` (5419),
    ///   `.accountDisabled` (5403), `.permissionDenied` (5409); `.indexFailure` (5204) when the state cannot be read.
    func signer(chainID: UInt64, now: UInt64, permission: Permission, state: any StateReader) throws(AppError) -> ChainAccount {
        guard let scheme = SignatureScheme(rawValue: scheme), let raw = try? Hex.decode(key),
              let publicKey = try? PublicKey(scheme: scheme, rawRepresentation: raw) else {
            throw AppError(.requestSignatureInvalid, "the request's key is not a public key of a known scheme", details: ["field": "key"])
        }
        guard let sigBytes = try? Hex.decode(signature), let sig = try? Signature(scheme: scheme, rawRepresentation: sigBytes),
              publicKey.isValidSignature(sig, for: Self.message(op: op, body: body, chainID: chainID, time: time)) else {
            throw AppError(.requestSignatureInvalid, "the request's signature does not verify with its key for chain \(chainID)",
                           details: ["field": "signature"])
        }
        guard (now > time ? now - time : time - now) <= Self.maximumSkewMillis else {
            throw AppError(.requestExpired, "the request's time \(time) is more than 5 minutes from the node's clock \(now)",
                           details: ["time": String(time), "now": String(now)])
        }
        let account: ChainAccount?
        do { account = try ChainAccount.account(signedBy: publicKey, state: state) } catch {
            throw AppError(.indexFailure, "the chain's accounts cannot be read: \(error.message)", details: ["cause": String(error.numericCode)])
        }
        guard let account else {
            throw AppError(.signerNotRegistered, "the signing key is registered to no account on chain", details: ["sender": key])
        }
        guard account.enabled else {
            throw AppError(.accountDisabled, "the signer's account '\(account.user)' is disabled on chain", details: ["user": account.user])
        }
        guard account.allows(permission) else {
            throw AppError(.permissionDenied, "'\(account.user)' lacks \(permission.rawValue)",
                           details: ["permission": permission.rawValue, "user": account.user])
        }
        return account
    }
}
