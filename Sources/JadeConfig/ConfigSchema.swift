/// A value held by one configuration key.
public enum ConfigValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case bool(Bool)
    case string(String)
    case strings([String])

    public var description: String {
        switch self {
        case .int(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let v): return String(v)
        case .string(let v): return v
        case .strings(let v): return "[" + v.joined(separator: ",") + "]"
        }
    }

    /// The value as a JSON-compatible object.
    public var jsonObject: Any {
        switch self {
        case .int(let v): return v
        case .double(let v): return v
        case .bool(let v): return v
        case .string(let v): return v
        case .strings(let v): return v
        }
    }
}

/// The type and range a key accepts.
public enum ConfigKind: Sendable {
    case int(ClosedRange<Int>)
    case double(ClosedRange<Double>)
    case bool
    case string
    case oneOf([String])
    case strings
}

/// One configuration key: its dotted path (`server.port`), type, defaults and documentation.
public struct ConfigKey: Sendable {
    public let path: String
    public let kind: ConfigKind
    public let developmentDefault: ConfigValue?
    public let productionDefault: ConfigValue?
    /// Secrets are never logged, are redacted in dumps, and also read `<ENV>_FILE` and
    /// `/run/secrets/<env name in lower case>`.
    public let isSecret: Bool
    /// Extra environment variable names (the short forms such as `JADEVECTORDB_PORT`).
    public let aliases: [String]
    public let summary: String
    /// Read once at start: a reload keeps the running value (and logs that it did).
    public let restartOnly: Bool

    /// The environment variable that overrides the key: `JADEVECTORDB_` + path in upper case with
    /// `.` replaced by `_`.
    public var environmentName: String {
        "JADEVECTORDB_" + path.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    init(
        _ path: String, _ kind: ConfigKind, dev: ConfigValue?, prod: ConfigValue? = nil, secret: Bool = false,
        aliases: [String] = [], restartOnly: Bool = false, _ summary: String
    ) {
        self.path = path
        self.kind = kind
        self.developmentDefault = dev
        self.productionDefault = prod ?? dev
        self.isSecret = secret
        self.aliases = aliases
        self.summary = summary
        self.restartOnly = restartOnly
    }
}

/// Every key the server understands. A key not listed here is an error in a file.
public enum ConfigSchema {
    public static let keys: [ConfigKey] =
        server + storage + database + cache + authentication + security + audit
        + rateLimits + circuitBreaker + logging + metrics + secrets

    public static let byPath: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: keys.map { ($0.path, $0) })

    /// The keys a reload cannot change (sockets, data directory, shared-memory sizes).
    public static let restartOnlyKeys: [String] = keys.filter(\.restartOnly).map(\.path)

    static let server: [ConfigKey] = [
        ConfigKey(
            "server.host", .string, dev: .string("127.0.0.1"), prod: .string("0.0.0.0"),
            aliases: ["JADEVECTORDB_HOST"], restartOnly: true, "Address to listen on (numeric IPv4 or IPv6)."),
        ConfigKey(
            "server.port", .int(0...65535), dev: .int(8080), aliases: ["JADEVECTORDB_PORT"], restartOnly: true,
            "TCP port; 0 picks a free one (logged at start)."),
        ConfigKey(
            "server.workers", .int(0...128), dev: .int(0), aliases: ["JADEVECTORDB_WORKERS"],
            "Worker processes; 0 means one per CPU."),
        ConfigKey(
            "server.backlog", .int(16...65535), dev: .int(1024), restartOnly: true,
            "Listen backlog of each slot socket."),
        ConfigKey(
            "server.shutdown_timeout_seconds", .int(1...3600), dev: .int(30),
            "Longest time a stopping or retiring worker waits for in-flight requests."),
        ConfigKey(
            "server.worker_timeout_seconds", .int(2...3600), dev: .int(30),
            "A worker whose heartbeat is older than this is killed and replaced."),
        ConfigKey(
            "server.worker_boot_timeout_seconds", .int(1...600), dev: .int(30),
            "A worker must accept within this time of its start."),
        ConfigKey(
            "server.max_request_body_bytes", .int(1024...1_073_741_824), dev: .int(1_048_576),
            "Largest request body; larger ones get 413."),
        ConfigKey(
            "server.max_header_bytes", .int(1024...1_048_576), dev: .int(16_384),
            "Largest request head (request line and headers); larger ones get 431."),
        ConfigKey(
            "server.request_timeout_seconds", .int(1...3600), dev: .int(30),
            "A request's head and body must arrive within this time (408 otherwise)."),
        ConfigKey(
            "server.keep_alive_timeout_seconds", .int(1...3600), dev: .int(60),
            "Idle keep-alive connections are closed after this time."),
        ConfigKey(
            "server.max_connections_per_ip", .int(1...1_000_000), dev: .int(100),
            "Concurrent connections allowed from one client address."),
        ConfigKey(
            "server.max_connections", .int(1...10_000_000), dev: .int(10_000),
            "Concurrent connections allowed per worker; near the cap the oldest idle connections are closed, at it new ones get 503."
        ),
        ConfigKey(
            "server.max_response_bytes", .int(65_536...1_073_741_824), dev: .int(8_388_608),
            "Largest response body; a larger answer gets 422 response_too_large (lower k or leave out values)."),
        ConfigKey(
            "server.trusted_proxies", .strings, dev: .strings([]),
            "CIDRs of load balancers whose X-Forwarded-For is believed."),
    ]

    static let storage: [ConfigKey] = [
        ConfigKey(
            "storage.data_dir", .string, dev: .string("./data"), prod: .string("/var/lib/jadevectordb"),
            aliases: ["JADEVECTORDB_DATA_DIR"], restartOnly: true,
            "Directory of the SQLite database and vector segments.")
    ]

    static let database: [ConfigKey] = [
        ConfigKey("database.connection_pool_size", .int(1...256), dev: .int(20), "Read connections per worker."),
        ConfigKey(
            "database.query_timeout_seconds", .int(1...3600), dev: .int(30),
            "Longest a SQLite statement or a vector scan may run: it is stopped and the request answered 503 timeout (counted in jadevectordb_query_timeouts_total)."
        ),
        ConfigKey(
            "database.busy_timeout_ms", .int(0...60_000), dev: .int(1000),
            "How long SQLite waits for a lock before reporting SQLITE_BUSY."),
        ConfigKey("database.max_retries", .int(0...10), dev: .int(3), "Retries of a transaction on contention."),
        ConfigKey(
            "database.retry_base_delay_ms", .int(1...10_000), dev: .int(100),
            "First retry delay; doubles on each retry, with jitter."),
        ConfigKey(
            "database.checkpoint_interval_seconds", .int(1...86_400), dev: .int(60),
            "How often the master checkpoints the WAL."),
        ConfigKey(
            "database.synchronous", .oneOf(["normal", "full"]), dev: .string("full"),
            "SQLite synchronous mode; full makes every commit durable on power loss."),
    ]

    static let cache: [ConfigKey] = [
        ConfigKey(
            "cache.permission_cache_size", .int(0...10_000_000), dev: .int(100_000),
            "Entries in each worker's permission cache."),
        ConfigKey(
            "cache.permission_cache_ttl_seconds", .int(0...86_400), dev: .int(300),
            "Lifetime of a cached permission decision."),
        ConfigKey(
            "cache.enable_query_cache", .bool, dev: .bool(true),
            "Keep vector read results (catalogue rows, gets, searches) in each worker until any write; hit rate in jadevectordb_query_cache_requests_total."
        ),
    ]

    static let authentication: [ConfigKey] = [
        ConfigKey(
            "authentication.require_strong_passwords", .bool, dev: .bool(false), prod: .bool(true),
            "Refuse common passwords and passwords equal to the username."),
        ConfigKey(
            "authentication.min_password_length", .int(1...1024), dev: .int(8), prod: .int(12),
            "Shortest password accepted."),
        ConfigKey(
            "authentication.max_password_bytes", .int(64...1024), dev: .int(1024),
            "Longest password accepted (bytes, before hashing)."),
        ConfigKey(
            "authentication.password_expiry_days", .int(0...3650), dev: .int(0), prod: .int(90),
            "Days after which a password must be changed; 0 disables expiry."),
        ConfigKey(
            "authentication.enable_two_factor", .bool, dev: .bool(false), prod: .bool(true),
            "Make TOTP mandatory for administrators."),
        ConfigKey(
            "authentication.session_timeout_seconds", .int(60...31_536_000), dev: .int(86_400), prod: .int(3600),
            "Session lifetime."),
        ConfigKey(
            "authentication.session_sliding", .bool, dev: .bool(true),
            "Extend a session's expiry on each use (false: absolute expiry)."),
        ConfigKey(
            "authentication.allow_registration", .bool, dev: .bool(true), prod: .bool(false),
            "Allow POST /v1/auth/register."),
        ConfigKey(
            "authentication.max_failed_logins_per_account", .int(1...1000), dev: .int(10), prod: .int(5),
            "Failed logins that lock an account."),
        ConfigKey(
            "authentication.lockout_duration_seconds", .int(1...604_800), dev: .int(900),
            "How long a locked account stays locked."),
        ConfigKey(
            "authentication.password_reset_token_ttl_seconds", .int(60...604_800), dev: .int(3600),
            "Lifetime of a password-reset token."),
        ConfigKey(
            "authentication.password_reset_delivery", .oneOf(["log", "spool"]), dev: .string("log"),
            prod: .string("spool"), "Where reset tokens go: the log (development) or a spool directory."),
        ConfigKey(
            "authentication.password_reset_spool_dir", .string, dev: .string(""),
            "Spool directory for reset messages; empty means <data_dir>/spool."),
        ConfigKey(
            "authentication.argon2_memory_kib", .int(19_456...4_194_304), dev: .int(19_456),
            "Argon2id memory cost (OWASP minimum 19456 KiB)."),
        ConfigKey("authentication.argon2_iterations", .int(2...100), dev: .int(2), "Argon2id time cost."),
        ConfigKey("authentication.argon2_parallelism", .int(1...16), dev: .int(1), "Argon2id lanes."),
        ConfigKey(
            "authentication.max_concurrent_hashes", .int(1...256), dev: .int(2),
            "Password hashes computed at once per worker."),
    ]

    static let audit: [ConfigKey] = [
        ConfigKey(
            "audit.retention_days", .int(1...36_500), dev: .int(90),
            "Days the audit log keeps an event; the master deletes older ones every hour.")
    ]

    static let security: [ConfigKey] = [
        ConfigKey("security.enable_rate_limiting", .bool, dev: .bool(true), "Enforce rate_limits."),
        ConfigKey("security.enable_ip_blocking", .bool, dev: .bool(true), "Block addresses after failed logins."),
        ConfigKey(
            "security.max_failed_logins", .int(1...10_000), dev: .int(10), prod: .int(5),
            "Failed logins from one address, within the window, that block it."),
        ConfigKey(
            "security.failed_login_window_seconds", .int(1...86_400), dev: .int(600),
            "Window over which failed logins per address are counted."),
        ConfigKey(
            "security.block_duration_seconds", .int(1...31_536_000), dev: .int(3600),
            "How long an address stays blocked."
        ),
        ConfigKey("security.ip_allowlist", .strings, dev: .strings([]), "CIDRs that are never blocked."),
        ConfigKey(
            "security.rate_limit_table_capacity", .int(1024...16_777_216), dev: .int(65_536), restartOnly: true,
            "Token buckets held in shared memory (rounded up to a power of two; about 15,900 per MiB)."),
    ]

    static let rateLimits: [ConfigKey] = {
        RateLimitName.allCases.flatMap { rate in
            let (name, (limit, period)) = (rate.rawValue, rate.defaults)
            return [
                ConfigKey(
                    "rate_limits.\(name).limit", .int(1...100_000_000), dev: .int(limit),
                    "Requests allowed per period (\(name))."),
                ConfigKey(
                    "rate_limits.\(name).period_seconds", .int(1...86_400), dev: .int(period),
                    "Length of the period (\(name))."),
                ConfigKey(
                    "rate_limits.\(name).burst", .int(0...100_000_000), dev: .int(0),
                    "Bucket size (\(name)); 0 means equal to the limit."),
            ]
        }
    }()

    static let circuitBreaker: [ConfigKey] = [
        ConfigKey(
            "circuit_breaker.failure_threshold", .int(1...1_000_000), dev: .int(5),
            "Hard failures within the window that open the circuit."),
        ConfigKey("circuit_breaker.window_seconds", .int(1...3600), dev: .int(60), "Failure-counting window."),
        ConfigKey(
            "circuit_breaker.open_timeout_seconds", .int(1...3600), dev: .int(30),
            "Time the circuit stays open before one probe is let through."),
        ConfigKey(
            "circuit_breaker.minimum_calls", .int(1...1_000_000), dev: .int(10),
            "Calls within the window before the failure rate is judged."),
        ConfigKey(
            "circuit_breaker.failure_rate_threshold", .double(0.01...1.0), dev: .double(0.5),
            "Failure fraction within the window that opens the circuit."),
    ]

    static let logging: [ConfigKey] = [
        ConfigKey(
            "logging.level", .oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"]),
            dev: .string("info"), aliases: ["JADEVECTORDB_LOG_LEVEL"], "Lowest level logged."),
        ConfigKey("logging.format", .oneOf(["json", "text"]), dev: .string("json"), "Line format."),
        ConfigKey(
            "logging.output", .oneOf(["stderr", "stdout", "file"]), dev: .string("stderr"), "Where lines go."),
        ConfigKey(
            "logging.file_path", .string, dev: .string("/var/log/jadevectordb/app.log"),
            "Log file when output is file; reopened on SIGUSR1."),
        ConfigKey(
            "logging.max_file_size_mb", .int(1...100_000), dev: .int(100),
            "With output file: the master rotates the file (app.log to app.log.1, ...) once it reaches this size."),
        ConfigKey(
            "logging.max_files", .int(1...1000), dev: .int(10),
            "With output file: rotated files kept (app.log.1 to app.log.N); older ones are deleted."),
        ConfigKey(
            "logging.log_sql_queries", .bool, dev: .bool(false),
            "Log each SQL statement a worker runs, with its duration and without its arguments, at info level (refused in production)."
        ),
        ConfigKey(
            "logging.access_log", .bool, dev: .bool(true), prod: .bool(false),
            "Log one line per request (errors and slow requests are always logged)."),
    ]

    static let metrics: [ConfigKey] = [
        ConfigKey("metrics.enabled", .bool, dev: .bool(true), restartOnly: true, "Serve /metrics."),
        ConfigKey(
            "metrics.port", .int(0...65535), dev: .int(0), restartOnly: true,
            "Serve /metrics on this separate loopback port instead (0: on the main port)."),
    ]

    static let secrets: [ConfigKey] = [
        ConfigKey(
            "secrets.admin_password", .string, dev: .string(""), secret: true,
            aliases: ["JADEVECTORDB_ADMIN_PASSWORD"], "Password of the bootstrap user `admin`."),
        ConfigKey(
            "secrets.password_pepper", .string, dev: .string(""), secret: true,
            aliases: ["JADEVECTORDB_PASSWORD_PEPPER"], "Secret mixed into every password hash."),
        ConfigKey(
            "secrets.scrape_token", .string, dev: .string(""), secret: true,
            aliases: ["JADEVECTORDB_SCRAPE_TOKEN"], "Bearer token that may read /metrics."),
        ConfigKey(
            "secrets.totp_encryption_key", .string, dev: .string(""), secret: true,
            aliases: ["JADEVECTORDB_TOTP_ENCRYPTION_KEY"],
            "Key that encrypts stored TOTP secrets (required in production: any user may enrol in 2FA)."),
    ]
}
