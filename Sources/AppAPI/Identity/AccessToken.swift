import Foundation
import LedgerCore

/// A signed access token: who, when issued, when it expires, and a unique
/// ID for revocation. It authenticates API calls (the Appendix A `token`
/// field) and is never stored on chain or logged.
///
/// Form: `fc1.<payload base64url>.<HMAC-SHA256 base64url>`, where the
/// payload is RLP `[version, tokenID, user, issuedAtMillis, expiresAtMillis]`
/// and the MAC key is the node's 32-byte token secret.
public struct AccessToken: Sendable, Hashable {
    /// 16 random bytes, hex.
    public var id: String
    /// The administrator it was issued to.
    public var user: String
    /// When it was issued.
    public var issuedAt: Timestamp
    /// When it stops being accepted.
    public var expiresAt: Timestamp

    static let prefix = "fc1"

    /// Signs the token with `key`.
    func encoded(key: [UInt8]) -> String {
        let payload = RLP.encode(.list([.uint(1), .string(id), .string(user), .uint(issuedAt.rawValue), .uint(expiresAt.rawValue)]))
        let mac = HMAC.authenticationCode(for: payload, key: key, algorithm: .sha256)
        return "\(Self.prefix).\(Self.base64url(payload)).\(Self.base64url(mac))"
    }

    /// Checks the MAC and decodes. Expiry and revocation are the caller's checks.
    /// - Throws: `AppError` `.tokenMalformed` (5406).
    static func decode(_ text: String, key: [UInt8]) throws(AppError) -> AccessToken {
        let malformed = AppError(.tokenMalformed, "access token is malformed or was not issued by this node", details: ["field": "token"])
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.prefix, let payload = unbase64url(String(parts[1])),
              let mac = unbase64url(String(parts[2])) else { throw malformed }
        guard HMAC.isValidAuthenticationCode(mac, for: payload, key: key, algorithm: .sha256) else { throw malformed }
        do {
            let f = try RLP.decode(payload).list("token", count: 5)
            guard try f[0].uint64("version") == 1 else { throw malformed }
            return AccessToken(id: try f[1].string("id"), user: try f[2].string("user"),
                               issuedAt: Timestamp(rawValue: try f[3].uint64("issuedAt")),
                               expiresAt: Timestamp(rawValue: try f[4].uint64("expiresAt")))
        } catch {
            throw malformed
        }
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: String) -> [UInt8]? {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s).map { [UInt8]($0) }
    }
}

/// Delivers one-time login codes by SMS or e-mail (A-ID-4). Plants plug in
/// their gateway; tests use ``InMemoryCodeOutbox``.
public protocol CodeSender: Sendable {
    /// Sends `code` to `destination` over `channel`.
    /// - Throws: any error; login then fails with `.codeDeliveryFailed` (5416).
    func send(code: String, to destination: String, channel: CodeChannel) async throws
}

/// How a one-time code travels.
public enum CodeChannel: String, Sendable, Hashable, Codable, CaseIterable {
    /// Text message or e-mail.
    case sms, email
}

/// A `CodeSender` that keeps messages in memory, for tests and demos.
public actor InMemoryCodeOutbox: CodeSender {
    /// One delivered message.
    public struct Message: Sendable, Hashable {
        /// The one-time code sent.
        public var code: String
        /// The phone number or e-mail address.
        public var destination: String
        /// How it was sent.
        public var channel: CodeChannel
    }

    /// Every message sent, oldest first.
    public private(set) var messages: [Message] = []

    /// An empty outbox.
    public init() {}

    public func send(code: String, to destination: String, channel: CodeChannel) async throws {
        messages.append(Message(code: code, destination: destination, channel: channel))
    }

    /// The last code sent to `destination`.
    public func lastCode(to destination: String) -> String? {
        messages.last { $0.destination == destination }?.code
    }
}
