import Foundation
import GRDB

extension VectorStore {
    /// Inserts or replaces vectors, all or nothing. Every record is validated first (id 1..256
    /// bytes, the database's dimension, finite values, flat metadata with finite numbers); when
    /// an id appears more than once the last record wins. Returns the number of distinct ids written.
    ///
    /// In one write transaction: the rows are appended to the segment at its committed length
    /// and synced, then the `vectors` rows point at them (a replaced id's old row becomes a
    /// tombstone), and the committed length and version move. A failure anywhere leaves the
    /// committed length where it was, so the appended bytes are never read.
    @discardableResult
    public func upsert(database name: String, vectors: [VectorRecord]) throws -> Int {
        guard let known = try self.database(named: name) else { throw VectorStoreError.notFound("database \(name)") }
        let dimension = known.dimension

        var lastIndex: [String: Int] = [:]
        lastIndex.reserveCapacity(vectors.count)
        for (i, record) in vectors.enumerated() {
            try VectorValidation.checkID(record.id)
            try VectorValidation.checkValues(record.values, dimension: dimension, what: "vector \(record.id)")
            lastIndex[record.id] = i
        }
        let batch = vectors.indices.filter { lastIndex[vectors[$0].id] == $0 }.map { vectors[$0] }
        let metadata = try batch.map { try VectorValidation.encodeMetadata($0.metadata, id: $0.id) }
        let norms = batch.map { DistanceKernels.norm($0.values) }
        var buffer = [Float]()
        buffer.reserveCapacity(batch.count * dimension)
        for record in batch { buffer.append(contentsOf: record.values) }
        guard !batch.isEmpty else { return 0 }

        let outcome = try write { db -> CatalogueRow in
            guard var cat = try CatalogueRow.fetch(db, name: name) else {
                throw VectorStoreError.notFound("database \(name)")
            }
            // Deleted and created again with another dimension since it was read above.
            guard cat.dimension == dimension else {
                throw VectorStoreError.dimensionMismatch(expected: cat.dimension, got: dimension)
            }
            let first = cat.committedRows
            let file = try SegmentFile.openForWriting(segmentPath(cat.id, cat.generation))
            defer { file.close() }
            try file.ensureSize((first + batch.count) * cat.stride)
            try buffer.withUnsafeBytes { try file.write($0, at: first * cat.stride) }
            try file.sync()

            let version = cat.version + 1
            let find = try db.cachedStatement(sql: "SELECT row FROM vectors WHERE database_id = ? AND id = ?")
            let bury = try db.cachedStatement(
                sql: "INSERT INTO vector_tombstones (database_id, row, version) VALUES (?, ?, ?)")
            let replace = try db.cachedStatement(
                sql: "UPDATE vectors SET row = ?, norm = ?, metadata = ? WHERE database_id = ? AND id = ?")
            let insert = try db.cachedStatement(
                sql: "INSERT INTO vectors (database_id, id, row, norm, metadata) VALUES (?, ?, ?, ?, ?)")
            for (j, record) in batch.enumerated() {
                let row = first + j
                if let old = try Int.fetchOne(find, arguments: [cat.id, record.id]) {
                    try bury.execute(arguments: [cat.id, old, version])
                    try replace.execute(arguments: [row, norms[j], metadata[j], cat.id, record.id])
                    cat.tombstones += 1
                } else {
                    try insert.execute(arguments: [cat.id, record.id, row, norms[j], metadata[j]])
                    cat.liveCount += 1
                }
            }
            cat.committedRows = first + batch.count
            cat.version = version
            try cat.saveCounters(db)
            return cat
        }
        compactIfNeeded(outcome)
        if case .hnsw = outcome.index { requestCatchUp(name) }
        return batch.count
    }

    /// The vector with this id, or nil. Throws `notFound` when the database does not exist.
    public func get(database name: String, id: String) throws -> VectorRecord? {
        let epoch = cacheEpoch
        let key = QueryCache.Key.vector(database: name, id: id)
        if let epoch, case .vector(let record)? = queryCache?.answer(key, epoch: epoch) { return record }
        let record = try getUncached(database: name, id: id)
        if let epoch { queryCache?.keep(.vector(record), for: key, epoch: epoch) }
        return record
    }

    private func getUncached(database name: String, id: String) throws -> VectorRecord? {
        // An id that could not be stored is simply not there (the database must still exist).
        try get(database: name, ids: [id], includeValues: true, includeMetadata: true).first.map {
            VectorRecord(id: $0.id, values: $0.values ?? [], metadata: $0.metadata ?? [:])
        }
    }

    /// Deletes one vector (its row becomes a tombstone). Returns false when there was no such
    /// vector; throws `notFound` when the database does not exist.
    @discardableResult
    public func delete(database name: String, id: String) throws -> Bool {
        guard (try? VectorValidation.checkID(id)) != nil else {
            guard try self.database(named: name) != nil else { throw VectorStoreError.notFound("database \(name)") }
            return false
        }
        let outcome = try write { db -> CatalogueRow? in
            guard var cat = try CatalogueRow.fetch(db, name: name) else {
                throw VectorStoreError.notFound("database \(name)")
            }
            guard
                let row = try Int.fetchOne(
                    db, sql: "SELECT row FROM vectors WHERE database_id = ? AND id = ?", arguments: [cat.id, id])
            else { return nil }
            cat.version += 1
            try db.execute(sql: "DELETE FROM vectors WHERE database_id = ? AND id = ?", arguments: [cat.id, id])
            try db.execute(
                sql: "INSERT INTO vector_tombstones (database_id, row, version) VALUES (?, ?, ?)",
                arguments: [cat.id, row, cat.version])
            cat.liveCount -= 1
            cat.tombstones += 1
            try cat.saveCounters(db)
            return cat
        }
        guard let outcome else { return false }
        compactIfNeeded(outcome)
        return true
    }
}

extension CatalogueRow {
    /// Writes back the committed length, counts, version and indexed rows.
    func saveCounters(_ db: Database) throws {
        try db.execute(
            sql: """
                UPDATE vector_databases SET committed_rows = ?, live_count = ?, tombstones = ?, version = ?,
                    indexed_rows = ?
                WHERE id = ?
                """,
            arguments: [committedRows, liveCount, tombstones, version, indexedRows, id])
    }
}
