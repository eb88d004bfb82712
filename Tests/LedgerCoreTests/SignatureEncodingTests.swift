import Foundation
import Testing
@testable import LedgerCore
@testable import LedgerCrypto

/// Raw, DER and PEM encodings of keys and signatures, including keys and
/// signatures made by the `openssl` 3.0 command line.
struct SignatureEncodingTests {
    // `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`, then
    // `openssl pkey -pubout` and `openssl dgst -sha256 -sign` over "forgechain interop".
    static let opensslP256 = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWbr2dZZJAhqhq1PS
        4enXIH+DRR5+yOV3t6D6j5NbY52hRANCAASRUfKOqYG2152XJZfd2840QrvFdF4Z
        jc3103/gpjlYGsxGQLIzj34/aisRhH4OeJ/djKXUgTERNdOtXMTUpt3g
        -----END PRIVATE KEY-----

        """
    static let opensslP256Public = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkVHyjqmBttedlyWX3dvONEK7xXRe
        GY3N9dN/4KY5WBrMRkCyM49+P2orEYR+Dnif3Yyl1IExETXTrVzE1Kbd4A==
        -----END PUBLIC KEY-----

        """
    static let opensslP256Scalar = "59baf6759649021aa1ab53d2e1e9d7207f83451e7ec8e577b7a0fa8f935b639d"
    static let opensslP256Signature = "3045022100a284cdaf61ac6e5849fc3a897476d8140fbe86e68b39344f4dff17ec841ac1ff02207b324a507de77215ae088fd841eb40b812197d50a1cc16fcd42012a4b85754f8"

    // `openssl genpkey -algorithm SM2`; signed with
    // `openssl dgst -sm3 -sign k.pem -sigopt distid:1234567812345678`.
    static let opensslSM2 = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQg5bIpDglQ5BpIIUHI
        wOP+pnVClRa6MOrJURSInEXDRkihRANCAAQMqgKmgTOfB6lCEjBsDccrzBwAD1je
        g1nWMNrXi6PQVmtSOWge9SiOqXvHqsZ4mXtDdWExfqlSi4ysSMF9rRmO
        -----END PRIVATE KEY-----

        """
    static let opensslSM2Public = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEDKoCpoEznwepQhIwbA3HK8wcAA9Y
        3oNZ1jDa14uj0FZrUjloHvUojql7x6rGeJl7Q3VhMX6pUouMrEjBfa0Zjg==
        -----END PUBLIC KEY-----

        """
    static let opensslSM2Signature = "3046022100b841af01a86ccea10098542ef575c4ec6abfcbb7333b6446ac9a6daedd875052022100881cc4c39829136028a5d22f0968497363028818a4e757ca3c70550caaec0151"

    static let opensslSecp256k1 = """
        -----BEGIN PRIVATE KEY-----
        MIGEAgEAMBAGByqGSM49AgEGBSuBBAAKBG0wawIBAQQgtKoEBhwPP90L4sPPEVEk
        snotw9JVcJBhAKLoIi7ZBYKhRANCAAQz3PyM68sM9NEEW3bEOWWVEWEtxuSFykxE
        RScTOOJzm5BnlKKpAboyLWeZwgBgKT253ht6rCdPkPwpuJo2wGk2
        -----END PRIVATE KEY-----

        """
    static let opensslSecp256k1Public = """
        -----BEGIN PUBLIC KEY-----
        MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEM9z8jOvLDPTRBFt2xDlllRFhLcbkhcpM
        REUnEzjic5uQZ5SiqQG6Mi1nmcIAYCk9ud4beqwnT5D8KbiaNsBpNg==
        -----END PUBLIC KEY-----

        """
    static let opensslEd25519 = """
        -----BEGIN PRIVATE KEY-----
        MC4CAQAwBQYDK2VwBCIEIFbkod9pDrbeHcPRLigydlpUjgkSgBjXwdYX1kh14FKA
        -----END PRIVATE KEY-----

        """
    static let opensslEd25519Public = """
        -----BEGIN PUBLIC KEY-----
        MCowBQYDK2VwAyEAB16oUGAn9HJ/EbzONteylakFEUdTRhGIc6JGr5r4xEI=
        -----END PUBLIC KEY-----

        """

    static let interopMessage = Array("forgechain interop".utf8)

    @Test func opensslKeysImportAndReExportByteForByte() throws {
        let cases: [(String, String, SignatureScheme)] = [
            (Self.opensslP256, Self.opensslP256Public, .p256),
            (Self.opensslSM2, Self.opensslSM2Public, .sm2),
            (Self.opensslSecp256k1, Self.opensslSecp256k1Public, .secp256k1),
            (Self.opensslEd25519, Self.opensslEd25519Public, .ed25519),
        ]
        for (privatePEM, publicPEM, scheme) in cases {
            let key = try PrivateKey(pemRepresentation: privatePEM)
            #expect(key.scheme == scheme)
            #expect(key.pemRepresentation == privatePEM, "\(scheme) PKCS#8 differs from OpenSSL's")
            let pub = try PublicKey(pemRepresentation: publicPEM)
            #expect(pub == key.publicKey, "\(scheme) public key")
            #expect(pub.pemRepresentation == publicPEM, "\(scheme) SPKI differs from OpenSSL's")
        }
        #expect(try Hex.encode(PrivateKey(pemRepresentation: Self.opensslP256).rawRepresentation) == Self.opensslP256Scalar)
    }

    @Test func opensslDERSignaturesVerify() throws {
        let p256 = try PublicKey(pemRepresentation: Self.opensslP256Public)
        let sig = try Signature(scheme: .p256, derRepresentation: Hex.decode(Self.opensslP256Signature))
        #expect(sig.derRepresentation.map(Hex.encode) == Self.opensslP256Signature)
        #expect(p256.isValidSignature(sig, for: Self.interopMessage, requireLowS: false))
        #expect(p256.isValidSignature(sig.normalizedToLowS, for: Self.interopMessage))

        let sm2 = try PublicKey(pemRepresentation: Self.opensslSM2Public)
        let sm2Sig = try Signature(scheme: .sm2, derRepresentation: Hex.decode(Self.opensslSM2Signature))
        try sm2.verify(sm2Sig, for: Self.interopMessage)
        #expect(!sm2.isValidSignature(sm2Sig, for: Self.interopMessage + [0]))
    }

    @Test(arguments: SignatureScheme.allCases)
    func keysRoundTripThroughRawDERAndPEM(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        let fromRaw = try PrivateKey(scheme: scheme, rawRepresentation: key.rawRepresentation)
        let fromDER = try PrivateKey(derRepresentation: key.derRepresentation)
        let fromPEM = try PrivateKey(pemRepresentation: key.pemRepresentation)
        for k in [fromRaw, fromDER, fromPEM] {
            #expect(k.scheme == scheme)
            #expect(k.rawRepresentation == key.rawRepresentation)
            #expect(k.publicKey == key.publicKey)
        }
        let pub = key.publicKey
        #expect(pub.rawRepresentation.count == scheme.publicKeyLength)
        #expect(try PublicKey(derRepresentation: pub.derRepresentation) == pub)
        #expect(try PublicKey(pemRepresentation: pub.pemRepresentation) == pub)
        if let uncompressed = pub.uncompressedRepresentation {
            #expect(uncompressed.count == 65 && uncompressed[0] == 4)
            #expect(try PublicKey(scheme: scheme, rawRepresentation: uncompressed) == pub)
            #expect(Array(uncompressed[1..<33]) == Array(pub.rawRepresentation[1...]))
        } else {
            #expect(scheme == .ed25519)
        }
        #expect(!String(describing: key).contains(Hex.encode(key.rawRepresentation)), "description leaks the secret")
    }

    @Test(arguments: [SignatureScheme.p256, .sm2, .secp256k1])
    func signaturesRoundTripThroughRawAndStrictDER(scheme: SignatureScheme) throws {
        let key = try PrivateKey.generate(scheme)
        for i in 0..<16 {
            let sig = try key.signature(for: [UInt8(i)])
            let der = try #require(sig.derRepresentation)
            let decoded = try Signature(scheme: scheme, derRepresentation: der)
            #expect(decoded.compactRepresentation == sig.compactRepresentation)
            #expect(decoded.derRepresentation == der)
            #expect(try Signature(scheme: scheme, rawRepresentation: sig.rawRepresentation) == sig)
            #expect(key.publicKey.isValidSignature(decoded, for: [UInt8(i)]))
        }
    }

    @Test func ed25519HasNoDERSignatureForm() throws {
        let sig = try PrivateKey.generate(.ed25519).signature(for: [1])
        #expect(sig.derRepresentation == nil)
        #expect(thrownCode { () throws(LedgerError) in _ = try Signature(scheme: .ed25519, derRepresentation: [0x30, 0]) } == .schemeMismatch)
    }

    // MARK: - Strict DER

    static let r = "00a284cdaf61ac6e5849fc3a897476d8140fbe86e68b39344f4dff17ec841ac1ff"
    static let s = "7b324a507de77215ae088fd841eb40b812197d50a1cc16fcd42012a4b85754f8"

    @Test(arguments: [
        ("30450221" + r + "0220" + s + "00", "trailing byte"),
        ("3046" + "0221" + r + "0220" + s, "sequence length too long"),
        ("308145" + "0221" + r + "0220" + s, "long-form length below 128"),
        ("3080" + "0221" + r + "0220" + s + "0000", "indefinite length"),
        ("3046" + "0222" + "00" + r + "0220" + s, "r with an extra leading zero"),
        ("3046" + "0221" + r + "0221" + "00" + s, "s with a non-minimal leading zero"),
        ("3044" + "0220" + String(r.dropFirst(2)) + "0220" + s, "negative r"),
        ("3045" + "0221" + r + "0320" + s, "s tagged BIT STRING"),
        ("3145" + "0221" + r + "0220" + s, "SET instead of SEQUENCE"),
        ("3025" + "0221" + r, "missing s"),
        ("3006020100020101", "r = 0"),
        ("3000", "empty sequence"),
        ("", "empty input"),
    ])
    func strictDERDecoderRejectsNonDEREncodings(hex: String, reason: String) throws {
        let bytes = try Hex.decode(hex)
        #expect(thrownCode { () throws(LedgerError) in _ = try Signature(scheme: .p256, derRepresentation: bytes) } == .malformedSignature, "\(reason)")
    }

    @Test func strictDERDecoderAcceptsTheMinimalEncoding() throws {
        let sig = try Signature(scheme: .p256, derRepresentation: Hex.decode("30450221" + Self.r + "0220" + Self.s))
        #expect(Hex.encode(sig.rawRepresentation) == String(Self.r.dropFirst(2)) + Self.s)
    }

    // MARK: - Invalid keys and signatures

    @Test(arguments: [SignatureScheme.p256, .sm2, .secp256k1])
    func pointsOffTheCurveAndBadEncodingsAreRejected(scheme: SignatureScheme) throws {
        let pub = try PrivateKey.generate(scheme).publicKey
        var uncompressed = try #require(pub.uncompressedRepresentation)
        uncompressed[64] ^= 1   // y changed: off the curve
        var hybrid = try #require(pub.uncompressedRepresentation)
        hybrid[0] = 6
        let xEqualsP = [2] + [UInt8](repeating: 0xff, count: 32)  // x ≥ p
        for bad in [uncompressed, hybrid, xEqualsP, [0], [], Array(pub.rawRepresentation.dropLast()), [4] + [UInt8](repeating: 0, count: 64)] {
            #expect(thrownCode { () throws(LedgerError) in _ = try PublicKey(scheme: scheme, rawRepresentation: bad) } == .invalidPublicKey,
                    "\(Hex.encode(bad))")
        }
    }

    @Test(arguments: SignatureScheme.allCases)
    func outOfRangeScalarsAndWrongLengthsAreRejected(scheme: SignatureScheme) throws {
        var bad: [[UInt8]] = [[UInt8](repeating: 1, count: 31), [UInt8](repeating: 1, count: 33), []]
        if scheme != .ed25519 {
            let n = scheme.order
            bad += [[UInt8](repeating: 0, count: 32), n, [UInt8](repeating: 0xff, count: 32)]
        }
        if scheme == .sm2 {
            bad.append(CurveConstants.subtract(scheme.order, [UInt8](repeating: 0, count: 31) + [1]))  // n - 1
        }
        for raw in bad {
            #expect(thrownCode { () throws(LedgerError) in _ = try PrivateKey(scheme: scheme, rawRepresentation: raw) } == .invalidPrivateKey,
                    "\(Hex.encode(raw))")
        }
        // n - 1 is valid for the ECDSA schemes.
        if scheme == .p256 || scheme == .secp256k1 {
            let nMinus1 = CurveConstants.subtract(scheme.order, [UInt8](repeating: 0, count: 31) + [1])
            #expect(try PrivateKey(scheme: scheme, rawRepresentation: nMinus1).publicKey.rawRepresentation.count == 33)
        }
    }

    @Test(arguments: [SignatureScheme.p256, .sm2, .secp256k1])
    func signatureScalarsOutsideOneToNMinusOneAreRejected(scheme: SignatureScheme) throws {
        let n = scheme.order
        let one = [UInt8](repeating: 0, count: 31) + [1]
        let zero = [UInt8](repeating: 0, count: 32)
        for raw in [zero + one, one + zero, n + one, one + n, [UInt8](repeating: 0xff, count: 64), one + one + [2], [UInt8](repeating: 1, count: 63)] {
            let code = thrownCode { () throws(LedgerError) in _ = try Signature(scheme: scheme, rawRepresentation: raw) }
            #expect(code == .malformedSignature, "\(Hex.encode(raw))")
        }
    }

    @Test func pkcs8WithMismatchedEmbeddedPublicKeyIsRejected() throws {
        let a = try PrivateKey.generate(.p256)
        let b = try PrivateKey.generate(.p256)
        var der = a.derRepresentation
        let pubA = try #require(a.publicKey.uncompressedRepresentation)
        let pubB = try #require(b.publicKey.uncompressedRepresentation)
        // The uncompressed public key is the last 65 bytes.
        #expect(Array(der.suffix(65)) == pubA)
        der.replaceSubrange((der.count - 65)..., with: pubB)
        #expect(thrownCode { () throws(LedgerError) in _ = try PrivateKey(derRepresentation: der) } == .keyEncoding)
    }

    @Test func pemWithWrongLabelOrBadBase64IsRejected() throws {
        let key = try PrivateKey.generate(.p256)
        #expect(thrownCode { () throws(LedgerError) in _ = try PublicKey(pemRepresentation: key.pemRepresentation) } == .keyEncoding)
        let broken = key.pemRepresentation.replacingOccurrences(of: "M", with: "*")
        #expect(thrownCode { () throws(LedgerError) in _ = try PrivateKey(pemRepresentation: broken) } == .keyEncoding)
    }
}
