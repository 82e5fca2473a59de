import GRDB

/// One process's view of a database at one committed `version`: the mapped segment, which rows
/// are live, and each row's id, inverse norm and metadata. Immutable once published; the next version
/// is derived from it by reading only what changed (rows appended past `rowCount`, and
/// tombstones newer than `version`), sharing the row chunks.
// @unchecked Sendable: immutable once published (its chunks and mapping too).
struct DatabaseSnapshot: @unchecked Sendable {
    let databaseID: Int64
    let name: String
    let dimension: Int
    let metric: VectorMetric
    let generation: Int64
    private(set) var version: Int64
    /// Committed rows of the segment covered by this snapshot (live or dead).
    private(set) var rowCount: Int
    private(set) var liveCount: Int
    private(set) var chunks: [RowChunk]
    /// Bit r set: row r is live.
    private(set) var live: [UInt64]
    /// Covers at least `rowCount` rows when `rowCount > 0`.
    var mapping: SegmentMapping?
    let index: VectorIndexSettings
    /// Rows `0..<indexedRows` are covered by the published HNSW graph (the catalogue's word).
    private(set) var indexedRows: Int
    /// The mapped graph over rows `0..<graph.header.count`; nil while there is none (or it could
    /// not be mapped), when searches scan every row exactly. Set by the store after a refresh.
    var graph: HNSWIndexMapping?

    var stride: Int { dimension * 4 }

    @inline(__always) func isLive(_ row: Int) -> Bool { live[row >> 6] & (1 << UInt64(row & 63)) != 0 }
    func id(_ row: Int) -> String { chunks[row >> RowChunk.shift].ids[row & RowChunk.mask] }
    func metadata(_ row: Int) -> Metadata? { chunks[row >> RowChunk.shift].metadata[row & RowChunk.mask] }
    /// Live rows at `range` (bitmap popcount).
    func liveRows(in range: Range<Int>) -> Int {
        var count = 0
        var r = range.lowerBound
        while r < range.upperBound {
            if r & 63 == 0 && r + 64 <= range.upperBound {
                count += live[r >> 6].nonzeroBitCount
                r += 64
            } else {
                if isLive(r) { count += 1 }
                r += 1
            }
        }
        return count
    }

    func values(_ row: Int) -> [Float] {
        let p = mapping!.base + row * stride
        return (0..<dimension).map { p.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
    }

    /// What the catalogue says about a cached snapshot.
    enum Refresh {
        case unchanged
        case missing
        /// A newer snapshot; `needsMapping` when its mapping must be (re)created.
        case updated(DatabaseSnapshot, needsMapping: Bool)
    }

    /// Reads, inside one read transaction, what changed since `old` (nil: everything).
    static func refresh(_ old: DatabaseSnapshot?, name: String, db: Database) throws -> Refresh {
        guard let cat = try CatalogueRow.fetch(db, name: name) else { return .missing }
        if let old, old.databaseID == cat.id, old.generation == cat.generation, old.version == cat.version {
            return .unchanged
        }
        if let old, old.databaseID == cat.id, old.generation == cat.generation, cat.committedRows >= old.rowCount,
            cat.version > old.version
        {
            var next = old
            try next.apply(cat, db: db)
            let needsMapping = next.rowCount > 0 && (next.mapping?.length ?? 0) < next.rowCount * next.stride
            return .updated(next, needsMapping: needsMapping)
        }
        var fresh = DatabaseSnapshot(
            databaseID: cat.id, name: cat.name, dimension: cat.dimension, metric: cat.metric,
            generation: cat.generation, version: 0, rowCount: 0, liveCount: 0, chunks: [], live: [], mapping: nil,
            index: cat.index, indexedRows: 0, graph: nil)
        try fresh.apply(cat, db: db)
        return .updated(fresh, needsMapping: fresh.rowCount > 0)
    }

    /// Extends this snapshot to the catalogue's committed state: appends rows
    /// `rowCount..<committedRows` (dead unless present in `vectors`), then clears the rows that
    /// died after `version`.
    private mutating func apply(_ cat: CatalogueRow, db: Database) throws {
        let oldCount = rowCount
        let oldVersion = version
        let newCount = cat.committedRows
        live.append(contentsOf: repeatElement(0, count: (newCount + 63) / 64 - live.count))
        while chunks.count * RowChunk.capacity < newCount { chunks.append(RowChunk()) }

        var next = oldCount
        func fillDead(upTo end: Int) {
            while next < end {
                chunks[next >> RowChunk.shift].store(next & RowChunk.mask, id: "", inverseNorm: 0, metadata: nil)
                next += 1
            }
        }
        if newCount > oldCount {
            let rows = try Row.fetchCursor(
                db,
                sql: "SELECT id, row, norm, metadata FROM vectors WHERE database_id = ? AND row >= ? ORDER BY row",
                arguments: [cat.id, oldCount])
            while let row = try rows.next() {
                let r: Int = row[1]
                guard r < newCount else {
                    throw VectorStoreError.storage("database \(name): row \(r) past the committed length \(newCount)")
                }
                fillDead(upTo: r)
                var metadata: Metadata? = nil
                if let text: String = row[3] {
                    do {
                        metadata = try MetadataJSON.decode(text)
                    } catch {
                        throw VectorStoreError.storage("database \(name): \(error)")
                    }
                }
                // A zero (or subnormal, whose inverse overflows) vector scores 0 under cosine.
                let norm: Double = row[2]
                let inverse = Float(1 / norm)
                chunks[r >> RowChunk.shift].store(
                    r & RowChunk.mask, id: row[0], inverseNorm: inverse.isFinite ? inverse : 0, metadata: metadata)
                live[r >> 6] |= 1 << UInt64(r & 63)
                next = r + 1
            }
            fillDead(upTo: newCount)
        }
        if oldCount > 0 {
            let dead = try Row.fetchCursor(
                db, sql: "SELECT row FROM vector_tombstones WHERE database_id = ? AND version > ? AND row < ?",
                arguments: [cat.id, oldVersion, oldCount])
            while let row = try dead.next() {
                let r: Int = row[0]
                live[r >> 6] &= ~(1 << UInt64(r & 63))
            }
        }
        rowCount = newCount
        liveCount = cat.liveCount
        version = cat.version
        indexedRows = min(cat.indexedRows, newCount)
    }
}
