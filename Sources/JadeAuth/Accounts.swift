import Foundation
import GRDB
import JadeCore

/// The caller's own account: self-registration, password change and reset, two-factor
/// enrolment, and API keys.
public struct Accounts: AuthComponent, Sendable {
    let core: AuthCore

    public init(core: AuthCore) { self.core = core }

    /// Self-registration (403 when disabled by configuration).
    public func register(username: String, password: String, email: String?, ip: String?) throws -> Directory.User {
        guard settings.allowRegistration else { throw AuthError.registrationDisabled }
        return try makeUser(username: username, password: password, email: email, actor: nil, ip: ip)
    }

    /// Changes the caller's password and ends their other sessions and reset tokens.
    public func changePassword(_ principal: Principal, current: String, new: String, ip: String?) throws {
        let hash = try pool.read { db in
            try String.fetchOne(db, sql: "SELECT password_hash FROM users WHERE id = ?", arguments: [principal.userID])
        }
        guard let hash, current.utf8.count <= settings.policy.maximumBytes, hasher.verify(current, against: hash) else {
            throw AuthError.forbidden("the current password is wrong")
        }
        if let reason = settings.policy.violation(password: new, username: principal.username) {
            throw AuthError.weakPassword("password \(reason)")
        }
        if new == current { throw AuthError.weakPassword("password must differ from the current one") }
        let newHash = try hasher.hash(new)
        let keep: Int64? = { if case .session(let id) = principal.credential { return id } else { return nil } }()
        try pool.write { db in
            try db.execute(
                sql: "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
                arguments: [newHash, now, principal.userID])
            try endResetTokens(db, userID: principal.userID)
            try db.execute(
                sql: "DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?", arguments: [principal.userID, keep])
            try audit(
                db, "password_changed", actor: principal.username, ip: ip, target: principal.username,
                outcome: "success")
        }
        invalidate(user: principal.userID)
    }

    /// Starts a password reset. Always succeeds from the caller's point of view; a token goes to
    /// the configured delivery only when the account exists and is active.
    public func requestPasswordReset(username: String?, email: String?, ip: String?) throws {
        let row = try pool.read { db -> Row? in
            if let username {
                return try Row.fetchOne(
                    db, sql: "SELECT id, username, email FROM users WHERE username = ? AND active = 1",
                    arguments: [username])
            }
            return try Row.fetchOne(
                db, sql: "SELECT id, username, email FROM users WHERE email = ? AND active = 1", arguments: [email])
        }
        let target = username ?? email ?? ""
        guard let row else {
            try pool.write { db in
                try audit(
                    db, "password_reset_requested", actor: nil, ip: ip, target: String(target.prefix(256)),
                    outcome: "no_such_account")
            }
            return
        }
        let token = Tokens.generate(.passwordReset)
        let time = now
        let expiresAt = time + settings.resetTokenLifetime
        let userID: Int64 = row["id"]
        try pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO password_reset_tokens (user_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [userID, Tokens.digest(token), time, expiresAt])
            try audit(db, "password_reset_requested", actor: nil, ip: ip, target: row["username"], outcome: "issued")
        }
        try deliverReset(token: token, username: row["username"], email: row["email"], expiresAt: expiresAt)
    }

    private func deliverReset(token: String, username: String, email: String?, expiresAt: TimeInterval) throws {
        let message = JSONValue.object([
            "type": .string("password_reset"), "username": .string(username),
            "email": email.map { .string($0) } ?? .null,
            "token": .string(token),
            "expires_at": .string(ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: expiresAt))),
        ])
        if settings.resetDelivery == "log" {
            // Development delivery: the log is the mailbox (production refuses this setting).
            logger.notice(
                "password reset token (development delivery)",
                metadata: ["username": "\(username)", "reset_token": "\(token)"])
            return
        }
        let dir = settings.resetSpoolDirectory
        try FileManager.default.createDirectory(
            atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let data = Data(message.text.utf8)
        let name = "reset-\(Int(now * 1000))-\(UUID().uuidString).json"
        let temp = (dir as NSString).appendingPathComponent("." + name)
        guard FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temp]) }
        try FileManager.default.moveItem(atPath: temp, toPath: (dir as NSString).appendingPathComponent(name))
    }

    /// Completes a reset: single use, unexpired; ends every session of the user.
    public func confirmPasswordReset(token: String, newPassword: String, ip: String?) throws {
        guard Tokens.isWellFormed(token[...], .passwordReset) else {
            throw AuthError.invalid("the reset token is invalid or expired")
        }
        let digest = Tokens.digest(token)
        let row = try pool.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT t.id, t.user_id, t.expires_at, t.used_at, u.username FROM password_reset_tokens t
                    JOIN users u ON u.id = t.user_id WHERE t.token_hash = ? AND u.active = 1
                    """, arguments: [digest])
        }
        guard let row, (row["used_at"] as Double?) == nil, (row["expires_at"] as Double) > now else {
            throw AuthError.invalid("the reset token is invalid or expired")
        }
        let username: String = row["username"]
        if let reason = settings.policy.violation(password: newPassword, username: username) {
            throw AuthError.weakPassword("password \(reason)")
        }
        let hash = try hasher.hash(newPassword)
        let userID: Int64 = row["user_id"]
        try pool.write { db in
            // Claim the token inside the transaction: a concurrent confirm finds it used.
            try db.execute(
                sql: "UPDATE password_reset_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL",
                arguments: [now, row["id"] as Int64])
            guard db.changesCount == 1 else { throw AuthError.invalid("the reset token is invalid or expired") }
            try db.execute(
                sql:
                    "UPDATE users SET password_hash = ?, password_changed_at = ?, failed_login_count = 0, locked_until = NULL WHERE id = ?",
                arguments: [hash, now, userID])
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [userID])
            try endResetTokens(db, userID: userID)
            try audit(db, "password_reset", actor: username, ip: ip, target: username, outcome: "success")
        }
        invalidate(user: userID)
    }

    // MARK: TOTP

    /// Starts enrolment: stores a new pending secret and returns the otpauth URI (shown once).
    public func enrollTOTP(_ principal: Principal, ip: String?) throws -> String {
        let enabled = try pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT totp_enabled FROM users WHERE id = ?", arguments: [principal.userID])
        }
        if enabled == true { throw AuthError.conflict("two-factor authentication is already enabled") }
        let secret = TOTP.generateSecret()
        let sealed = try secretBox.seal(secret)
        try pool.write { db in
            try db.execute(
                sql: "UPDATE users SET totp_secret = ?, totp_enabled = 0, totp_last_step = NULL WHERE id = ?",
                arguments: [sealed, principal.userID])
            try audit(
                db, "totp_enrollment_started", actor: principal.username, ip: ip, target: principal.username,
                outcome: "success")
        }
        return TOTP.provisioningURI(secret: secret, account: principal.username)
    }

    /// Confirms enrolment with a current code.
    public func verifyTOTP(_ principal: Principal, code: String, ip: String?) throws {
        let row = try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE id = ?",
                arguments: [principal.userID])
        }
        guard let row, let sealed = row["totp_secret"] as Data? else {
            throw AuthError.invalid("start enrolment with POST /v1/auth/2fa/enroll first")
        }
        if row["totp_enabled"] as Bool { throw AuthError.conflict("two-factor authentication is already enabled") }
        guard let secret = try? secretBox.open(sealed),
            let step = TOTP.verify(code: code, secret: secret, at: now, after: row["totp_last_step"] as UInt64?)
        else {
            try recordFailure(
                userID: principal.userID, username: principal.username, ip: ip, reason: "wrong totp code (enrolment)")
            throw AuthError.invalid("the code is wrong or expired")
        }
        try pool.write { db in
            // The step is claimed in the same statement that checks it is unused.
            try db.execute(
                sql:
                    "UPDATE users SET totp_enabled = 1, totp_last_step = ? WHERE id = ? AND totp_enabled = 0 AND (totp_last_step IS NULL OR totp_last_step < ?)",
                arguments: [step, principal.userID, step])
            guard db.changesCount == 1 else { throw AuthError.invalid("the code is wrong or expired") }
            try audit(
                db, "totp_enabled", actor: principal.username, ip: ip, target: principal.username, outcome: "success")
        }
        invalidate(user: principal.userID)
    }

    /// Turns two-factor authentication off (needs a current code).
    public func disableTOTP(_ principal: Principal, code: String, ip: String?) throws {
        let row = try pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT totp_secret, totp_enabled, totp_last_step FROM users WHERE id = ?",
                arguments: [principal.userID])
        }
        guard let row, row["totp_enabled"] as Bool, let sealed = row["totp_secret"] as Data? else {
            throw AuthError.conflict("two-factor authentication is not enabled")
        }
        guard let secret = try? secretBox.open(sealed),
            let step = TOTP.verify(code: code, secret: secret, at: now, after: row["totp_last_step"] as UInt64?)
        else {
            // Counted like a failed login: guessing codes here locks the account as guessing
            // them at login does.
            try recordFailure(
                userID: principal.userID, username: principal.username, ip: ip, reason: "wrong totp code (disable)")
            throw AuthError.invalid("the code is wrong or expired")
        }
        try pool.write { db in
            try db.execute(
                sql:
                    "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL WHERE id = ? AND totp_enabled = 1 AND (totp_last_step IS NULL OR totp_last_step < ?)",
                arguments: [principal.userID, step])
            guard db.changesCount == 1 else { throw AuthError.invalid("the code is wrong or expired") }
            try audit(
                db, "totp_disabled", actor: principal.username, ip: ip, target: principal.username, outcome: "success")
        }
        invalidate(user: principal.userID)
    }

    // MARK: API keys

    /// A stored API key, without its secret.
    public struct APIKey: Sendable {
        public let id: Int64
        public let name: String
        public let prefix: String
        public let permissions: [Permission]?
        public let createdAt: TimeInterval
        public let expiresAt: TimeInterval?
        public let revoked: Bool
        public let lastUsedAt: TimeInterval?
    }

    /// Creates a key for the caller; returns it with the secret, which is never shown again.
    public func createAPIKey(
        _ principal: Principal, name: String, expiresInDays: Int?, permissions: [Permission]?, ip: String?
    ) throws -> (key: String, info: APIKey) {
        guard Self.validName(name) else {
            throw AuthError.invalid("name must be 1 to 64 letters, digits, spaces or '_.:-'")
        }
        if let days = expiresInDays, !(1...3650).contains(days) {
            throw AuthError.invalid("expires_in_days must be from 1 to 3650")
        }
        if case .apiKey = principal.credential { throw AuthError.forbidden("API keys cannot create API keys") }
        let key = Tokens.generate(.apiKey)
        let prefix = String(key.prefix(12))
        let time = now
        let expiresAt = expiresInDays.map { time + TimeInterval($0) * 86_400 }
        var permissionText: String?
        if let permissions {
            let names = Array(Set(permissions.map(\.rawValue))).sorted()
            permissionText = String(decoding: try JSONEncoder().encode(names), as: UTF8.self)
        }
        let id = try pool.write { db -> Int64 in
            try db.execute(
                sql:
                    "INSERT INTO api_keys (user_id, name, prefix, key_hash, permissions, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [principal.userID, name, prefix, Tokens.digest(key), permissionText, time, expiresAt])
            let id = db.lastInsertedRowID
            try audit(
                db, "api_key_created", actor: principal.username, ip: ip, target: "\(id)", outcome: "success",
                details: ["name": .string(name), "prefix": .string(prefix)])
            return id
        }
        let info = APIKey(
            id: id, name: name, prefix: prefix, permissions: permissions, createdAt: time, expiresAt: expiresAt,
            revoked: false, lastUsedAt: nil)
        return (key, info)
    }

    /// The caller's keys, without secrets.
    public func listAPIKeys(userID: Int64) throws -> [APIKey] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys WHERE user_id = ? ORDER BY id", arguments: [userID]).map {
                row in
                var permissions: [Permission]?
                if let text = row["permissions"] as String?, let data = text.data(using: .utf8),
                    let names = try? JSONDecoder().decode([String].self, from: data)
                {
                    permissions = names.compactMap(Permission.init(rawValue:))
                }
                return APIKey(
                    id: row["id"], name: row["name"], prefix: row["prefix"], permissions: permissions,
                    createdAt: row["created_at"], expiresAt: row["expires_at"],
                    revoked: (row["revoked_at"] as Double?) != nil,
                    lastUsedAt: row["last_used_at"])
            }
        }
    }

    /// Revokes a key of the caller (or any key, for a users:manage caller).
    public func revokeAPIKey(_ principal: Principal, id: Int64, mayManageUsers: Bool, ip: String?) throws {
        let owner = try pool.read { db in
            try Int64.fetchOne(
                db, sql: "SELECT user_id FROM api_keys WHERE id = ? AND revoked_at IS NULL", arguments: [id])
        }
        guard let owner, owner == principal.userID || mayManageUsers else {
            throw AuthError.notFound("no such API key")
        }
        try boundedWrite(
            actor: principal, ip: ip, action: "revoke_api_key", target: "\(id)",
            check: { db in owner == principal.userID ? nil : try refusalToManage(owner, actor: principal, db) }
        ) { db in
            try db.execute(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?", arguments: [now, id])
            try audit(db, "api_key_revoked", actor: principal.username, ip: ip, target: "\(id)", outcome: "success")
        }
        invalidate(user: owner)
    }
}
