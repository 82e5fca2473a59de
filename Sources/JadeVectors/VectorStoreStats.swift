/// Figures for the health report.
public struct VectorStoreStats: Sendable, Equatable {
    /// Databases in the catalogue.
    public var databases: Int
    /// Live vectors across all databases.
    public var vectors: Int
    /// Bytes of segment files this process has mapped (shared with every other process mapping
    /// the same files: the page cache holds one copy).
    public var mappedBytes: Int
    /// Rows covered by published HNSW graphs, over every HNSW database.
    public var indexedRows: Int = 0
    /// Rows of HNSW databases that their graphs do not cover yet (searched exactly meanwhile).
    public var pendingIndexRows: Int = 0
}
