/// How a database compares vectors.
public enum VectorMetric: String, Sendable, CaseIterable, Codable {
    /// Cosine similarity: higher is better.
    case cosine
    /// Euclidean (L2) distance: lower is better.
    case euclidean
    /// Inner product: higher is better.
    case dot
}
