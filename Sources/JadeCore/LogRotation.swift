import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Size-based rotation of the log file (`logging.output = file`), driven by one process (the
/// master): when `path` reaches `maxBytes` it becomes `path.1` (`path.1` becomes `path.2`, …,
/// and the oldest beyond `maxFiles` is deleted); then every writer reopens `path`.
///
/// Writers append whole lines with one write(2) each (`LogSink`), so a line is in one file or
/// the next, never split; lines written between the rename and a writer's reopen land at the
/// end of `path.1`, not lost.
public struct LogRotation: Sendable {
    public let path: String
    public let maxBytes: Int64
    /// Rotated files kept (`path.1` … `path.maxFiles`).
    public let maxFiles: Int

    public init(path: String, maxBytes: Int64, maxFiles: Int) {
        self.path = path
        self.maxBytes = maxBytes
        self.maxFiles = max(1, maxFiles)
    }

    /// Whether the file has reached its size limit.
    public var isDue: Bool {
        var info = stat()
        return stat(path, &info) == 0 && Int64(info.st_size) >= maxBytes
    }

    /// Shifts the rotated files and moves `path` to `path.1`; true when `path` was moved (the
    /// caller then has every writer reopen it). Failures leave the current file in place.
    @discardableResult
    public func rotate() -> Bool {
        unlink("\(path).\(maxFiles)")
        var n = maxFiles - 1
        while n >= 1 {
            rename("\(path).\(n)", "\(path).\(n + 1)")
            n -= 1
        }
        return rename(path, "\(path).1") == 0
    }
}
