/// A vector database as the catalogue describes it.
public struct VectorDatabaseInfo: Sendable, Equatable {
    public var name: String
    public var dimension: Int
    public var metric: VectorMetric
    /// Live vectors (tombstoned rows excluded).
    public var vectorCount: Int
    /// Creation time, ISO 8601 UTC.
    public var createdAt: String
    /// How searches find neighbours.
    public var index: VectorIndexSettings
    /// Rows (live or not) that the HNSW graph does not cover yet; searches scan them exactly.
    /// 0 for a flat index.
    public var pendingIndexRows: Int

    /// Live vectors the index covers: at least this many (all of them for a flat index).
    public var indexedVectors: Int { max(0, vectorCount - pendingIndexRows) }

    public init(
        name: String, dimension: Int, metric: VectorMetric, vectorCount: Int, createdAt: String,
        index: VectorIndexSettings = .flat, pendingIndexRows: Int = 0
    ) {
        self.pendingIndexRows = pendingIndexRows
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.vectorCount = vectorCount
        self.createdAt = createdAt
        self.index = index
    }
}

/// A database's index, chosen at creation.
public enum VectorIndexSettings: Sendable, Equatable {
    /// Every search scans every vector (exact).
    case flat
    /// An HNSW graph (approximate search, exact over the rows it does not cover yet): `m` links
    /// per node (twice that on layer 0), insertion breadth `efConstruction`.
    case hnsw(m: Int, efConstruction: Int)

    /// Accepted `m`: 4 to 64 (hnswlib's guidance: 12 to 48 for most data).
    public static let mRange = 4...64
    /// Accepted `ef_construction`: 8 to 2000.
    public static let efConstructionRange = 8...2000
    public static let defaultM = 16
    public static let defaultEfConstruction = 200
    /// The search breadth when a request gives none (at least k).
    public static let defaultEf = 128
}

/// An index's progress as `GET /v1/databases/{name}` reports it.
public struct VectorIndexStatus: Sendable, Equatable {
    public var settings: VectorIndexSettings
    /// Live vectors the graph covers (all of them for a flat index).
    public var indexedVectors: Int
    /// Live vectors searched exactly because the graph does not cover them yet.
    public var pendingVectors: Int
    /// True when no live vector is pending.
    public var ready: Bool { pendingVectors == 0 }
}
