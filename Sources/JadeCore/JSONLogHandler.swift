import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where log lines go. One shared sink per process; `reopen()` (on SIGUSR1) reopens a log file
/// after rotation.
public final class LogSink: Sendable {
    /// The destination of the sink.
    public enum Destination: Sendable, Equatable {
        case standardError
        case standardOutput
        case file(String)
    }

    /// The descriptor, swapped by `reopen` and held while a line is written.
    private let fd: Mutex<Int32>
    private let destination: Destination

    /// Opens the destination. A file that cannot be opened falls back to standard error, with a
    /// line saying so.
    public init(_ destination: Destination) {
        self.destination = destination
        switch destination {
        case .standardError: fd = Mutex(2)
        case .standardOutput: fd = Mutex(1)
        case .file(let path):
            let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            fd = Mutex(opened >= 0 ? opened : 2)
        }
    }

    /// Reopens the log file (after logrotate moved it). A no-op for the standard streams.
    public func reopen() {
        guard case .file(let path) = destination else { return }
        let opened = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard opened >= 0 else { return }
        let old = fd.withLock { fd in
            defer { fd = opened }
            return fd
        }
        if old > 2 { close(old) }
    }

    /// Writes one complete line atomically (a single write(2) of at most PIPE_BUF-sized chunks
    /// from one process never interleaves with another process's line on O_APPEND files).
    public func write(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        fd.withLock { fd in
            Self.writeAll(bytes, to: fd)
        }
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}

/// A swift-log handler that writes one JSON object per line:
/// `{"ts":"…","level":"info","msg":"…","logger":"…",…metadata}`. Keys are sorted so lines are
/// byte-stable across processes.
public struct JSONLogHandler: LogHandler {
    /// The process-wide sink every handler writes to.
    nonisolated(unsafe) public static var sink = LogSink(.standardError)
    /// Fields added to every line of this process (for example `role`, `pid`, `slot`).
    nonisolated(unsafe) public static var processMetadata: Logger.Metadata = [:]
    /// When false, lines are written as `ts level msg key=value` text instead of JSON.
    nonisolated(unsafe) public static var jsonFormat = true

    /// The level of every logger that has not set its own.
    nonisolated(unsafe) public static var level: Logger.Level = .info

    public var metadata: Logger.Metadata = [:]
    private var explicitLevel: Logger.Level?
    public var logLevel: Logger.Level {
        get { explicitLevel ?? Self.level }
        set { explicitLevel = newValue }
    }
    private let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [:]
        for (k, v) in Self.processMetadata { fields[k] = Self.plain(v) }
        for (k, v) in metadata { fields[k] = Self.plain(v) }
        if let extra = event.metadata { for (k, v) in extra { fields[k] = Self.plain(v) } }
        let ts = Self.timestamp()
        if Self.jsonFormat {
            fields["ts"] = .string(ts)
            fields["level"] = .string(event.level.rawValue)
            fields["msg"] = .string(event.message.description)
            fields["logger"] = .string(label)
            // The project's one writer: sorted keys, one line.
            Self.sink.write(JSONValue.object(fields).text)
        } else {
            let rest = fields.keys.sorted().map { "\($0)=\(Self.display(fields[$0]!))" }.joined(separator: " ")
            Self.sink.write("\(ts) \(event.level.rawValue) \(event.message) \(rest)")
        }
    }

    /// A metadata value as JSON: numbers and booleans stay numbers and booleans.
    private static func plain(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let s): return .string(s)
        case .stringConvertible(let c):
            if let i = c as? Int { return .int(i) }
            if let d = c as? Double { return .double(d) }
            if let b = c as? Bool { return .bool(b) }
            return .string(c.description)
        case .array(let a): return .array(a.map(plain))
        case .dictionary(let d): return .object(d.mapValues(plain))
        }
    }

    /// A value in the text format: strings bare, the rest as JSON.
    private static func display(_ value: JSONValue) -> String {
        if case .string(let s) = value { return s }
        return value.text
    }

    private static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
            tmv.tm_hour, tmv.tm_min, tmv.tm_sec, Int(ts.tv_nsec / 1_000_000))
    }
}

/// Process-wide logging setup.
public enum JadeLogging {
    nonisolated(unsafe) private static var bootstrapped = false

    /// Installs the JSON handler for every logger of the process (once; later calls only
    /// change the level, format and destination).
    public static func configure(level: Logger.Level, destination: LogSink.Destination, json: Bool) {
        JSONLogHandler.level = level
        JSONLogHandler.jsonFormat = json
        JSONLogHandler.sink = LogSink(destination)
        if !bootstrapped {
            bootstrapped = true
            LoggingSystem.bootstrap { label in JSONLogHandler(label: label) }
        }
    }
}
