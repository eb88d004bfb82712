import Foundation
import LedgerCore

/// Hashes administrator passwords with scrypt (RFC 7914) and verifies them
/// in constant time (A-ID-2). Passwords are never stored or logged in clear.
///
/// The stored form is a PHC-style string:
/// `$scrypt$ln=17,r=8,p=1$<salt base64>$<hash base64>`. The default cost is
/// OWASP's current recommendation for scrypt (N = 2^17, r = 8, p = 1:
/// 128 MiB and a few hundred milliseconds per check). Stored hashes carry
/// their own parameters, so raising the cost later still verifies old
/// hashes, and ``needsRehash(_:)`` tells when to upgrade one at login.
public struct PasswordHasher: Sendable, Hashable {
    /// log2 of scrypt's N. Optional, default 17; range 10...20 (tests use 10 for speed).
    public var logN: Int
    /// Optional, default 8; range 1...16.
    public var r: Int
    /// Optional, default 1; range 1...4.
    public var p: Int

    /// - Parameters:
    ///   - logN: Optional, default 17 (N = 2^17, 128 MiB); range 10...20, clamped.
    ///   - r: Optional, default 8. Block size.
    ///   - p: Optional, default 1. Parallelism.
    public init(logN: Int = 17, r: Int = 8, p: Int = 1) {
        self.logN = min(20, max(10, logN))
        self.r = min(16, max(1, r))
        self.p = min(4, max(1, p))
    }

    /// Minimum and maximum password length accepted.
    public static let passwordLengths = 10...256

    /// Checks a new password's strength: 10–256 characters, at least three
    /// of lower case, upper case, digits and symbols, not the user name.
    /// - Throws: `AppError` `.weakPassword` (5410) saying what is missing.
    public static func checkStrength(_ password: String, user: String) throws(AppError) {
        guard passwordLengths.contains(password.count) else {
            throw AppError(.weakPassword, "password must be \(passwordLengths.lowerBound)–\(passwordLengths.upperBound) characters",
                           details: ["field": "password"])
        }
        let classes = [password.contains(where: \.isLowercase), password.contains(where: \.isUppercase),
                       password.contains(where: \.isNumber),
                       password.contains(where: { !$0.isLetter && !$0.isNumber })].filter { $0 }.count
        guard classes >= 3 else {
            throw AppError(.weakPassword, "password needs three of: lower case, upper case, digits, symbols",
                           details: ["field": "password"])
        }
        guard password.lowercased() != user.lowercased() else {
            throw AppError(.weakPassword, "password must not be the user name", details: ["field": "password"])
        }
    }

    /// Hashes `password` with a fresh 16-byte salt.
    public func hash(_ password: String) throws(AppError) -> String {
        let salt = SecureRandom.bytes(count: 16)
        let dk = try derive(password, salt: salt, logN: logN, r: r, p: p)
        return "$scrypt$ln=\(logN),r=\(r),p=\(p)$\(Data(salt).base64EncodedString())$\(Data(dk).base64EncodedString())"
    }

    /// Verifies `password` against a stored hash (constant-time compare).
    /// A malformed stored hash verifies nothing.
    public func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "scrypt" else { return false }
        var params = [String: Int]()
        for kv in parts[1].split(separator: ",") {
            let pair = kv.split(separator: "=")
            guard pair.count == 2, let v = Int(pair[1]) else { return false }
            params[String(pair[0])] = v
        }
        guard let ln = params["ln"], let r = params["r"], let p = params["p"], (10...20).contains(ln), (1...16).contains(r),
              (1...4).contains(p), let salt = Data(base64Encoded: String(parts[2])),
              let expected = Data(base64Encoded: String(parts[3])), expected.count == 32,
              let dk = try? derive(password, salt: [UInt8](salt), logN: ln, r: r, p: p) else { return false }
        return constantTimeEquals(dk, [UInt8](expected))
    }

    /// Whether a stored hash uses weaker parameters than this hasher (rehash on next login).
    public func needsRehash(_ stored: String) -> Bool {
        !stored.hasPrefix("$scrypt$ln=\(logN),r=\(r),p=\(p)$")
    }

    private func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int) throws(AppError) -> [UInt8] {
        do {
            return try Scrypt.deriveKey(password: Array(password.utf8), salt: salt, n: UInt64(1) << UInt64(logN),
                                        r: UInt64(r), p: UInt64(p), keyLength: 32)
        } catch {
            throw AppError(.identityBackend, "password hashing failed: \(error.message)")
        }
    }
}
