import Foundation
import Testing
@testable import LedgerCore

/// Seeded random and mutated inputs for every key and signature decoder:
/// each must either decode or throw a `LedgerError`, never trap. Inputs that
/// decode must satisfy the decoder's invariants (strict DER re-encodes to
/// the same bytes; public keys are canonical).
struct SignatureFuzzTests {
    static let seeds: [UInt64] = [1, 2, 3, 0x5eed_f00d]

    private static func randomBytes(_ rng: inout SplitMix64, maxLength: Int) -> [UInt8] {
        (0..<Int.random(in: 0...maxLength, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Flips, inserts, deletes or truncates a few bytes.
    private static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !b.isEmpty:
                b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            case 1:
                b.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...b.count, using: &rng))
            case 2 where !b.isEmpty:
                b.remove(at: Int.random(in: 0..<b.count, using: &rng))
            default:
                b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
            }
        }
        return b
    }

    @Test(arguments: seeds)
    func randomBytesNeverCrashAnyDecoder(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var decoded = 0
        for _ in 0..<1_500 {
            let bytes = Self.randomBytes(&rng, maxLength: 96)
            for scheme in SignatureScheme.allCases {
                if (try? Signature(scheme: scheme, rawRepresentation: bytes)) != nil { decoded += 1 }
                if scheme.isECDSAFamily, let sig = try? Signature(scheme: scheme, derRepresentation: bytes) {
                    #expect(sig.derRepresentation == bytes, "accepted DER must be canonical: \(Hex.encode(bytes))")
                }
                if let key = try? PublicKey(scheme: scheme, rawRepresentation: bytes) {
                    #expect(key.rawRepresentation.count == scheme.publicKeyLength)
                }
                _ = try? PrivateKey(scheme: scheme, rawRepresentation: bytes)
            }
            _ = try? PublicKey(derRepresentation: bytes)
            _ = try? PrivateKey(derRepresentation: bytes)
            let text = String(decoding: bytes, as: UTF8.self)
            _ = try? PublicKey(pemRepresentation: "-----BEGIN PUBLIC KEY-----\n\(text)\n-----END PUBLIC KEY-----\n")
            _ = try? PrivateKey(pemRepresentation: "-----BEGIN PRIVATE KEY-----\n\(Data(bytes).base64EncodedString())\n-----END PRIVATE KEY-----\n")
        }
        // 64 random bytes are a valid-looking Ed25519 signature 1/16 of the time.
        #expect(decoded > 0)
    }

    @Test(arguments: seeds)
    func mutatedValidEncodingsNeverCrashAndOnlyThrowLedgerError(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var samples: [(SignatureScheme, sig: [UInt8], der: [UInt8]?, spki: [UInt8], pkcs8: [UInt8], pem: String)] = []
        for scheme in SignatureScheme.allCases {
            let key = try PrivateKey.generate(scheme)
            let sig = try key.signature(for: [1, 2, 3])
            samples.append((scheme, sig.rawRepresentation, sig.derRepresentation, key.publicKey.derRepresentation,
                            key.derRepresentation, key.publicKey.pemRepresentation))
        }
        var errors: [LedgerError.Code: Int] = [:]
        func attempt(_ body: () throws(LedgerError) -> Void) {
            do { try body() } catch { errors[error.code, default: 0] += 1 }
        }
        for _ in 0..<600 {
            for s in samples {
                let raw = Self.mutate(s.sig, &rng)
                attempt { () throws(LedgerError) in _ = try Signature(scheme: s.0, rawRepresentation: raw) }
                if let der = s.der {
                    let m = Self.mutate(der, &rng)
                    attempt { () throws(LedgerError) in
                        let sig = try Signature(scheme: s.0, derRepresentation: m)
                        #expect(sig.derRepresentation == m, "accepted DER must be canonical: \(Hex.encode(m))")
                    }
                }
                let spki = Self.mutate(s.spki, &rng)
                attempt { () throws(LedgerError) in _ = try PublicKey(derRepresentation: spki) }
                let pkcs8 = Self.mutate(s.pkcs8, &rng)
                attempt { () throws(LedgerError) in _ = try PrivateKey(derRepresentation: pkcs8) }
                let pem = String(decoding: Self.mutate(Array(s.pem.utf8), &rng), as: UTF8.self)
                attempt { () throws(LedgerError) in _ = try PublicKey(pemRepresentation: pem) }
            }
        }
        let allowed: Set<LedgerError.Code> = [.malformedSignature, .nonCanonicalSignature, .invalidPublicKey,
                                              .invalidPrivateKey, .keyEncoding, .schemeMismatch]
        #expect(Set(errors.keys).isSubset(of: allowed), "unexpected codes \(errors)")
        #expect((errors[.keyEncoding] ?? 0) > 100)
        #expect((errors[.malformedSignature] ?? 0) > 100)
    }

    @Test func derDecoderFedByteByByteRejectsEveryPrefix() throws {
        let sig = try PrivateKey.generate(.p256).signature(for: [9])
        let der = try #require(sig.derRepresentation)
        for length in 0..<der.count {
            let prefix = Array(der.prefix(length))
            #expect(thrownCode { () throws(LedgerError) in _ = try Signature(scheme: .p256, derRepresentation: prefix) } == .malformedSignature)
        }
        #expect(try Signature(scheme: .p256, derRepresentation: der) == sig)
    }
}
