import Foundation

/// A read-only shared mapping (MAP_SHARED, PROT_READ) of a whole segment file. Every process
/// maps the same file, so the page cache holds the vectors once however many workers search
/// them. The mapping lives as long as a snapshot uses it; an unlinked file stays readable
/// through it, which is what lets compaction and deletion proceed under running searches.
// @unchecked Sendable: a read-only mapping, immutable.
final class SegmentMapping: @unchecked Sendable {
    let base: UnsafeRawPointer
    let length: Int
    let path: String

    /// Maps the file as it is now; throws `SegmentFile.Missing` when it does not exist.
    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw SegmentFile.Missing() }
            throw VectorStoreError.storage("cannot open segment \(path): \(errnoText())")
        }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw VectorStoreError.storage("cannot stat \(path): \(errnoText())") }
        let length = Int(st.st_size)
        guard length > 0 else { throw VectorStoreError.storage("segment \(path) is empty") }
        let p = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw VectorStoreError.storage("cannot map segment \(path): \(errnoText())")
        }
        self.base = UnsafeRawPointer(p)
        self.length = length
        self.path = path
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }
}
