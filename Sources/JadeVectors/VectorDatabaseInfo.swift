/// A vector database as the catalogue describes it.
public struct VectorDatabaseInfo: Sendable, Equatable {
    public var name: String
    public var dimension: Int
    public var metric: VectorMetric
    /// Live vectors (tombstoned rows excluded).
    public var vectorCount: Int
    /// Creation time, ISO 8601 UTC.
    public var createdAt: String

    public init(name: String, dimension: Int, metric: VectorMetric, vectorCount: Int, createdAt: String) {
        self.name = name
        self.dimension = dimension
        self.metric = metric
        self.vectorCount = vectorCount
        self.createdAt = createdAt
    }
}
