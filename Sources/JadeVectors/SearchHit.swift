/// One search result, best first in the answer.
public struct SearchHit: Sendable, Equatable {
    public var id: String
    /// Cosine similarity or dot product (higher is better), or the euclidean distance (lower is better).
    public var score: Float
    /// The stored values, when the search asked for them.
    public var values: [Float]?
    /// The stored metadata, when the search asked for it (empty when the vector has none).
    public var metadata: Metadata?

    public init(id: String, score: Float, values: [Float]? = nil, metadata: Metadata? = nil) {
        self.id = id
        self.score = score
        self.values = values
        self.metadata = metadata
    }
}
