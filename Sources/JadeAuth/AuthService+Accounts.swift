import Foundation
import GRDB
import JadeCore

extension AuthService {
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

    /// Creates a user with no role and no permission. `actor` is nil for self-registration.
    public func createUser(
        username: String, password: String, email: String?, roles: [String] = [], actor: Principal?, ip: String?
    ) throws -> User {
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

    /// Self-registration (403 when disabled by configuration).
    public func register(username: String, password: String, email: String?, ip: String?) throws -> User {
        guard settings.allowRegistration else { throw AuthError.registrationDisabled }
        return try createUser(username: username, password: password, email: email, actor: nil, ip: ip)
    }

    /// Ends every outstanding password-reset token of a user whose password just changed: an
    /// older reset link must not undo the new password.
    func endResetTokens(_ db: Database, userID: Int64) throws {
        try db.execute(
            sql: "UPDATE password_reset_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL",
            arguments: [now, userID])
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
}
