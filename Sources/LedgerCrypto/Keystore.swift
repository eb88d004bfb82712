import COpenSSL
import Foundation
import Synchronization

// Keystore errors (1363–1367), in the band of ciphers and KDFs.
extension LedgerError.Code {
    /// A keystore entry did not open: the passphrase is wrong, or the file was altered.
    public static let keystoreWrongPassphrase = Self(rawValue: 1363)
    /// A keystore has no entry of that name (never stored, or destroyed).
    public static let keystoreEntryMissing = Self(rawValue: 1364)
    /// A keystore file is not a keystore entry this build reads (bad JSON, missing field, unknown version,
    /// KDF or cipher, parameters out of range).
    public static let keystoreMalformed = Self(rawValue: 1365)
    /// A keystore file or its folder could not be read, written, synced or removed.
    public static let keystoreIO = Self(rawValue: 1366)
    /// No passphrase was given for a keystore (the environment variable or file named is empty or missing).
    public static let keystoreLocked = Self(rawValue: 1367)
}

/// The secret that unlocks a ``Keystore``: held in memory that is zeroised on ``destroy()`` and
/// when the last copy goes.
///
/// ```swift
/// let passphrase = try Passphrase.environment("FORGECHAIN_PASSPHRASE")
/// let keystore = try Keystore(directory: dir + "/keystore", passphrase: passphrase)
/// ```
public struct Passphrase: Sendable {
    let key: SymmetricKey

    /// A passphrase given as text (UTF-8).
    /// - Parameter text: Required. At least 1 character.
    /// - Throws: `LedgerError` `.keystoreLocked` (1367) when empty.
    public init(_ text: String) throws(LedgerError) {
        guard !text.isEmpty else { throw LedgerError(.keystoreLocked, "the keystore passphrase is empty") }
        key = SymmetricKey(bytes: Array(text.utf8))
    }

    /// The passphrase in environment variable `name`.
    /// - Throws: `LedgerError` `.keystoreLocked` (1367) when the variable is unset or empty.
    public static func environment(_ name: String) throws(LedgerError) -> Passphrase {
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else {
            throw LedgerError(.keystoreLocked, "no keystore passphrase: environment variable \(name) is unset or empty",
                              details: ["variable": name])
        }
        return try Passphrase(text)
    }

    /// The passphrase in the first line of the file at `path` (a trailing newline is not part of it).
    /// - Throws: `LedgerError` `.keystoreLocked` (1367) when the file is missing, unreadable or empty.
    public static func file(_ path: String) throws(LedgerError) -> Passphrase {
        guard let data = FileManager.default.contents(atPath: path),
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first,
              !line.isEmpty else {
            throw LedgerError(.keystoreLocked, "no keystore passphrase: \(path) is missing, unreadable or empty", details: ["file": path])
        }
        return try Passphrase(String(line))
    }

    /// Zeroises the passphrase; a keystore holding it can no longer open or store entries.
    public func destroy() { key.destroy() }
}

/// Secrets (private keys, data keys) kept in a folder, one file per entry, each encrypted under a
/// key derived from a passphrase: scrypt (RFC 7914) then AES-256-GCM, or SM4-GCM for chains on the
/// SM algorithms. The entry's header (format, name, KDF parameters, cipher) is authenticated with
/// it, so a changed parameter fails like a wrong passphrase. Files are written atomically (a
/// temporary file, fsync, rename, fsync of the folder) with mode 0600 in a folder of mode 0700;
/// nothing is ever written in clear.
///
/// An entry file (`NAME.key`) is JSON:
/// `{"format":"forgechain-keystore","version":1,"name":…,"kdf":{"name":"scrypt","log_n":15,"r":8,"p":1,"salt":base64},
/// "cipher":"aes-256-gcm","nonce":base64,"ciphertext":base64,"tag":base64}`; the associated data is
/// the UTF-8 of `forgechain-keystore/1/<name>/scrypt/<log_n>/<r>/<p>/<salt base64>/<cipher>`.
///
/// ```swift
/// let keystore = try Keystore(directory: dir, passphrase: try Passphrase("correct horse battery staple"))
/// try keystore.store(try PrivateKey.generate(.ed25519).rawRepresentation, named: "node")
/// let raw = try keystore.load("node")            // a SymmetricKey holding the bytes
/// try keystore.destroy("node")                   // the file is overwritten and removed; `raw` is zeroised
/// ```
/// Thread-safety: safe to use from several threads; each call reads or writes whole files.
public final class Keystore: Sendable {
    /// How entries are sealed.
    public struct Configuration: Sendable, Hashable {
        /// The cipher: `.aes256GCM` (default) or `.sm4GCM`; other ciphers are refused.
        public var cipher: SymmetricCipher
        /// log2 of scrypt's N. Default 15 (32 MiB, about 0.1 s an entry); range 10...20.
        public var scryptLogN: Int

        /// - Parameters:
        ///   - cipher: Optional, default `.aes256GCM`; `.sm4GCM` for SM chains.
        ///   - scryptLogN: Optional, default 15; clamped to 10...20.
        public init(cipher: SymmetricCipher = .aes256GCM, scryptLogN: Int = 15) {
            self.cipher = cipher
            self.scryptLogN = min(20, max(10, scryptLogN))
        }
    }

    /// The folder of the entries.
    public let directory: String
    /// How new entries are sealed (entries already stored keep their own parameters).
    public let configuration: Configuration
    private let passphrase: Mutex<Passphrase>
    /// The keys handed out by ``load(_:)``, by entry name, zeroised when the entry is destroyed.
    private let handedOut = Mutex<[String: [SymmetricKey]]>([:])

    static let format = "forgechain-keystore"
    static let scryptR: UInt64 = 8, scryptP: UInt64 = 1

    /// Opens (creating when missing, mode 0700) a keystore folder.
    /// - Parameters:
    ///   - directory: Required. The folder of the entries.
    ///   - passphrase: Required. Unlocks the entries (and seals new ones).
    ///   - configuration: Optional, default ``Configuration/init(cipher:scryptLogN:)``.
    /// - Throws: `LedgerError` `.keystoreIO` (1366) when the folder cannot be created;
    ///   `.unknownCipher` (1362) for a cipher other than AES-256-GCM or SM4-GCM.
    public init(directory: String, passphrase: Passphrase, configuration: Configuration = .init()) throws(LedgerError) {
        guard configuration.cipher == .aes256GCM || configuration.cipher == .sm4GCM else {
            throw LedgerError(.unknownCipher, "a keystore seals with aes-256-gcm or sm4-gcm, not \(configuration.cipher.rawValue)",
                              details: ["cipher": configuration.cipher.rawValue])
        }
        self.directory = directory
        self.configuration = configuration
        self.passphrase = Mutex(passphrase)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw LedgerError(.keystoreIO, "cannot create keystore folder \(directory): \(error.localizedDescription)",
                              details: ["directory": directory])
        }
    }

    /// The entry names, sorted.
    /// - Throws: `LedgerError` `.keystoreIO` (1366) when the folder cannot be read (never an empty list for it).
    public func names() throws(LedgerError) -> [String] {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw LedgerError(.keystoreIO, "cannot read keystore folder \(directory): \(error.localizedDescription)",
                              details: ["directory": directory])
        }
        return files.filter { $0.hasSuffix(".key") }.map { String($0.dropLast(4)) }.filter(Self.isValidName).sorted()
    }

    /// Whether an entry named `name` exists.
    public func contains(_ name: String) -> Bool {
        Self.isValidName(name) && FileManager.default.fileExists(atPath: path(name))
    }

    /// Seals `secret` under the passphrase as entry `name`, replacing an entry of that name.
    /// - Parameters:
    ///   - secret: Required. 1...65,536 bytes.
    ///   - name: Required. 1...64 characters of `a-z A-Z 0-9 . _ -`, not starting with a dot.
    /// - Throws: `LedgerError` `.keystoreMalformed` (1365) for a bad name or size, `.keystoreIO` (1366),
    ///   `.keyDestroyed` (1361) after the passphrase was destroyed.
    public func store(_ secret: [UInt8], named name: String) throws(LedgerError) {
        try DurableFile.write(try seal(secret, named: name), to: path(name), mode: 0o600)
    }

    /// The bytes of entry file `name` holding `secret`, sealed under the current passphrase.
    private func seal(_ secret: [UInt8], named name: String) throws(LedgerError) -> [UInt8] {
        try check(name)
        guard (1...65_536).contains(secret.count) else {
            throw LedgerError(.keystoreMalformed, "a keystore secret is 1...65536 bytes, got \(secret.count)", details: ["name": name])
        }
        let salt = SecureRandom.bytes(count: 16)
        let header = Header(name: name, logN: configuration.scryptLogN, salt: salt, cipher: configuration.cipher)
        let key = try derive(header)
        defer { key.destroy() }
        let box = try configuration.cipher.seal(secret, using: key, authenticating: header.associatedData)
        let entry: [String: Any] = [
            "format": Self.format, "version": 1, "name": name,
            "kdf": ["name": "scrypt", "log_n": header.logN, "r": Int(Self.scryptR), "p": Int(Self.scryptP), "salt": Data(salt).base64EncodedString()],
            "cipher": header.cipher.rawValue, "nonce": Data(box.nonce).base64EncodedString(),
            "ciphertext": Data(box.ciphertext).base64EncodedString(), "tag": Data(box.tag).base64EncodedString(),
        ]
        do { return Array(try JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys])) } catch {
            throw LedgerError(.keystoreMalformed, "cannot encode keystore entry \(name): \(error.localizedDescription)")
        }
    }

    /// Opens entry `name`.
    /// - Returns: The secret, in a ``SymmetricKey`` (zeroised memory); ``destroy(_:)`` of the entry
    ///   zeroises it too.
    /// - Throws: `LedgerError` `.keystoreEntryMissing` (1364), `.keystoreWrongPassphrase` (1363) for a wrong
    ///   passphrase or an altered file, `.keystoreMalformed` (1365), `.keystoreIO` (1366), `.keyDestroyed` (1361).
    public func load(_ name: String) throws(LedgerError) -> SymmetricKey {
        try check(name)
        guard let data = FileManager.default.contents(atPath: path(name)) else {
            if FileManager.default.fileExists(atPath: path(name)) {
                throw LedgerError(.keystoreIO, "cannot read keystore entry \(path(name))", details: ["name": name])
            }
            throw LedgerError(.keystoreEntryMissing, "the keystore in \(directory) has no entry \(name)", details: ["name": name])
        }
        let (header, box) = try Self.decode(Array(data), expectedName: name)
        let key = try derive(header)
        defer { key.destroy() }
        let secret: [UInt8]
        do { secret = try header.cipher.open(box, using: key, authenticating: header.associatedData) } catch {
            throw LedgerError(.keystoreWrongPassphrase, "keystore entry \(name) did not open: wrong passphrase, or the file was altered",
                              details: ["name": name])
        }
        let loaded = SymmetricKey(bytes: secret)
        handedOut.withLock { keys in
            keys[name, default: []].removeAll { $0.isDestroyed }   // keys their holders destroyed need no tracking
            keys[name, default: []].append(loaded)
        }
        return loaded
    }

    /// Destroys entry `name`: its file is overwritten with random bytes, synced and removed, and every
    /// key ``load(_:)`` returned for it is zeroised (using one then throws `.keyDestroyed`, 1361).
    /// - Throws: `LedgerError` `.keystoreEntryMissing` (1364), `.keystoreIO` (1366).
    public func destroy(_ name: String) throws(LedgerError) {
        try check(name)
        let file = path(name)
        guard FileManager.default.fileExists(atPath: file) else {
            throw LedgerError(.keystoreEntryMissing, "the keystore in \(directory) has no entry \(name)", details: ["name": name])
        }
        for key in handedOut.withLock({ $0.removeValue(forKey: name) ?? [] }) { key.destroy() }
        try DurableFile.shred(file)
    }

    /// Seals every entry again under `newPassphrase` (fresh salts and nonces); from then on this keystore
    /// uses the new passphrase. Every entry is opened and sealed anew before any file is replaced, so a
    /// wrong passphrase or a damaged entry changes nothing; then each file is replaced atomically.
    /// - Throws: the errors of ``load(_:)`` and ``store(_:named:)``.
    public func rotate(to newPassphrase: Passphrase) throws(LedgerError) {
        var secrets = [(String, [UInt8])]()
        defer { for i in secrets.indices { secrets[i].1.withUnsafeMutableBytes { forgechain_cleanse($0.baseAddress, $0.count) } } }
        for name in try names() {
            let key = try load(name)
            defer { key.destroy() }
            secrets.append((name, try key.bytesCopy()))
        }
        let old = passphrase.withLock { (p: inout Passphrase) -> Passphrase in
            let old = p
            p = newPassphrase
            return old
        }
        var sealed = [(String, [UInt8])]()
        do {
            for (name, secret) in secrets { sealed.append((name, try seal(secret, named: name))) }
        } catch {
            passphrase.withLock { $0 = old }
            throw error
        }
        for (name, bytes) in sealed { try DurableFile.write(bytes, to: path(name), mode: 0o600) }
    }

    // MARK: Entries

    struct Header {
        var name: String
        var logN: Int
        var salt: [UInt8]
        var cipher: SymmetricCipher

        var associatedData: [UInt8] {
            Array("\(Keystore.format)/1/\(name)/scrypt/\(logN)/\(Keystore.scryptR)/\(Keystore.scryptP)/\(Data(salt).base64EncodedString())/\(cipher.rawValue)".utf8)
        }
    }

    /// Reads an entry file's header and sealed box; every field is checked before any crypto runs.
    static func decode(_ bytes: [UInt8], expectedName: String?) throws(LedgerError) -> (Header, SymmetricCipher.SealedBox) {
        func bad(_ why: String) -> LedgerError {
            LedgerError(.keystoreMalformed, "not a keystore entry: \(why)", details: expectedName.map { ["name": $0] } ?? [:])
        }
        guard bytes.count <= 1 << 20, let object = try? JSONSerialization.jsonObject(with: Data(bytes)), let json = object as? [String: Any] else {
            throw bad("the file is not a JSON object")
        }
        guard json["format"] as? String == format else { throw bad("format is not \(format)") }
        guard (json["version"] as? NSNumber)?.intValue == 1 else { throw bad("version is not 1") }
        guard let name = json["name"] as? String, isValidName(name) else { throw bad("bad or missing name") }
        if let expectedName, name != expectedName { throw bad("the file holds entry \(name), not \(expectedName)") }
        guard let kdf = json["kdf"] as? [String: Any], kdf["name"] as? String == "scrypt" else { throw bad("kdf is not scrypt") }
        guard let logN = (kdf["log_n"] as? NSNumber)?.intValue, (10...20).contains(logN),
              (kdf["r"] as? NSNumber)?.uint64Value == scryptR, (kdf["p"] as? NSNumber)?.uint64Value == scryptP else {
            throw bad("scrypt parameters out of range (log_n 10...20, r 8, p 1)")
        }
        func base64(_ value: Any?, _ field: String, _ lengths: ClosedRange<Int>) throws(LedgerError) -> [UInt8] {
            guard let text = value as? String, let data = Data(base64Encoded: text), lengths.contains(data.count) else {
                throw bad("\(field) is not base64 of \(lengths.lowerBound)...\(lengths.upperBound) bytes")
            }
            return Array(data)
        }
        let salt = try base64(kdf["salt"], "salt", 16...64)
        guard let cipherName = json["cipher"] as? String, let cipher = SymmetricCipher(rawValue: cipherName),
              cipher == .aes256GCM || cipher == .sm4GCM else { throw bad("cipher is not aes-256-gcm or sm4-gcm") }
        let box = SymmetricCipher.SealedBox(nonce: try base64(json["nonce"], "nonce", 12...12),
                                            ciphertext: try base64(json["ciphertext"], "ciphertext", 1...65_536),
                                            tag: try base64(json["tag"], "tag", 16...16))
        return (Header(name: name, logN: logN, salt: salt, cipher: cipher), box)
    }

    private func derive(_ header: Header) throws(LedgerError) -> SymmetricKey {
        let bytes = try passphrase.withLock { (p: inout Passphrase) throws(LedgerError) -> [UInt8] in
            try p.key.withUnsafeBytes { (raw) throws(LedgerError) -> [UInt8] in
                try Scrypt.deriveKey(password: Array(raw), salt: header.salt, n: UInt64(1) << UInt64(header.logN),
                                     r: Self.scryptR, p: Self.scryptP, keyLength: header.cipher.keyLength)
            }
        }
        return SymmetricKey(bytes: bytes)
    }

    private func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name + ".key") }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.first != "."
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D }
    }

    private func check(_ name: String) throws(LedgerError) {
        guard Self.isValidName(name) else {
            throw LedgerError(.keystoreMalformed, "keystore entry name '\(name)' must be 1...64 characters of a-z A-Z 0-9 . _ - not starting with a dot",
                              details: ["name": name])
        }
    }
}
