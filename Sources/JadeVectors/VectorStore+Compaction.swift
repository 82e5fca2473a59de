import Foundation
import GRDB

extension VectorStore {
    /// Rewrites the database's segment with only its live rows, whatever the policy says.
    /// Returns false when there was nothing to remove.
    @discardableResult
    public func compact(database name: String) throws -> Bool {
        try compact(name, force: true)
    }

    /// Compacts after a write when the policy asks for it. The write is already committed, so a
    /// failure here is not the writer's: the next write tries again.
    func compactIfNeeded(_ cat: CatalogueRow) {
        guard compactionPolicy.shouldCompact(rows: cat.committedRows, tombstones: cat.tombstones) else { return }
        _ = try? compact(cat.name, force: false)
    }

    /// In one write transaction: copies the live rows, in row order, into the next generation's
    /// file and syncs it, renumbers the `vectors` rows, drops the tombstones and switches the
    /// generation. The old file is unlinked after the commit; readers that still map it keep
    /// reading it, and their next refresh (a new generation) maps the new one.
    private func compact(_ name: String, force: Bool) throws -> Bool {
        var replaced: String?
        let done = try write { db -> Bool in
            guard var cat = try CatalogueRow.fetch(db, name: name) else {
                throw VectorStoreError.notFound("database \(name)")
            }
            let dead = cat.committedRows - cat.liveCount
            guard force ? dead > 0 : compactionPolicy.shouldCompact(rows: cat.committedRows, tombstones: cat.tombstones)
            else { return false }

            let rows = try Row.fetchAll(
                db, sql: "SELECT id, row FROM vectors WHERE database_id = ? ORDER BY row", arguments: [cat.id]
            ).map { (id: $0[0] as String, row: $0[1] as Int) }
            let oldPath = segmentPath(cat.id, cat.generation)
            let newPath = segmentPath(cat.id, cat.generation + 1)
            let stride = cat.stride
            do {
                let output = try SegmentFile.openForWriting(newPath, truncate: true)
                defer { output.close() }
                if !rows.isEmpty {
                    let input: SegmentMapping
                    do {
                        input = try SegmentMapping(path: oldPath)
                    } catch is SegmentFile.Missing {
                        throw VectorStoreError.storage("segment \(oldPath) is missing")
                    }
                    guard input.length >= cat.committedRows * stride else {
                        throw VectorStoreError.storage("segment \(oldPath) is shorter than its committed length")
                    }
                    // Copy in runs of consecutive rows, through a bounded buffer.
                    let bufferRows = max(1, (4 << 20) / stride)
                    var buffer = [UInt8](repeating: 0, count: bufferRows * stride)
                    var written = 0
                    var pending = 0
                    for (i, entry) in rows.enumerated() {
                        buffer.withUnsafeMutableBytes { b in
                            (b.baseAddress! + pending * stride).copyMemory(
                                from: input.base + entry.row * stride, byteCount: stride)
                        }
                        pending += 1
                        if pending == bufferRows || i == rows.count - 1 {
                            try buffer.withUnsafeBytes {
                                try output.write(
                                    UnsafeRawBufferPointer(rebasing: $0[0..<(pending * stride)]), at: written)
                            }
                            written += pending * stride
                            pending = 0
                        }
                    }
                    try output.sync()
                }
                // Ascending old rows get ascending new rows no larger than the old ones, so the
                // unique (database_id, row) index never sees two equal rows.
                let renumber = try db.cachedStatement(
                    sql: "UPDATE vectors SET row = ? WHERE database_id = ? AND id = ?")
                for (i, entry) in rows.enumerated() where entry.row != i {
                    try renumber.execute(arguments: [i, cat.id, entry.id])
                }
                try db.execute(sql: "DELETE FROM vector_tombstones WHERE database_id = ?", arguments: [cat.id])
                try db.execute(
                    sql: "UPDATE vector_databases SET generation = ? WHERE id = ?",
                    arguments: [cat.generation + 1, cat.id])
                cat.committedRows = rows.count
                cat.liveCount = rows.count
                cat.tombstones = 0
                cat.version += 1
                // Rows moved: the next catch-up builds the new generation's graph from scratch.
                cat.indexedRows = 0
                try cat.saveCounters(db)
            } catch {
                unlink(newPath)
                throw error
            }
            replaced = oldPath
            return true
        }
        if done, let replaced {
            unlink(replaced)
            SegmentFile.syncDirectory(of: replaced)
        }
        return done
    }
}
