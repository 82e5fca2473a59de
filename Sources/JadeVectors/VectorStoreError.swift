/// What can go wrong in the vector store, shaped for the HTTP layer: `invalid` and
/// `dimensionMismatch` are client errors (400), `notFound` is 404, `conflict` is 409, and
/// `storage` is a server-side failure (500/503).
public enum VectorStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The database (or vector) does not exist; the payload names it.
    case notFound(String)
    /// The database already exists.
    case conflict(String)
    /// The request is malformed; the payload is a sentence for the client.
    case invalid(String)
    /// A vector or query does not have the database's dimension.
    case dimensionMismatch(expected: Int, got: Int)
    /// SQLite or the segment files failed; nothing the client can fix.
    case storage(String)

    public var description: String {
        switch self {
        case .notFound(let what): return "\(what) not found"
        case .conflict(let what): return "\(what) already exists"
        case .invalid(let why): return why
        case .dimensionMismatch(let expected, let got):
            return "vector has dimension \(got), the database expects \(expected)"
        case .storage(let why): return "vector storage failure: \(why)"
        }
    }
}
