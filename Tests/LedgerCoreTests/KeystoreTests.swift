import Foundation
@testable import LedgerCrypto
import Testing

/// The passphrase keystore: entries round-trip, a wrong passphrase or an altered file is refused
/// with its code, a destroyed entry is gone from disk and from memory, rotation re-seals every
/// entry, and no secret byte is ever on disk in clear.
struct KeystoreTests {
    /// A fast scrypt cost for tests (the default is 2^15).
    static let fast = Keystore.Configuration(scryptLogN: 10)

    static func folder() throws -> TemporaryDirectory { try TemporaryDirectory() }

    @Test(arguments: [SymmetricCipher.aes256GCM, .sm4GCM])
    func entriesRoundTripAndAreNeverInClearOnDisk(cipher: SymmetricCipher) throws {
        let dir = try Self.folder()
        let keystore = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("plant-7 passphrase"),
                                    configuration: .init(cipher: cipher, scryptLogN: 10))
        let node = try PrivateKey.generate(.ed25519).rawRepresentation
        let data = SecureRandom.bytes(count: 32)
        try keystore.store(node, named: "node")
        try keystore.store(data, named: "data-key")
        #expect(try keystore.names() == ["data-key", "node"])
        // A second keystore on the same folder (a restart) opens both.
        let reopened = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("plant-7 passphrase"), configuration: Self.fast)
        #expect(try reopened.load("node").bytesCopy() == node)
        #expect(try reopened.load("data-key").bytesCopy() == data)
        // Files are 0600 in a 0700 folder, and hold neither secret in any form a scan would find.
        let folderMode = try FileManager.default.attributesOfItem(atPath: dir.path("keys"))[.posixPermissions] as? Int
        #expect(folderMode == 0o700)
        for name in ["node", "data-key"] {
            let path = dir.path("keys/\(name).key")
            #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
            let bytes = try #require(FileManager.default.contents(atPath: path))
            for secret in [node, data] {
                #expect(bytes.range(of: Data(secret)) == nil)
                #expect(bytes.range(of: Data(Hex.encode(secret).utf8)) == nil)
                #expect(bytes.range(of: Data(Data(secret).base64EncodedString().utf8)) == nil)
            }
            #expect(String(decoding: bytes, as: UTF8.self).contains(cipher.rawValue))
        }
    }

    @Test func aWrongPassphraseIsRefusedWithItsCode() throws {
        let dir = try Self.folder()
        try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("right"), configuration: Self.fast)
            .store([1, 2, 3], named: "node")
        let wrong = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("wrong"), configuration: Self.fast)
        let error = #expect(throws: LedgerError.self) { try wrong.load("node") }
        #expect(error?.code == .keystoreWrongPassphrase)
        #expect(error?.message.contains("wrong passphrase") == true)
        let missing = #expect(throws: LedgerError.self) { try wrong.load("genesis") }
        #expect(missing?.code == .keystoreEntryMissing)
        #expect((#expect(throws: LedgerError.self) { try Passphrase("") })?.code == .keystoreLocked)
        #expect((#expect(throws: LedgerError.self) { try Passphrase.environment("FORGECHAIN_TEST_UNSET_\(UUID().uuidString.prefix(8))") })?.code
            == .keystoreLocked)
        #expect((#expect(throws: LedgerError.self) { try Passphrase.file(dir.path("no-such-file")) })?.code == .keystoreLocked)
        try "from a file\n".write(toFile: dir.path("pass"), atomically: true, encoding: .utf8)
        let fromFile = try Keystore(directory: dir.path("other"), passphrase: try Passphrase.file(dir.path("pass")), configuration: Self.fast)
        try fromFile.store([9], named: "k")
        #expect(try Keystore(directory: dir.path("other"), passphrase: try Passphrase("from a file"), configuration: Self.fast)
            .load("k").bytesCopy() == [9])
    }

    /// The header is authenticated: lowering the KDF cost, renaming the entry or flipping a ciphertext
    /// byte fails like a wrong passphrase, never yields other bytes.
    @Test func anAlteredEntryDoesNotOpen() throws {
        let dir = try Self.folder()
        let keystore = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("p"), configuration: .init(scryptLogN: 11))
        try keystore.store(Array(repeating: 7, count: 32), named: "node")
        let path = dir.path("keys/node.key")
        let original = try #require(FileManager.default.contents(atPath: path))
        var json = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        var kdf = try #require(json["kdf"] as? [String: Any])
        kdf["log_n"] = 10
        json["kdf"] = kdf
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        #expect((#expect(throws: LedgerError.self) { try keystore.load("node") })?.code == .keystoreWrongPassphrase)
        var flipped = Array(original)
        let ciphertextAt = try #require(String(decoding: original, as: UTF8.self).range(of: "\"ciphertext\":\""))
        let index = String(decoding: original, as: UTF8.self).utf8.distance(from: String(decoding: original, as: UTF8.self).startIndex,
                                                                             to: ciphertextAt.upperBound)
        flipped[index] = flipped[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        try Data(flipped).write(to: URL(fileURLWithPath: path))
        #expect((#expect(throws: LedgerError.self) { try keystore.load("node") })?.code == .keystoreWrongPassphrase)
        // The same file under another entry's name is refused before any crypto.
        try original.write(to: URL(fileURLWithPath: dir.path("keys/genesis.key")))
        #expect((#expect(throws: LedgerError.self) { try keystore.load("genesis") })?.code == .keystoreMalformed)
    }

    @Test func aDestroyedKeyCannotBeUsedOrFoundOnDisk() throws {
        let dir = try Self.folder()
        let keystore = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("p"), configuration: Self.fast)
        let secret = SecureRandom.bytes(count: 32)
        try keystore.store(secret, named: "node")
        let loaded = try keystore.load("node")
        let box = try SymmetricCipher.aes256GCM.seal([1, 2, 3], using: loaded)
        try keystore.destroy("node")
        #expect(!keystore.contains("node"))
        #expect(try keystore.names().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir.path("keys/node.key")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("keys")).isEmpty)
        #expect(loaded.isDestroyed)
        #expect((#expect(throws: LedgerError.self) { try SymmetricCipher.aes256GCM.open(box, using: loaded) })?.code == .keyDestroyed)
        #expect((#expect(throws: LedgerError.self) { try keystore.load("node") })?.code == .keystoreEntryMissing)
        #expect((#expect(throws: LedgerError.self) { try keystore.destroy("node") })?.code == .keystoreEntryMissing)
    }

    @Test func rotationReSealsEveryEntryUnderTheNewPassphrase() throws {
        let dir = try Self.folder()
        let keystore = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("old"), configuration: Self.fast)
        try keystore.store([1], named: "a")
        try keystore.store([2, 2], named: "b")
        let before = try #require(FileManager.default.contents(atPath: dir.path("keys/a.key")))
        try keystore.rotate(to: try Passphrase("new"))
        #expect(try #require(FileManager.default.contents(atPath: dir.path("keys/a.key"))) != before)
        let withNew = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("new"), configuration: Self.fast)
        #expect(try withNew.load("a").bytesCopy() == [1])
        #expect(try withNew.load("b").bytesCopy() == [2, 2])
        let withOld = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("old"), configuration: Self.fast)
        #expect((#expect(throws: LedgerError.self) { try withOld.load("a") })?.code == .keystoreWrongPassphrase)
        // Rotating from a wrong passphrase changes no file.
        let files = try ["a", "b"].map { try #require(FileManager.default.contents(atPath: dir.path("keys/\($0).key"))) }
        #expect(throws: LedgerError.self) { try withOld.rotate(to: try Passphrase("newer")) }
        #expect(try ["a", "b"].map { try #require(FileManager.default.contents(atPath: dir.path("keys/\($0).key"))) } == files)
        #expect(!FileManager.default.fileExists(atPath: dir.path("keys/a.key.tmp")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("keys")).sorted() == ["a.key", "b.key"])
    }

    /// A folder that cannot be listed is an error, never "no entries": a rotation must not report success having
    /// rotated nothing.
    @Test func aFolderThatCannotBeListedIsAnErrorNotAnEmptyKeystore() throws {
        let dir = try Self.folder()
        let keystore = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("p"), configuration: Self.fast)
        try keystore.store([1], named: "a")
        try FileManager.default.removeItem(atPath: dir.path("keys"))
        #expect((#expect(throws: LedgerError.self) { try keystore.names() })?.code == .keystoreIO)
        #expect((#expect(throws: LedgerError.self) { try keystore.rotate(to: try Passphrase("q")) })?.code == .keystoreIO)
    }

    @Test func badNamesAreRefused() throws {
        let dir = try Self.folder()
        let keystore = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("p"), configuration: Self.fast)
        for name in ["", ".hidden", "../escape", "a/b", String(repeating: "x", count: 65), "spaced name"] {
            #expect((#expect(throws: LedgerError.self) { try keystore.store([1], named: name) })?.code == .keystoreMalformed)
        }
        #expect((#expect(throws: LedgerError.self) { try keystore.store([], named: "empty") })?.code == .keystoreMalformed)
        #expect(throws: LedgerError.self) { try Keystore(directory: dir.path("x"), passphrase: try Passphrase("p"), configuration: .init(cipher: .aes256CBC)) }
    }

    /// Random bytes and mutations of a valid entry file never crash the decoder and only throw `.keystoreMalformed`.
    @Test(arguments: [UInt64(1), 2, 3, 0x5eed])
    func theEntryDecoderSurvivesFuzzing(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let dir = try Self.folder()
        let keystore = try Keystore(directory: dir.path("keys"), passphrase: try Passphrase("p"), configuration: Self.fast)
        try keystore.store(SecureRandom.bytes(count: 32), named: "node")
        let valid = Array(try #require(FileManager.default.contents(atPath: dir.path("keys/node.key"))))
        for round in 0..<600 {
            var input: [UInt8]
            if round % 3 == 0 {
                input = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                input = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(input.count))
                    switch rng.next() % 3 {
                    case 0: input[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: input.remove(at: i)
                    default: input.insert(UInt8(truncatingIfNeeded: rng.next()), at: i)
                    }
                    if input.isEmpty { input = [0] }
                }
            }
            do { _ = try Keystore.decode(input, expectedName: "node") } catch {
                #expect(error.code == .keystoreMalformed)
            }
        }
    }
}
