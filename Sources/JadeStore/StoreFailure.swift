import GRDB

/// What kind of failure an SQLite error is, for retrying, the circuit breaker and the answer.
public enum StoreFailureKind: UInt32, Sendable, CustomStringConvertible {
    /// SQLITE_BUSY and its extended codes: another writer holds the lock. Retried; never counts
    /// toward the breaker.
    case contention = 1
    /// SQLITE_FULL: the disk (or the database's page limit) is full.
    case full = 2
    /// SQLITE_READONLY*: the file or its directory cannot be written.
    case readOnly = 3
    /// SQLITE_IOERR*: the disk failed.
    case io = 4
    /// SQLITE_CORRUPT, SQLITE_NOTADB.
    case corrupt = 5
    /// SQLITE_CANTOPEN.
    case cannotOpen = 6
    /// SQLITE_CONSTRAINT: a client error, never retried, never counted.
    case constraint = 7
    /// SQLITE_MISUSE, SQLITE_LOCKED and the rest: a bug; logged loudly, not retried.
    case bug = 8
    /// SQLITE_INTERRUPT: the statement ran past `database.query_timeout_seconds`.
    case interrupted = 9

    public var description: String {
        switch self {
        case .contention: return "contention"
        case .full: return "disk_full"
        case .readOnly: return "read_only"
        case .io: return "io_error"
        case .corrupt: return "corrupt"
        case .cannotOpen: return "cannot_open"
        case .constraint: return "constraint"
        case .bug: return "misuse"
        case .interrupted: return "timeout"
        }
    }

    /// Failures that mean the database is not healthy (and count toward the breaker).
    public var isHard: Bool {
        switch self {
        case .full, .readOnly, .io, .corrupt, .cannotOpen: return true
        default: return false
        }
    }

    /// The one place that maps SQLite errors to kinds.
    public static func classify(_ error: DatabaseError) -> StoreFailureKind {
        switch error.resultCode {
        case .SQLITE_BUSY: return .contention
        case .SQLITE_FULL: return .full
        case .SQLITE_READONLY: return .readOnly
        case .SQLITE_IOERR: return .io
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .corrupt
        case .SQLITE_CANTOPEN: return .cannotOpen
        case .SQLITE_CONSTRAINT: return .constraint
        case .SQLITE_INTERRUPT: return .interrupted
        default: return .bug
        }
    }
}

/// The database cannot serve this call now: answered as 503 with Retry-After, `read_only` for
/// writes while reads still work, `unavailable` otherwise.
public struct StoreUnavailable: Error, Sendable, CustomStringConvertible {
    public enum Mode: String, Sendable {
        case readOnly = "read_only"
        case unavailable
    }
    public let mode: Mode
    public let retryAfterSeconds: Int
    public let reason: String

    public var description: String { "\(mode.rawValue): \(reason) (retry after \(retryAfterSeconds) s)" }
}
