import Foundation
import GRDB
import GRDBSQLite
import JadeConfig
import Logging

/// Failures opening or migrating the database, with a message fit for an operator.
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
}

/// The SQLite database (WAL mode) shared by the master and every worker.
public final class Store: Sendable {
    /// The connection pool (one writer, concurrent readers) behind the failure policy.
    public let pool: ResilientPool
    public let path: String

    private init(pool: ResilientPool, path: String) {
        self.pool = pool
        self.path = path
    }

    /// Breakers private to this process, with the default knobs (tools and tests).
    public static func localBreakers(_ settings: BreakerSettings = .defaults) -> (CircuitBreaker, CircuitBreaker) {
        (CircuitBreaker(name: "reads", settings: settings), CircuitBreaker(name: "writes", settings: settings))
    }

    /// Opens the database with the project's pragmas: WAL, busy timeout, synchronous mode,
    /// foreign keys. Writes run in `BEGIN IMMEDIATE` transactions (GRDB's pool default).
    /// What a statement did, for `jadevectordb_db_operations_total{operation}`.
    public enum StatementKind: String, CaseIterable, Sendable {
        case read, write, transaction
    }

    /// Called after every statement with its kind and duration in nanoseconds (SQLite's profile
    /// trace); runs on the connection's thread.
    public typealias StatementObserver = @Sendable (StatementKind, UInt64) -> Void

    /// Sets SQLite's process-wide error log (before the first connection opens): `observer` is
    /// called for every error, with true for errors that mean the database cannot be reached
    /// (cannot open, not a database, I/O, corrupt, full). Notices and warnings are ignored.
    public static func observeErrors(_ observer: @escaping @Sendable (_ isConnectionError: Bool) -> Void) {
        Database.logError = { code, _ in
            switch code.primaryResultCode {
            case .SQLITE_OK, .SQLITE_ROW, .SQLITE_DONE, .SQLITE_NOTICE, .SQLITE_WARNING, .SQLITE_SCHEMA: return
            case .SQLITE_CANTOPEN, .SQLITE_NOTADB, .SQLITE_IOERR, .SQLITE_CORRUPT, .SQLITE_FULL: observer(true)
            default: observer(false)
            }
        }
    }

    /// The kind of statement `sql` is, from its first keyword.
    static func kind(of sql: String) -> StatementKind {
        sql.withCString { kind(ofSQL: $0) }
    }

    /// The kind of statement from the first keyword of its SQL text, read in place (this runs
    /// for every statement when metrics are on: no String, no allocation).
    static func kind(ofSQL sql: UnsafePointer<CChar>) -> StatementKind {
        var p = UnsafeRawPointer(sql).assumingMemoryBound(to: UInt8.self)
        while p.pointee == 0x20 || p.pointee == 0x0A || p.pointee == 0x0D || p.pointee == 0x09 || p.pointee == 0x28 {
            p += 1
        }
        // Up to 8 letters, upper-cased, packed into one integer.
        var word: UInt64 = 0
        var length = 0
        while length < 8 {
            var c = p[length]
            if c >= 0x61 && c <= 0x7A { c -= 0x20 }
            guard c >= 0x41 && c <= 0x5A else { break }
            word = word << 8 | UInt64(c)
            length += 1
        }
        switch word {
        case Self.packed("SELECT"), Self.packed("WITH"), Self.packed("PRAGMA"), Self.packed("EXPLAIN"),
            Self.packed("VALUES"):
            return .read
        case Self.packed("BEGIN"), Self.packed("COMMIT"), Self.packed("END"), Self.packed("ROLLBACK"),
            Self.packed("SAVEPOIN"), Self.packed("RELEASE"):
            return .transaction
        default:
            return .write
        }
    }

    static func packed(_ word: StaticString) -> UInt64 {
        word.withUTF8Buffer { $0.prefix(8).reduce(0) { $0 << 8 | UInt64($1) } }
    }

    /// Carries the statement observer and the SQL log into SQLite's C trace callback. One per
    /// connection, kept for the life of the process (a few per worker; reconnections add one each).
    final class StatementProfiler {
        let observer: StatementObserver?
        let sqlLog: Logger?
        init(_ observer: StatementObserver?, _ sqlLog: Logger?) {
            self.observer = observer
            self.sqlLog = sqlLog
        }
    }

    /// Profiles every statement of `db` through SQLite's trace hook directly: GRDB's `trace`
    /// builds and trims the SQL text of each statement through Foundation, which took a third
    /// of a worker's time under vector ingest. With `sqlLog` (`logging.log_sql_queries`, refused
    /// in production) each statement is also logged with its duration: its SQL text only, never
    /// its arguments (password hashes, tokens).
    static func installProfiler(_ db: Database, _ observer: StatementObserver?, sqlLog: Logger?) {
        guard observer != nil || sqlLog != nil, let handle = db.sqliteConnection else { return }
        let context = Unmanaged.passRetained(StatementProfiler(observer, sqlLog)).toOpaque()
        sqlite3_trace_v2(
            handle, UInt32(SQLITE_TRACE_PROFILE),
            { _, context, statement, duration in
                guard let context, let statement, let duration else { return 0 }
                let profiler = Unmanaged<StatementProfiler>.fromOpaque(context).takeUnretainedValue()
                let nanoseconds = UInt64(max(duration.assumingMemoryBound(to: Int64.self).pointee, 0))
                let sql = sqlite3_sql(OpaquePointer(statement))
                if let observer = profiler.observer {
                    observer(sql.map { Store.kind(ofSQL: $0) } ?? .write, nanoseconds)
                }
                if let log = profiler.sqlLog, let sql {
                    log.info(
                        "sql",
                        metadata: [
                            "statement": "\(String(cString: sql))",
                            "ms": "\(Double(nanoseconds / 1000) / 1000)",
                        ])
                }
                return 0
            }, context)
    }

    public static func open(
        _ settings: JadeConfiguration.Database, readerCount: Int? = nil,
        breakers: (CircuitBreaker, CircuitBreaker)? = nil, observer: StatementObserver? = nil,
        sqlLog: Logger? = nil, hooks: PoolHooks = PoolHooks(), queryTimeout: UInt64? = nil
    ) throws -> Store {
        var configuration = Configuration()
        configuration.busyMode = .timeout(TimeInterval(settings.busyTimeoutMilliseconds) / 1000)
        configuration.maximumReaderCount = max(1, readerCount ?? settings.connectionPoolSize)
        configuration.foreignKeysEnabled = true
        configuration.label = "jadevectordb"
        let synchronous = settings.synchronousFull ? "FULL" : "NORMAL"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // After a checkpoint resets the WAL, truncate it to at most 64 MiB.
            try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
            Store.installProfiler(db, observer, sqlLog: sqlLog)
            QueryDeadline.install(db)
        }
        let path = settings.databasePath
        let reopenWith = configuration
        do {
            let raw = try DatabasePool(path: path, configuration: configuration)
            // Touch the schema so that a corrupt or foreign file fails here, not on first use.
            _ = try raw.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
            let (reads, writes) = breakers ?? localBreakers()
            let pool = ResilientPool(
                raw: raw, reads: reads, writes: writes,
                retry: RetrySettings(
                    maxRetries: settings.maxRetries,
                    baseDelay: Double(settings.retryBaseDelay.components.attoseconds) / 1e18
                        + Double(settings.retryBaseDelay.components.seconds)),
                queryTimeout: queryTimeout ?? UInt64(settings.queryTimeout.components.seconds) * 1_000_000_000,
                hooks: hooks, opener: { try DatabasePool(path: path, configuration: reopenWith) })
            return Store(pool: pool, path: path)
        } catch let error as DatabaseError {
            throw StoreError(description: describe(error, path: path))
        } catch {
            throw StoreError(description: "cannot open database \(path): \(error)")
        }
    }

    /// Brings the database up to `schema` (master, before workers start).
    public func migrate(_ schema: Schema) throws {
        let migrator = schema.migrator
        do {
            if try pool.raw.read({ db in try migrator.hasBeenSuperseded(db) }) {
                throw StoreError(
                    description:
                        "database \(path) was written by a newer jadevectordb (unknown migrations); refusing to run an older build on it"
                )
            }
            try migrator.migrate(pool.raw)
        } catch let error as DatabaseError {
            throw StoreError(description: Self.describe(error, path: path))
        }
    }

    /// The database-level change counter: command-line tools bump it after changing users,
    /// grants or blocks directly in the database; the master turns a new value into a global
    /// epoch bump so that every worker drops its caches.
    public static func changeCounter(_ pool: ResilientPool) throws -> Int {
        try pool.read { db in
            try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM schema_meta WHERE key = 'auth_epoch'") ?? 0
        }
    }

    /// Bumps the change counter (the master notices within a second).
    public static func bumpChangeCounter(_ pool: ResilientPool) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE schema_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'auth_epoch'")
        }
    }

    /// Applied migration identifiers of `schema`, oldest first.
    public func appliedMigrations(_ schema: Schema) throws -> [String] {
        try pool.read { db in try schema.migrator.appliedMigrations(db) }
    }

    /// WAL checkpoint modes used by the server.
    public enum CheckpointMode: String, Sendable {
        /// Copies what it can without waiting for anyone (the periodic checkpoint).
        case passive = "PASSIVE"
        /// Waits for readers and writers, copies everything and truncates the WAL (at stop).
        case truncate = "TRUNCATE"
    }

    /// Checkpoints the WAL into the database file. Returns false when it could not complete
    /// (busy); a passive checkpoint is simply retried on the next tick.
    @discardableResult
    public func checkpoint(mode: CheckpointMode) throws -> Bool {
        try pool.writeWithoutTransaction { db in
            let row = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(\(mode.rawValue))")
            return (row?[0] as Int?) == 0
        }
    }

    /// Size in bytes of the write-ahead log file (0 when absent).
    public var walBytes: Int64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "-wal")
        return (attributes?[.size] as? NSNumber)?.int64Value ?? 0
    }

    /// A real query against the database; returns its latency in seconds.
    public func ping() throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try pool.raw.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM schema_meta") }
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Closes every connection.
    public func close() throws { try pool.close() }

    static func describe(_ error: DatabaseError, path: String) -> String {
        switch error.resultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return
                "database \(path) is corrupt or not a SQLite database (\(error.message ?? "")); restore it from a backup"
        case .SQLITE_CANTOPEN:
            return "database \(path) cannot be opened (\(error.message ?? "")); check the data directory's permissions"
        case .SQLITE_READONLY:
            return "database \(path) is read-only (\(error.message ?? ""))"
        case .SQLITE_FULL:
            return "database \(path): disk full (\(error.message ?? ""))"
        default:
            return "database \(path): \(error.message ?? "\(error.resultCode)")"
        }
    }
}
