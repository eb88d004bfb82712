import COpenSSL
import Foundation

/// Owns one RSA `EVP_PKEY`, freed in `deinit`.
///
/// `@unchecked Sendable`: the key is never modified after construction.
/// OpenSSL 3 allows concurrent read-only use of an `EVP_PKEY` (each
/// operation makes its own `EVP_PKEY_CTX`; the provider-side key cache is
/// guarded by OpenSSL's own lock).
final class RSAKeyHandle: @unchecked Sendable {
    let pkey: OpaquePointer

    init(_ pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }

    var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }
    var modulusBytes: Int { Int(EVP_PKEY_get_size(pkey)) }

    static func generate(bits: Int) throws(LedgerError) -> RSAKeyHandle {
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil) else {
            throw LedgerError(.cryptoBackend, "EVP_PKEY_CTX_new_from_name(RSA) failed")
        }
        defer { EVP_PKEY_CTX_free(ctx) }
        try opensslCheck(EVP_PKEY_keygen_init(ctx), "EVP_PKEY_keygen_init")
        try opensslCheck(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, Int32(bits)), "EVP_PKEY_CTX_set_rsa_keygen_bits")
        var pkey: OpaquePointer?
        try opensslCheck(EVP_PKEY_generate(ctx, &pkey), "EVP_PKEY_generate (RSA)")
        guard let pkey else { throw LedgerError(.cryptoBackend, "EVP_PKEY_generate returned no key") }
        return RSAKeyHandle(pkey)
    }

    /// Checks that a decoded key is plain RSA (not RSA-PSS, not EC) of an
    /// accepted size.
    static func checked(_ pkey: OpaquePointer, what: String) throws(LedgerError) -> RSAKeyHandle {
        let handle = RSAKeyHandle(pkey)
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA else {
            throw LedgerError(.rsaKeyEncoding, "\(what) holds a key of type \(EVP_PKEY_get_base_id(pkey)), expected RSA (\(EVP_PKEY_RSA))")
        }
        guard RSAPrivateKey.importableKeySizes.contains(handle.bits) else {
            throw LedgerError(.rsaKeySize, "RSA key size \(handle.bits) bits, expected \(RSAPrivateKey.importableKeySizes)",
                              details: ["bits": String(handle.bits)])
        }
        return handle
    }

    /// Runs a two-pass `i2d_*` encoder.
    static func encode(_ pkey: OpaquePointer, _ i2d: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32) throws(LedgerError) -> [UInt8] {
        let length = i2d(nil)
        guard length > 0 else {
            ERR_clear_error()
            throw LedgerError(.cryptoBackend, "OpenSSL key encoding failed")
        }
        var out = [UInt8](repeating: 0, count: Int(length))
        let written = out.withUnsafeMutableBufferPointer { buf -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return i2d(&p)
        }
        guard written == length else { throw LedgerError(.cryptoBackend, "OpenSSL key encoding length changed") }
        return out
    }

    /// Decodes DER with a `d2i_*` function, requiring that every byte is used.
    static func decode(_ der: [UInt8], what: String,
                       _ d2i: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> OpaquePointer?) throws(LedgerError) -> OpaquePointer {
        guard !der.isEmpty, der.count <= Int(Int32.max) else {
            throw LedgerError(.rsaKeyEncoding, "\(what) DER length \(der.count) is not acceptable", details: ["length": String(der.count)])
        }
        var consumed = 0
        let key: OpaquePointer? = der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            let k = d2i(&p, buf.count)
            if let p { consumed = p - buf.baseAddress! }
            return k
        }
        guard let key else {
            ERR_clear_error()
            throw LedgerError(.rsaKeyEncoding, "\(what) DER (\(der.count) bytes) is malformed", details: ["length": String(der.count)])
        }
        guard consumed == der.count else {
            EVP_PKEY_free(key)
            throw LedgerError(.rsaKeyEncoding, "\(what) DER has \(der.count - consumed) trailing bytes",
                              details: ["trailing": String(der.count - consumed)])
        }
        return key
    }
}

/// PEM armour (RFC 7468) in Swift: no BIO, no passphrase callback.
enum RSAPEM {
    static func encode(_ der: [UInt8], label: String) -> String {
        let b64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(b64)\n-----END \(label)-----\n"
    }

    static func decode(_ pem: String, label: String) throws(LedgerError) -> [UInt8] {
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        guard let b = pem.range(of: begin), let e = pem.range(of: end, range: b.upperBound..<pem.endIndex) else {
            throw LedgerError(.rsaKeyEncoding, "PEM does not contain a '\(label)' block", details: ["label": label])
        }
        let body = pem[b.upperBound..<e.lowerBound].filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(body)) else {
            throw LedgerError(.rsaKeyEncoding, "PEM '\(label)' block is not valid base64", details: ["label": label])
        }
        return [UInt8](data)
    }
}
