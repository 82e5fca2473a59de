import GRDB

/// Recovery for an operator locked out of the API, used by `jadevectordb admin` (which runs
/// with access to the data directory, so above any grant): no current code or granting right
/// is asked for, and every change is an audit event with the actor `cli`.
extension Directory {
    /// Turns a user's two-factor authentication off without a code (the device was lost) and
    /// clears a lockout it caused. Their sessions end, so the next login asks for no code.
    public func resetTwoFactor(username: String, actor: String) throws {
        let id = try userID(username)
        defer { invalidate(user: id) }
        try pool.write { db in
            try db.execute(
                sql:
                    "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL, locked_until = NULL, failed_login_count = 0 WHERE id = ?",
                arguments: [id])
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [id])
            try audit(db, "totp_reset", actor: actor, ip: nil, target: username, outcome: "success")
        }
    }

    /// Gives a user a role (`admin` for an operator who lost every administrator) and
    /// reactivates the account.
    public func grantRoleAsOperator(username: String, role: String, actor: String) throws {
        let id = try userID(username)
        defer { invalidate(user: id) }
        try pool.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM roles WHERE name = ?", arguments: [role]) == true else {
                throw AuthError.notFound("no role \(role)")
            }
            try db.execute(
                sql: "INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?, ?)", arguments: [id, role])
            try db.execute(sql: "UPDATE users SET active = 1 WHERE id = ?", arguments: [id])
            try audit(
                db, "role_assigned", actor: actor, ip: nil, target: username, outcome: "success",
                details: ["role": .string(role)])
        }
    }

    /// The id of `username` (case-insensitive), or `notFound`.
    private func userID(_ username: String) throws -> Int64 {
        let id = try pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT id FROM users WHERE username = ? COLLATE NOCASE", arguments: [username])
        }
        guard let id else { throw AuthError.notFound("no user \(username)") }
        return id
    }
}
