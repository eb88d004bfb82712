import COpenSSL
import Foundation

/// An X.509 v3 certificate (RFC 5280), as the nodes of a consortium carry them for mutual TLS: a self-signed
/// consortium CA, and node certificates it issues, each naming its node in the subject's common name.
///
/// Made and read with OpenSSL; the TLS layer (swift-nio-ssl) checks chains, validity and signatures during the
/// handshake, and ``commonName`` tells which node a verified peer is.
///
/// ```swift
/// let caKey = try PrivateKey.generate(.p256)
/// let ca = try X509Certificate.authority(commonName: "Plant consortium CA", key: caKey, validFor: 3650 * 86_400)
/// let nodeKey = try PrivateKey.generate(.p256)
/// let node = try X509Certificate.issue(commonName: "forgechain-node-2", publicKey: nodeKey.publicKey,
///                                      issuer: ca, issuerKey: caKey, validFor: 365 * 86_400)
/// ```
public struct X509Certificate: Hashable, Sendable {
    /// The DER encoding.
    public let derRepresentation: [UInt8]
    /// The subject's common name (empty when it has none).
    public let commonName: String
    /// The start of the validity period, seconds since 1970.
    public let notBefore: Int64
    /// The end of the validity period, seconds since 1970.
    public let notAfter: Int64
    /// Whether the certificate is a CA's (basicConstraints CA:TRUE).
    public let isAuthority: Bool
    /// The certified public key as DER SubjectPublicKeyInfo.
    public let publicKeyDER: [UInt8]

    /// Parses a DER certificate.
    /// - Throws: `LedgerError` `.certificateEncoding` (1303) when the bytes are not exactly one certificate.
    public init(derRepresentation der: [UInt8]) throws(LedgerError) {
        var cn = [CChar](repeating: 0, count: 256)
        var notBefore: Int64 = 0, notAfter: Int64 = 0
        var isCA: Int32 = 0
        var spki: UnsafeMutablePointer<UInt8>?
        var spkiLength: Int32 = 0
        let ok = der.withUnsafeBufferPointer { d in
            fc_x509_read(d.baseAddress, der.count, &cn, Int32(cn.count), &notBefore, &notAfter, &isCA, &spki, &spkiLength)
        }
        defer { if let spki { fc_openssl_free(spki) } }
        guard ok == 1, let spki, spkiLength > 0 else {
            ERR_clear_error()
            throw LedgerError(.certificateEncoding, "not a DER X.509 certificate")
        }
        derRepresentation = der
        commonName = String(decoding: cn.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.notBefore = notBefore
        self.notAfter = notAfter
        isAuthority = isCA == 1
        publicKeyDER = Array(UnsafeBufferPointer(start: spki, count: Int(spkiLength)))
    }

    /// Parses a PEM `CERTIFICATE` block.
    /// - Throws: `LedgerError` `.certificateEncoding` (1303).
    public init(pemRepresentation: String) throws(LedgerError) {
        try self.init(derRepresentation: try PEM.decode(pemRepresentation, label: "CERTIFICATE"))
    }

    /// The PEM `CERTIFICATE` block.
    public var pemRepresentation: String { PEM.encode(derRepresentation, label: "CERTIFICATE") }

    /// Whether `issuer`'s key signed this certificate (the signature only: validity and names are the TLS
    /// layer's to check).
    public func isSigned(by issuer: X509Certificate) -> Bool {
        derRepresentation.withUnsafeBufferPointer { c in
            issuer.derRepresentation.withUnsafeBufferPointer { i in
                fc_x509_signed_by(c.baseAddress, c.count, i.baseAddress, i.count) == 1
            }
        }
    }

    /// A self-signed CA certificate for `key`.
    /// - Parameters:
    ///   - commonName: Required. 1–64 characters.
    ///   - key: Required. A P-256, secp256k1 or Ed25519 key (TLS peers commonly accept P-256 only).
    ///   - validFor: Required. Seconds from `now`; at least 1.
    ///   - now: Optional, default the current time. The start of validity, seconds since 1970.
    /// - Throws: `LedgerError` `.certificateRequest` (1371) for a bad name or period, `.cryptoBackend` (1404).
    public static func authority(commonName: String, key: PrivateKey, validFor: Int64, now: Int64? = nil) throws(LedgerError) -> X509Certificate {
        try make(commonName: commonName, publicKey: key.publicKey, issuer: nil, issuerKey: key, validFor: validFor, now: now, authority: true)
    }

    /// A certificate for `publicKey`, issued by the CA `issuer` with its key `issuerKey`.
    /// - Parameters:
    ///   - commonName: Required. 1–64 characters; for a node, `forgechain-node-<id>`.
    ///   - publicKey: Required. The subject's key.
    ///   - issuer: Required. A CA certificate (``authority(commonName:key:validFor:now:)``).
    ///   - issuerKey: Required. The CA's private key.
    ///   - validFor: Required. Seconds from `now`; may be negative with a `now` in the past (an expired certificate).
    ///   - now: Optional, default the current time.
    ///   - subjectAltNames: Optional, default none. Host names and addresses a TLS server answers for, as
    ///     `DNS:name` (letters, digits, `-`, `.`, a leading `*.`) or `IP:address` (IPv4 or IPv6), at most 16: HTTPS
    ///     clients match the host they dialled against these (Python's and browsers' ignore the common name).
    /// - Throws: `LedgerError` `.certificateRequest` (1371; `details["field"]` `subjectAltNames` for a bad name),
    ///   `.certificateIssuerKey` (1372) when `issuerKey` is not the issuer's key, `.cryptoBackend` (1404).
    /// - Note: Example: `try X509Certificate.issue(commonName: "gateway", publicKey: key.publicKey, issuer: ca,
    ///   issuerKey: caKey, validFor: 86_400, subjectAltNames: ["DNS:localhost", "IP:127.0.0.1"])`.
    public static func issue(commonName: String, publicKey: PublicKey, issuer: X509Certificate, issuerKey: PrivateKey,
                             validFor: Int64, now: Int64? = nil, subjectAltNames: [String] = []) throws(LedgerError) -> X509Certificate {
        guard issuerKey.publicKey.derRepresentation == issuer.publicKeyDER else {
            throw LedgerError(.certificateIssuerKey, "the issuer key is not the key of the issuer certificate '\(issuer.commonName)'")
        }
        return try make(commonName: commonName, publicKey: publicKey, issuer: issuer, issuerKey: issuerKey, validFor: validFor, now: now,
                        authority: false, subjectAltNames: subjectAltNames)
    }

    /// Whether `name` is `DNS:` a host name or `IP:` an address (nothing OpenSSL's configuration syntax would read
    /// as more than one value).
    static func isSubjectAltName(_ name: String) -> Bool {
        if name.hasPrefix("IP:") {
            let address = String(name.dropFirst(3))
            var v4 = in_addr(), v6 = in6_addr()
            return inet_pton(AF_INET, address, &v4) == 1 || inet_pton(AF_INET6, address, &v6) == 1
        }
        guard name.hasPrefix("DNS:") else { return false }
        var host = Substring(name.dropFirst(4))
        if host.hasPrefix("*.") { host = host.dropFirst(2) }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return (1...253).contains(host.utf8.count) && labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D }
        }
    }

    private static func make(commonName: String, publicKey: PublicKey, issuer: X509Certificate?, issuerKey: PrivateKey,
                             validFor: Int64, now: Int64?, authority: Bool, subjectAltNames: [String] = []) throws(LedgerError) -> X509Certificate {
        guard (1...64).contains(commonName.utf8.count), !commonName.utf8.contains(0) else {
            throw LedgerError(.certificateRequest, "certificate common name must be 1-64 bytes", details: ["field": "commonName"])
        }
        guard subjectAltNames.count <= 16, subjectAltNames.allSatisfy(isSubjectAltName) else {
            throw LedgerError(.certificateRequest, "certificate subject alternative names must be at most 16 'DNS:host' or 'IP:address' entries",
                              details: ["field": "subjectAltNames"])
        }
        let altNames = subjectAltNames.joined(separator: ",")
        let start = now ?? Int64(Date().timeIntervalSince1970)
        // Back-date by a minute so that peers with slightly late clocks accept a new certificate.
        let notBefore = start - 60
        let notAfter = start + validFor
        guard notAfter > notBefore else { throw LedgerError(.certificateRequest, "certificate validity is empty", details: ["field": "validFor"]) }
        let spki = publicKey.derRepresentation
        let pkcs8 = issuerKey.derRepresentation
        let serial = Int64(bitPattern: UInt64.random(in: 1...UInt64(Int64.max)))
        var length: Int32 = 0
        let der: UnsafeMutablePointer<UInt8>? = spki.withUnsafeBufferPointer { s in
            pkcs8.withUnsafeBufferPointer { k in
                if let issuer {
                    issuer.derRepresentation.withUnsafeBufferPointer { i in
                        fc_x509_issue(s.baseAddress, s.count, k.baseAddress, k.count, i.baseAddress, i.count, commonName, serial,
                                      notBefore, notAfter, authority ? 1 : 0, altNames, &length)
                    }
                } else {
                    fc_x509_issue(s.baseAddress, s.count, k.baseAddress, k.count, nil, 0, commonName, serial, notBefore, notAfter,
                                  authority ? 1 : 0, altNames, &length)
                }
            }
        }
        guard let der, length > 0 else {
            ERR_clear_error()
            throw LedgerError(.cryptoBackend, "OpenSSL could not issue the certificate '\(commonName)'")
        }
        defer { fc_openssl_free(der) }
        return try X509Certificate(derRepresentation: Array(UnsafeBufferPointer(start: der, count: Int(length))))
    }
}

// X.509 certificates (1370–1379).
extension LedgerError.Code {
    /// Bytes or text that are not exactly one X.509 certificate in DER (or a PEM `CERTIFICATE` block).
    public static let certificateEncoding = Self(rawValue: 1370)
    /// A certificate cannot be made as asked: a common name outside 1–64 bytes, or an empty validity period;
    /// `details["field"]` names it.
    public static let certificateRequest = Self(rawValue: 1371)
    /// The key given to sign a certificate is not the key of the issuer certificate.
    public static let certificateIssuerKey = Self(rawValue: 1372)
}
