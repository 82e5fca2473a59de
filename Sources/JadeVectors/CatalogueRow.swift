import GRDB

/// A `vector_databases` row as the store reads it inside its transactions.
struct CatalogueRow {
    var id: Int64
    var name: String
    var dimension: Int
    var metric: VectorMetric
    var createdAt: String
    var generation: Int64
    var committedRows: Int
    var liveCount: Int
    var tombstones: Int
    var version: Int64
    var index: VectorIndexSettings
    /// Rows of the current generation covered by the published HNSW graph file (0: none).
    var indexedRows: Int

    static let columns =
        "id, name, dimension, metric, created_at, generation, committed_rows, live_count, tombstones, version, "
        + "index_type, index_m, index_ef_construction, indexed_rows"

    init(row: Row) throws {
        id = row[0]
        name = row[1]
        dimension = row[2]
        let metricName: String = row[3]
        guard let metric = VectorMetric(rawValue: metricName) else {
            throw VectorStoreError.storage("database \(name) has an unknown metric \(metricName)")
        }
        self.metric = metric
        createdAt = row[4]
        generation = row[5]
        committedRows = row[6]
        liveCount = row[7]
        tombstones = row[8]
        version = row[9]
        let indexType: String = row[10]
        switch indexType {
        case "flat": index = .flat
        case "hnsw": index = .hnsw(m: row[11], efConstruction: row[12])
        default: throw VectorStoreError.storage("database \(name) has an unknown index type \(indexType)")
        }
        indexedRows = row[13]
    }

    static func fetch(_ db: Database, name: String) throws -> CatalogueRow? {
        let statement = try db.cachedStatement(
            sql: "SELECT \(columns) FROM vector_databases WHERE name = ?")
        return try Row.fetchOne(statement, arguments: [name]).map(CatalogueRow.init(row:))
    }

    static func fetchAll(_ db: Database) throws -> [CatalogueRow] {
        try Row.fetchAll(db, sql: "SELECT \(columns) FROM vector_databases ORDER BY name").map(CatalogueRow.init(row:))
    }

    var info: VectorDatabaseInfo {
        VectorDatabaseInfo(
            name: name, dimension: dimension, metric: metric, vectorCount: liveCount, createdAt: createdAt,
            index: index, pendingIndexRows: index == .flat ? 0 : committedRows - indexedRows)
    }

    /// Bytes per row in the segment file.
    var stride: Int { dimension * 4 }
}
