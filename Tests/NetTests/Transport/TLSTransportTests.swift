import Foundation
import LedgerCore
@testable import Net
import Testing

/// Mutual TLS between nodes: a link comes up only between holders of certificates from the consortium's CA whose
/// common names match the nodes their hellos claim; another CA, an expired certificate or a certificate of another
/// node is refused at the handshake with the reason logged.
@Suite(.serialized, .timeLimit(.minutes(3))) struct TLSTransportTests {
    typealias Captured = TCPTransportTests.Captured

    struct Consortium {
        let caKey: PrivateKey
        let ca: X509Certificate
        init(_ name: String = "Plant consortium CA") throws {
            caKey = try PrivateKey.generate(.p256)
            ca = try X509Certificate.authority(commonName: name, key: caKey, validFor: 86_400)
        }
        func identity(_ node: NodeID, name: String? = nil, validFor: Int64 = 86_400, now: Int64? = nil) throws -> TCPTransport.TLS {
            let key = try PrivateKey.generate(.p256)
            let certificate = try X509Certificate.issue(commonName: name ?? TCPTransport.TLS.commonName(of: node), publicKey: key.publicKey,
                                                        issuer: ca, issuerKey: caKey, validFor: validFor, now: now)
            return TCPTransport.TLS(authority: ca, certificate: certificate, key: key)
        }
    }

    func configuration(_ node: NodeID, peers: [NodeID: TCPTransport.Endpoint], tls: TCPTransport.TLS, log: Captured) -> TCPTransport.Configuration {
        var c = TCPTransportTests().configuration(node, peers: peers, log: log)
        c.tls = tls
        return c
    }

    /// Node 1 listening with `server`, node 0 dialling it with `client`; returns both once the outcome is known.
    func link(server: TCPTransport.TLS, client: TCPTransport.TLS, log: Captured,
              until done: @escaping @Sendable ([String]) -> Bool) async throws -> (TCPTransport, TCPTransport) {
        let b = try await TCPTransport.start(configuration(1, peers: [0: .init(host: "127.0.0.1", port: 1)], tls: server, log: log))
        let a = try await TCPTransport.start(configuration(0, peers: [1: .init(host: "127.0.0.1", port: b.port)], tls: client, log: log))
        _ = await TCPTransportTests().eventually { done(log.lines) }
        return (a, b)
    }

    @Test func certificatesFromTheConsortiumLinkAndCarryMessages() async throws {
        let consortium = try Consortium()
        let log = Captured()
        let (a, b) = try await link(server: try consortium.identity(1), client: try consortium.identity(0), log: log) { lines in
            lines.filter { $0.contains("link up") }.count >= 2
        }
        #expect(await a.connectedPeers() == [1])
        #expect(await b.connectedPeers() == [0])
        var incoming = b.events.makeAsyncIterator()
        #expect(await incoming.next() == .connected(0))
        try await a.send(Array("over TLS".utf8), to: 1)
        #expect(await incoming.next() == .message(from: 0, bytes: Array("over TLS".utf8)))
        for t in [a, b] { await t.close() }
    }

    @Test func anotherCAAnExpiredCertificateOrAnotherNodesCertificateIsRefused() async throws {
        let consortium = try Consortium()
        let outsider = try Consortium("Someone else's CA")

        // A client whose certificate another CA issued.
        var log = Captured()
        var (a, b) = try await link(server: try consortium.identity(1), client: try outsider.identity(0).with(authority: consortium.ca), log: log) {
            $0.contains { $0.contains("link refused") }
        }
        #expect(log.lines.contains { $0.contains("link refused") })
        #expect(await b.connectedPeers().isEmpty)
        #expect(await a.connectedPeers().isEmpty)
        for t in [a, b] { await t.close() }

        // An expired certificate (valid for a day, two days ago).
        log = Captured()
        let twoDaysAgo = Int64(Date().timeIntervalSince1970) - 2 * 86_400
        (a, b) = try await link(server: try consortium.identity(1), client: try consortium.identity(0, validFor: 86_400, now: twoDaysAgo), log: log) {
            $0.contains { $0.contains("link refused") }
        }
        #expect(log.lines.contains { $0.contains("link refused") })
        #expect(await b.connectedPeers().isEmpty)
        for t in [a, b] { await t.close() }

        // Node 0 presenting node 2's certificate.
        log = Captured()
        (a, b) = try await link(server: try consortium.identity(1), client: try consortium.identity(0, name: TCPTransport.TLS.commonName(of: 2)), log: log) {
            $0.contains { $0.contains("names 'forgechain-node-2', its hello node 0") }
        }
        #expect(log.lines.contains { $0.contains("names 'forgechain-node-2', its hello node 0") })
        #expect(await b.connectedPeers().isEmpty)
        for t in [a, b] { await t.close() }
    }

    @Test func certificatesRoundTripAndSayWhoSignedThem() throws {
        let consortium = try Consortium()
        let identity = try consortium.identity(3)
        let cert = identity.certificate
        #expect(cert.commonName == "forgechain-node-3" && !cert.isAuthority && consortium.ca.isAuthority)
        let other = try Consortium().ca
        #expect(cert.isSigned(by: consortium.ca) && !cert.isSigned(by: other))
        #expect(cert.publicKeyDER == identity.key.publicKey.derRepresentation)
        #expect(cert.notAfter - cert.notBefore == 86_400 + 60)
        #expect(try X509Certificate(pemRepresentation: cert.pemRepresentation) == cert)
        let garbage = #expect(throws: LedgerError.self) { _ = try X509Certificate(derRepresentation: [0x30, 0x03, 0x02, 0x01, 0x01]) }
        #expect(garbage?.code == .certificateEncoding)
        let wrongKey = #expect(throws: LedgerError.self) {
            _ = try X509Certificate.issue(commonName: "x", publicKey: identity.key.publicKey, issuer: consortium.ca, issuerKey: identity.key, validFor: 60)
        }
        #expect(wrongKey?.code == .certificateIssuerKey)
        let badName = #expect(throws: LedgerError.self) { _ = try X509Certificate.authority(commonName: "", key: consortium.caKey, validFor: 60) }
        #expect(badName?.code == .certificateRequest)
        // Subject alternative names (what HTTPS clients match the host against): in the certificate, and only
        // well-formed ones accepted (nothing OpenSSL's configuration syntax would read as another value).
        let served = try X509Certificate.issue(commonName: "gateway", publicKey: identity.key.publicKey, issuer: consortium.ca,
                                               issuerKey: consortium.caKey, validFor: 60, subjectAltNames: ["DNS:plant.example", "IP:127.0.0.1"])
        let der = served.derRepresentation
        func contains(_ needle: [UInt8]) -> Bool { der.indices.dropLast(needle.count - 1).contains { Array(der[$0..<$0 + needle.count]) == needle } }
        #expect(contains([0x06, 0x03, 0x55, 0x1D, 0x11]) && contains(Array("plant.example".utf8)) && contains([0x87, 0x04, 127, 0, 0, 1]))
        for bad in [["plant.example"], ["DNS:a,DNS:b"], ["DNS:bad host"], ["IP:300.1.1.1"], ["DNS:-x.example"], Array(repeating: "DNS:a", count: 17)] {
            let refused = #expect(throws: LedgerError.self) {
                _ = try X509Certificate.issue(commonName: "gateway", publicKey: identity.key.publicKey, issuer: consortium.ca,
                                              issuerKey: consortium.caKey, validFor: 60, subjectAltNames: bad)
            }
            #expect(refused?.code == .certificateRequest && refused?.details["field"] == "subjectAltNames", "\(bad)")
        }
        let plain = try X509Certificate.issue(commonName: "x", publicKey: identity.key.publicKey, issuer: consortium.ca, issuerKey: consortium.caKey, validFor: 60)
        #expect(!plain.derRepresentation.indices.dropLast(4).contains { Array(plain.derRepresentation[$0..<$0 + 5]) == [0x06, 0x03, 0x55, 0x1D, 0x11] })
    }
}

extension TCPTransport.TLS {
    /// The same identity trusting `authority` instead.
    func with(authority: X509Certificate) -> TCPTransport.TLS {
        TCPTransport.TLS(authority: authority, certificate: certificate, key: key)
    }
}
