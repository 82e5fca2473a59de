import Foundation

/// The file holding a database's HNSW graph over the first `count` rows of one segment
/// generation: `<database id>-<generation>-<count>.hnsw` beside the segment. A file is written
/// whole under a temporary name, synced and renamed, and never changed afterwards; readers map
/// it read-only (MAP_SHARED), so every worker reads one copy in the page cache, and a reader
/// can never see a half-linked node: a graph is published only as a finished file.
///
/// Layout (native byte order, which is little-endian on every platform we build for): a
/// 128-byte header, then `links0`, `upperOffsets`, `inverseNorms`, `upperLinks` and `levels`
/// (see `HNSWLayout`), each padded to 8 bytes. The header's checksum covers the sections; the
/// builder checks it before continuing from a file, readers check the structure (sizes and,
/// as they read, every link's bounds), so a damaged file is rebuilt or skipped, never trusted.
enum HNSWIndexFile {
    static let magic: UInt64 = 0x5753_4E48_4544_414A  // "JADEHNSW"
    static let format: UInt32 = 1
    static let headerSize = 128

    struct Header: Equatable {
        var distance: HNSWDistance
        var dimension: Int
        var m: Int
        var efConstruction: Int
        var maxLevel: Int
        var entryPoint: Int32
        var count: Int
        var upperCount: Int
        var databaseID: Int64
        var generation: Int64
        var random: UInt64
        var checksum: UInt64

        /// Byte offsets of the sections and the file's total length.
        var sections: (links0: Int, upperOffsets: Int, inverseNorms: Int, upperLinks: Int, levels: Int, end: Int) {
            func padded(_ n: Int) -> Int { (n + 7) & ~7 }
            let links0 = HNSWIndexFile.headerSize
            let upperOffsets = links0 + padded(count * (2 * m + 1) * 4)
            let inverseNorms = upperOffsets + padded(count * 4)
            let upperLinks = inverseNorms + padded(count * 4)
            let levels = upperLinks + padded(upperCount * 4)
            return (links0, upperOffsets, inverseNorms, upperLinks, levels, levels + padded(count))
        }
    }

    static func fileName(databaseID: Int64, generation: Int64, count: Int) -> String {
        "\(databaseID)-\(generation)-\(count).hnsw"
    }

    /// Parses an index file name back into (database id, generation, count).
    static func parse(fileName: String) -> (databaseID: Int64, generation: Int64, count: Int)? {
        guard fileName.hasSuffix(".hnsw") else { return nil }
        let parts = fileName.dropLast(5).split(separator: "-")
        guard parts.count == 3, let id = Int64(parts[0]), let generation = Int64(parts[1]), let count = Int(parts[2])
        else { return nil }
        return (id, generation, count)
    }

    /// Writes `graph` to `path` atomically: a temporary file in the same directory, synced,
    /// then renamed over `path`, and the directory synced.
    static func write(_ graph: HNSWGraph, databaseID: Int64, generation: Int64, to path: String) throws {
        var header = Header(
            distance: graph.distance, dimension: graph.dimension, m: graph.m, efConstruction: graph.efConstruction,
            maxLevel: graph.maxLevel, entryPoint: graph.entryPoint, count: graph.count,
            upperCount: graph.upperLinks.count, databaseID: databaseID, generation: generation, random: graph.random,
            checksum: 0)
        let sections = header.sections
        let parts: [(offset: Int, bytes: UnsafeRawBufferPointer)] = [
            (sections.links0, UnsafeRawBufferPointer(start: graph.links0.base, count: graph.links0.count * 4)),
            (
                sections.upperOffsets,
                UnsafeRawBufferPointer(start: graph.upperOffsets.base, count: graph.upperOffsets.count * 4)
            ),
            (
                sections.inverseNorms,
                UnsafeRawBufferPointer(start: graph.inverseNorms.base, count: graph.inverseNorms.count * 4)
            ),
            (
                sections.upperLinks,
                UnsafeRawBufferPointer(start: graph.upperLinks.base, count: graph.upperLinks.count * 4)
            ),
        ]
        var checksum = Checksum()
        for part in parts { checksum.add(part.bytes) }
        graph.levels.withUnsafeBytes { checksum.add($0) }
        header.checksum = checksum.value

        let temporary = path + ".tmp"
        let file = try SegmentFile.openForWriting(temporary, truncate: true)
        do {
            defer { file.close() }
            try encode(header).withUnsafeBytes { try file.write($0, at: 0) }
            for part in parts where part.bytes.count > 0 { try file.write(part.bytes, at: part.offset) }
            try graph.levels.withUnsafeBytes { if $0.count > 0 { try file.write($0, at: sections.levels) } }
            guard ftruncate(file.fd, off_t(sections.end)) == 0 else {
                throw VectorStoreError.storage("cannot size index \(temporary): \(errnoText())")
            }
            try file.sync()
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw VectorStoreError.storage("cannot publish index \(path): \(reason)")
        }
        SegmentFile.syncDirectory(of: path)
    }

    /// The 128 header bytes.
    static func encode(_ h: Header) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: headerSize / 8)
        words[0] = magic
        words[1] = UInt64(format) | UInt64(h.distance.rawValue) << 32
        words[2] = UInt64(h.dimension) | UInt64(h.m) << 32
        words[3] = UInt64(h.efConstruction) | UInt64(UInt32(bitPattern: Int32(h.maxLevel))) << 32
        words[4] = UInt64(UInt32(bitPattern: h.entryPoint))
        words[5] = UInt64(h.count)
        words[6] = UInt64(h.upperCount)
        words[7] = UInt64(bitPattern: h.databaseID)
        words[8] = UInt64(bitPattern: h.generation)
        words[9] = h.random
        words[10] = h.checksum
        return words
    }

    /// The header at `base` (`length` bytes), or nil when it is not a well-formed index file
    /// of this format whose sections fit exactly in `length`.
    static func decode(_ base: UnsafeRawPointer, length: Int) -> Header? {
        guard length >= headerSize else { return nil }
        func word(_ i: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
        guard word(0) == magic, UInt32(truncatingIfNeeded: word(1)) == format,
            let distance = HNSWDistance(rawValue: UInt32(truncatingIfNeeded: word(1) >> 32))
        else { return nil }
        let dimension = Int(UInt32(truncatingIfNeeded: word(2)))
        let m = Int(UInt32(truncatingIfNeeded: word(2) >> 32))
        let maxLevel = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: word(3) >> 32)))
        let count = word(5)
        let upperCount = word(6)
        guard dimension > 0, dimension <= 65_536, m >= 2, m <= 1024, maxLevel >= -1, maxLevel <= 64,
            count < 1 << 31, upperCount < 1 << 40
        else { return nil }
        let header = Header(
            distance: distance, dimension: dimension, m: m, efConstruction: Int(UInt32(truncatingIfNeeded: word(3))),
            maxLevel: maxLevel, entryPoint: Int32(bitPattern: UInt32(truncatingIfNeeded: word(4))), count: Int(count),
            upperCount: Int(upperCount), databaseID: Int64(bitPattern: word(7)), generation: Int64(bitPattern: word(8)),
            random: word(9), checksum: word(10))
        guard header.sections.end == length, header.entryPoint < Int32(header.count),
            header.entryPoint >= (header.count > 0 ? 0 : -1) || header.entryPoint == -1
        else { return nil }
        return header
    }

    /// A 64-bit checksum of byte runs (eight bytes at a time, multiply-xorshift mixing).
    struct Checksum {
        private(set) var value: UInt64 = 0x9E37_79B9_7F4A_7C15

        mutating func add(_ bytes: UnsafeRawBufferPointer) {
            var h = value ^ UInt64(bytes.count)
            var i = 0
            while i + 8 <= bytes.count {
                h = (h ^ bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
                h ^= h >> 29
                i += 8
            }
            while i < bytes.count {
                h = (h ^ UInt64(bytes[i])) &* 0xC4CE_B9FE_1A85_EC53
                i += 1
            }
            value = h
        }
    }
}

/// An index file mapped read-only, checked for structure (see `HNSWIndexFile`).
// @unchecked Sendable: a read-only mapping, immutable; searches borrow visit marks from a pool.
final class HNSWIndexMapping: @unchecked Sendable {
    let header: HNSWIndexFile.Header
    let base: UnsafeRawPointer
    let length: Int
    let path: String
    /// The file's inode: a graph republished under the same name (a rebuild) is another file.
    let inode: UInt64
    let visitedPool: VisitedPool

    /// Maps the file; nil when it does not exist or is not a well-formed index (a damaged file
    /// is not searched; the next catch-up rebuilds it).
    init?(path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= HNSWIndexFile.headerSize else { return nil }
        let length = Int(st.st_size)
        guard let p = mmap(nil, length, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        guard let header = HNSWIndexFile.decode(UnsafeRawPointer(p), length: length) else {
            munmap(p, length)
            return nil
        }
        self.header = header
        self.base = UnsafeRawPointer(p)
        self.length = length
        self.path = path
        inode = UInt64(st.st_ino)
        visitedPool = VisitedPool(nodes: header.count)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    /// Whether the sections match the header's checksum (reads the whole file).
    var checksumHolds: Bool {
        let s = header.sections
        var checksum = HNSWIndexFile.Checksum()
        checksum.add(UnsafeRawBufferPointer(start: base + s.links0, count: header.count * (2 * header.m + 1) * 4))
        checksum.add(UnsafeRawBufferPointer(start: base + s.upperOffsets, count: header.count * 4))
        checksum.add(UnsafeRawBufferPointer(start: base + s.inverseNorms, count: header.count * 4))
        checksum.add(UnsafeRawBufferPointer(start: base + s.upperLinks, count: header.upperCount * 4))
        checksum.add(UnsafeRawBufferPointer(start: base + s.levels, count: header.count))
        return checksum.value == header.checksum
    }

    /// The graph's view with node n's vector at `vectors + n * dimension * 4`.
    func layout(vectors: UnsafeRawPointer) -> HNSWLayout {
        let s = header.sections
        return HNSWLayout(
            dimension: header.dimension, distance: header.distance, m: header.m, maxLinks0: 2 * header.m,
            count: header.count, entryPoint: header.entryPoint, maxLevel: header.maxLevel,
            links0: (base + s.links0).assumingMemoryBound(to: Int32.self),
            upperOffsets: (base + s.upperOffsets).assumingMemoryBound(to: Int32.self),
            upperLinks: (base + s.upperLinks).assumingMemoryBound(to: Int32.self), upperCount: header.upperCount,
            inverseNorms: (base + s.inverseNorms).assumingMemoryBound(to: Float.self), vectors: vectors,
            vectorStride: header.dimension * 4)
    }
}

extension HNSWGraph {
    /// A graph to continue building from a mapped file (copied into memory); nil when the
    /// file's checksum does not hold or its settings differ from these.
    convenience init?(continuing file: HNSWIndexMapping, distance: HNSWDistance, m: Int, efConstruction: Int) {
        let h = file.header
        guard h.distance == distance, h.m == m, h.efConstruction == efConstruction, file.checksumHolds else {
            return nil
        }
        self.init(dimension: h.dimension, distance: distance, m: m, efConstruction: efConstruction, seed: h.random)
        let s = h.sections
        links0.append(
            contentsOf: UnsafeBufferPointer(
                start: (file.base + s.links0).assumingMemoryBound(to: Int32.self), count: h.count * (2 * m + 1)))
        upperOffsets.append(
            contentsOf: UnsafeBufferPointer(
                start: (file.base + s.upperOffsets).assumingMemoryBound(to: Int32.self), count: h.count))
        inverseNorms.append(
            contentsOf: UnsafeBufferPointer(
                start: (file.base + s.inverseNorms).assumingMemoryBound(to: Float.self), count: h.count))
        upperLinks.append(
            contentsOf: UnsafeBufferPointer(
                start: (file.base + s.upperLinks).assumingMemoryBound(to: Int32.self), count: h.upperCount))
        levels = Array(
            UnsafeBufferPointer(start: (file.base + s.levels).assumingMemoryBound(to: UInt8.self), count: h.count))
        entryPoint = h.entryPoint
        maxLevel = h.maxLevel
        random = h.random
    }
}
