import Foundation
import LedgerCore

/// The node's identity repository: administrator accounts, revoked tokens and the token secret in
/// SQLite tables (`identity_*`) of a database file of its own (a platform's is `identity.sqlite`,
/// mode 0600, never inside the ledger, so a ledger backup carries no account and restoring one rolls
/// no account or revocation back). With a sealing key, TOTP secrets and the token secret are stored
/// sealed with AES-256-GCM (each bound to its row), and deleted rows are overwritten
/// (`secure_delete`). Nothing here goes on chain.
///
/// ```swift
/// let sealing = SymmetricKey(randomByteCount: 32)       // kept sealed in a Keystore, the same at every open
/// let repo = try SQLiteIdentityRepository(path: dataDir + "/identity.sqlite", sealingKey: sealing)
/// let identity = IdentityService(repository: repo)
/// ```
/// An actor: one connection, calls serialised.
public actor SQLiteIdentityRepository: IdentityRepository {
    private let db: SQLiteConnection
    private let sealingKey: SymmetricKey?

    /// Opens (creating tables as needed) the identity tables in the database at `path`.
    /// - Parameters:
    ///   - path: Required. A file path (created with mode 0600; an existing file is set to 0600), or `:memory:`.
    ///   - sealingKey: Optional, default nil (secrets stored as they are: tests and in-memory use). A 32-byte
    ///     key: TOTP secrets and the token secret are sealed with it, and values stored in clear before are
    ///     sealed when the repository opens.
    /// - Throws: `AppError` `.identityBackend` (5415) when SQLite fails, the file cannot be created or its
    ///   mode set, or a sealed value does not open with `sealingKey` (a different key).
    public init(path: String, sealingKey: SymmetricKey? = nil) throws(AppError) {
        func failure(_ message: String, _ code: Int = 0) -> AppError {
            AppError(.identityBackend, "identity database \(path): \(message)", details: ["cause": String(code)])
        }
        if path != ":memory:" {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw failure("cannot create: \(String(cString: strerror(errno)))") }
            let modeSet = fchmod(fd, 0o600) == 0
            close(fd)
            guard modeSet else { throw failure("cannot set mode 0600: \(String(cString: strerror(errno)))") }
        }
        if let sealingKey, sealingKey.byteCount != 32 {
            throw failure("the sealing key must be 32 bytes, got \(sealingKey.byteCount)")
        }
        self.sealingKey = sealingKey
        do throws(LedgerError) {
            db = try SQLiteConnection(path: path, mode: .readWrite)
            try db.execute("""
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=NORMAL;
                PRAGMA secure_delete=ON;
                CREATE TABLE IF NOT EXISTS identity_accounts(
                    user_key TEXT PRIMARY KEY, user TEXT NOT NULL, roles TEXT NOT NULL, scope TEXT NOT NULL,
                    enabled INTEGER NOT NULL, contact TEXT, channel TEXT, password_hash TEXT NOT NULL,
                    totp_secret BLOB, last_totp INTEGER, tokens_valid_after INTEGER NOT NULL,
                    failed_logins INTEGER NOT NULL, locked_until INTEGER, created_at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS identity_revoked_tokens(token_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS identity_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
                """)
            // Databases written before accounts had chain keys lack the column.
            if try db.scalarInt("SELECT count(*) FROM pragma_table_info('identity_accounts') WHERE name = 'chain_key'") ?? 0 == 0 {
                try db.execute("ALTER TABLE identity_accounts ADD COLUMN chain_key BLOB")
            }
            if let sealingKey { try Self.sealClearValues(db, with: sealingKey) }
        } catch {
            throw failure(error.message, Int(error.numericCode))
        }
    }

    // MARK: Sealing

    /// `identity_meta.secrets` is `sealed` once every TOTP secret and the token secret are sealed.
    private static func sealClearValues(_ db: SQLiteConnection, with key: SymmetricKey) throws(LedgerError) {
        let marker = try db.statement("SELECT value FROM identity_meta WHERE key = 'secrets'")
        let sealed = try marker.step() && marker.blob(0) == Array("sealed".utf8)
        marker.reset()
        if sealed {
            // Check the key once: a different key must fail here, not at the first login.
            let s = try db.statement("SELECT value FROM identity_meta WHERE key = 'token_secret'")
            defer { s.reset() }
            if try s.step() { _ = try unseal(s.blob(0), bound: "token_secret", key) }
            return
        }
        try db.transaction { () throws(LedgerError) in try sealClearRows(db, with: key) }
    }

    /// Seals every TOTP secret and the token secret stored in clear, and marks the database sealed; inside
    /// the caller's transaction, so clear and sealed values never both reach the file.
    private static func sealClearRows(_ db: SQLiteConnection, with key: SymmetricKey) throws(LedgerError) {
        let rows = try db.statement("SELECT user_key, totp_secret FROM identity_accounts WHERE totp_secret IS NOT NULL")
        var clear = [(String, [UInt8])]()
        while try rows.step() { clear.append((rows.text(0), rows.blob(1))) }
        rows.reset()
        let update = try db.statement("UPDATE identity_accounts SET totp_secret = ?1 WHERE user_key = ?2")
        for (user, secret) in clear {
            update.bind(1, try seal(secret, bound: "totp/" + user, key))
            update.bind(2, text: user)
            try update.run()
        }
        let token = try db.statement("SELECT value FROM identity_meta WHERE key = 'token_secret'")
        let secret = try token.step() ? token.blob(0) : nil
        token.reset()
        if let secret {
            let write = try db.statement("UPDATE identity_meta SET value = ?1 WHERE key = 'token_secret'")
            write.bind(1, try seal(secret, bound: "token_secret", key))
            try write.run()
        }
        let mark = try db.statement("INSERT OR REPLACE INTO identity_meta(key, value) VALUES ('secrets', ?1)")
        mark.bind(1, Array("sealed".utf8))
        try mark.run()
    }

    /// `nonce | ciphertext | tag` of AES-256-GCM, the associated data naming the row it belongs to (so a
    /// sealed value copied to another row does not open).
    private static func seal(_ value: [UInt8], bound: String, _ key: SymmetricKey) throws(LedgerError) -> [UInt8] {
        try SymmetricCipher.aes256GCM.seal(value, using: key, authenticating: Array(bound.utf8)).combined
    }

    private static func unseal(_ stored: [UInt8], bound: String, _ key: SymmetricKey) throws(LedgerError) -> [UInt8] {
        do {
            let box = try SymmetricCipher.SealedBox(combined: stored)
            return try SymmetricCipher.aes256GCM.open(box, using: key, authenticating: Array(bound.utf8))
        } catch {
            throw LedgerError(.authenticationFailed, "a sealed identity secret (\(bound)) does not open with this folder's key")
        }
    }

    private func sealed(_ value: [UInt8], bound: String) throws(LedgerError) -> [UInt8] {
        guard let sealingKey else { return value }
        return try Self.seal(value, bound: bound, sealingKey)
    }

    private func opened(_ stored: [UInt8], bound: String) throws(LedgerError) -> [UInt8] {
        guard let sealingKey else { return stored }
        return try Self.unseal(stored, bound: bound, sealingKey)
    }

    // MARK: Moving out of the ledger

    /// Moves identity tables left in another database (the ledger file of a folder written before identity
    /// had a file of its own) into this one, then deletes them there with their freed pages overwritten.
    /// Nothing happens when that database has no identity tables; when this one has accounts already, the
    /// other's tables are only deleted.
    /// - Parameter path: Required. The other database file (it may be open elsewhere: the move waits for its write lock).
    /// - Throws: `AppError` `.identityBackend` (5415); nothing is deleted unless the copy committed.
    public func moveTables(from path: String) throws(AppError) {
        try wrap { () throws(LedgerError) in
            let other = try SQLiteConnection(path: path, mode: .readWrite)
            let found = try other.scalarInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'identity\\_%' ESCAPE '\\'") ?? 0
            guard found > 0 else { return }
            let escaped = path.replacingOccurrences(of: "'", with: "''")
            let mine = try db.scalarInt("SELECT count(*) FROM identity_accounts") ?? 0
            if mine == 0 {
                try db.execute("ATTACH DATABASE '\(escaped)' AS old")
                do throws(LedgerError) {
                    try db.transaction { () throws(LedgerError) in
                        if try db.scalarInt("SELECT count(*) FROM old.sqlite_master WHERE name = 'identity_accounts'") ?? 0 > 0 {
                            try db.execute("""
                                INSERT OR REPLACE INTO main.identity_accounts(user_key, \(Self.legacyColumns))
                                SELECT user_key, \(Self.legacyColumns) FROM old.identity_accounts
                                """)
                        }
                        if try db.scalarInt("SELECT count(*) FROM old.sqlite_master WHERE name = 'identity_revoked_tokens'") ?? 0 > 0 {
                            try db.execute("INSERT OR REPLACE INTO main.identity_revoked_tokens SELECT * FROM old.identity_revoked_tokens")
                        }
                        if try db.scalarInt("SELECT count(*) FROM old.sqlite_master WHERE name = 'identity_meta'") ?? 0 > 0 {
                            try db.execute("INSERT OR REPLACE INTO main.identity_meta SELECT * FROM old.identity_meta WHERE key = 'token_secret'")
                            try db.execute("DELETE FROM main.identity_meta WHERE key = 'secrets'")
                        }
                        // Sealed in the copy's own transaction: the clear values never reach this file.
                        if let sealingKey { try Self.sealClearRows(db, with: sealingKey) }
                    }
                } catch {
                    try? db.execute("DETACH DATABASE old")
                    throw error
                }
                try db.execute("DETACH DATABASE old")
            }
            try other.execute("""
                PRAGMA secure_delete=ON;
                DROP TABLE IF EXISTS identity_accounts;
                DROP TABLE IF EXISTS identity_revoked_tokens;
                DROP TABLE IF EXISTS identity_meta;
                PRAGMA wal_checkpoint(TRUNCATE);
                """)
        }
    }

    // MARK: Backup

    /// Copies the identity database (a consistent snapshot) to a new file at `path`, mode 0600. Secrets in
    /// it stay sealed under the folder's key, which the copy does not hold: restoring it needs the same keystore.
    /// - Parameter path: Required. Must not exist.
    /// - Throws: `AppError` `.identityBackend` (5415) when the file exists or the copy fails (nothing is left behind).
    public func backup(to path: String) throws(AppError) {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw AppError(.identityBackend, "\(path) exists; an identity backup never overwrites a file", details: ["file": path])
        }
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AppError(.identityBackend, "cannot create \(path): \(String(cString: strerror(errno)))", details: ["file": path])
        }
        close(fd)
        do {
            try wrap { () throws(LedgerError) in try LedgerStore.copyDatabase(from: db, toPath: path, pagesPerStep: 1_024) }
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    private func wrap<R>(_ body: () throws(LedgerError) -> R) throws(AppError) -> R {
        do { return try body() } catch {
            throw AppError(.identityBackend, "identity database: \(error.message)", details: ["cause": String(error.numericCode)])
        }
    }

    /// The columns of identity tables kept in the ledger by earlier versions.
    private static let legacyColumns = "user, roles, scope, enabled, contact, channel, password_hash, totp_secret, last_totp, tokens_valid_after, failed_logins, locked_until, created_at"
    private static let columns = legacyColumns + ", chain_key"

    private func readAccount(_ s: SQLiteConnection.Statement) throws(LedgerError) -> AdminAccount {
        let user = s.text(0)
        return AdminAccount(
            user: user,
            roles: Set(s.text(1).split(separator: ",").compactMap { Role(rawValue: String($0)) }),
            scope: FactoryScope(text: s.text(2)),
            enabled: s.int(3) != 0,
            contact: s.isNull(4) ? nil : s.text(4),
            codeChannel: s.isNull(5) ? nil : CodeChannel(rawValue: s.text(5)),
            passwordHash: s.text(6),
            totpSecret: s.isNull(7) ? nil : try opened(s.blob(7), bound: "totp/" + user.lowercased()),
            lastTOTPCounter: s.isNull(8) ? nil : s.uint(8),
            tokensValidAfter: Timestamp(rawValue: s.uint(9)),
            failedLogins: Int(s.int(10)),
            lockedUntil: s.isNull(11) ? nil : Timestamp(rawValue: s.uint(11)),
            createdAt: Timestamp(rawValue: s.uint(12)),
            chainKey: s.isNull(13) ? nil : try opened(s.blob(13), bound: "chain-key/" + user.lowercased()))
    }

    /// The account named `user` (case-insensitive), or nil.
    public func account(_ user: String) throws -> AdminAccount? {
        try wrap { () throws(LedgerError) -> AdminAccount? in
            let s = try db.statement("SELECT \(Self.columns) FROM identity_accounts WHERE user_key = ?1")
            defer { s.reset() }
            s.bind(1, text: user.lowercased())
            return try s.step() ? try readAccount(s) : nil
        }
    }

    /// Every account, by user name.
    public func accounts() throws -> [AdminAccount] {
        try wrap { () throws(LedgerError) -> [AdminAccount] in
            let s = try db.statement("SELECT \(Self.columns) FROM identity_accounts ORDER BY user_key")
            defer { s.reset() }
            var out = [AdminAccount]()
            while try s.step() { out.append(try readAccount(s)) }
            return out
        }
    }

    public func save(_ a: AdminAccount) throws {
        try wrap { () throws(LedgerError) in
            let s = try db.statement("""
                INSERT OR REPLACE INTO identity_accounts(user_key, \(Self.columns))
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                """)
            s.bind(1, text: a.user.lowercased())
            s.bind(2, text: a.user)
            s.bind(3, text: a.roles.sorted().map(\.rawValue).joined(separator: ","))
            s.bind(4, text: a.scope.text)
            s.bind(5, a.enabled ? 1 : 0)
            if let c = a.contact { s.bind(6, text: c) } else { s.bindNull(6) }
            if let c = a.codeChannel { s.bind(7, text: c.rawValue) } else { s.bindNull(7) }
            s.bind(8, text: a.passwordHash)
            if let t = a.totpSecret { s.bind(9, try sealed(t, bound: "totp/" + a.user.lowercased())) } else { s.bindNull(9) }
            if let c = a.lastTOTPCounter { s.bind(10, c) } else { s.bindNull(10) }
            s.bind(11, a.tokensValidAfter.rawValue)
            s.bind(12, a.failedLogins)
            if let l = a.lockedUntil { s.bind(13, l.rawValue) } else { s.bindNull(13) }
            s.bind(14, a.createdAt.rawValue)
            if let k = a.chainKey { s.bind(15, try sealed(k, bound: "chain-key/" + a.user.lowercased())) } else { s.bindNull(15) }
            try s.run()
        }
    }

    /// Removes the account; nothing when there is none.
    public func delete(_ user: String) throws {
        try wrap { () throws(LedgerError) in
            let s = try db.statement("DELETE FROM identity_accounts WHERE user_key = ?1")
            s.bind(1, text: user.lowercased())
            try s.run()
        }
    }

    public func revoke(tokenID: String, expiresAt: Timestamp) throws {
        try wrap { () throws(LedgerError) in
            let s = try db.statement("INSERT OR REPLACE INTO identity_revoked_tokens(token_id, expires_at) VALUES (?1, ?2)")
            s.bind(1, text: tokenID)
            s.bind(2, expiresAt.rawValue)
            try s.run()
            // Expired revocations can go: an expired token fails on its own.
            let purge = try db.statement("DELETE FROM identity_revoked_tokens WHERE expires_at < ?1")
            purge.bind(1, Timestamp.now().rawValue)
            try purge.run()
        }
    }

    /// Whether the token ID was revoked and has not expired.
    public func isRevoked(tokenID: String) throws -> Bool {
        try wrap { () throws(LedgerError) -> Bool in
            let s = try db.statement("SELECT 1 FROM identity_revoked_tokens WHERE token_id = ?1")
            defer { s.reset() }
            s.bind(1, text: tokenID)
            return try s.step()
        }
    }

    public func tokenSecret() throws -> [UInt8] {
        try wrap { () throws(LedgerError) -> [UInt8] in
            let read = try db.statement("SELECT value FROM identity_meta WHERE key = 'token_secret'")
            if try read.step() {
                let v = read.blob(0)
                read.reset()
                return try opened(v, bound: "token_secret")
            }
            read.reset()
            let secret = SecureRandom.bytes(count: 32)
            let write = try db.statement("INSERT OR IGNORE INTO identity_meta(key, value) VALUES ('token_secret', ?1)")
            write.bind(1, try sealed(secret, bound: "token_secret"))
            try write.run()
            return secret
        }
    }
}
