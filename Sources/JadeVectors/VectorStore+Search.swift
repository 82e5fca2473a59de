import Dispatch
import JadeStore

extension VectorStore {
    /// Exact top-k search, best first; ties are broken by id ascending.
    ///
    /// - Parameters:
    ///   - query: finite values, the database's dimension (non-zero for cosine).
    ///   - k: 1 to 1000.
    ///   - filter: every key must be present in a vector's metadata with an equal value.
    /// - Returns: cosine similarity or dot product (higher is better), or the euclidean
    ///   distance (lower is better), with values and metadata when asked for.
    public func search(
        database name: String, query: [Float], k: Int, filter: Metadata? = nil, includeValues: Bool = false,
        includeMetadata: Bool = false
    ) throws -> [SearchHit] {
        try VectorValidation.checkK(k)
        // Read before anything it guards: a write committed meanwhile makes the entry stale.
        let epoch = cacheEpoch
        let key = epoch.map { _ in
            QueryCache.Key.search(
                .init(
                    database: name, query: query.map(\.bitPattern), k: k,
                    filter: (filter?.isEmpty ?? true) ? nil : filter, includeValues: includeValues,
                    includeMetadata: includeMetadata))
        }
        if let epoch, let key, case .hits(let hits)? = queryCache?.answer(key, epoch: epoch) { return hits }
        let snapshot = try snapshot(named: name)
        try VectorValidation.checkValues(query, dimension: snapshot.dimension, what: "query")
        if snapshot.metric == .cosine, query.allSatisfy({ $0 == 0 }) {
            throw VectorStoreError.invalid("query vector is zero; cosine similarity is undefined for it")
        }
        let limit = store.pool.queryTimeout
        let deadline = limit == 0 ? 0 : DispatchTime.now().uptimeNanoseconds &+ limit
        guard let hits = snapshot.topK(query: query, k: k, filter: filter, deadline: deadline) else {
            store.pool.hooks.onTimeout?("scan")
            throw QueryTimeout(kind: "scan", limitSeconds: Double(limit) / 1e9)
        }
        let answer = hits.map { hit in
            let row = Int(hit.row)
            return SearchHit(
                id: snapshot.id(row), score: hit.score, values: includeValues ? snapshot.values(row) : nil,
                metadata: includeMetadata ? (snapshot.metadata(row) ?? [:]) : nil)
        }
        if let epoch, let key { queryCache?.keep(.hits(answer), for: key, epoch: epoch) }
        return answer
    }
}
