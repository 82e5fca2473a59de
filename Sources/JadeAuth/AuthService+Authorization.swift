import Foundation
import GRDB

/// Key of a cached permission decision: `user_id:database:permission`.
public struct PermissionKey: Hashable, Sendable {
    public let userID: Int64
    public let database: String
    public let permission: Permission
    public let keyID: Int64
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
        let granted = try pool.read { db in try decide(db, principal, permission, database: database) }
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
    func permissions(_ db: Database, userID: Int64, database: String?) throws -> Set<Permission> {
        guard try Bool.fetchOne(db, sql: "SELECT active FROM users WHERE id = ?", arguments: [userID]) == true else {
            return []
        }
        var names = try String.fetchAll(
            db,
            sql: """
                SELECT rp.permission FROM user_roles ur JOIN role_permissions rp ON rp.role = ur.role
                WHERE ur.user_id = ? AND (rp.database = '' OR rp.database = ?)
                """, arguments: [userID, database ?? ""])
        if let database {
            names += try String.fetchAll(
                db,
                sql: """
                    SELECT permission FROM acl_entries WHERE database = ? AND (
                        (principal_type = 'user' AND principal = ?) OR
                        (principal_type = 'group' AND principal IN (SELECT group_name FROM group_members WHERE user_id = ?)))
                    """, arguments: [database, String(userID), userID])
        }
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
