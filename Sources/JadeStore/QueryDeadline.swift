import CJadeShm
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// `database.query_timeout_seconds`: a statement that runs longer is interrupted.
///
/// Each connection carries a deadline that SQLite's progress handler checks every 1,000
/// virtual-machine instructions (a few microseconds); `ResilientPool` sets it around every
/// `read` and `write` and clears it after. An interrupted statement fails with
/// SQLITE_INTERRUPT, which the pool turns into `QueryTimeout` (503 `timeout`): never retried,
/// never counted toward the circuit breaker (a slow query says nothing about the disk).
/// Waiting for a lock is not running: the busy timeout bounds that.
public enum QueryDeadline {
    /// The deadline of one connection, read by the progress handler on the thread running the
    /// connection's statement (the same thread that set it: GRDB runs one statement at a time
    /// per connection).
    // @unchecked Sendable: `deadline` is read and written only on the thread running the
    // connection's statement; the slot itself only passes through the `slots` mutex.
    final class Slot: @unchecked Sendable {
        var deadline: UInt64 = 0
    }

    /// Each open connection's slot, by SQLite handle.
    private static let slots = Mutex<[UInt: Slot]>([:])

    /// Installs the progress handler on a new connection (`Configuration.prepareDatabase`).
    static func install(_ db: Database) {
        guard let handle = db.sqliteConnection else { return }
        let slot = Slot()
        let key = UInt(bitPattern: handle)
        slots.withLock { $0[key] = slot }
        let context = Unmanaged.passRetained(slot).toOpaque()
        sqlite3_progress_handler(
            handle, 1000,
            { context in
                guard let context else { return 0 }
                let deadline = Unmanaged<Slot>.fromOpaque(context).takeUnretainedValue().deadline
                return deadline != 0 && jade_monotonic_ns() > deadline ? 1 : 0
            }, context)
    }

    /// Runs `body` with statements on `db` interrupted past `timeout` nanoseconds from now
    /// (0: no limit).
    static func run<T>(_ db: Database, timeout: UInt64, _ body: (Database) throws -> T) throws -> T {
        guard timeout > 0, let handle = db.sqliteConnection, let slot = slots.withLock({ $0[UInt(bitPattern: handle)] })
        else {
            return try body(db)
        }
        let outer = slot.deadline
        // A nested call keeps the earlier deadline.
        let deadline = jade_monotonic_ns() &+ timeout
        slot.deadline = outer == 0 ? deadline : min(outer, deadline)
        defer { slot.deadline = outer }
        return try body(db)
    }
}

/// A statement or scan ran past `database.query_timeout_seconds` and was stopped: 503
/// `timeout` with Retry-After.
public struct QueryTimeout: Error, Sendable, CustomStringConvertible {
    /// What was stopped: `sql` (a statement) or `scan` (a vector search).
    public let kind: String
    public let limitSeconds: Double

    public init(kind: String, limitSeconds: Double) {
        self.kind = kind
        self.limitSeconds = limitSeconds
    }

    public var description: String {
        "\(kind) stopped after the \(limitSeconds) s limit (database.query_timeout_seconds)"
    }
}
