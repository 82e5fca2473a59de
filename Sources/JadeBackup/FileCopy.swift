import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Byte-level file helpers for backup and restore: bounded copies that hash as they go, and
/// durable writes (file and directory fsync).
enum FileCopy {
    static let chunkBytes = 1 << 20

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Copies the first `length` bytes of the open file `source` into a new file at `destination`
    /// (which must not exist), fsyncs it, and returns its SHA-256 in hex. Fails if `source`
    /// holds fewer than `length` bytes.
    static func copy(from source: Int32, sourceName: String, length: Int64, to destination: String) throws -> String {
        let out = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard out >= 0 else { throw BackupError("cannot create \(destination): \(errnoText())") }
        defer { close(out) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        var offset: Int64 = 0
        while offset < length {
            let want = Int(min(Int64(chunkBytes), length - offset))
            let got = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, want, off_t(offset)) }
            guard got >= 0 else { throw BackupError("cannot read \(sourceName): \(errnoText())") }
            guard got > 0 else {
                throw BackupError("\(sourceName) holds \(offset) bytes, fewer than the \(length) it must hold")
            }
            try buffer.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<got])
                hasher.update(bufferPointer: chunk)
                var written = 0
                while written < got {
                    let n = write(out, chunk.baseAddress! + written, got - written)
                    guard n > 0 else { throw BackupError("cannot write \(destination): \(errnoText())") }
                    written += n
                }
            }
            offset += Int64(got)
        }
        guard fsync(out) == 0 else { throw BackupError("cannot sync \(destination): \(errnoText())") }
        return hex(hasher.finalize())
    }

    /// Copies a whole file by path (see `copy(from:sourceName:length:to:)`).
    static func copyFile(_ source: String, to destination: String) throws -> String {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot open \(source): \(errnoText())") }
        defer { close(fd) }
        return try copy(from: fd, sourceName: source, length: try size(of: source), to: destination)
    }

    /// SHA-256 of a whole file, in hex.
    static func sha256(of path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot open \(path): \(errnoText())") }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, chunkBytes) }
            guard got >= 0 else { throw BackupError("cannot read \(path): \(errnoText())") }
            if got == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
        }
        return hex(hasher.finalize())
    }

    /// Size in bytes, or an error naming the file.
    static func size(of path: String) throws -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw BackupError("cannot stat \(path): \(errnoText())") }
        return Int64(st.st_size)
    }

    /// fsync of a directory, so that created and renamed entries survive a crash.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
