import Foundation
import GRDB
import JadeConfig
import JadeStore

#if canImport(Glibc)
    import Glibc
#endif

/// First-start creation of the `admin` user (run by `serve` through the master's bootstrap
/// hook). The change counter command-line tools bump lives in JadeStore (`Store.changeCounter`).
public enum AdminBootstrap {
    /// Why the server cannot start.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        /// Exit code: 2 for a configuration problem.
        public let exitCode: Int32
    }

    /// Creates `admin` when the user table is empty. In development without a configured
    /// password one is generated and written once to standard error; production refuses to start.
    public static func run(_ auth: AuthServices, config: JadeConfiguration) throws {
        let count = try auth.core.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM users") ?? 0 }
        guard count == 0 else { return }
        var password = config.secrets.adminPassword
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
        // The file first: a password nobody can read would lock the operator out.
        let file = passwordFile(dataDirectory: config.database.dataDirectory)
        if generated { try writePrivately(password + "\n", to: file) }
        guard try auth.directory.bootstrapAdmin(password: password) else { return }
        if generated {
            // Never into the log stream (`serve > server.log 2>&1` would keep it): the terminal
            // sees it only when standard error is one.
            let shown = isatty(STDERR_FILENO) == 1 ? "\njadevectordb: the password is \(password)" : ""
            FileHandle.standardError.write(
                Data(
                    """
                    jadevectordb: created the bootstrap user 'admin'; its generated password is in \(file) (mode 0600)\(shown)
                    jadevectordb: log in, change it (POST /v1/auth/password), then delete that file

                    """.utf8))
        }
    }

    /// Where a generated bootstrap password is kept: `bootstrap-admin-password` in the data
    /// directory, readable by the server's user only.
    public static func passwordFile(dataDirectory: String) -> String { dataDirectory + "/bootstrap-admin-password" }

    /// Writes `text` to a new file of mode 0600 (replacing an old one), whatever the umask.
    static func writePrivately(_ text: String, to path: String) throws {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))", exitCode: 1)
        }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))", exitCode: 1)
        }
    }
}
