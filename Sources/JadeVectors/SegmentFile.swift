import Foundation

/// A segment file opened for writing: float32 rows of the database's dimension, back to back,
/// row `r` at byte `r * dimension * 4`. Only the first `committed_rows` rows (recorded in
/// SQLite) mean anything; bytes past them are leftovers of a failed write that the next writer
/// overwrites. Files only grow (compaction writes a new generation instead of shrinking), so
/// mappings held by readers never lose pages under them.
struct SegmentFile {
    /// The file does not exist (a concurrent compaction or deletion unlinked it).
    struct Missing: Error {}

    let fd: Int32
    let path: String

    /// `<database id>-<generation>.f32`; ids are never reused (AUTOINCREMENT), nor are generations.
    static func fileName(databaseID: Int64, generation: Int64) -> String { "\(databaseID)-\(generation).f32" }

    /// Parses a segment file name back into (database id, generation).
    static func parse(fileName: String) -> (databaseID: Int64, generation: Int64)? {
        guard fileName.hasSuffix(".f32") else { return nil }
        let parts = fileName.dropLast(4).split(separator: "-")
        guard parts.count == 2, let id = Int64(parts[0]), let generation = Int64(parts[1]) else { return nil }
        return (id, generation)
    }

    /// Opens (creating it if needed, or starting empty with `truncate`) for writing. A newly
    /// created file's directory entry is made durable before returning.
    static func openForWriting(_ path: String, truncate: Bool = false) throws -> SegmentFile {
        var flags = O_RDWR | O_CREAT | O_CLOEXEC
        if truncate { flags |= O_TRUNC }
        let existed = access(path, F_OK) == 0
        let fd = open(path, flags, 0o640)
        guard fd >= 0 else { throw VectorStoreError.storage("cannot open segment \(path): \(errnoText())") }
        if !existed || truncate { syncDirectory(of: path) }
        return SegmentFile(fd: fd, path: path)
    }

    func close() { _ = Foundation.close(fd) }

    func size() throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw VectorStoreError.storage("cannot stat \(path): \(errnoText())") }
        return Int(st.st_size)
    }

    /// Makes the file at least `needed` bytes long, growing by a quarter (at least 256 KiB,
    /// rounded to 64 KiB) so that readers rarely have to map it again. The new space is a hole.
    func ensureSize(_ needed: Int) throws {
        let current = try size()
        guard needed > current else { return }
        let chunk = 65_536
        var target = max(needed, current + current / 4, 262_144)
        target = (target + chunk - 1) / chunk * chunk
        guard ftruncate(fd, off_t(target)) == 0 else {
            throw VectorStoreError.storage("cannot grow segment \(path) to \(target) bytes: \(errnoText())")
        }
    }

    /// Writes every byte at `offset` (pwrite, retried on short writes and EINTR).
    func write(_ buffer: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw VectorStoreError.storage("cannot write segment \(path): \(errnoText())")
            }
            done += n
        }
    }

    /// fdatasync: the rows (and the file size) are on disk before SQLite commits their length.
    func sync() throws {
        guard fdatasync(fd) == 0 else { throw VectorStoreError.storage("cannot sync segment \(path): \(errnoText())") }
    }

    /// Opens an existing segment for reading; `Missing` when it is gone.
    static func openForReading(_ path: String) throws -> SegmentFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw Missing() }
            throw VectorStoreError.storage("cannot open segment \(path): \(errnoText())")
        }
        return SegmentFile(fd: fd, path: path)
    }

    /// Reads `count` floats at row offset `offset` (bytes) from the file at `path`.
    static func readFloats(_ path: String, offset: Int, count: Int) throws -> [Float] {
        let file = try openForReading(path)
        defer { file.close() }
        return try file.readFloats(at: offset, count: count)
    }

    /// Reads `count` floats at byte `offset` (pread, retried on short reads and EINTR).
    func readFloats(at offset: Int, count: Int) throws -> [Float] {
        var values = [Float](repeating: 0, count: count)
        let bytes = count * 4
        var done = 0
        try values.withUnsafeMutableBytes { buffer in
            while done < bytes {
                let n = pread(fd, buffer.baseAddress! + done, bytes - done, off_t(offset + done))
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    throw VectorStoreError.storage(
                        "segment \(path) is shorter than its committed length (read at \(offset + done))")
                }
                done += n
            }
        }
        return values
    }

    /// fsync of the directory holding `path`, so that a created, renamed or unlinked entry survives a crash.
    static func syncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = Foundation.close(fd)
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
