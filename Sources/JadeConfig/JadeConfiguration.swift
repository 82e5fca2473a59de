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

    public var environment: DeploymentEnvironment
    public var server: Server
    public var database: Database
    public var logging: Logging
    /// Every key, for modules whose settings have no typed section yet.
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
    }
}
