extension DatabaseSnapshot {
    /// Exact top-k over the live rows, best first: one pass over the mapped segment, a SIMD
    /// kernel per row, and a bounded heap. The filter is checked only for rows whose score
    /// could enter the heap, so an unselective filter costs almost nothing.
    ///
    /// Scores: cosine similarity (against the stored norms; 0 for a zero vector), dot product,
    /// or euclidean distance. A score that overflowed to NaN ranks last.
    func topK(query: [Float], k: Int, filter: Metadata?) -> [(score: Float, row: Int32)] {
        guard rowCount > 0, liveCount > 0, let mapping else { return [] }
        let chunks = self.chunks
        let higherIsBetter = metric != .euclidean
        var heap = TopKHeap(k: k, higherIsBetter: higherIsBetter) { a, b in
            let ia = Int(a), ib = Int(b)
            return chunks[ia >> RowChunk.shift].ids[ia & RowChunk.mask]
                < chunks[ib >> RowChunk.shift].ids[ib & RowChunk.mask]
        }
        let filter = (filter?.isEmpty ?? true) ? nil : filter
        let dimension = self.dimension
        let stride = self.stride
        let metric = self.metric
        let worstPossible: Float = higherIsBetter ? -.infinity : .infinity
        let queryNorm = Float(DistanceKernels.norm(query))
        let rowCount = self.rowCount

        query.withUnsafeBytes { queryBytes in
            let q = queryBytes.baseAddress!
            live.withUnsafeBufferPointer { live in
                for (c, chunk) in chunks.enumerated() {
                    let first = c << RowChunk.shift
                    let last = min(first + RowChunk.capacity, rowCount)
                    guard first < last else { break }
                    var p = mapping.base + first * stride
                    for r in first..<last {
                        defer { p += stride }
                        guard live[r >> 6] & (1 << UInt64(r & 63)) != 0 else { continue }
                        var score: Float
                        switch metric {
                        case .dot:
                            score = DistanceKernels.dot(p, q, count: dimension)
                        case .cosine:
                            let n = chunk.norms[r & RowChunk.mask]
                            score = n > 0 ? DistanceKernels.dot(p, q, count: dimension) / (n * queryNorm) : 0
                            if score > 1 { score = 1 } else if score < -1 { score = -1 }
                        case .euclidean:
                            score = DistanceKernels.squaredL2(p, q, count: dimension).squareRoot()
                        }
                        if score.isNaN { score = worstPossible }
                        guard heap.admits(score) else { continue }
                        if let filter, !Self.matches(chunk.metadata[r & RowChunk.mask], filter) { continue }
                        heap.insert(score, Int32(r))
                    }
                }
            }
        }
        return heap.sorted()
    }

    /// Every pair of the filter is present, with an equal value, in the metadata.
    static func matches(_ metadata: Metadata?, _ filter: Metadata) -> Bool {
        guard let metadata else { return false }
        for (key, value) in filter where metadata[key] != value { return false }
        return true
    }
}
