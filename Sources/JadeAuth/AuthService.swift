import Foundation
import GRDB
import JadeCore
import JadeShared
import JadeStore
import Logging

/// Users, credentials and grants over the shared SQLite database. Every method that touches the
/// database blocks: call it off the event loop. Changes bump the permission epochs after they
/// commit, so every worker's caches drop what the change made stale.
// @unchecked Sendable: immutable after init, or behind locks (caches, hashing gate, counters).
public final class AuthService: @unchecked Sendable {
    public let pool: ResilientPool
    public let hasher: PasswordHasher
    public let epochs: EpochSource
    public let settings: AuthSettings
    let logger: Logger
    let secretBox: SecretBox
    let permissionCache: LRUCache<PermissionKey, Bool>
    let credentialCache: LRUCache<TokenDigest, Principal>
    /// Counts accounts locked by the failed-login policy
    /// (`jadevectordb_locked_accounts_total`); set before serving.
    public var lockouts: MetricCounter?

    public init(pool: ResilientPool, settings: AuthSettings, epochs: EpochSource, logger: Logger) {
        self.pool = pool
        self.settings = settings
        self.epochs = epochs
        self.logger = logger
        self.hasher = PasswordHasher(
            parameters: settings.hashing, pepper: settings.pepper, maxConcurrent: settings.maxConcurrentHashes)
        self.secretBox = SecretBox(passphrase: settings.totpKey.isEmpty ? "development-only-key" : settings.totpKey)
        self.permissionCache = LRUCache(
            capacity: settings.permissionCacheSize, ttlSeconds: settings.permissionCacheTTLSeconds)
        self.credentialCache = LRUCache(
            capacity: min(settings.permissionCacheSize, 50_000), ttlSeconds: min(settings.permissionCacheTTLSeconds, 60)
        )
    }

    /// Cache counters for metrics and tests.
    public var permissionCacheStats: (hits: UInt64, misses: UInt64, evictions: UInt64, size: Int) {
        (permissionCache.hits, permissionCache.misses, permissionCache.evictions, permissionCache.count)
    }

    var now: TimeInterval { Date().timeIntervalSince1970 }

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

    /// Records a security event in the same transaction as the change it describes.
    func audit(
        _ db: Database, _ type: String, actor: String?, ip: String?, target: String?, outcome: String,
        details: [String: JSONValue]? = nil
    ) throws {
        let detailText = details.map { JSONValue.object($0).text }
        try db.execute(
            sql: "INSERT INTO audit_log (type, actor, ip, target, outcome, details) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [type, actor, ip, target, outcome, detailText])
    }

    /// After a committed change to one user's grants or credentials.
    func invalidate(user userID: Int64) { epochs.bumpUser(userID) }
    /// After a committed change that may affect many users (roles, group ACLs, databases).
    func invalidateAll() { epochs.bumpGlobal() }

    /// Public view of a user.
    public struct User: Sendable, Equatable {
        public let id: Int64
        public let username: String
        public let email: String?
        public let active: Bool
        public let createdAt: TimeInterval
        public let totpEnabled: Bool
        public let locked: Bool
        public let roles: [String]
        public let groups: [String]
    }

    func loadUser(_ db: Database, id: Int64) throws -> User? {
        guard
            let row = try Row.fetchOne(
                db,
                sql:
                    "SELECT id, username, email, active, created_at, totp_enabled, locked_until FROM users WHERE id = ?",
                arguments: [id])
        else { return nil }
        let roles = try String.fetchAll(
            db, sql: "SELECT role FROM user_roles WHERE user_id = ? ORDER BY role", arguments: [id])
        let groups = try String.fetchAll(
            db, sql: "SELECT group_name FROM group_members WHERE user_id = ? ORDER BY group_name", arguments: [id])
        let lockedUntil: Double? = row["locked_until"]
        return User(
            id: row["id"], username: row["username"], email: row["email"], active: row["active"],
            createdAt: row["created_at"], totpEnabled: row["totp_enabled"], locked: (lockedUntil ?? 0) > now,
            roles: roles, groups: groups)
    }

    /// Looks a user up by id (nil when absent).
    public func user(id: Int64) throws -> User? { try pool.read { db in try loadUser(db, id: id) } }

    /// Every user, by id.
    public func listUsers() throws -> [User] {
        try pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM users ORDER BY id").compactMap { try loadUser(db, id: $0) }
        }
    }
}
