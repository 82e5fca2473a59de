import Foundation
import GRDB
import JadeConfig
import JadeStore

/// First-start creation of the `admin` user, and the change counter that lets command-line
/// tools (which cannot reach the workers' shared memory) invalidate every worker's caches.
public enum AdminBootstrap {
    /// Why the server cannot start.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// Exit code: 2 for a configuration problem.
        public let exitCode: Int32
    }

    /// Creates `admin` when the user table is empty. In development without a configured
    /// password one is generated and written once to standard error; production refuses to start.
    public static func run(_ auth: AuthService, config: JadeConfiguration) throws {
        let count = try auth.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users") ?? 0 }
        guard count == 0 else { return }
        var password = config.resolved.string("secrets.admin_password")
        var generated = false
        if password.isEmpty {
            guard config.environment == .development else {
                throw Failure(
                    description:
                        "secrets.admin_password: the first start in production needs the bootstrap admin password (set JADEVECTORDB_ADMIN_PASSWORD or JADEVECTORDB_ADMIN_PASSWORD_FILE)",
                    exitCode: 2)
            }
            password = String(Tokens.generate(.session).dropFirst(4).prefix(24))
            generated = true
        }
        if let reason = auth.settings.policy.violation(password: password, username: "admin") {
            throw Failure(description: "secrets.admin_password: the bootstrap admin password \(reason)", exitCode: 2)
        }
        guard try auth.bootstrapAdmin(password: password) else { return }
        if generated {
            FileHandle.standardError.write(
                Data(
                    """
                    jadevectordb: created the bootstrap user 'admin' with the password \(password)
                    jadevectordb: it is shown only this once; change it (POST /v1/auth/password) or set JADEVECTORDB_ADMIN_PASSWORD on a fresh data directory

                    """.utf8))
        }
    }

    /// The database-level change counter (bumped by command-line tools).
    public static func changeCounter(_ pool: ResilientPool) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM schema_meta WHERE key = 'auth_epoch'") ?? 0
        }
    }

    /// Bumps the change counter; the master notices within a second and invalidates every
    /// worker's permission and credential caches.
    public static func bumpChangeCounter(_ pool: ResilientPool) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE schema_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_epoch'")
        }
    }
}
