import Foundation
import GRDB
import JadeCore
import JadeShared
import JadeStore
import Logging

/// What every auth service shares: the database, the settings, the epochs that invalidate
/// every worker's caches, the password hasher and the TOTP secret box. Each service
/// (``Authenticator``, ``Authorizer``, ``Accounts``, ``Directory``, ``AuditTrail``,
/// ``IPBlockStore``) holds one and owns its own state (its caches) beside it. Every method that
/// touches the database blocks: call it off the event loop.
public final class AuthCore: Sendable {
    public let pool: ResilientPool
    public let hasher: PasswordHasher
    public let epochs: EpochSource
    public let settings: AuthSettings
    let logger: Logger
    let secretBox: SecretBox
    /// Counts accounts locked by the failed-login policy
    /// (`jadevectordb_locked_accounts_total`).
    public let lockouts: MetricCounter?

    public init(
        pool: ResilientPool, settings: AuthSettings, epochs: EpochSource, logger: Logger, lockouts: MetricCounter? = nil
    ) {
        self.pool = pool
        self.lockouts = lockouts
        self.settings = settings
        self.epochs = epochs
        self.logger = logger
        self.hasher = PasswordHasher(
            parameters: settings.hashing, pepper: settings.pepper, maxConcurrent: settings.maxConcurrentHashes)
        self.secretBox = SecretBox(passphrase: settings.totpKey.isEmpty ? "development-only-key" : settings.totpKey)
    }
}

/// A service over the ``AuthCore``: the shared helpers every service uses (time, the audit
/// writer, cache invalidation, loading a user, the permission query, failed-attempt counting).
protocol AuthComponent {
    var core: AuthCore { get }
}

extension AuthComponent {
    var pool: ResilientPool { core.pool }
    var settings: AuthSettings { core.settings }
    var hasher: PasswordHasher { core.hasher }
    var epochs: EpochSource { core.epochs }
    var logger: Logger { core.logger }
    var secretBox: SecretBox { core.secretBox }

    var now: TimeInterval { Date().timeIntervalSince1970 }

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

    func loadUser(_ db: Database, id: Int64) throws -> Directory.User? {
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
        return Directory.User(
            id: row["id"], username: row["username"], email: row["email"], active: row["active"],
            createdAt: row["created_at"], totpEnabled: row["totp_enabled"], locked: (lockedUntil ?? 0) > now,
            roles: roles, groups: groups)
    }

    /// Names of API keys, roles and groups: letters, digits, spaces and `_.:-`, 1 to 64 bytes.
    static func validName(_ name: String) -> Bool { Names.check(name, extra: " _.:-") }

    func validateUsername(_ username: String) throws {
        guard Names.check(username, extra: "_.@-") else {
            throw AuthError.invalid("username must be 1 to 64 characters of letters, digits, '_', '.', '@' or '-'")
        }
    }

    func validateEmail(_ email: String?) throws {
        guard let email else { return }
        guard email.utf8.count <= 254, email.contains("@"), !email.hasPrefix("@"), !email.hasSuffix("@"),
            !email.contains(" ")
        else { throw AuthError.invalid("email is not a valid address") }
    }

    /// Creates a user with `roles` (none for self-registration, when `actor` is nil).
    func makeUser(
        username: String, password: String, email: String?, roles: [String] = [], actor: Principal?, ip: String?
    ) throws -> Directory.User {
        try validateUsername(username)
        try validateEmail(email)
        if let reason = settings.policy.violation(password: password, username: username) {
            throw AuthError.weakPassword("password \(reason)")
        }
        let hash = try hasher.hash(password)
        let time = now
        let roles = Set(roles).sorted()
        if actor == nil && !roles.isEmpty { throw AuthError.forbidden("self-registration cannot assign roles") }
        // The creator must hold everything the roles confer (see AuthService+Grants).
        let check = { (db: Database) throws -> String? in
            guard let actor else { return nil }
            for role in roles {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM roles WHERE name = ?", arguments: [role]) == true else {
                    throw AuthError.notFound("role \(role) does not exist")
                }
                if let refusal = try self.refusalToConfer(
                    try self.grants(ofRole: role, db), what: "role \(role)", actor: actor, db)
                {
                    return refusal
                }
            }
            return nil
        }
        return try boundedWrite(
            actor: actor ?? .system(username), ip: ip, action: "create_user", target: username, check: check
        ) { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE username = ?", arguments: [username]) == true {
                throw AuthError.conflict("username is taken")
            }
            if let email, try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ?", arguments: [email]) == true
            {
                throw AuthError.conflict("email is taken")
            }
            try db.execute(
                sql:
                    "INSERT INTO users (username, email, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [username, email, hash, time, time])
            let id = db.lastInsertedRowID
            for role in roles {
                try db.execute(sql: "INSERT INTO user_roles (user_id, role) VALUES (?, ?)", arguments: [id, role])
            }
            try audit(
                db, actor == nil ? "user_registered" : "user_created", actor: actor?.username ?? username, ip: ip,
                target: username, outcome: "success",
                details: roles.isEmpty ? nil : ["roles": .array(roles.map { .string($0) })])
            return try loadUser(db, id: id)!
        }
    }

    /// Ends every outstanding password-reset token of a user whose password just changed: an
    /// older reset link must not undo the new password.
    func endResetTokens(_ db: Database, userID: Int64) throws {
        try db.execute(
            sql: "UPDATE password_reset_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
            arguments: [now, userID])
    }

    /// Counts a failed login against the account (locking it at the threshold) and audits it.
    func recordFailure(userID: Int64?, username: String, ip: String?, reason: String) throws {
        defer { if let userID { invalidate(user: userID) } }
        let threshold = settings.maxFailedLoginsPerAccount
        let lockFor = settings.lockoutDuration
        let time = now
        let locked = try pool.write { db -> Bool in
            var locked = false
            if let userID {
                try db.execute(
                    sql: "UPDATE users SET failed_login_count = failed_login_count + 1 WHERE id = ?",
                    arguments: [userID])
                let count =
                    try Int.fetchOne(db, sql: "SELECT failed_login_count FROM users WHERE id = ?", arguments: [userID])
                    ?? 0
                if count >= threshold {
                    try db.execute(
                        sql: "UPDATE users SET locked_until = ?, failed_login_count = 0 WHERE id = ?",
                        arguments: [time + lockFor, userID])
                    locked = true
                    try audit(
                        db, "account_locked", actor: nil, ip: ip, target: username, outcome: "locked",
                        details: ["until": .double(time + lockFor)])
                }
            }
            try audit(
                db, "login_failure", actor: nil, ip: ip, target: String(username.prefix(256)), outcome: "failure",
                details: ["reason": .string(reason)])
            return locked
        }
        if locked { core.lockouts?.increment() }
    }

    func decide(_ db: Database, _ principal: Principal, _ permission: Permission, database: String?) throws -> Bool {
        if let mask = principal.keyPermissions, !mask.contains(where: { $0.implies(permission) }) { return false }
        let held = try permissions(db, userID: principal.userID, database: database)
        return held.contains { $0.implies(permission) }
    }

    /// Everything a user holds: global role permissions, role permissions scoped to `database`,
    /// and ACL grants on `database` to the user or any of their groups.
    /// One prepared statement (cached per connection): nothing for an inactive user.
    func permissions(_ db: Database, userID: Int64, database: String?) throws -> Set<Permission> {
        let statement = try db.cachedStatement(
            sql: """
                SELECT rp.permission FROM users u
                  JOIN user_roles ur ON ur.user_id = u.id
                  JOIN role_permissions rp ON rp.role = ur.role
                 WHERE u.id = ?1 AND u.active AND (rp.database = '' OR rp.database = ?2)
                UNION ALL
                SELECT a.permission FROM users u, acl_entries a
                 WHERE u.id = ?1 AND u.active AND ?3 AND a.database = ?2 AND (
                       (a.principal_type = 'user' AND a.principal = ?4) OR
                       (a.principal_type = 'group'
                        AND a.principal IN (SELECT group_name FROM group_members WHERE user_id = ?1)))
                """)
        let names = try String.fetchAll(
            statement, arguments: [userID, database ?? "", database != nil, String(userID)])
        return Set(names.compactMap(Permission.init(rawValue:)))
    }
}
