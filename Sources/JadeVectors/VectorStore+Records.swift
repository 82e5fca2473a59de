import Foundation
import GRDB

/// A stored vector as a read returns it: values and metadata only when asked for.
public struct VectorEntry: Sendable, Equatable {
    public var id: String
    public var values: [Float]?
    public var metadata: Metadata?

    public init(id: String, values: [Float]? = nil, metadata: Metadata? = nil) {
        self.id = id
        self.values = values
        self.metadata = metadata
    }
}

/// One page of a scroll: the vectors, and the cursor of the next page (nil: none left).
public struct ScrollPage: Sendable, Equatable {
    public var vectors: [VectorEntry]
    public var nextCursor: String?
}

/// Where a scroll resumes: after the id it names, in id order (the UTF-8 bytes of ids, as
/// SQLite's BINARY collation orders them). Opaque to clients: `c1.` and the id in base64url.
public enum ScrollCursor {
    public static func encode(after id: String) -> String {
        "c1."
            + Data(id.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// The id a cursor resumes after; `invalid` for anything `encode` did not write.
    public static func decode(_ cursor: String) throws -> String {
        guard cursor.hasPrefix("c1."), cursor.utf8.count <= 400 else {
            throw VectorStoreError.invalid("\"cursor\" is not a cursor this server gave out")
        }
        var text = String(cursor.dropFirst(3)).replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        while text.utf8.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let id = String(data: data, encoding: .utf8),
            (try? VectorValidation.checkID(id)) != nil
        else { throw VectorStoreError.invalid("\"cursor\" is not a cursor this server gave out") }
        return id
    }
}

extension VectorStore {
    /// Most ids one `get`, or one delete by ids, takes.
    public static let maxIDsPerRequest = 1000
    /// Most vectors a scroll page examines (with a selective filter a page may come back
    /// short, or empty, with a cursor to go on from).
    public static let maxScrollExamined = 10_000

    /// The vectors with these ids, in the order asked (a repeated id once), leaving out the ids
    /// that do not exist. Throws `notFound` when the database does not exist.
    public func get(database name: String, ids: [String], includeValues: Bool, includeMetadata: Bool) throws
        -> [VectorEntry]
    {
        var seen = Set<String>()
        let unique = ids.filter { seen.insert($0).inserted }
        return try readEntries(database: name, includeValues: includeValues, includeMetadata: includeMetadata) {
            db, cat in
            let find = try db.cachedStatement(sql: "SELECT row, metadata FROM vectors WHERE database_id = ? AND id = ?")
            return try unique.compactMap { id in
                try Row.fetchOne(find, arguments: [cat.id, id]).map { (id, $0[0], $0[1]) }
            }
        }
    }

    /// One page of the database's vectors in id order, after `cursor` (nil: from the start),
    /// at most `limit` of those matching `filter`. Following the cursors visits every vector
    /// that exists throughout exactly once, whatever is written meanwhile.
    public func scroll(
        database name: String, limit: Int, cursor: String?, filter: VectorFilter?, includeValues: Bool,
        includeMetadata: Bool
    ) throws -> ScrollPage {
        guard (1...1000).contains(limit) else { throw VectorStoreError.invalid("limit must be from 1 to 1000") }
        let after = try cursor.map(ScrollCursor.decode) ?? ""
        let filter = (filter?.matchesEverything ?? true) ? nil : filter
        var next: String?
        let entries = try readEntries(
            database: name, includeValues: includeValues, includeMetadata: includeMetadata
        ) { db, cat in
            let page = try db.cachedStatement(
                sql: "SELECT id, row, metadata FROM vectors WHERE database_id = ? AND id > ? ORDER BY id LIMIT ?")
            var found: [(String, Int, String?)] = []
            var examined = 0
            var last = after
            next = nil
            while true {
                // Without a filter every row is returned, so the page needs one row more than
                // it has to know whether another page follows; with one, full batches.
                let batch = filter == nil ? min(limit - found.count + 1, 512) : 512
                let rows = try Row.fetchAll(page, arguments: [cat.id, last, batch])
                for row in rows {
                    let id: String = row[0]
                    if found.count == limit {
                        // One more exists past the page.
                        next = ScrollCursor.encode(after: found[found.count - 1].0)
                        return found
                    }
                    examined += 1
                    last = id
                    let text: String? = row[2]
                    if let filter {
                        let metadata = try text.map { try Self.decodeMetadata($0, database: cat.name, id: id) }
                        guard filter.matches(metadata) else { continue }
                    }
                    found.append((id, row[1], text))
                }
                if rows.count < batch { return found }  // the end
                if examined >= Self.maxScrollExamined && found.count < limit {
                    next = ScrollCursor.encode(after: last)
                    return found
                }
            }
        }
        return ScrollPage(vectors: entries, nextCursor: next)
    }

    /// Replaces the given metadata keys of one vector (nil removes a key); its values stay as
    /// they are. The vector is written again as a new row in the same transaction, so every
    /// worker's snapshot sees the change as it sees any upsert. Returns the vector.
    public func updateMetadata(database name: String, id: String, changes: [String: MetadataValue?]) throws
        -> VectorRecord
    {
        try VectorValidation.checkID(id)
        let (record, outcome) = try write { db -> (VectorRecord, CatalogueRow) in
            guard var cat = try CatalogueRow.fetch(db, name: name) else {
                throw VectorStoreError.notFound("database \(name)")
            }
            guard
                let found = try Row.fetchOne(
                    db, sql: "SELECT row, norm, metadata FROM vectors WHERE database_id = ? AND id = ?",
                    arguments: [cat.id, id])
            else { throw VectorStoreError.notFound("vector \(id)") }
            let oldRow: Int = found[0]
            let norm: Double = found[1]
            var metadata = try (found[2] as String?).map { try Self.decodeMetadata($0, database: name, id: id) } ?? [:]
            for (key, value) in changes { metadata[key] = value }
            let text = try VectorValidation.encodeMetadata(metadata, id: id)

            let file = try SegmentFile.openForWriting(segmentPath(cat.id, cat.generation))
            defer { file.close() }
            let values = try file.readFloats(at: oldRow * cat.stride, count: cat.dimension)
            let row = cat.committedRows
            try file.ensureSize((row + 1) * cat.stride)
            try values.withUnsafeBytes { try file.write($0, at: row * cat.stride) }
            try file.sync()
            cat.version += 1
            try db.execute(
                sql: "INSERT INTO vector_tombstones (database_id, row, version) VALUES (?, ?, ?)",
                arguments: [cat.id, oldRow, cat.version])
            try db.execute(
                sql: "UPDATE vectors SET row = ?, norm = ?, metadata = ? WHERE database_id = ? AND id = ?",
                arguments: [row, norm, text, cat.id, id])
            cat.committedRows = row + 1
            cat.tombstones += 1
            try cat.saveCounters(db)
            return (VectorRecord(id: id, values: values, metadata: metadata), cat)
        }
        compactIfNeeded(outcome)
        return record
    }

    /// Deletes the vectors with these ids (those that exist), all in one transaction. Returns
    /// how many were deleted.
    public func delete(database name: String, ids: [String]) throws -> Int {
        for id in ids { try VectorValidation.checkID(id) }
        let unique = Array(Set(ids))
        return try deleteRows(database: name) { db, cat in
            let find = try db.cachedStatement(sql: "SELECT row FROM vectors WHERE database_id = ? AND id = ?")
            return try unique.compactMap { id in try Int.fetchOne(find, arguments: [cat.id, id]).map { (id, $0) } }
        }
    }

    /// Deletes every vector whose metadata matches `filter`, in one transaction (so exactly
    /// those matching when it commits). Returns how many were deleted.
    public func delete(database name: String, filter: VectorFilter) throws -> Int {
        try deleteRows(database: name) { db, cat in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT id, row, metadata FROM vectors WHERE database_id = ?", arguments: [cat.id])
            var matching: [(String, Int)] = []
            while let row = try rows.next() {
                let id: String = row[0]
                let metadata = try (row[2] as String?).map { try Self.decodeMetadata($0, database: name, id: id) }
                if filter.matches(metadata) { matching.append((id, row[1])) }
            }
            return matching
        }
    }

    /// Deletes the rows `find` names (id, row), inside one write transaction: one new version
    /// whose tombstones every snapshot applies.
    private func deleteRows(database name: String, _ find: (Database, CatalogueRow) throws -> [(String, Int)])
        throws -> Int
    {
        let outcome = try write { db -> (CatalogueRow, Int)? in
            guard var cat = try CatalogueRow.fetch(db, name: name) else {
                throw VectorStoreError.notFound("database \(name)")
            }
            let doomed = try find(db, cat)
            guard !doomed.isEmpty else { return nil }
            cat.version += 1
            let remove = try db.cachedStatement(sql: "DELETE FROM vectors WHERE database_id = ? AND id = ?")
            let bury = try db.cachedStatement(
                sql: "INSERT INTO vector_tombstones (database_id, row, version) VALUES (?, ?, ?)")
            for (id, row) in doomed {
                try remove.execute(arguments: [cat.id, id])
                try bury.execute(arguments: [cat.id, row, cat.version])
            }
            cat.liveCount -= doomed.count
            cat.tombstones += doomed.count
            try cat.saveCounters(db)
            return (cat, doomed.count)
        }
        guard let (cat, deleted) = outcome else { return 0 }
        compactIfNeeded(cat)
        return deleted
    }

    /// Rows (id, row, metadata text) chosen by `find` in one read transaction, with their values
    /// read from the generation that transaction saw (read again if a compaction replaced it).
    private func readEntries(
        database name: String, includeValues: Bool, includeMetadata: Bool,
        _ find: (Database, CatalogueRow) throws -> [(String, Int, String?)]
    ) throws -> [VectorEntry] {
        for _ in 0..<5 {
            let (cat, rows) = try read { db -> (CatalogueRow, [(String, Int, String?)]) in
                guard let cat = try CatalogueRow.fetch(db, name: name) else {
                    throw VectorStoreError.notFound("database \(name)")
                }
                return (cat, try find(db, cat))
            }
            var file: SegmentFile?
            if includeValues && !rows.isEmpty {
                do {
                    file = try SegmentFile.openForReading(segmentPath(cat.id, cat.generation))
                } catch is SegmentFile.Missing {
                    continue
                }
            }
            defer { file?.close() }
            return try rows.map { id, row, text in
                VectorEntry(
                    id: id, values: try file?.readFloats(at: row * cat.stride, count: cat.dimension),
                    metadata: includeMetadata
                        ? try text.map { try Self.decodeMetadata($0, database: name, id: id) } ?? [:] : nil)
            }
        }
        throw VectorStoreError.storage("segment of database \(name) is missing")
    }

    static func decodeMetadata(_ text: String, database: String, id: String) throws -> Metadata {
        do {
            return try MetadataJSON.decode(text)
        } catch {
            throw VectorStoreError.storage("database \(database), vector \(id): \(error)")
        }
    }
}
