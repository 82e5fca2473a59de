import Foundation
import GRDB
import JadeConfig

/// Failures opening or migrating the database, with a message fit for an operator.
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
}

/// The SQLite database (WAL mode) shared by the master and every worker.
public final class Store: @unchecked Sendable {
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
        var word = Substring(sql.drop { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "(" }).prefix(8).uppercased()
        if let space = word.firstIndex(where: { !$0.isLetter }) { word = String(word[..<space]) }
        switch word {
        case "SELECT", "WITH", "PRAGMA", "EXPLAIN", "VALUES": return .read
        case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOIN", "RELEASE": return .transaction
        default: return .write
        }
    }

    public static func open(
        _ settings: JadeConfiguration.Database, readerCount: Int? = nil,
        breakers: (CircuitBreaker, CircuitBreaker)? = nil, observer: StatementObserver? = nil
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
            if let observer {
                db.trace(options: .profile) { event in
                    if case .profile(let statement, let duration) = event {
                        observer(Store.kind(of: statement.sql), UInt64(max(duration, 0) * 1e9))
                    }
                }
            }
        }
        let path = settings.databasePath
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
                opener: { try DatabasePool(path: path, configuration: configuration) })
            return Store(pool: pool, path: path)
        } catch let error as DatabaseError {
            throw StoreError(description: describe(error, path: path))
        } catch {
            throw StoreError(description: "cannot open database \(path): \(error)")
        }
    }

    /// Brings the schema up to date (master, before workers start).
    public func migrate() throws {
        do {
            if try pool.raw.read({ db in try Migrations.migrator.hasBeenSuperseded(db) }) {
                throw StoreError(
                    description:
                        "database \(path) was written by a newer jadevectordb (unknown migrations); refusing to run an older build on it"
                )
            }
            try Migrations.migrator.migrate(pool.raw)
        } catch let error as DatabaseError {
            throw StoreError(description: Self.describe(error, path: path))
        }
    }

    /// Applied migration identifiers, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try Migrations.migrator.appliedMigrations(db) }
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
