import Foundation
import JadeCore

/// Checks that involve more than one key, and the rules production enforces.
enum ConfigValidator {
    static func crossCheck(_ c: ResolvedConfig) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        func issue(_ key: String, _ reason: String, secret: Bool = false) {
            let shown = secret ? "<redacted>" : c.values[key].map { "\($0)" }
            issues.append(ConfigIssue(key: key, source: c.sources[key] ?? "default", value: shown, reason: reason))
        }
        // Types are guaranteed by the loader; a missing value means a schema bug.
        for key in ConfigSchema.keys where c.values[key.path] == nil {
            issues.append(ConfigIssue(key: key.path, source: "schema", value: nil, reason: "has no value"))
        }
        guard issues.isEmpty else { return issues }

        if IPAddress(c.string("server.host")) == nil {
            issue("server.host", "must be a numeric IPv4 or IPv6 address (for example 127.0.0.1, 0.0.0.0 or ::)")
        }
        for key in ["server.trusted_proxies", "security.ip_allowlist"] {
            for entry in c.strings(key) where CIDR(entry) == nil {
                issue(key, "\"\(entry)\" is not an IP address or CIDR block")
            }
        }
        let certificate = c.string("server.tls.certificate_file")
        let privateKey = c.string("server.tls.private_key_file")
        if certificate.isEmpty != privateKey.isEmpty {
            issue(
                certificate.isEmpty ? "server.tls.certificate_file" : "server.tls.private_key_file",
                "must be set together with \(certificate.isEmpty ? "server.tls.private_key_file" : "server.tls.certificate_file") (both or neither)"
            )
        }
        for key in ["server.tls.certificate_file", "server.tls.private_key_file"] {
            let path = c.string(key)
            if !path.isEmpty && !FileManager.default.isReadableFile(atPath: path) {
                issue(key, "file cannot be read")
            }
        }
        for origin in c.strings("server.cors.allowed_origins") where !CORSOrigin.isValid(origin) {
            issue(
                "server.cors.allowed_origins",
                "\"\(origin)\" is not an origin: give scheme://host[:port] with no path (for example https://app.example.com), or * for any"
            )
        }
        if c.string("storage.data_dir").isEmpty { issue("storage.data_dir", "must not be empty") }
        if c.string("logging.output") == "file" && c.string("logging.file_path").isEmpty {
            issue("logging.file_path", "must be set when logging.output is file")
        }
        let metricsPort = c.int("metrics.port")
        if metricsPort != 0 && metricsPort == c.int("server.port") {
            issue("metrics.port", "must differ from server.port")
        }
        let token = c.string("secrets.scrape_token")
        if !token.isEmpty && token.utf8.count < 16 {
            issue("secrets.scrape_token", "must be at least 16 characters", secret: true)
        }
        if c.int("server.worker_timeout_seconds") < 2 {
            issue("server.worker_timeout_seconds", "must be at least 2")
        }

        guard c.environment == .production else { return issues }
        // Production refuses insecure settings.
        let mustBeTrue = [
            "security.enable_rate_limiting", "security.enable_ip_blocking",
            "authentication.require_strong_passwords",
        ]
        for key in mustBeTrue where !c.bool(key) { issue(key, "must be true in production") }
        if c.int("authentication.min_password_length") < 12 {
            issue("authentication.min_password_length", "must be at least 12 in production")
        }
        if c.bool("logging.log_sql_queries") { issue("logging.log_sql_queries", "must be false in production") }
        if c.string("authentication.password_reset_delivery") == "log" {
            issue(
                "authentication.password_reset_delivery",
                "must be spool in production (log would write reset tokens into the logs)")
        }
        // Any user may enrol in 2FA (mandatory for admins or not): the seeds always need a key.
        if c.string("secrets.totp_encryption_key").utf8.count < 16 {
            issue(
                "secrets.totp_encryption_key",
                "must be set (at least 16 characters, through JADEVECTORDB_TOTP_ENCRYPTION_KEY or its _FILE form) in production: it encrypts the TOTP seeds of users who enrol in 2FA",
                secret: true)
        }
        if c.string("database.synchronous") != "full" {
            issue("database.synchronous", "must be full in production (a lost commit could undo a revocation)")
        }
        return issues
    }
}
