import Foundation
import GRDB

/// Key of a cached permission decision: `user_id:database:permission`.
public struct PermissionKey: Hashable, Sendable {
    public let userID: Int64
    public let database: String
    public let permission: Permission
    public let keyID: Int64

    /// Hashes the permission by its case, not its raw string (the default for a String-backed
    /// enum): one string hashed per lookup instead of two.
    public func hash(into hasher: inout Hasher) {
        // Ids and the permission folded into one word (user ids and key ids stay far below
        // 2^56; a collision would only cost a comparison), then the database name.
        hasher.combine(UInt64(bitPattern: userID) << 3 ^ UInt64(permission.ordinal) ^ UInt64(bitPattern: keyID) << 35)
        hasher.combine(database)
    }

    public static func == (a: PermissionKey, b: PermissionKey) -> Bool {
        a.userID == b.userID && a.keyID == b.keyID && a.permission.ordinal == b.permission.ordinal
            && a.database == b.database
    }
}

extension Permission {
    /// The case's position (cheap to hash and compare).
    var ordinal: Int {
        switch self {
        case .admin: 0
        case .metricsRead: 1
        case .usersManage: 2
        case .databasesCreate: 3
        case .databaseRead: 4
        case .databaseWrite: 5
        case .databaseAdmin: 6
        }
    }
}

extension AuthService {
    /// The decision from cache only (event-loop fast path); nil on a miss.
    public func cachedDecision(_ principal: Principal, _ permission: Permission, database: String?) -> Bool? {
        let key = PermissionKey(
            userID: principal.userID, database: database ?? "", permission: permission, keyID: keyID(principal))
        return permissionCache.value(for: key, stamp: epochs.stamp(principal.userID), now: monotonicNow())
    }

    func keyID(_ principal: Principal) -> Int64 {
        if case .apiKey(let id, _) = principal.credential { return id }
        return 0
    }

    /// Decides from the database and caches the decision, stamped with the epochs read before
    /// the query (so a change committed meanwhile makes the entry stale, never wrong).
    public func authorize(_ principal: Principal, _ permission: Permission, database: String?) throws -> Bool {
        let stamp = epochs.stamp(principal.userID)
        // One SELECT is its own consistent snapshot: no explicit transaction needed (GRDB's
        // `read` would add BEGIN/COMMIT, about 20 µs here).
        let granted = try pool.unsafeRead { db in try decide(db, principal, permission, database: database) }
        let key = PermissionKey(
            userID: principal.userID, database: database ?? "", permission: permission, keyID: keyID(principal))
        permissionCache.set(granted, for: key, stamp: stamp, now: monotonicNow())
        return granted
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

    /// The permissions a user holds everywhere (for /v1/auth/me).
    public func globalPermissions(userID: Int64) throws -> [Permission] {
        try pool.read { db in try permissions(db, userID: userID, database: nil) }.sorted { $0.rawValue < $1.rawValue }
    }

    /// Of `databases`, those `principal` may read (one query per database; cached).
    public func readableDatabases(_ principal: Principal, among databases: [String]) throws -> [String] {
        try databases.filter { name in
            if let cached = cachedDecision(principal, .databaseRead, database: name) { return cached }
            return try authorize(principal, .databaseRead, database: name)
        }
    }
}
