import Foundation
import JadeAuth
import JadeConfig
import JadeStore
import JadeTransport

#if canImport(Glibc)
    import Glibc
#endif

/// The checks `serve` makes before it touches the data directory, shared with `check-config`
/// so that "configuration OK" means `serve` will not exit 2: the data directory can be used,
/// and a first start in production has a bootstrap admin password that the policy accepts.
enum Preflight {
    /// Every problem found (empty: none). `serve` leaves the data directory to its own start
    /// (an unusable one is a runtime failure there, exit 1); `check-config` reports it too.
    static func problems(_ config: JadeConfiguration, includingDataDirectory: Bool) -> [String] {
        var problems: [String] = []
        if let problem = tlsProblem(config) { problems.append(problem) }
        let data = config.database.dataDirectory
        if includingDataDirectory, let problem = DataDirectory.problem(data) { problems.append(problem) }
        // A first start: no database yet, so the bootstrap admin will be created.
        if !FileManager.default.fileExists(atPath: config.database.databasePath) {
            let password = config.secrets.adminPassword
            if password.isEmpty {
                if config.environment == .production {
                    problems.append(
                        "secrets.admin_password: the first start in production needs the bootstrap admin password (set JADEVECTORDB_ADMIN_PASSWORD or JADEVECTORDB_ADMIN_PASSWORD_FILE)"
                    )
                }
            } else if let reason = AuthSettings(config).policy.violation(password: password, username: "admin") {
                problems.append("secrets.admin_password: the bootstrap admin password \(reason)")
            }
        }
        return problems
    }

    /// Why the TLS files cannot be served (unreadable, not PEM, a key that does not fit the
    /// certificate), or nil. Also checked by the master before each reload's workers start.
    static func tlsProblem(_ config: JadeConfiguration) -> String? {
        guard config.server.tlsEnabled else { return nil }
        do {
            try TLSServerContext.validate(
                certificateFile: config.server.tlsCertificateFile, privateKeyFile: config.server.tlsPrivateKeyFile)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Whether this process runs as root (effective uid 0).
    static var runningAsRoot: Bool { geteuid() == 0 }

    /// The refusal of root in production (as PostgreSQL refuses it): files it creates would be
    /// owned by root, and a compromise of the server would be one of the whole machine.
    static func rootProblem(_ environment: DeploymentEnvironment, allowRoot: Bool) -> String? {
        guard environment == .production, runningAsRoot, !allowRoot else { return nil }
        return
            "running as root is refused in production: run as an unprivileged user (the systemd unit and the Docker image do), or pass --allow-root"
    }
}
