import Foundation
import GRDB

/// A permission as held or conferred: on one database, or everywhere (`database` nil).
struct Grant: Hashable {
    let permission: Permission
    let database: String?

    var description: String { database.map { "\(permission.rawValue)@\($0)" } ?? permission.rawValue }
}

/// Least privilege for the administration routes: what a caller may confer, and on whom it may
/// act, is bounded by what it holds itself.
///
/// - Conferring (assigning a role, creating a user with roles, adding a member to a group whose
///   ACL entries grant database permissions, editing an ACL) needs every permission conferred,
///   on the same database or everywhere (`admin` holds all).
/// - Changing a user (its password, activity, email, roles, groups, keys; deleting it) needs
///   every permission that user holds: only an admin may act on an admin.
///
/// Checks run in the transaction that makes the change, so a concurrent grant or revocation
/// cannot slip between them. A refusal is committed as a `privilege_refused` audit event and
/// thrown as `AuthError.forbidden` (403).
extension AuthComponent {
    /// The grants a role carries.
    func grants(ofRole role: String, _ db: Database) throws -> [Grant] {
        try Row.fetchAll(db, sql: "SELECT permission, database FROM role_permissions WHERE role = ?", arguments: [role])
            .compactMap { row in
                guard let permission = Permission(rawValue: row["permission"]) else { return nil }
                let database: String = row["database"]
                return Grant(permission: permission, database: database.isEmpty ? nil : database)
            }
    }

    /// The grants membership of a group carries (its ACL entries).
    func grants(ofGroup group: String, _ db: Database) throws -> [Grant] {
        try Row.fetchAll(
            db, sql: "SELECT permission, database FROM acl_entries WHERE principal_type = 'group' AND principal = ?",
            arguments: [group]
        ).compactMap { row in
            Permission(rawValue: row["permission"]).map { Grant(permission: $0, database: row["database"]) }
        }
    }

    /// Everything a user holds: its roles' grants, its own ACL entries and its groups'.
    func grants(ofUser userID: Int64, _ db: Database) throws -> [Grant] {
        var held: [Grant] = []
        for role in try String.fetchAll(db, sql: "SELECT role FROM user_roles WHERE user_id = ?", arguments: [userID]) {
            held += try grants(ofRole: role, db)
        }
        held += try Row.fetchAll(
            db,
            sql: """
                SELECT permission, database FROM acl_entries
                 WHERE (principal_type = 'user' AND principal = ?)
                    OR (principal_type = 'group'
                        AND principal IN (SELECT group_name FROM group_members WHERE user_id = ?))
                """, arguments: [String(userID), userID]
        ).compactMap { row in
            Permission(rawValue: row["permission"]).map { Grant(permission: $0, database: row["database"]) }
        }
        return held
    }

    /// The first of `grants` that `actor` does not hold (nil: it holds them all). The command
    /// line (user id 0, `Principal.system`) holds everything: it has the database file anyway.
    func firstMissing(_ grants: [Grant], actor: Principal, _ db: Database) throws -> Grant? {
        guard actor.userID != Principal.systemUserID else { return nil }
        if try decide(db, actor, .admin, database: nil) { return nil }
        for grant in Set(grants) where try !decide(db, actor, grant.permission, database: grant.database) {
            return grant
        }
        return nil
    }

    /// Why `actor` may not change user `targetID` (nil: it may): the target holds a permission
    /// the actor lacks. Acting on oneself is bounded the same way (it holds what it holds).
    func refusalToManage(_ targetID: Int64, actor: Principal, _ db: Database) throws -> String? {
        guard let missing = try firstMissing(try grants(ofUser: targetID, db), actor: actor, db) else { return nil }
        return "the user holds \(missing.description), which you do not hold"
    }

    /// Why `actor` may not confer `grants` (nil: it may).
    func refusalToConfer(_ grants: [Grant], what: String, actor: Principal, _ db: Database) throws -> String? {
        guard let missing = try firstMissing(grants, actor: actor, db) else { return nil }
        return "\(what) confers \(missing.description), which you do not hold"
    }

    /// Runs `change` in one write transaction once `check`, in the same transaction, found no
    /// reason to refuse. A refusal is recorded in the audit log (committed) and thrown as 403.
    func boundedWrite<T>(
        actor: Principal, ip: String?, action: String, target: String?, check: (Database) throws -> String?,
        change: (Database) throws -> T
    ) throws -> T {
        // The refusal is returned, not thrown: throwing would roll its audit event back.
        let outcome = try pool.write { db -> Result<T, AuthError> in
            if let reason = try check(db) {
                try audit(
                    db, "privilege_refused", actor: actor.username, ip: ip, target: target, outcome: "denied",
                    details: ["action": .string(action), "reason": .string(reason)])
                return .failure(.forbidden(reason))
            }
            return .success(try change(db))
        }
        return try outcome.get()
    }
}
