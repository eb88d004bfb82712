import Foundation
import LedgerCrypto

/// Namespaces the per-family Wycheproof handlers.
enum WycheproofHandlers {
    /// Handlers for the AEAD, IND-CPA (CBC), MAC and PBKDF schemas.
    ///
    /// Several files share one schema (`aead_test_schema_v1.json` for AES-GCM
    /// and SM4-GCM, `mac_test_schema_v1.json` for HMACSHA256 and HMACSM3,
    /// `pbkdf_test_schema.json` for PBKDF2-HMACSHA1 and -HMACSHA256), and the
    /// runner copies the file's `algorithm` into every group as
    /// `group["algorithm"]`; without it the default is AES-GCM / HMACSHA256 /
    /// PBKDF2-HMACSHA256.
    ///
    /// Policy for `acceptable` tests: none occur in these files.
    static let symmetric: [String: WycheproofRunner.Handler] = [
        "aead_test_schema_v1.json": aead,
        "ind_cpa_test_schema_v1.json": indCpa,
        "mac_test_schema_v1.json": mac,
        "pbkdf_test_schema.json": pbkdf,
    ]

    static func algorithm(_ group: [String: Any], default fallback: String) -> String {
        (group["algorithm"] as? String) ?? fallback
    }

    /// Accepts when decryption yields `msg` and sealing `msg` yields `ct ‖ tag`.
    static let aead: WycheproofRunner.Handler = { group, test in
        let name = algorithm(group, default: "AES-GCM")
        let key = try WycheproofField.hex(test, "key")
        let cipher: SymmetricCipher
        switch (name, key.count) {
        case ("SM4-GCM", _): cipher = .sm4GCM
        case ("AES-GCM", 16): cipher = .aes128GCM
        case ("AES-GCM", 24): cipher = .aes192GCM
        case ("AES-GCM", 32): cipher = .aes256GCM
        default: return false
        }
        let iv = try WycheproofField.hex(test, "iv"), aad = try WycheproofField.hex(test, "aad")
        let msg = try WycheproofField.hex(test, "msg"), ct = try WycheproofField.hex(test, "ct")
        let tag = try WycheproofField.hex(test, "tag")
        let k = SymmetricKey(bytes: key)
        let opened = try cipher.open(.init(nonce: iv, ciphertext: ct, tag: tag), using: k, authenticating: aad)
        guard opened == msg else { return false }
        let sealed = try cipher.seal(msg, using: k, nonce: iv, authenticating: aad, tagLength: tag.count)
        return sealed.ciphertext == ct && sealed.tag == tag
    }

    /// AES-CBC with PKCS#7: accepts when decryption yields `msg` and
    /// encryption of `msg` yields `ct`.
    static let indCpa: WycheproofRunner.Handler = { group, test in
        let key = try WycheproofField.hex(test, "key")
        let cipher: SymmetricCipher
        switch key.count {
        case 16: cipher = .aes128CBC
        case 24: cipher = .aes192CBC
        case 32: cipher = .aes256CBC
        default: return false
        }
        let iv = try WycheproofField.hex(test, "iv"), msg = try WycheproofField.hex(test, "msg")
        let ct = try WycheproofField.hex(test, "ct")
        let k = SymmetricKey(bytes: key)
        guard try cipher.decrypt(ct, using: k, iv: iv) == msg else { return false }
        return try cipher.encrypt(msg, using: k, iv: iv).ciphertext == ct
    }

    /// HMAC: accepts when `tag` (possibly truncated to the group's
    /// `tagSize`) verifies.
    static let mac: WycheproofRunner.Handler = { group, test in
        let algorithm = try HMAC.Algorithm(name: algorithm(group, default: "HMACSHA256"))
        let tagBytes = try WycheproofField.int(group, "tagSize") / 8
        let tag = try WycheproofField.hex(test, "tag")
        guard tag.count == tagBytes else { return false }
        return HMAC.isValidAuthenticationCode(tag, for: try WycheproofField.hex(test, "msg"),
                                              key: try WycheproofField.hex(test, "key"),
                                              algorithm: algorithm, minimumLength: tagBytes)
    }

    /// PBKDF2: accepts when the derived key equals `dk`.
    static let pbkdf: WycheproofRunner.Handler = { group, test in
        let prf: PBKDF2.PseudoRandomFunction
        switch algorithm(group, default: "PBKDF2-HMACSHA256") {
        case "PBKDF2-HMACSHA1": prf = .hmacSHA1
        case "PBKDF2-HMACSHA256": prf = .hmacSHA256
        case "PBKDF2-HMACSHA512": prf = .hmacSHA512
        default: return false
        }
        let dk = try PBKDF2.deriveKey(password: try WycheproofField.hex(test, "password"),
                                      salt: try WycheproofField.hex(test, "salt"),
                                      iterations: try WycheproofField.int(test, "iterationCount"),
                                      keyLength: try WycheproofField.int(test, "dkLen"), prf: prf)
        return dk == (try WycheproofField.hex(test, "dk"))
    }
}
