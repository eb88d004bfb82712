import Foundation
import Testing
import LedgerCore

/// GB/T 32918.5-2016 Annex C (SM2 encryption on sm2p256v1) from
/// `crypto/standards/sm2-vectors.json`. Encryption draws a random `k`, so the
/// published ciphertext cannot be reproduced through the API; instead the
/// published GM/T 0009 DER ciphertext must decrypt to the published
/// plaintext, and the DER form must be exactly the C1/C3/C2 parts.
@Suite(.conformanceVectors) struct SM2EncryptionConformanceTests {
    static func vectors() throws -> [[String: Any]] {
        let root = try #require(try JSONSerialization.jsonObject(with: ConformancePaths.data("crypto/standards/sm2-vectors.json")) as? [String: Any])
        return try #require(root["encryption"] as? [[String: Any]])
    }

    static func hex(_ v: [String: Any], _ field: String) throws -> [UInt8] {
        try Hex.decode(try #require(v[field] as? String, "field \(field)"))
    }

    /// DER INTEGER of a non-negative big-endian value (minimal, with a 0x00
    /// pad when the top bit is set), for rebuilding GM/T 0009 from parts.
    static func derInteger(_ bytes: [UInt8]) -> [UInt8] {
        var v = Array(bytes.drop { $0 == 0 })
        if v.isEmpty { v = [0] }
        if v[0] & 0x80 != 0 { v.insert(0, at: 0) }
        return [0x02] + derLength(v.count) + v
    }

    static func derLength(_ n: Int) -> [UInt8] {
        n < 0x80 ? [UInt8(n)] : (n < 0x100 ? [0x81, UInt8(n)] : [0x82, UInt8(n >> 8), UInt8(n & 0xFF)])
    }

    @Test func annexCDERCiphertextDecryptsToThePublishedPlaintext() throws {
        let vectors = try Self.vectors()
        var checked = 0
        for v in vectors {
            #expect((v["curve"] as? String) == "sm2p256v1")
            let key = try PrivateKey(scheme: .sm2, rawRepresentation: Self.hex(v, "private_key"))
            let plaintext = Array(try #require(v["message_ascii"] as? String).utf8)
            let der = try Self.hex(v, "der_gmt0009")

            // The DER form is SEQUENCE { x1, y1, C3, C2 } of the published parts.
            let c1x = try Self.hex(v, "c1_x"), c1y = try Self.hex(v, "c1_y")
            let c3 = try Self.hex(v, "c3_sm3"), c2 = try Self.hex(v, "c2")
            #expect(c2.count == plaintext.count)
            let body = Self.derInteger(c1x) + Self.derInteger(c1y) + [0x04] + Self.derLength(c3.count) + c3
                + [0x04] + Self.derLength(c2.count) + c2
            #expect([0x30] + Self.derLength(body.count) + body == der, "der_gmt0009 is C1x, C1y, C3, C2 in GM/T 0009 order")

            #expect(try ECIES.decrypt(der, with: key) == plaintext)

            // Flipping any single bit region (C1, C3, C2) of the vector fails.
            for index in [der.count - 1, der.count - c2.count - 3, 10] {
                var bad = der
                bad[index] ^= 1
                #expect(throws: LedgerError.self) { _ = try ECIES.decrypt(bad, with: key) }
            }
            // Another key cannot decrypt it.
            let other = try PrivateKey.generate(.sm2)
            #expect(throws: LedgerError.self) { _ = try ECIES.decrypt(der, with: other) }
            // Our own encryption of the same message to the vector's key round-trips.
            let own = try ECIES.encrypt(plaintext, to: key.publicKey)
            #expect(own != der, "random k")
            #expect(try ECIES.decrypt(own, with: key) == plaintext)
            checked += 1
        }
        #expect(checked == 1)
    }
}
