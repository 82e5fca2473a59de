/// One k-nearest-neighbour search: what the single and the batch search routes take.
public struct SearchRequest: Sendable, Hashable {
    /// Finite values, the database's dimension (non-zero for cosine).
    public var query: [Float]
    /// 1 to 1000.
    public var k: Int
    /// Only vectors whose metadata matches (nil or an empty filter: every vector).
    public var filter: VectorFilter?
    /// Only hits at least this good: a score at least this high (cosine, dot) or a distance at
    /// most this far (euclidean).
    public var scoreThreshold: Float?
    public var includeValues: Bool
    public var includeMetadata: Bool
    /// The breadth of an HNSW search (k to 10,000; nil: `VectorIndexSettings.defaultEf` or k).
    public var ef: Int?
    /// A full exact scan whatever the index.
    public var exact: Bool

    public init(
        query: [Float], k: Int, filter: VectorFilter? = nil, scoreThreshold: Float? = nil, includeValues: Bool = false,
        includeMetadata: Bool = false, ef: Int? = nil, exact: Bool = false
    ) {
        self.ef = ef
        self.exact = exact
        self.query = query
        self.k = k
        self.filter = filter
        self.scoreThreshold = scoreThreshold
        self.includeValues = includeValues
        self.includeMetadata = includeMetadata
    }

    /// The filter the scan applies: nil when it matches every vector.
    var effectiveFilter: VectorFilter? { (filter?.matchesEverything ?? true) ? nil : filter }

    /// The key of this search's answer in the query cache (floats by their bits, so that -0
    /// and 0 are two keys: both valid queries with identical answers).
    func cacheKey(database: String) -> QueryCache.Search {
        QueryCache.Search(
            database: database, query: query.map(\.bitPattern), k: k, filter: effectiveFilter,
            scoreThreshold: scoreThreshold?.bitPattern, includeValues: includeValues, includeMetadata: includeMetadata,
            ef: ef, exact: exact)
    }
}
