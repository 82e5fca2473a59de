import Foundation
import GRDB
import JadeCore

/// Verifies credentials: logs in (password, then TOTP), verifies session tokens and API keys
/// (from its cache on the event loop, from SQLite otherwise) and logs out. The credential
/// cache keeps a principal no longer than its credential is valid, and never past an epoch bump.
public final class Authenticator: AuthComponent, Sendable {
    let core: AuthCore
    let credentialCache: LRUCache<TokenDigest, Principal>

    public init(core: AuthCore) {
        self.core = core
        let settings = core.settings
        self.credentialCache = LRUCache(
            capacity: min(settings.permissionCacheSize, 50_000), ttlSeconds: min(settings.permissionCacheTTLSeconds, 60)
        )
    }

    /// The result of a successful login.
    public struct LoginResult: Sendable {
        public let token: String
        public let expiresAt: TimeInterval
        public let user: Directory.User
        public let restriction: Principal.Restriction?
    }

    /// Verifies a presented credential from the cache only (no database): the event-loop fast path.
    public func cachedPrincipal(for credential: PresentedCredential) -> Principal? {
        let key = Tokens.tokenDigest(credential.token)
        // The entry's user is unknown until found: its stamp is read under the cache's lock.
        let epochs = self.epochs
        return credentialCache.value(for: key, now: monotonicNow()) { epochs.stamp($0.userID) }
    }

    /// Verifies a presented credential against the database (and caches the result).
    public func authenticate(_ credential: PresentedCredential, ip: String?) throws -> Principal {
        let key = Tokens.tokenDigest(credential.token)
        let digest = key.data
        let time = now
        switch credential {
        case .session:
            let (row, stamp) = try stampedRow(
                """
                SELECT s.id, s.user_id, s.expires_at, s.last_used_at, u.username, u.active,
                       u.password_changed_at, u.totp_enabled,
                       EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role = 'admin') AS is_admin
                FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?
                """, digest)
            let userID: Int64 = row["user_id"]
            let expiresAt: Double = row["expires_at"]
            guard row["active"] as Bool, expiresAt > time else { throw AuthError.unauthenticated }
            // Bookkeeping, best effort: while writes fail (read-only degradation) the session is
            // still good until its stored expiry; it is just not extended.
            if settings.slidingSessions && expiresAt - time < settings.sessionTimeout - 60 {
                _ = try? pool.write { db in
                    try db.execute(
                        sql: "UPDATE sessions SET expires_at = ?, last_used_at = ? WHERE id = ?",
                        arguments: [time + settings.sessionTimeout, time, row["id"] as Int64])
                }
            }
            let principal = Principal(
                userID: userID, username: row["username"], credential: .session(id: row["id"]),
                restriction: restriction(
                    passwordChangedAt: row["password_changed_at"], totpEnabled: row["totp_enabled"],
                    isAdmin: row["is_admin"]))
            // Cached no longer than the session is valid (sliding: until it is extended again).
            credentialCache.set(
                principal, for: key, stamp: stamp, now: monotonicNow(),
                lifetime: Self.lifetime(until: expiresAt, now: now))
            return principal
        case .apiKey:
            let (row, stamp) = try stampedRow(
                """
                SELECT k.id, k.user_id, k.key_hash, k.permissions, k.expires_at, k.revoked_at, k.last_used_at,
                       u.username, u.active
                FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?
                """, digest)
            let userID: Int64 = row["user_id"]
            guard Tokens.constantTimeEquals(row["key_hash"], digest), row["active"] as Bool,
                (row["revoked_at"] as Double?) == nil, ((row["expires_at"] as Double?) ?? .infinity) > time
            else { throw AuthError.unauthenticated }
            if ((row["last_used_at"] as Double?) ?? 0) < time - 60 {
                _ = try? pool.write { db in
                    try db.execute(
                        sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [time, row["id"] as Int64])
                }
            }
            var mask: Set<Permission>?
            if let text = row["permissions"] as String?, let data = text.data(using: .utf8),
                let names = try? JSONDecoder().decode([String].self, from: data)
            {
                mask = Set(names.compactMap(Permission.init(rawValue:)))
            }
            let principal = Principal(
                userID: userID, username: row["username"], credential: .apiKey(id: row["id"], permissions: mask),
                restriction: nil)
            credentialCache.set(
                principal, for: key, stamp: stamp, now: monotonicNow(),
                lifetime: Self.lifetime(until: (row["expires_at"] as Double?) ?? .infinity, now: now))
            return principal
        }
    }

    /// Nanoseconds from `now` to the wall-clock time `expiry` (0 when past; `.max` for never),
    /// measured once so that the cache can count it down on the monotonic clock.
    static func lifetime(until expiry: TimeInterval, now: TimeInterval) -> UInt64 {
        let seconds = expiry - now
        guard seconds.isFinite else { return .max }
        guard seconds > 0 else { return 0 }
        return seconds >= 1e9 ? .max : UInt64(seconds * 1e9)
    }

    /// The credential's row (one SELECT on a prepared statement cached per connection, its own
    /// snapshot) and the epochs to cache the principal under. The user is known only from the
    /// row, so the stamp is read after a first read and the row is read again: a change committed
    /// before the stamp was read shows in the second read; one committed after it bumps an epoch
    /// past the stamp, so the cached entry is stale. (A stamp read after a single read could
    /// vouch for a row that a revocation had already overtaken.)
    private func stampedRow(_ sql: String, _ digest: Data) throws -> (Row, EpochStamp) {
        func fetch() throws -> Row? {
            try pool.unsafeRead { db in try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [digest]) }
        }
        guard let first = try fetch(), let userID = first["user_id"] as Int64? else { throw AuthError.unauthenticated }
        let stamp = epochs.stamp(userID)
        guard let row = try fetch(), row["user_id"] as Int64? == userID else { throw AuthError.unauthenticated }
        return (row, stamp)
    }

    func restriction(passwordChangedAt: Double, totpEnabled: Bool, isAdmin: Bool) -> Principal.Restriction? {
        if let expiry = settings.passwordExpiry, passwordChangedAt + expiry < now { return .passwordExpired }
        if settings.twoFactorMandatoryForAdmins && isAdmin && !totpEnabled { return .twoFactorEnrollment }
        return nil
    }

    /// Logs in. Unknown users, wrong passwords, deactivated and locked accounts all fail with
    /// `.unauthenticated` after the same amount of work (a dummy hash for unknown users).
    public func login(username: String, password: String, totp: String?, ip: String?) throws -> LoginResult {
        guard password.utf8.count <= settings.policy.maximumBytes else {
            hasher.verifyDummy("")
            try recordFailure(userID: nil, username: username, ip: ip, reason: "password too long")
            throw AuthError.unauthenticated
        }
        let row = try pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT id, username, password_hash, active, locked_until, password_changed_at, totp_enabled,
                           totp_secret, totp_last_step,
                           EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = users.id AND r.role = 'admin') AS is_admin
                    FROM users WHERE username = ?
                    """, arguments: [username])
        }
        guard let row else {
            hasher.verifyDummy(password)
            try recordFailure(userID: nil, username: username, ip: ip, reason: "unknown user")
            throw AuthError.unauthenticated
        }
        let userID: Int64 = row["id"]
        let hash: String = row["password_hash"]
        let passwordOK = hasher.verify(password, against: hash)
        let locked = ((row["locked_until"] as Double?) ?? 0) > now
        guard passwordOK, row["active"] as Bool, !locked else {
            let reason = !passwordOK ? "wrong password" : (locked ? "account locked" : "account deactivated")
            try recordFailure(userID: passwordOK ? nil : userID, username: username, ip: ip, reason: reason)
            throw AuthError.unauthenticated
        }
        var acceptedStep: UInt64?
        if row["totp_enabled"] as Bool {
            guard let totp, !totp.isEmpty else { throw AuthError.totpRequired }
            guard let sealed = row["totp_secret"] as Data?, let secret = try? secretBox.open(sealed),
                let step = TOTP.verify(code: totp, secret: secret, at: now, after: row["totp_last_step"] as UInt64?)
            else {
                try recordFailure(userID: userID, username: username, ip: ip, reason: "wrong totp code")
                throw AuthError.unauthenticated
            }
            acceptedStep = step
        }
        let rehash = hasher.needsRehash(hash) ? try hasher.hash(password) : nil
        let token = Tokens.generate(.session)
        let time = now
        let expiresAt = time + settings.sessionTimeout
        let user = try pool.write { db -> Directory.User in
            if let acceptedStep {
                // Claim the code's time step in one conditional statement: of logins racing with
                // the same code, exactly one finds the step unused (the others roll back).
                try db.execute(
                    sql:
                        "UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)",
                    arguments: [acceptedStep, userID, acceptedStep])
                guard db.changesCount == 1 else { throw AuthError.unauthenticated }
            }
            try db.execute(
                sql:
                    "INSERT INTO sessions (user_id, token_hash, created_at, expires_at, last_used_at, ip) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [userID, Tokens.digest(token), time, expiresAt, time, ip])
            try db.execute(
                sql: "UPDATE users SET failed_login_count = 0, locked_until = NULL WHERE id = ?", arguments: [userID])
            if let rehash {
                try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [rehash, userID])
            }
            try audit(db, "login_success", actor: row["username"], ip: ip, target: row["username"], outcome: "success")
            return try loadUser(db, id: userID)!
        }
        let restriction = self.restriction(
            passwordChangedAt: row["password_changed_at"], totpEnabled: row["totp_enabled"], isAdmin: row["is_admin"])
        return LoginResult(token: token, expiresAt: expiresAt, user: user, restriction: restriction)
    }

    /// Ends the session behind `principal` (every worker stops accepting it at once).
    public func logout(_ principal: Principal, ip: String?) throws {
        guard case .session(let id) = principal.credential else {
            throw AuthError.invalid("logout needs a session token")
        }
        try pool.write { db in
            try db.execute(sql: "DELETE FROM sessions WHERE id = ?", arguments: [id])
            try audit(db, "logout", actor: principal.username, ip: ip, target: principal.username, outcome: "success")
        }
        invalidate(user: principal.userID)
    }

    /// Active sessions (for the metrics gauge).
    public func activeSessionCount() throws -> Int {
        let time = now
        return try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM sessions WHERE expires_at > ?", arguments: [time]) ?? 0
        }
    }

    /// Gauges computed at scrape time, in one read transaction: users, unexpired sessions,
    /// accounts locked now.
    public func metricsGauges() throws -> (users: Int, activeSessions: Int, lockedAccounts: Int) {
        let time = now
        return try pool.read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT (SELECT count(*) FROM users),
                           (SELECT count(*) FROM sessions WHERE expires_at > ?),
                           (SELECT count(*) FROM users WHERE locked_until > ?)
                    """, arguments: [time, time])!
            return (row[0], row[1], row[2])
        }
    }
}

/// Monotonic nanoseconds for cache expiry: the coarse clock (a few ms resolution, a third of
/// the cost of the precise one), plenty for TTLs counted in seconds.
func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
