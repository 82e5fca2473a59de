import Foundation
import JadeCore

/// The typed configuration every module reads. Built only from a validated `ResolvedConfig`.
public struct JadeConfiguration: Sendable {
    public struct Server: Sendable {
        public var host: String
        public var port: Int
        /// Configured worker count, 0 meaning one per CPU; see `effectiveWorkers`.
        public var workers: Int
        public var backlog: Int
        public var shutdownTimeout: Duration
        public var workerTimeout: Duration
        public var workerBootTimeout: Duration
        public var maxRequestBodyBytes: Int
        public var maxHeaderBytes: Int
        public var requestTimeout: Duration
        public var keepAliveTimeout: Duration
        public var maxConnectionsPerIP: Int
        public var maxConnections: Int
        public var maxResponseBytes: Int
        public var trustedProxies: [CIDR]

        /// Worker processes to run.
        public var effectiveWorkers: Int {
            workers > 0 ? workers : max(1, ProcessInfo.processInfo.activeProcessorCount)
        }
    }

    public struct Database: Sendable {
        public var dataDirectory: String
        public var connectionPoolSize: Int
        public var queryTimeout: Duration
        public var busyTimeoutMilliseconds: Int
        public var maxRetries: Int
        public var retryBaseDelay: Duration
        public var checkpointInterval: Duration
        public var synchronousFull: Bool
        /// Audit events older than this are deleted (`audit.retention_days`).
        public var auditRetention: Duration

        /// The SQLite database file.
        public var databasePath: String { (dataDirectory as NSString).appendingPathComponent("jadevectordb.sqlite") }
    }

    public struct Logging: Sendable {
        public var level: String
        public var json: Bool
        public var output: String
        public var filePath: String
        public var logSQLQueries: Bool
        public var accessLog: Bool
        /// With `output == "file"`: the size at which the master rotates the file, and how many
        /// rotated files it keeps (`logging.max_file_size_mb`, `logging.max_files`).
        public var maxFileBytes: Int64
        public var maxFiles: Int
    }

    /// `authentication.*`: passwords, hashing, sessions, lockout, 2FA, resets.
    public struct Authentication: Sendable {
        public var minPasswordLength: Int
        public var maxPasswordBytes: Int
        public var requireStrongPasswords: Bool
        public var argon2MemoryKiB: Int
        public var argon2Iterations: Int
        public var argon2Parallelism: Int
        public var maxConcurrentHashes: Int
        public var sessionTimeout: Duration
        public var sessionSliding: Bool
        public var allowRegistration: Bool
        public var maxFailedLoginsPerAccount: Int
        public var lockoutDuration: Duration
        /// 0: passwords never expire.
        public var passwordExpiryDays: Int
        /// Two-factor authentication mandatory for administrators.
        public var enableTwoFactor: Bool
        public var passwordResetTokenTTL: Duration
        /// `log` or `spool`.
        public var passwordResetDelivery: String
        /// Empty: `spool` under the data directory.
        public var passwordResetSpoolDirectory: String
    }

    /// `security.*`: rate limiting, IP blocking, the rate-limit table.
    public struct Security: Sendable {
        public var enableRateLimiting: Bool
        public var enableIPBlocking: Bool
        public var maxFailedLogins: Int
        public var failedLoginWindow: Duration
        public var blockDuration: Duration
        public var ipAllowlist: [CIDR]
        public var rateLimitTableCapacity: Int
    }

    /// One `rate_limits.<name>` section.
    public struct RateLimit: Sendable, Equatable {
        public var limit: Int
        public var periodSeconds: Int
        public var burst: Int
    }

    /// `circuit_breaker.*`.
    public struct CircuitBreaker: Sendable {
        public var failureThreshold: Int
        public var window: Duration
        public var openTimeout: Duration
        public var minimumCalls: Int
        public var failureRateThreshold: Double
    }

    /// `cache.*`.
    public struct Cache: Sendable {
        public var permissionCacheSize: Int
        public var permissionCacheTTLSeconds: Int
        public var enableQueryCache: Bool
    }

    /// `metrics.*`.
    public struct Metrics: Sendable {
        public var enabled: Bool
        /// 0: /metrics on the API port.
        public var port: Int
    }

    /// `secrets.*` (empty when unset). Never logged.
    public struct Secrets: Sendable {
        public var adminPassword: String
        public var passwordPepper: String
        public var totpEncryptionKey: String
        public var scrapeToken: String
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

    public init(_ c: ResolvedConfig) {
        func seconds(_ key: String) -> Duration { .seconds(c.int(key)) }
        environment = c.environment
        resolved = c
        server = Server(
            host: c.string("server.host"), port: c.int("server.port"), workers: c.int("server.workers"),
            backlog: c.int("server.backlog"), shutdownTimeout: seconds("server.shutdown_timeout_seconds"),
            workerTimeout: seconds("server.worker_timeout_seconds"),
            workerBootTimeout: seconds("server.worker_boot_timeout_seconds"),
            maxRequestBodyBytes: c.int("server.max_request_body_bytes"),
            maxHeaderBytes: c.int("server.max_header_bytes"), requestTimeout: seconds("server.request_timeout_seconds"),
            keepAliveTimeout: seconds("server.keep_alive_timeout_seconds"),
            maxConnectionsPerIP: c.int("server.max_connections_per_ip"),
            maxConnections: c.int("server.max_connections"),
            maxResponseBytes: c.int("server.max_response_bytes"),
            trustedProxies: c.strings("server.trusted_proxies").compactMap { CIDR($0) })
        database = Database(
            dataDirectory: c.string("storage.data_dir"), connectionPoolSize: c.int("database.connection_pool_size"),
            queryTimeout: seconds("database.query_timeout_seconds"),
            busyTimeoutMilliseconds: c.int("database.busy_timeout_ms"), maxRetries: c.int("database.max_retries"),
            retryBaseDelay: .milliseconds(c.int("database.retry_base_delay_ms")),
            checkpointInterval: seconds("database.checkpoint_interval_seconds"),
            synchronousFull: c.string("database.synchronous") == "full",
            auditRetention: .seconds(c.int("audit.retention_days") * 86_400))
        logging = Logging(
            level: c.string("logging.level"), json: c.string("logging.format") == "json",
            output: c.string("logging.output"), filePath: c.string("logging.file_path"),
            logSQLQueries: c.bool("logging.log_sql_queries"), accessLog: c.bool("logging.access_log"),
            maxFileBytes: Int64(c.int("logging.max_file_size_mb")) * 1_048_576, maxFiles: c.int("logging.max_files"))
        authentication = Authentication(
            minPasswordLength: c.int("authentication.min_password_length"),
            maxPasswordBytes: c.int("authentication.max_password_bytes"),
            requireStrongPasswords: c.bool("authentication.require_strong_passwords"),
            argon2MemoryKiB: c.int("authentication.argon2_memory_kib"),
            argon2Iterations: c.int("authentication.argon2_iterations"),
            argon2Parallelism: c.int("authentication.argon2_parallelism"),
            maxConcurrentHashes: c.int("authentication.max_concurrent_hashes"),
            sessionTimeout: seconds("authentication.session_timeout_seconds"),
            sessionSliding: c.bool("authentication.session_sliding"),
            allowRegistration: c.bool("authentication.allow_registration"),
            maxFailedLoginsPerAccount: c.int("authentication.max_failed_logins_per_account"),
            lockoutDuration: seconds("authentication.lockout_duration_seconds"),
            passwordExpiryDays: c.int("authentication.password_expiry_days"),
            enableTwoFactor: c.bool("authentication.enable_two_factor"),
            passwordResetTokenTTL: seconds("authentication.password_reset_token_ttl_seconds"),
            passwordResetDelivery: c.string("authentication.password_reset_delivery"),
            passwordResetSpoolDirectory: c.string("authentication.password_reset_spool_dir"))
        security = Security(
            enableRateLimiting: c.bool("security.enable_rate_limiting"),
            enableIPBlocking: c.bool("security.enable_ip_blocking"),
            maxFailedLogins: c.int("security.max_failed_logins"),
            failedLoginWindow: seconds("security.failed_login_window_seconds"),
            blockDuration: seconds("security.block_duration_seconds"),
            ipAllowlist: c.strings("security.ip_allowlist").compactMap { CIDR($0) },
            rateLimitTableCapacity: c.int("security.rate_limit_table_capacity"))
        var limits: [RateLimitName: RateLimit] = [:]
        for name in RateLimitName.allCases {
            limits[name] = RateLimit(
                limit: c.int(name.key("limit")), periodSeconds: c.int(name.key("period_seconds")),
                burst: c.int(name.key("burst")))
        }
        rateLimits = limits
        circuitBreaker = CircuitBreaker(
            failureThreshold: c.int("circuit_breaker.failure_threshold"),
            window: seconds("circuit_breaker.window_seconds"),
            openTimeout: seconds("circuit_breaker.open_timeout_seconds"),
            minimumCalls: c.int("circuit_breaker.minimum_calls"),
            failureRateThreshold: c.double("circuit_breaker.failure_rate_threshold"))
        cache = Cache(
            permissionCacheSize: c.int("cache.permission_cache_size"),
            permissionCacheTTLSeconds: c.int("cache.permission_cache_ttl_seconds"),
            enableQueryCache: c.bool("cache.enable_query_cache"))
        metrics = Metrics(enabled: c.bool("metrics.enabled"), port: c.int("metrics.port"))
        secrets = Secrets(
            adminPassword: c.string("secrets.admin_password"), passwordPepper: c.string("secrets.password_pepper"),
            totpEncryptionKey: c.string("secrets.totp_encryption_key"), scrapeToken: c.string("secrets.scrape_token"))
    }
}
