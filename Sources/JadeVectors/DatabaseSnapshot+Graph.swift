extension DatabaseSnapshot {
    /// Rows covered by the mapped HNSW graph (0 without one); rows from here on are the tail
    /// that every search scans exactly.
    var graphRows: Int { graph?.header.count ?? 0 }

    /// Top-k, best first, through the HNSW graph for the rows it covers and an exact scan of
    /// the tail; every candidate is scored exactly as `topK` scores it, so hits carry exact
    /// scores and ties order by id the same way. Without a graph this is `topK`.
    ///
    /// With a filter the graph search accepts only matching live rows but explores through
    /// all of them, with its breadth widened by the estimated share of matches; when matches
    /// are rare (under 2% of rows, or too few to fill 4 × ef) it scans exactly instead, and it
    /// scans exactly too whenever the graph returns fewer than k rows though more exist. So a
    /// filter never loses matches that an exact scan returns within the top k (at the graph's
    /// recall). `visits` adds the distances the graph search computed. nil: past `deadline`.
    func approximateTopK(
        query: [Float], k: Int, ef: Int, filter: VectorFilter?, deadline: UInt64, visits: inout Int
    ) -> [(score: Float, row: Int32)]? {
        switch metric {
        case .dot:
            return approximateTopK(DotScorer.self, query, k, ef, filter, deadline, &visits)
        case .cosine:
            return approximateTopK(CosineScorer.self, query, k, ef, filter, deadline, &visits)
        case .euclidean:
            return approximateTopK(EuclideanScorer.self, query, k, ef, filter, deadline, &visits)
        }
    }

    private func approximateTopK<S: RowScorer>(
        _: S.Type, _ query: [Float], _ k: Int, _ ef: Int, _ filter: VectorFilter?, _ deadline: UInt64,
        _ visits: inout Int
    ) -> [(score: Float, row: Int32)]? {
        let filter = (filter?.matchesEverything ?? true) ? nil : filter
        func exact() -> [(score: Float, row: Int32)]? {
            topK(S.self, query: query, k: k, filter: filter, deadline: deadline)
        }
        guard let graph, let mapping, graph.header.count > 0, graph.header.count <= rowCount else { return exact() }
        let covered = graph.header.count
        let liveCovered = liveRows(in: 0..<covered)
        var breadth = max(ef, k)
        if let filter {
            let share = matchingShare(filter, rows: covered)
            if share < 0.02 || share * Double(liveCovered) < Double(4 * breadth) { return exact() }
            breadth = Int((Double(breadth) / share).rounded(.up))
        }
        breadth = min(breadth, max(covered, k))
        let layout = graph.layout(vectors: mapping.base)
        let inverse = Float(1 / DistanceKernels.norm(query))
        let scale = layout.distance == .cosine && inverse.isFinite ? inverse : 1
        let found = query.withUnsafeBytes { q in
            graph.visitedPool.withMarks { marks in
                marks.reserve(covered)
                return layout.search(
                    q.baseAddress!, scale, ef: breadth, visited: marks, visits: &visits, deadline: deadline
                ) { node in
                    let row = Int(node)
                    return isLive(row) && (filter?.matches(metadata(row)) ?? true)
                }
            }
        }
        // Past the deadline: answered like a scan that ran out of time.
        guard let found else { return nil }
        // The graph could not reach k rows that exist (a sparse or cut-off region): scan.
        if found.count < k && (filter != nil || liveCovered > found.count) { return exact() }
        return topK(
            S.self, query: query, k: k, filter: filter, deadline: deadline, fromRow: covered,
            seeds: found.map(\.1))
    }

    /// The share of live rows among `0..<rows` whose metadata matches, estimated from up to
    /// 1,024 rows spread evenly over them.
    func matchingShare(_ filter: VectorFilter, rows: Int) -> Double {
        let step = max(1, rows / 1024)
        var sampled = 0
        var matched = 0
        for row in Swift.stride(from: 0, to: rows, by: step) where isLive(row) {
            sampled += 1
            if filter.matches(metadata(row)) { matched += 1 }
        }
        return sampled == 0 ? 0 : Double(matched) / Double(sampled)
    }
}
