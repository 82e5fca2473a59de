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
        try search(
            database: name,
            SearchRequest(
                query: query, k: k, filter: filter.map(VectorFilter.equal), includeValues: includeValues,
                includeMetadata: includeMetadata))
    }

    /// Exact top-k search (see ``SearchRequest``), best first; ties are broken by id ascending.
    public func search(database name: String, _ request: SearchRequest) throws -> [SearchHit] {
        try VectorValidation.checkK(request.k)
        // Read before anything it guards: a write committed meanwhile makes the entry stale.
        let epoch = cacheEpoch
        let key = epoch.map { _ in QueryCache.Key.search(request.cacheKey(database: name)) }
        if let epoch, let key, case .hits(let hits)? = queryCache?.answer(key, epoch: epoch) { return hits }
        let snapshot = try snapshot(named: name)
        try check(request, against: snapshot)
        guard let hits = topK(request, in: snapshot) else { throw scanTimedOut() }
        let answer = Self.hits(hits, of: request, in: snapshot)
        if let epoch, let key { queryCache?.keep(.hits(answer), for: key, epoch: epoch) }
        return answer
    }

    /// Several searches of one database in one pass over its vectors; each answer is exactly
    /// what ``search(database:_:)`` gives for that request. The query cache is not consulted.
    public func search(database name: String, batch requests: [SearchRequest]) throws -> [[SearchHit]] {
        for request in requests { try VectorValidation.checkK(request.k) }
        let snapshot = try snapshot(named: name)
        for request in requests { try check(request, against: snapshot) }
        // Searches through a graph go one by one (exactly as singles); exact ones share one pass.
        let graphed = requests.indices.filter { usesGraph(requests[$0], snapshot) }
        let scanned = requests.indices.filter { !usesGraph(requests[$0], snapshot) }
        var results = [[(score: Float, row: Int32)]](repeating: [], count: requests.count)
        if !scanned.isEmpty {
            guard let found = snapshot.topK(batch: scanned.map { requests[$0] }, deadline: scanDeadline()) else {
                throw scanTimedOut()
            }
            for (i, hits) in zip(scanned, found) { results[i] = hits }
        }
        for i in graphed {
            guard let hits = topK(requests[i], in: snapshot) else { throw scanTimedOut() }
            results[i] = hits
        }
        return zip(results, requests).map { hits, request in Self.hits(hits, of: request, in: snapshot) }
    }

    /// Whether the request goes through the database's graph (an HNSW index with a graph
    /// published, and no `exact`).
    private func usesGraph(_ request: SearchRequest, _ snapshot: DatabaseSnapshot) -> Bool {
        !request.exact && snapshot.graph != nil
    }

    /// One search's rows: through the graph (and the tail) or by an exact scan. Asks for a
    /// background catch-up when an HNSW database has rows its graph does not cover.
    private func topK(_ request: SearchRequest, in snapshot: DatabaseSnapshot) -> [(score: Float, row: Int32)]? {
        if case .hnsw = snapshot.index, snapshot.graphRows < snapshot.rowCount { requestCatchUp(snapshot.name) }
        guard usesGraph(request, snapshot) else {
            return snapshot.topK(
                query: request.query, k: request.k, filter: request.effectiveFilter, deadline: scanDeadline())
        }
        var visits = 0
        defer { if visits > 0 { indexHooks.onSearchVisits?(visits) } }
        return snapshot.approximateTopK(
            query: request.query, k: request.k, ef: request.ef ?? max(request.k, VectorIndexSettings.defaultEf),
            filter: request.effectiveFilter, deadline: scanDeadline(), visits: &visits)
    }

    /// The number of live vectors whose metadata matches `filter` (nil: all of them).
    public func count(database name: String, filter: VectorFilter? = nil) throws -> Int {
        let snapshot = try snapshot(named: name)
        guard let filter, !filter.matchesEverything else { return snapshot.liveCount }
        guard let count = snapshot.matchingCount(filter, deadline: scanDeadline()) else { throw scanTimedOut() }
        return count
    }

    /// The query's dimension and, for cosine, that it is not zero.
    private func check(_ request: SearchRequest, against snapshot: DatabaseSnapshot) throws {
        try VectorValidation.checkValues(request.query, dimension: snapshot.dimension, what: "query")
        if snapshot.metric == .cosine, request.query.allSatisfy({ $0 == 0 }) {
            throw VectorStoreError.invalid("query vector is zero; cosine similarity is undefined for it")
        }
    }

    /// When a scan started now must stop (`database.query_timeout_seconds`; 0: never).
    func scanDeadline() -> UInt64 {
        let limit = store.pool.queryTimeout
        return limit == 0 ? 0 : DispatchTime.now().uptimeNanoseconds &+ limit
    }

    /// The error of a scan stopped at its deadline (counted).
    func scanTimedOut() -> QueryTimeout {
        store.pool.hooks.onTimeout?("scan")
        return QueryTimeout(kind: "scan", limitSeconds: Double(store.pool.queryTimeout) / 1e9)
    }

    /// The answer of one search: the hits within its score threshold, with what it asked for.
    private static func hits(
        _ hits: [(score: Float, row: Int32)], of request: SearchRequest, in snapshot: DatabaseSnapshot
    ) -> [SearchHit] {
        let higherIsBetter = snapshot.metric != .euclidean
        var answer: [SearchHit] = []
        answer.reserveCapacity(hits.count)
        for hit in hits {
            // Best first: past the threshold, every later hit is too.
            if let threshold = request.scoreThreshold, higherIsBetter ? hit.score < threshold : hit.score > threshold {
                break
            }
            let row = Int(hit.row)
            answer.append(
                SearchHit(
                    id: snapshot.id(row), score: hit.score, values: request.includeValues ? snapshot.values(row) : nil,
                    metadata: request.includeMetadata ? (snapshot.metadata(row) ?? [:]) : nil))
        }
        return answer
    }
}
