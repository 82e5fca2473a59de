import Foundation
import GRDB
import JadeCore

/// Users, roles, groups and per-database ACLs, as administrators manage them. What a caller may
/// confer, and on whom it may act, is bounded by what it holds (Grants.swift).
public struct Directory: AuthComponent, Sendable {
    let core: AuthCore

    public init(core: AuthCore) { self.core = core }

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

    /// Looks a user up by id (nil when absent).
    public func user(id: Int64) throws -> User? { try pool.read { db in try loadUser(db, id: id) } }

    /// Every user, by id.
    public func listUsers() throws -> [User] {
        try pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM users ORDER BY id").compactMap { try loadUser(db, id: $0) }
        }
    }

    /// Creates a user with `roles`, which `actor` must hold everything of.
    public func createUser(
        username: String, password: String, email: String?, roles: [String] = [], actor: Principal, ip: String?
    ) throws -> User {
        try makeUser(username: username, password: password, email: email, roles: roles, actor: actor, ip: ip)
    }

    /// Updates a user: `active` (false ends every session and key at once), `email`, `password`.
    public func updateUser(
        id: Int64, active: Bool?, email: String??, password: String?, actor: Principal, ip: String?
    ) throws -> User {
        guard let existing = try user(id: id) else { throw AuthError.notFound("no such user") }
        if case .some(let e) = email { try validateEmail(e) }
        var hash: String?
        if let password {
            if let reason = settings.policy.violation(password: password, username: existing.username) {
                throw AuthError.weakPassword("password \(reason)")
            }
            hash = try hasher.hash(password)
        }
        if active == false && id == actor.userID { throw AuthError.conflict("you cannot deactivate yourself") }
        let updated = try boundedWrite(
            actor: actor, ip: ip, action: "update_user", target: existing.username,
            check: { db in try refusalToManage(id, actor: actor, db) }
        ) { db -> User in
            if let active {
                try db.execute(sql: "UPDATE users SET active = ? WHERE id = ?", arguments: [active, id])
                if !active {
                    try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [id])
                    try db.execute(
                        sql: "UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                        arguments: [now, id])
                }
                try audit(
                    db, active ? "user_activated" : "user_deactivated", actor: actor.username, ip: ip,
                    target: existing.username, outcome: "success")
            }
            if case .some(let e) = email {
                if let e,
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ? AND id != ?", arguments: [e, id])
                        == true
                {
                    throw AuthError.conflict("email is taken")
                }
                try db.execute(sql: "UPDATE users SET email = ? WHERE id = ?", arguments: [e, id])
            }
            if let hash {
                try db.execute(
                    sql: "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                    arguments: [hash, now, id])
                try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [id])
                try endResetTokens(db, userID: id)
                try audit(
                    db, "password_reset_by_admin", actor: actor.username, ip: ip, target: existing.username,
                    outcome: "success")
            }
            return try loadUser(db, id: id)!
        }
        invalidate(user: id)
        return updated
    }

    /// Deletes a user with their sessions, keys, roles and memberships.
    public func deleteUser(id: Int64, actor: Principal, ip: String?) throws {
        if id == actor.userID { throw AuthError.conflict("you cannot delete yourself") }
        try boundedWrite(
            actor: actor, ip: ip, action: "delete_user", target: "\(id)",
            check: { db in try refusalToManage(id, actor: actor, db) }
        ) { db in
            guard let name = try String.fetchOne(db, sql: "SELECT username FROM users WHERE id = ?", arguments: [id])
            else {
                throw AuthError.notFound("no such user")
            }
            try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id])
            try db.execute(
                sql: "DELETE FROM acl_entries WHERE principal_type = 'user' AND principal = ?", arguments: [String(id)])
            try audit(db, "user_deleted", actor: actor.username, ip: ip, target: name, outcome: "success")
        }
        invalidate(user: id)
    }

    /// Clears a lockout.
    public func unlockUser(username: String, actor: String, ip: String?) throws {
        let id = try pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT id FROM users WHERE username = ?", arguments: [username])
        }
        defer { if let id { invalidate(user: id) } }
        try pool.write { db in
            try db.execute(
                sql: "UPDATE users SET locked_until = NULL, failed_login_count = 0 WHERE username = ?",
                arguments: [username])
            guard db.changesCount == 1 else { throw AuthError.notFound("no such user") }
            try audit(db, "account_unlocked", actor: actor, ip: ip, target: username, outcome: "success")
        }
    }

    // MARK: roles

    /// A role and its permissions (scoped ones as `permission@database`).
    public struct Role: Sendable {
        public let name: String
        public let builtIn: Bool
        public let description: String
        public let permissions: [(permission: Permission, database: String?)]
    }

    public func listRoles() throws -> [Role] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT name, builtin, description FROM roles ORDER BY name").map { row in
                let name: String = row["name"]
                let perms = try Row.fetchAll(
                    db,
                    sql:
                        "SELECT permission, database FROM role_permissions WHERE role = ? ORDER BY permission, database",
                    arguments: [name]
                ).compactMap { p -> (Permission, String?)? in
                    guard let perm = Permission(rawValue: p["permission"]) else { return nil }
                    let database: String = p["database"]
                    return (perm, database.isEmpty ? nil : database)
                }
                return Role(name: name, builtIn: row["builtin"], description: row["description"], permissions: perms)
            }
        }
    }

    public func createRole(name: String, description: String, permissions: [Permission], actor: Principal, ip: String?)
        throws
    {
        guard Self.validName(name), !name.contains(" ") else {
            throw AuthError.invalid("role name must be 1 to 64 of [A-Za-z0-9_.:-]")
        }
        try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM roles WHERE name = ?", arguments: [name]) == true {
                throw AuthError.conflict("role \(name) exists")
            }
            try db.execute(sql: "INSERT INTO roles (name, description) VALUES (?, ?)", arguments: [name, description])
            for p in Set(permissions) {
                try db.execute(
                    sql: "INSERT INTO role_permissions (role, permission) VALUES (?, ?)", arguments: [name, p.rawValue])
            }
            try audit(
                db, "role_created", actor: actor.username, ip: ip, target: name, outcome: "success",
                details: ["permissions": .array(permissions.map { .string($0.rawValue) })])
        }
    }

    /// Grants (or, with `granted: false`, revokes) a permission to a role, optionally scoped to
    /// one database.
    public func setRolePermission(
        role: String, permission: Permission, database: String?, granted: Bool, actor: Principal, ip: String?
    ) throws {
        if database != nil && !permission.isDatabaseScoped {
            throw AuthError.invalid("only database permissions can be scoped to a database")
        }
        if let database, !Names.isDatabaseName(database) {
            throw AuthError.invalid("database must be 1 to 64 letters, digits, '_' or '-'")
        }
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM roles WHERE name = ?", arguments: [role]) == true else {
                throw AuthError.notFound("no such role")
            }
            if granted {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO role_permissions (role, permission, database) VALUES (?, ?, ?)",
                    arguments: [role, permission.rawValue, database ?? ""])
            } else {
                try db.execute(
                    sql: "DELETE FROM role_permissions WHERE role = ? AND permission = ? AND database = ?",
                    arguments: [role, permission.rawValue, database ?? ""])
            }
            try audit(
                db, granted ? "role_permission_granted" : "role_permission_revoked", actor: actor.username,
                ip: ip, target: role, outcome: "success",
                details: ["permission": .string(permission.rawValue), "database": .string(database ?? "*")])
        }
        invalidateAll()
    }

    /// Assigns or removes a role.
    /// The actor must be able to manage the user and, to assign, hold everything the role confers.
    public func setUserRole(userID: Int64, role: String, assigned: Bool, actor: Principal, ip: String?) throws {
        var name = ""
        let check = { (db: Database) throws -> String? in
            guard
                let username = try String.fetchOne(
                    db, sql: "SELECT username FROM users WHERE id = ?", arguments: [userID])
            else {
                throw AuthError.notFound("no such user")
            }
            name = username
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM roles WHERE name = ?", arguments: [role]) == true else {
                throw AuthError.notFound("no such role")
            }
            if let refusal = try self.refusalToManage(userID, actor: actor, db) { return refusal }
            guard assigned else { return nil }
            return try self.refusalToConfer(try self.grants(ofRole: role, db), what: "role \(role)", actor: actor, db)
        }
        try boundedWrite(
            actor: actor, ip: ip, action: assigned ? "assign_role" : "remove_role", target: "\(userID)", check: check
        ) { db in
            if assigned {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?, ?)", arguments: [userID, role])
            } else {
                try db.execute(sql: "DELETE FROM user_roles WHERE user_id = ? AND role = ?", arguments: [userID, role])
            }
            try audit(
                db, assigned ? "role_assigned" : "role_removed", actor: actor.username, ip: ip, target: name,
                outcome: "success", details: ["role": .string(role)])
        }
        invalidate(user: userID)
    }

    // MARK: groups

    public func listGroups() throws -> [(name: String, members: [Int64])] {
        try pool.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM groups ORDER BY name").map { name in
                (
                    name,
                    try Int64.fetchAll(
                        db, sql: "SELECT user_id FROM group_members WHERE group_name = ? ORDER BY user_id",
                        arguments: [name])
                )
            }
        }
    }

    public func createGroup(name: String, actor: Principal, ip: String?) throws {
        guard Self.validName(name), !name.contains(" ") else {
            throw AuthError.invalid("group name must be 1 to 64 of [A-Za-z0-9_.:-]")
        }
        try pool.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM groups WHERE name = ?", arguments: [name]) == true {
                throw AuthError.conflict("group \(name) exists")
            }
            try db.execute(sql: "INSERT INTO groups (name, created_at) VALUES (?, ?)", arguments: [name, now])
            try audit(db, "group_created", actor: actor.username, ip: ip, target: name, outcome: "success")
        }
    }

    /// The actor must be able to manage the user and, to add it, hold everything the group's ACL
    /// entries grant.
    public func setGroupMember(group: String, userID: Int64, member: Bool, actor: Principal, ip: String?) throws {
        var name = ""
        let check = { (db: Database) throws -> String? in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM groups WHERE name = ?", arguments: [group]) == true else {
                throw AuthError.notFound("no such group")
            }
            guard
                let username = try String.fetchOne(
                    db, sql: "SELECT username FROM users WHERE id = ?", arguments: [userID])
            else {
                throw AuthError.notFound("no such user")
            }
            name = username
            if let refusal = try self.refusalToManage(userID, actor: actor, db) { return refusal }
            guard member else { return nil }
            return try self.refusalToConfer(
                try self.grants(ofGroup: group, db), what: "group \(group)", actor: actor, db)
        }
        try boundedWrite(
            actor: actor, ip: ip, action: member ? "add_group_member" : "remove_group_member", target: "\(userID)",
            check: check
        ) { db in
            if member {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO group_members (group_name, user_id) VALUES (?, ?)",
                    arguments: [group, userID])
            } else {
                try db.execute(
                    sql: "DELETE FROM group_members WHERE group_name = ? AND user_id = ?", arguments: [group, userID])
            }
            try audit(
                db, member ? "group_member_added" : "group_member_removed", actor: actor.username, ip: ip,
                target: name, outcome: "success", details: ["group": .string(group)])
        }
        invalidate(user: userID)
    }

    // MARK: ACLs

    /// An ACL entry: a database permission granted to `user:ID` or `group:NAME`.
    public struct ACLEntry: Sendable, Equatable {
        public let principal: String
        public let permission: Permission
    }

    public func acl(database: String) throws -> [ACLEntry] {
        try pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT principal_type, principal, permission FROM acl_entries WHERE database = ? ORDER BY 1, 2, 3",
                arguments: [database]
            ).compactMap { row in
                guard let p = Permission(rawValue: row["permission"]) else { return nil }
                return ACLEntry(
                    principal: "\(row["principal_type"] as String):\(row["principal"] as String)", permission: p)
            }
        }
    }

    /// Grants or revokes an ACL entry. `principal` is `user:ID` or `group:NAME`. Bounded by the
    /// route's policy: the caller holds `database:admin` on `database`, which implies every
    /// permission an ACL entry can grant there.
    public func setACL(
        database: String, principal: String, permission: Permission, granted: Bool, actor: Principal, ip: String?
    )
        throws
    {
        guard permission.isDatabaseScoped else { throw AuthError.invalid("ACL entries take database permissions only") }
        let parts = principal.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "user" || parts[0] == "group" else {
            throw AuthError.invalid("principal must be user:ID or group:NAME")
        }
        var affectedUser: Int64?
        // One spelling per principal: user ids are stored in canonical decimal ("user:041" is "41").
        let canonicalUser: Int64? = parts[0] == "user" ? Int64(parts[1]).flatMap { $0 > 0 ? $0 : nil } : nil
        if parts[0] == "user" && canonicalUser == nil {
            throw AuthError.invalid("principal must be user:ID or group:NAME")
        }
        let principalName = canonicalUser.map(String.init) ?? parts[1]
        try pool.write { db in
            if parts[0] == "user" {
                guard let id = canonicalUser,
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE id = ?", arguments: [id]) == true
                else { throw AuthError.notFound("no such user") }
                affectedUser = id
            } else {
                guard try Bool.fetchOne(db, sql: "SELECT 1 FROM groups WHERE name = ?", arguments: [parts[1]]) == true
                else {
                    throw AuthError.notFound("no such group")
                }
            }
            if granted {
                try db.execute(
                    sql:
                        "INSERT OR IGNORE INTO acl_entries (database, principal_type, principal, permission) VALUES (?, ?, ?, ?)",
                    arguments: [database, parts[0], principalName, permission.rawValue])
            } else {
                try db.execute(
                    sql:
                        "DELETE FROM acl_entries WHERE database = ? AND principal_type = ? AND principal = ? AND permission = ?",
                    arguments: [database, parts[0], principalName, permission.rawValue])
            }
            try audit(
                db, granted ? "acl_granted" : "acl_revoked", actor: actor.username, ip: ip, target: database,
                outcome: "success",
                details: ["principal": .string(principal), "permission": .string(permission.rawValue)])
        }
        if let affectedUser { invalidate(user: affectedUser) } else { invalidateAll() }
    }

    /// Removes every ACL entry of a deleted database.
    public func dropACL(database: String) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM acl_entries WHERE database = ?", arguments: [database])
        }
        invalidateAll()
    }

    // MARK: bootstrap

    /// Creates the `admin` user when there is no user at all. Returns true when it did.
    public func bootstrapAdmin(password: String) throws -> Bool {
        let count = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users") ?? 0 }
        guard count == 0 else { return false }
        _ = try makeUser(
            username: "admin", password: password, email: nil, roles: ["admin"], actor: .system("bootstrap"), ip: nil)
        return true
    }
}
