import Foundation
import JadeCore

/// The typed configuration every module reads. Built only from a validated `ResolvedConfig`.
public struct JadeConfiguration: Sendable {
    /// `server.*`: the socket, the workers, request and connection limits.
    public struct Server: ConfigSection {
        @Setting(
            "server.host", dev: "127.0.0.1", prod: "0.0.0.0", aliases: ["JADEVECTORDB_HOST"], restartOnly: true,
            "Address to listen on (numeric IPv4 or IPv6).")
        public var host: String
        @Setting(
            "server.port", 0...65535, dev: 8080, aliases: ["JADEVECTORDB_PORT"], restartOnly: true,
            "TCP port; 0 picks a free one (logged at start).")
        public var port: Int
        /// Configured worker count, 0 meaning one per CPU; see `effectiveWorkers`.
        @Setting(
            "server.workers", 0...128, dev: 0, aliases: ["JADEVECTORDB_WORKERS"],
            "Worker processes; 0 means one per CPU.")
        public var workers: Int
        @Setting("server.backlog", 16...65535, dev: 1024, restartOnly: true, "Listen backlog of each slot socket.")
        public var backlog: Int
        @Setting(
            "server.shutdown_timeout_seconds", .seconds, 1...3600, dev: 30,
            "Longest time a stopping or retiring worker waits for in-flight requests.")
        public var shutdownTimeout: Duration
        @Setting(
            "server.worker_timeout_seconds", .seconds, 2...3600, dev: 30,
            "A worker whose heartbeat is older than this is killed and replaced.")
        public var workerTimeout: Duration
        @Setting(
            "server.worker_boot_timeout_seconds", .seconds, 1...600, dev: 30,
            "A worker must accept within this time of its start.")
        public var workerBootTimeout: Duration
        @Setting(
            "server.max_request_body_bytes", 1024...1_073_741_824, dev: 1_048_576,
            "Largest request body; larger ones get 413.")
        public var maxRequestBodyBytes: Int
        @Setting(
            "server.max_header_bytes", 1024...1_048_576, dev: 16_384,
            "Largest request head (request line and headers); larger ones get 431.")
        public var maxHeaderBytes: Int
        @Setting(
            "server.request_timeout_seconds", .seconds, 1...3600, dev: 30,
            "A request's head and body must arrive within this time (408 otherwise).")
        public var requestTimeout: Duration
        @Setting(
            "server.keep_alive_timeout_seconds", .seconds, 1...3600, dev: 60,
            "Idle keep-alive connections are closed after this time.")
        public var keepAliveTimeout: Duration
        @Setting(
            "server.max_connections_per_ip", 1...1_000_000, dev: 100,
            "Concurrent connections allowed from one client address.")
        public var maxConnectionsPerIP: Int
        @Setting(
            "server.max_connections", 1...10_000_000, dev: 10_000,
            "Concurrent connections allowed per worker; near the cap the oldest idle connections are closed, at it new ones get 503."
        )
        public var maxConnections: Int
        @Setting(
            "server.max_response_bytes", 65_536...1_073_741_824, dev: 8_388_608,
            "Largest response body; a larger answer gets 422 response_too_large (lower k or leave out values).")
        public var maxResponseBytes: Int
        @Setting("server.trusted_proxies", cidrs: [], "CIDRs of load balancers whose X-Forwarded-For is believed.")
        public var trustedProxies: [CIDR]
        @Setting(
            "server.tls.certificate_file", dev: "",
            "PEM certificate chain (leaf first). Set with server.tls.private_key_file, the port speaks HTTPS only (TLS 1.2 and 1.3); empty: plain HTTP. Read again by the workers of each reload (SIGHUP), so a renewed certificate is served without dropping a connection."
        )
        public var tlsCertificateFile: String
        @Setting(
            "server.tls.private_key_file", dev: "",
            "PEM private key of server.tls.certificate_file (unencrypted; keep it mode 0600, or pass it as a Docker secret or systemd credential path)."
        )
        public var tlsPrivateKeyFile: String
        @Setting(
            "server.cors.allowed_origins", strings: [],
            "Origins (scheme://host[:port], or * for any) whose browser pages may call the API: they get Access-Control-Allow-Origin and answered preflight OPTIONS requests. Empty: no CORS headers at all."
        )
        public var corsAllowedOrigins: [String]

        public init() {}

        /// Whether the port speaks HTTPS (both TLS files are set; the validator refuses one alone).
        public var tlsEnabled: Bool { !tlsCertificateFile.isEmpty && !tlsPrivateKeyFile.isEmpty }

        /// Worker processes to run.
        public var effectiveWorkers: Int {
            workers > 0 ? workers : max(1, ProcessInfo.processInfo.activeProcessorCount)
        }
    }

    /// `storage.*`, `database.*` and `audit.*`: where data lives and how SQLite is driven.
    public struct Database: ConfigSection {
        @Setting(
            "storage.data_dir", dev: "./data", prod: "/var/lib/jadevectordb", aliases: ["JADEVECTORDB_DATA_DIR"],
            restartOnly: true, "Directory of the SQLite database and vector segments.")
        public var dataDirectory: String
        @Setting("database.connection_pool_size", 1...256, dev: 20, "Read connections per worker.")
        public var connectionPoolSize: Int
        @Setting(
            "database.query_timeout_seconds", .seconds, 1...3600, dev: 30,
            "Longest a SQLite statement or a vector scan may run: it is stopped and the request answered 503 timeout (counted in jadevectordb_query_timeouts_total)."
        )
        public var queryTimeout: Duration
        @Setting(
            "database.busy_timeout_ms", 0...60_000, dev: 1000,
            "How long SQLite waits for a lock before reporting SQLITE_BUSY.")
        public var busyTimeoutMilliseconds: Int
        @Setting("database.max_retries", 0...10, dev: 3, "Retries of a transaction on contention.")
        public var maxRetries: Int
        @Setting(
            "database.retry_base_delay_ms", .milliseconds, 1...10_000, dev: 100,
            "First retry delay; doubles on each retry, with jitter.")
        public var retryBaseDelay: Duration
        @Setting(
            "database.checkpoint_interval_seconds", .seconds, 1...86_400, dev: 60,
            "How often the master checkpoints the WAL.")
        public var checkpointInterval: Duration
        @Setting(
            "database.synchronous", oneOf: ["normal", "full"], dev: "full",
            "SQLite synchronous mode; full makes every commit durable on power loss.")
        public var synchronous: String
        /// Audit events older than this are deleted.
        @Setting(
            "audit.retention_days", .days, 1...36_500, dev: 90,
            "Days the audit log keeps an event; the master deletes older ones every hour.")
        public var auditRetention: Duration

        public init() {}

        /// `synchronous = FULL`: every commit durable on power loss.
        public var synchronousFull: Bool { synchronous == "full" }
        /// The SQLite database file.
        public var databasePath: String { (dataDirectory as NSString).appendingPathComponent("jadevectordb.sqlite") }
    }

    /// `cache.*`.
    public struct Cache: ConfigSection {
        @Setting(
            "cache.permission_cache_size", 0...10_000_000, dev: 100_000, "Entries in each worker's permission cache.")
        public var permissionCacheSize: Int
        @Setting(
            "cache.permission_cache_ttl_seconds", 0...86_400, dev: 300, "Lifetime of a cached permission decision.")
        public var permissionCacheTTLSeconds: Int
        @Setting(
            "cache.enable_query_cache", dev: true,
            "Keep vector read results (catalogue rows, gets, searches) in each worker until any write; hit rate in jadevectordb_query_cache_requests_total."
        )
        public var enableQueryCache: Bool

        public init() {}
    }

    /// `authentication.*`: passwords, hashing, sessions, lockout, 2FA, resets.
    public struct Authentication: ConfigSection {
        @Setting(
            "authentication.require_strong_passwords", dev: false, prod: true,
            "Refuse common passwords and passwords equal to the username.")
        public var requireStrongPasswords: Bool
        @Setting("authentication.min_password_length", 1...1024, dev: 8, prod: 12, "Shortest password accepted.")
        public var minPasswordLength: Int
        @Setting(
            "authentication.max_password_bytes", 64...1024, dev: 1024,
            "Longest password accepted (bytes, before hashing).")
        public var maxPasswordBytes: Int
        /// 0: passwords never expire.
        @Setting(
            "authentication.password_expiry_days", 0...3650, dev: 0, prod: 90,
            "Days after which a password must be changed; 0 disables expiry.")
        public var passwordExpiryDays: Int
        /// Two-factor authentication mandatory for administrators.
        @Setting("authentication.enable_two_factor", dev: false, prod: true, "Make TOTP mandatory for administrators.")
        public var enableTwoFactor: Bool
        @Setting(
            "authentication.session_timeout_seconds", .seconds, 60...31_536_000, dev: 86_400, prod: 3600,
            "Session lifetime.")
        public var sessionTimeout: Duration
        @Setting(
            "authentication.session_sliding", dev: true,
            "Extend a session's expiry on each use (false: absolute expiry).")
        public var sessionSliding: Bool
        @Setting("authentication.allow_registration", dev: true, prod: false, "Allow POST /v1/auth/register.")
        public var allowRegistration: Bool
        @Setting(
            "authentication.max_failed_logins_per_account", 1...1000, dev: 10, prod: 5,
            "Failed logins that lock an account.")
        public var maxFailedLoginsPerAccount: Int
        @Setting(
            "authentication.lockout_duration_seconds", .seconds, 1...604_800, dev: 900,
            "How long a locked account stays locked.")
        public var lockoutDuration: Duration
        @Setting(
            "authentication.password_reset_token_ttl_seconds", .seconds, 60...604_800, dev: 3600,
            "Lifetime of a password-reset token.")
        public var passwordResetTokenTTL: Duration
        /// `log` or `spool`.
        @Setting(
            "authentication.password_reset_delivery", oneOf: ["log", "spool"], dev: "log", prod: "spool",
            "Where reset tokens go: the log (development) or a spool directory.")
        public var passwordResetDelivery: String
        /// Empty: `spool` under the data directory.
        @Setting(
            "authentication.password_reset_spool_dir", dev: "",
            "Spool directory for reset messages; empty means <data_dir>/spool.")
        public var passwordResetSpoolDirectory: String
        @Setting(
            "authentication.argon2_memory_kib", 19_456...4_194_304, dev: 19_456,
            "Argon2id memory cost (OWASP minimum 19456 KiB).")
        public var argon2MemoryKiB: Int
        @Setting("authentication.argon2_iterations", 2...100, dev: 2, "Argon2id time cost.")
        public var argon2Iterations: Int
        @Setting("authentication.argon2_parallelism", 1...16, dev: 1, "Argon2id lanes.")
        public var argon2Parallelism: Int
        @Setting(
            "authentication.max_concurrent_hashes", 1...256, dev: 2, "Password hashes computed at once per worker.")
        public var maxConcurrentHashes: Int

        public init() {}
    }

    /// `security.*`: rate limiting, IP blocking, the rate-limit table.
    public struct Security: ConfigSection {
        @Setting("security.enable_rate_limiting", dev: true, "Enforce rate_limits.")
        public var enableRateLimiting: Bool
        @Setting("security.enable_ip_blocking", dev: true, "Block addresses after failed logins.")
        public var enableIPBlocking: Bool
        @Setting(
            "security.max_failed_logins", 1...10_000, dev: 10, prod: 5,
            "Failed logins from one address, within the window, that block it.")
        public var maxFailedLogins: Int
        @Setting(
            "security.failed_login_window_seconds", .seconds, 1...86_400, dev: 600,
            "Window over which failed logins per address are counted.")
        public var failedLoginWindow: Duration
        @Setting(
            "security.block_duration_seconds", .seconds, 1...31_536_000, dev: 3600,
            "How long an address stays blocked.")
        public var blockDuration: Duration
        @Setting("security.ip_allowlist", cidrs: [], "CIDRs that are never blocked.")
        public var ipAllowlist: [CIDR]
        @Setting(
            "security.rate_limit_table_capacity", 1024...16_777_216, dev: 65_536, restartOnly: true,
            "Token buckets held in shared memory (rounded up to a power of two; about 15,900 per MiB).")
        public var rateLimitTableCapacity: Int

        public init() {}
    }

    /// One `rate_limits.<name>` section; the keys are generated from `RateLimitName`.
    public struct RateLimit: Sendable, Equatable {
        public var limit: Int
        public var periodSeconds: Int
        public var burst: Int
    }

    /// `circuit_breaker.*`.
    public struct CircuitBreaker: ConfigSection {
        @Setting(
            "circuit_breaker.failure_threshold", 1...1_000_000, dev: 5,
            "Hard failures within the window that open the circuit.")
        public var failureThreshold: Int
        @Setting("circuit_breaker.window_seconds", .seconds, 1...3600, dev: 60, "Failure-counting window.")
        public var window: Duration
        @Setting(
            "circuit_breaker.open_timeout_seconds", .seconds, 1...3600, dev: 30,
            "Time the circuit stays open before one probe is let through.")
        public var openTimeout: Duration
        @Setting(
            "circuit_breaker.minimum_calls", 1...1_000_000, dev: 10,
            "Calls within the window before the failure rate is judged.")
        public var minimumCalls: Int
        @Setting(
            "circuit_breaker.failure_rate_threshold", 0.01...1.0, dev: 0.5,
            "Failure fraction within the window that opens the circuit.")
        public var failureRateThreshold: Double

        public init() {}
    }

    /// `logging.*`.
    public struct Logging: ConfigSection {
        @Setting(
            "logging.level", oneOf: ["trace", "debug", "info", "notice", "warning", "error", "critical"], dev: "info",
            aliases: ["JADEVECTORDB_LOG_LEVEL"], "Lowest level logged.")
        public var level: String
        @Setting("logging.format", oneOf: ["json", "text"], dev: "json", "Line format.")
        public var format: String
        @Setting("logging.output", oneOf: ["stderr", "stdout", "file"], dev: "stderr", "Where lines go.")
        public var output: String
        @Setting(
            "logging.file_path", dev: "/var/log/jadevectordb/app.log",
            "Log file when output is file; reopened on SIGUSR1.")
        public var filePath: String
        /// With `output == "file"`: the size at which the master rotates the file.
        @Setting(
            "logging.max_file_size_mb", mebibytes: 1...100_000, dev: 100,
            "With output file: the master rotates the file (app.log to app.log.1, ...) once it reaches this size.")
        public var maxFileBytes: Int64
        /// With `output == "file"`: how many rotated files the master keeps.
        @Setting(
            "logging.max_files", 1...1000, dev: 10,
            "With output file: rotated files kept (app.log.1 to app.log.N); older ones are deleted.")
        public var maxFiles: Int
        @Setting(
            "logging.log_sql_queries", dev: false,
            "Log each SQL statement a worker runs, with its duration and without its arguments, at info level (refused in production)."
        )
        public var logSQLQueries: Bool
        @Setting(
            "logging.access_log", dev: true, prod: false,
            "Log one line per request (errors and slow requests are always logged).")
        public var accessLog: Bool

        public init() {}

        /// One JSON object per line (`logging.format` json).
        public var json: Bool { format == "json" }
    }

    /// `metrics.*`.
    public struct Metrics: ConfigSection {
        @Setting("metrics.enabled", dev: true, restartOnly: true, "Serve /metrics.")
        public var enabled: Bool
        /// 0: /metrics on the API port.
        @Setting(
            "metrics.port", 0...65535, dev: 0, restartOnly: true,
            "Serve /metrics on this separate loopback port instead (0: on the main port).")
        public var port: Int

        public init() {}
    }

    /// `secrets.*` (empty when unset). Never logged.
    public struct Secrets: ConfigSection {
        @Setting(
            "secrets.admin_password", dev: "", secret: true, aliases: ["JADEVECTORDB_ADMIN_PASSWORD"],
            "Password of the bootstrap user `admin`.")
        public var adminPassword: String
        @Setting(
            "secrets.password_pepper", dev: "", secret: true, aliases: ["JADEVECTORDB_PASSWORD_PEPPER"],
            "Secret mixed into every password hash.")
        public var passwordPepper: String
        @Setting(
            "secrets.scrape_token", dev: "", secret: true, aliases: ["JADEVECTORDB_SCRAPE_TOKEN"],
            "Bearer token that may read /metrics.")
        public var scrapeToken: String
        @Setting(
            "secrets.totp_encryption_key", dev: "", secret: true, aliases: ["JADEVECTORDB_TOTP_ENCRYPTION_KEY"],
            "Key that encrypts stored TOTP secrets (required in production: any user may enrol in 2FA).")
        public var totpEncryptionKey: String

        public init() {}
    }

    public var environment: DeploymentEnvironment
    public var server: Server
    public var database: Database
    public var logging: Logging
    public var authentication: Authentication
    public var security: Security
    /// Every limit of `RateLimitName`, by name.
    public var rateLimits: [RateLimitName: RateLimit]
    public var circuitBreaker: CircuitBreaker
    public var cache: Cache
    public var metrics: Metrics
    public var secrets: Secrets
    /// Every key as loaded: what the workers are handed (serialized), and the reload's
    /// comparison of restart-only keys. Modules read the typed sections above, never this.
    public var resolved: ResolvedConfig

    /// The typed form of a validated configuration.
    public init(_ c: ResolvedConfig) {
        environment = c.environment
        resolved = c
        (server, database, cache, authentication, security, circuitBreaker, logging, metrics, secrets) =
            SettingSource.reading(c) {
                (
                    Server(), Database(), Cache(), Authentication(), Security(), CircuitBreaker(), Logging(), Metrics(),
                    Secrets()
                )
            }
        var limits: [RateLimitName: RateLimit] = [:]
        for name in RateLimitName.allCases {
            limits[name] = RateLimit(
                limit: c.int(name.key("limit")), periodSeconds: c.int(name.key("period_seconds")),
                burst: c.int(name.key("burst")))
        }
        rateLimits = limits
    }

    /// The keys of the sections above, in the order of the config reference (the rate limits,
    /// generated from `RateLimitName`, after security).
    static var sectionKeys: (beforeRateLimits: [ConfigKey], afterRateLimits: [ConfigKey]) {
        (
            Server.declaredKeys + Database.declaredKeys + Cache.declaredKeys + Authentication.declaredKeys
                + Security.declaredKeys,
            CircuitBreaker.declaredKeys + Logging.declaredKeys + Metrics.declaredKeys + Secrets.declaredKeys
        )
    }
}
