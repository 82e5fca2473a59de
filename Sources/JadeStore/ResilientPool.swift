import CJadeShm
import Foundation
import GRDB
import Logging
import Synchronization

/// Retry and breaker settings (config `database.max_retries`, `database.retry_base_delay_ms`).
public struct RetrySettings: Sendable {
    public var maxRetries: Int
    public var baseDelay: TimeInterval

    public init(maxRetries: Int, baseDelay: TimeInterval) {
        self.maxRetries = maxRetries
        self.baseDelay = baseDelay
    }

    /// Delay before retry `attempt` (0-based): base × 2^attempt, with ±20% jitter.
    public func delay(attempt: Int) -> TimeInterval {
        let exact = baseDelay * pow(2, Double(attempt))
        return exact * Double.random(in: 0.8...1.2)
    }
}

/// What a pool reports as it happens (the worker's metrics); nil members report nothing.
public struct PoolHooks: Sendable {
    /// Called once per retry after SQLITE_BUSY.
    public var onRetry: (@Sendable () -> Void)?
    /// Called when this process moves a breaker to a new state: breaker name, state.
    public var onTransition: (@Sendable (String, CircuitBreaker.State) -> Void)?
    /// Called once per statement (`sql`) or vector scan (`scan`) stopped by the query timeout.
    public var onTimeout: (@Sendable (String) -> Void)?

    public init(
        onRetry: (@Sendable () -> Void)? = nil, onTransition: (@Sendable (String, CircuitBreaker.State) -> Void)? = nil,
        onTimeout: (@Sendable (String) -> Void)? = nil
    ) {
        self.onRetry = onRetry
        self.onTransition = onTransition
        self.onTimeout = onTimeout
    }
}

/// The database as every module uses it: GRDB's pool with the same `read` / `write` calls,
/// wrapped in the failure policy. Contention (SQLITE_BUSY) is retried with exponential backoff
/// and jitter, each attempt a fresh transaction (GRDB rolls back a transaction that throws);
/// hard failures (full, read-only, I/O, corrupt, cannot open) count toward a circuit breaker for
/// reads or for writes; while a breaker is open, calls fail fast. Failures that the caller
/// cannot fix surface as `StoreUnavailable` (503 with Retry-After); constraint errors and the
/// caller's own errors pass through unchanged.
public final class ResilientPool: Sendable {
    public enum Mode: String, Sendable {
        case read, write
    }

    /// The GRDB pool itself (migrations, backups): the current one, which a reconnection
    /// replaces.
    public var raw: DatabasePool { connection.withLock { $0.pool } }
    /// The pool and when this process last replaced it.
    private let connection: Mutex<(pool: DatabasePool, lastReconnect: UInt64)>
    /// Opens a fresh pool on the same file (reconnection); nil: never reconnect.
    private let opener: (@Sendable () throws -> DatabasePool)?
    /// At most one reconnection per process per interval, however many calls fail.
    static let reconnectInterval: UInt64 = 1_000_000_000
    public let reads: CircuitBreaker
    public let writes: CircuitBreaker
    public let retry: RetrySettings
    private let logger = Logger(label: "jadevectordb.store")
    /// Where retries, breaker transitions and timeouts are reported (metrics).
    public let hooks: PoolHooks
    private let counters = Mutex<(retries: UInt64, failures: UInt64)>((0, 0))

    /// `opener` reopens the database after a connection-level failure (a file that was
    /// read-only or unreachable when the connections were opened stays so for them).
    public init(
        raw: DatabasePool, reads: CircuitBreaker, writes: CircuitBreaker, retry: RetrySettings,
        queryTimeout: UInt64 = 0, hooks: PoolHooks = PoolHooks(), opener: (@Sendable () throws -> DatabasePool)? = nil
    ) {
        self.connection = Mutex((raw, 0))
        self.queryTimeout = queryTimeout
        self.hooks = hooks
        self.opener = opener
        self.reads = reads
        self.writes = writes
        self.retry = retry
    }

    /// Retries and hard failures seen by this process.
    public var statistics: (retries: UInt64, failures: UInt64) { counters.withLock { $0 } }

    /// `database.query_timeout_seconds` in nanoseconds (0: none): statements of `read`,
    /// `unsafeRead` and `write` that run longer are interrupted (``QueryDeadline``).
    public let queryTimeout: UInt64

    public func read<T>(_ body: (Database) throws -> T) throws -> T {
        let timeout = queryTimeout
        return try run(.read) { try raw.read { db in try QueryDeadline.run(db, timeout: timeout, body) } }
    }

    public func unsafeRead<T>(_ body: (Database) throws -> T) throws -> T {
        let timeout = queryTimeout
        return try run(.read) { try raw.unsafeRead { db in try QueryDeadline.run(db, timeout: timeout, body) } }
    }
    public func write<T>(_ body: (Database) throws -> T) throws -> T {
        let timeout = queryTimeout
        return try run(.write) { try raw.write { db in try QueryDeadline.run(db, timeout: timeout, body) } }
    }
    public func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try run(.write) { try raw.writeWithoutTransaction(body) }
    }

    /// Opens new connections on the same file, unless that was done less than
    /// `reconnectInterval` ago; true when it did. A connection opened while the file was
    /// read-only (or unreachable) stays so, whatever happens to the file later.
    private func reconnect(after kind: StoreFailureKind) -> Bool {
        guard let opener else { return false }
        return connection.withLock { connection in
            let now = jade_monotonic_ns()
            guard connection.lastReconnect == 0 || now &- connection.lastReconnect >= Self.reconnectInterval else {
                return false
            }
            connection.lastReconnect = now
            do {
                connection.pool = try opener()
                logger.notice("database reopened after a connection-level failure", metadata: ["kind": "\(kind)"])
                return true
            } catch {
                logger.error("cannot reopen the database", metadata: ["kind": "\(kind)", "error": "\(error)"])
                return false
            }
        }
    }

    public func close() throws { try raw.close() }

    private func unavailable(_ mode: Mode, _ kind: StoreFailureKind?, retryAfter: TimeInterval, reason: String)
        -> StoreUnavailable
    {
        let readOnly = mode == .write && (kind == .full || kind == .readOnly || kind == nil)
        return StoreUnavailable(
            mode: readOnly && reads.view().state == .closed ? .readOnly : .unavailable,
            retryAfterSeconds: max(1, Int(retryAfter.rounded(.up))), reason: reason)
    }

    /// Runs `operation` under the failure policy for `mode`: breaker admission, retries of
    /// contention with backoff, classification of failures, the breaker's outcome.
    public func run<T>(_ mode: Mode, _ operation: () throws -> T) throws -> T {
        let breaker = mode == .read ? reads : writes
        let (admission, halfOpened) = breaker.admit()
        if halfOpened {
            logger.notice("circuit half-open: sending one probe", metadata: ["breaker": "\(breaker.name)"])
        }
        if case .reject(let ns) = admission {
            let last = breaker.view().lastFailureKind
            throw unavailable(
                mode, mode == .write ? last : .io, retryAfter: Double(ns) / 1e9,
                reason:
                    "the \(breaker.name) circuit is open after repeated \(last.map { "\($0)" } ?? "database") failures")
        }
        let probe = admission == .probe
        var attempt = 0
        var reconnected = false
        var started: Date?
        while true {
            do {
                let value = try operation()
                if let change = breaker.record(failed: false, probe: probe) { report(breaker, change, nil) }
                return value
            } catch let error as DatabaseError {
                let kind = StoreFailureKind.classify(error)
                switch kind {
                case .contention:
                    if attempt < retry.maxRetries {
                        if started == nil { started = Date() }
                        let delay = retry.delay(attempt: attempt)
                        counters.withLock { $0.retries &+= 1 }
                        hooks.onRetry?()
                        logger.warning(
                            "database busy; retrying",
                            metadata: [
                                "mode": "\(mode.rawValue)", "attempt": "\(attempt + 1)",
                                "delay_ms": "\(Int(delay * 1000))",
                            ])
                        Thread.sleep(forTimeInterval: delay)
                        attempt += 1
                        continue
                    }
                    // Busy says nothing about health: a probe that met it still found the database.
                    if probe, let change = breaker.record(failed: false, probe: true) { report(breaker, change, nil) }
                    logger.error(
                        "database busy after every retry",
                        metadata: [
                            "mode": "\(mode.rawValue)", "attempts": "\(attempt + 1)",
                            "ms": "\(Int(Date().timeIntervalSince(started ?? Date()) * 1000))",
                        ])
                    throw StoreUnavailable(mode: .unavailable, retryAfterSeconds: 1, reason: "the database is busy")
                case .constraint:
                    if let change = breaker.record(failed: false, probe: probe) { report(breaker, change, nil) }
                    throw error
                case .interrupted:
                    // A slow statement, not a sick database: no retry, no breaker failure.
                    if let change = breaker.record(failed: false, probe: probe) { report(breaker, change, nil) }
                    hooks.onTimeout?("sql")
                    logger.warning(
                        "statement stopped by the query timeout",
                        metadata: ["mode": "\(mode.rawValue)", "limit_s": "\(Double(queryTimeout) / 1e9)"])
                    throw QueryTimeout(kind: "sql", limitSeconds: Double(queryTimeout) / 1e9)
                case .bug:
                    if probe { breaker.record(failed: false, probe: true) }
                    logger.critical(
                        "database misuse (a bug)", metadata: ["mode": "\(mode.rawValue)", "error": "\(error)"])
                    throw error
                default:
                    // Connection-level failures: new connections, then the same call once more
                    // (its transaction was rolled back). Counted only if that fails too.
                    if !reconnected && (kind == .readOnly || kind == .cannotOpen || kind == .io)
                        && reconnect(after: kind)
                    {
                        reconnected = true
                        continue
                    }
                    counters.withLock { $0.failures &+= 1 }
                    let change = breaker.record(failed: true, probe: probe, kind: kind)
                    logger.error(
                        "database failure",
                        metadata: ["mode": "\(mode.rawValue)", "kind": "\(kind)", "error": "\(error.message ?? "")"])
                    if let change { report(breaker, change, kind) }
                    throw unavailable(
                        mode, kind, retryAfter: change == .open ? breakerOpenTime(breaker) : 1,
                        reason: "database \(kind)")
                }
            } catch {
                // The caller's own error (validation, not found): the database answered.
                if let change = breaker.record(failed: false, probe: probe) { report(breaker, change, nil) }
                throw error
            }
        }
    }

    private func breakerOpenTime(_ breaker: CircuitBreaker) -> TimeInterval { Double(breaker.config.open_ns) / 1e9 }

    private func report(_ breaker: CircuitBreaker, _ state: CircuitBreaker.State, _ kind: StoreFailureKind?) {
        hooks.onTransition?(breaker.name, state)
        // Audited too, best effort: while the database fails, the event may not be writable.
        let details = "{\"breaker\":\"\(breaker.name)\",\"kind\":\"\(kind.map { "\($0)" } ?? "-")\"}"
        _ = try? raw.write { db in
            try db.execute(
                sql: "INSERT INTO audit_log (type, actor, target, outcome, details) VALUES (?, 'system', ?, ?, ?)",
                arguments: ["circuit_\(state.rawValue)", "database", state.rawValue, details])
        }
        if state == .open {
            logger.critical(
                "circuit opened: failing fast",
                metadata: ["breaker": "\(breaker.name)", "kind": "\(kind.map { "\($0)" } ?? "-")"])
        } else {
            logger.notice("circuit closed: the database answers again", metadata: ["breaker": "\(breaker.name)"])
        }
    }
}
