import Foundation
import LedgerCore

/// HOTP (RFC 4226) and TOTP (RFC 6238) one-time passwords, for
/// multi-factor login (A-ID-4).
///
/// ```swift
/// let totp = TOTP(secret: secret)                       // SHA-1, 6 digits, 30 s: what authenticator apps expect
/// let code = totp.code(at: 1_740_816_000)
/// let uri = totp.provisioningURI(account: "qa-lead", issuer: "ForgeChain")
/// ```
public struct TOTP: Sendable, Hashable {
    /// The HMAC behind the code.
    public enum Algorithm: String, Sendable, Hashable, Codable, CaseIterable {
        /// HMAC-SHA1 (RFC 6238's default), HMAC-SHA-256 or HMAC-SHA-512.
        case sha1 = "SHA1", sha256 = "SHA256", sha512 = "SHA512"
        var hmac: HMAC.Algorithm {
            switch self {
            case .sha1: .sha1
            case .sha256: .sha256
            case .sha512: .sha512
            }
        }
    }

    /// The shared secret. Required; at least 16 bytes (20 recommended for SHA-1).
    public var secret: [UInt8]
    /// Optional, default SHA-1 (the authenticator-app default).
    public var algorithm: Algorithm
    /// Optional, default 6; range 6...8.
    public var digits: Int
    /// Optional, default 30 seconds; range 15...300.
    public var periodSeconds: UInt64

    /// Parameters as the properties of the same names, with their ranges and defaults.
    public init(secret: [UInt8], algorithm: Algorithm = .sha1, digits: Int = 6, periodSeconds: UInt64 = 30) {
        self.secret = secret
        self.algorithm = algorithm
        self.digits = min(8, max(6, digits))
        self.periodSeconds = min(300, max(15, periodSeconds))
    }

    /// The HOTP value for `counter` (RFC 4226 §5.3: dynamic truncation).
    public static func hotp(secret: [UInt8], counter: UInt64, digits: Int, algorithm: Algorithm = .sha1) -> String {
        let message = (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * UInt64($0))) }
        let mac = HMAC.authenticationCode(for: message, key: secret, algorithm: algorithm.hmac)
        let offset = Int(mac[mac.count - 1] & 0x0f)
        let binary = (UInt32(mac[offset] & 0x7f) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The time step that `unixTime` falls in.
    public func counter(at unixTime: UInt64) -> UInt64 { unixTime / periodSeconds }

    /// The code valid at `unixTime` (seconds since 1970).
    public func code(at unixTime: UInt64) -> String {
        Self.hotp(secret: secret, counter: counter(at: unixTime), digits: digits, algorithm: algorithm)
    }

    /// The time step whose code equals `code`, looking `window` steps either
    /// side of `unixTime` (clock drift); nil when none matches. Comparison is
    /// constant-time per candidate.
    /// - Parameters:
    ///   - code: Required. The code the user typed, `digits` decimal digits.
    ///   - unixTime: Required. The current time, seconds since 1970.
    ///   - window: Optional, default 1 (±30 s); range 0...10.
    public func matchingCounter(_ code: String, at unixTime: UInt64, window: UInt64 = 1) -> UInt64? {
        let now = counter(at: unixTime)
        let w = min(window, 10)
        let low = now >= w ? now - w : 0
        var found: UInt64?
        for c in low...(now + w) {
            let candidate = Self.hotp(secret: secret, counter: c, digits: digits, algorithm: algorithm)
            if constantTimeEquals(Array(candidate.utf8), Array(code.utf8)) && found == nil { found = c }
        }
        return found
    }

    /// The `otpauth://` URI an authenticator app scans (Key Uri Format).
    public func provisioningURI(account: String, issuer: String = "ForgeChain") -> String {
        func escape(_ s: String) -> String {
            s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "-._~"))) ?? s
        }
        return "otpauth://totp/\(escape(issuer)):\(escape(account))?secret=\(Base32.encode(secret))"
            + "&issuer=\(escape(issuer))&algorithm=\(algorithm.rawValue)&digits=\(digits)&period=\(periodSeconds)"
    }
}

/// Constant-time comparison of two byte strings (length leaks, content does not).
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<a.count { diff |= a[i] ^ b[i] }
    return diff == 0
}

/// RFC 4648 base32 (upper case, no padding), as authenticator apps use it.
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// - Parameter bytes: Required; any length.
    /// - Returns: Upper-case base32 without padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for b in bytes {
            buffer = (buffer << 8) | UInt32(b)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base32, ignoring `=` padding, spaces and case.
    /// - Throws: `AppError` `.invalidFieldValue` (5003) on any other character.
    public static func decode(_ text: String) throws(AppError) -> [UInt8] {
        var out = [UInt8]()
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.uppercased().utf8 where c != UInt8(ascii: "=") && c != UInt8(ascii: " ") {
            guard let v = alphabet.firstIndex(of: c) else {
                throw AppError(.invalidFieldValue, "not a base32 secret", details: ["field": "secret"])
            }
            buffer = (buffer << 5) | UInt32(v)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xff))
                bits -= 8
            }
        }
        return out
    }
}
