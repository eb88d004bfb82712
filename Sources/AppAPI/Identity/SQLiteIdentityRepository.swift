import LedgerCore

/// The node's identity repository: administrator accounts, revoked tokens
/// and the token secret in SQLite tables (`identity_*`) of the node's own
/// database file, beside the ledger's tables (WAL, so the ledger's writer and
/// this connection do not block each other for long). Nothing here goes on
/// chain.
///
/// ```swift
/// let repo = try SQLiteIdentityRepository(path: dataDir + "/ledger.sqlite")
/// let identity = IdentityService(repository: repo)
/// ```
/// An actor: one connection, calls serialised.
public actor SQLiteIdentityRepository: IdentityRepository {
    private let db: SQLiteConnection

    /// Opens (creating tables as needed) the identity tables in the database at `path`.
    /// - Parameter path: Required. A file path, or `:memory:` for a private in-memory database.
    /// - Throws: `AppError` `.identityBackend` (5415) when SQLite fails.
    public init(path: String) throws(AppError) {
        do {
            db = try SQLiteConnection(path: path, mode: .readWrite)
            try db.execute("""
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=NORMAL;
                CREATE TABLE IF NOT EXISTS identity_accounts(
                    user_key TEXT PRIMARY KEY, user TEXT NOT NULL, roles TEXT NOT NULL, scope TEXT NOT NULL,
                    enabled INTEGER NOT NULL, contact TEXT, channel TEXT, password_hash TEXT NOT NULL,
                    totp_secret BLOB, last_totp INTEGER, tokens_valid_after INTEGER NOT NULL,
                    failed_logins INTEGER NOT NULL, locked_until INTEGER, created_at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS identity_revoked_tokens(token_id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS identity_meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
                """)
        } catch {
            throw AppError(.identityBackend, "identity database \(path): \(error.message)", details: ["cause": String(error.numericCode)])
        }
    }

    private func wrap<R>(_ body: () throws(LedgerError) -> R) throws(AppError) -> R {
        do { return try body() } catch {
            throw AppError(.identityBackend, "identity database: \(error.message)", details: ["cause": String(error.numericCode)])
        }
    }

    private static let columns = "user, roles, scope, enabled, contact, channel, password_hash, totp_secret, last_totp, tokens_valid_after, failed_logins, locked_until, created_at"

    private func readAccount(_ s: SQLiteConnection.Statement) -> AdminAccount {
        AdminAccount(
            user: s.text(0),
            roles: Set(s.text(1).split(separator: ",").compactMap { Role(rawValue: String($0)) }),
            scope: FactoryScope(text: s.text(2)),
            enabled: s.int(3) != 0,
            contact: s.isNull(4) ? nil : s.text(4),
            codeChannel: s.isNull(5) ? nil : CodeChannel(rawValue: s.text(5)),
            passwordHash: s.text(6),
            totpSecret: s.isNull(7) ? nil : s.blob(7),
            lastTOTPCounter: s.isNull(8) ? nil : s.uint(8),
            tokensValidAfter: Timestamp(rawValue: s.uint(9)),
            failedLogins: Int(s.int(10)),
            lockedUntil: s.isNull(11) ? nil : Timestamp(rawValue: s.uint(11)),
            createdAt: Timestamp(rawValue: s.uint(12)))
    }

    /// The account named `user` (case-insensitive), or nil.
    public func account(_ user: String) throws -> AdminAccount? {
        try wrap { () throws(LedgerError) -> AdminAccount? in
            let s = try db.statement("SELECT \(Self.columns) FROM identity_accounts WHERE user_key = ?1")
            defer { s.reset() }
            s.bind(1, text: user.lowercased())
            return try s.step() ? readAccount(s) : nil
        }
    }

    /// Every account, by user name.
    public func accounts() throws -> [AdminAccount] {
        try wrap { () throws(LedgerError) -> [AdminAccount] in
            let s = try db.statement("SELECT \(Self.columns) FROM identity_accounts ORDER BY user_key")
            defer { s.reset() }
            var out = [AdminAccount]()
            while try s.step() { out.append(readAccount(s)) }
            return out
        }
    }

    public func save(_ a: AdminAccount) throws {
        try wrap { () throws(LedgerError) in
            let s = try db.statement("""
                INSERT OR REPLACE INTO identity_accounts(user_key, \(Self.columns))
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                """)
            s.bind(1, text: a.user.lowercased())
            s.bind(2, text: a.user)
            s.bind(3, text: a.roles.sorted().map(\.rawValue).joined(separator: ","))
            s.bind(4, text: a.scope.text)
            s.bind(5, a.enabled ? 1 : 0)
            if let c = a.contact { s.bind(6, text: c) } else { s.bindNull(6) }
            if let c = a.codeChannel { s.bind(7, text: c.rawValue) } else { s.bindNull(7) }
            s.bind(8, text: a.passwordHash)
            if let t = a.totpSecret { s.bind(9, t) } else { s.bindNull(9) }
            if let c = a.lastTOTPCounter { s.bind(10, c) } else { s.bindNull(10) }
            s.bind(11, a.tokensValidAfter.rawValue)
            s.bind(12, a.failedLogins)
            if let l = a.lockedUntil { s.bind(13, l.rawValue) } else { s.bindNull(13) }
            s.bind(14, a.createdAt.rawValue)
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
                return v
            }
            read.reset()
            let secret = SecureRandom.bytes(count: 32)
            let write = try db.statement("INSERT OR IGNORE INTO identity_meta(key, value) VALUES ('token_secret', ?1)")
            write.bind(1, secret)
            try write.run()
            return secret
        }
    }
}
