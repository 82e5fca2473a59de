import Dispatch

/// How one metric scores a row; the scan is specialized per metric, so the per-row work has no
/// branch on the metric and the heap's orientation is a constant.
protocol RowScorer {
    static var higherIsBetter: Bool { get }
    /// A value ordered like the score and cheaper to get (the squared distance for euclidean).
    static func raw(
        _ row: UnsafeRawPointer, _ query: UnsafeRawPointer, count: Int, inverseNorm: Float, inverseQueryNorm: Float
    )
        -> Float
    /// The score reported for a raw value.
    static func score(raw: Float) -> Float
    /// The worst raw value whose score can still be as good as `score` (rounding included).
    static func rawBound(score: Float) -> Float
}

/// Dot product.
enum DotScorer: RowScorer {
    static var higherIsBetter: Bool { true }
    @inline(__always)
    static func raw(
        _ row: UnsafeRawPointer, _ query: UnsafeRawPointer, count: Int, inverseNorm: Float, inverseQueryNorm: Float
    ) -> Float {
        DistanceKernels.dot(row, query, count: count)
    }
    @inline(__always) static func score(raw: Float) -> Float { raw }
    @inline(__always) static func rawBound(score: Float) -> Float { score }
}

/// Cosine similarity from the stored inverse norms (0 for a zero vector), clamped to [-1, 1].
enum CosineScorer: RowScorer {
    static var higherIsBetter: Bool { true }
    @inline(__always)
    static func raw(
        _ row: UnsafeRawPointer, _ query: UnsafeRawPointer, count: Int, inverseNorm: Float, inverseQueryNorm: Float
    ) -> Float {
        let s = DistanceKernels.dot(row, query, count: count) * (inverseNorm * inverseQueryNorm)
        return s > 1 ? 1 : (s < -1 ? -1 : s)
    }
    @inline(__always) static func score(raw: Float) -> Float { raw }
    @inline(__always) static func rawBound(score: Float) -> Float { score }
}

/// Euclidean distance; rows are compared on the squared distance, and the square root is taken
/// only for those that may enter the heap.
enum EuclideanScorer: RowScorer {
    static var higherIsBetter: Bool { false }
    @inline(__always)
    static func raw(
        _ row: UnsafeRawPointer, _ query: UnsafeRawPointer, count: Int, inverseNorm: Float, inverseQueryNorm: Float
    ) -> Float {
        DistanceKernels.squaredL2(row, query, count: count)
    }
    @inline(__always) static func score(raw: Float) -> Float { raw.squareRoot() }
    /// Every d² whose rounded root is at most `score` is below (score + ulp)², computed exactly in double.
    static func rawBound(score: Float) -> Float {
        guard score.isFinite else { return .infinity }
        let up = Double(score) + Double(score.ulp)
        return Float(up * up).nextUp
    }
}

extension DatabaseSnapshot {
    /// Exact top-k over the live rows, best first: one pass over the mapped segment, a SIMD
    /// kernel per live row (found 64 at a time in the bitmap), and a bounded heap. The filter is
    /// checked only for rows whose score could enter the heap, so an unselective filter costs
    /// almost nothing.
    ///
    /// Scores: cosine similarity (from the stored norms; 0 for a zero vector), dot product,
    /// or euclidean distance. A score that overflowed to NaN ranks last.
    ///
    /// `deadline`: a `DispatchTime` uptime in nanoseconds (0: none), checked between chunks of
    /// 4,096 rows; nil when the scan passed it (`database.query_timeout_seconds`).
    func topK(query: [Float], k: Int, filter: VectorFilter?, deadline: UInt64 = 0) -> [(score: Float, row: Int32)]? {
        switch metric {
        case .dot: return topK(DotScorer.self, query: query, k: k, filter: filter, deadline: deadline)
        case .cosine: return topK(CosineScorer.self, query: query, k: k, filter: filter, deadline: deadline)
        case .euclidean: return topK(EuclideanScorer.self, query: query, k: k, filter: filter, deadline: deadline)
        }
    }

    @inline(never)
    private func topK<S: RowScorer>(_: S.Type, query: [Float], k: Int, filter: VectorFilter?, deadline: UInt64)
        -> [(score: Float, row: Int32)]?
    {
        guard rowCount > 0, liveCount > 0, let mapping else { return [] }
        let chunks = self.chunks
        var heap = TopKHeap(k: k, higherIsBetter: S.higherIsBetter) { a, b in
            let ia = Int(a), ib = Int(b)
            return chunks[ia >> RowChunk.shift].ids[ia & RowChunk.mask]
                < chunks[ib >> RowChunk.shift].ids[ib & RowChunk.mask]
        }
        let filter = (filter?.matchesEverything ?? true) ? nil : filter
        let dimension = self.dimension
        let stride = self.stride
        let worstPossible: Float = S.higherIsBetter ? -.infinity : .infinity
        let inverseQueryNorm = Float(1 / DistanceKernels.norm(query))
        let rowCount = self.rowCount
        let base = mapping.base
        // Until the heap is full every score enters; then only those at least as good as its worst.
        var threshold = worstPossible
        var rawThreshold = worstPossible
        var full = false
        var timedOut = false

        query.withUnsafeBytes { queryBytes in
            let q = queryBytes.baseAddress!
            live.withUnsafeBufferPointer { live in
                // A chunk covers 4,096 rows: 64 bitmap words.
                for (c, chunk) in chunks.enumerated() {
                    if deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline {
                        timedOut = true
                        break
                    }
                    let firstWord = c << (RowChunk.shift - 6)
                    let endWord = min(firstWord + RowChunk.capacity / 64, (rowCount + 63) >> 6)
                    guard firstWord < endWord else { break }
                    let inverseNorms = chunk.inverseNorms
                    for w in firstWord..<endWord {
                        var bits = live[w]
                        while bits != 0 {
                            let r = w << 6 | bits.trailingZeroBitCount
                            bits &= bits &- 1
                            let raw = S.raw(
                                base + r &* stride, q, count: dimension,
                                inverseNorm: inverseNorms[r & RowChunk.mask], inverseQueryNorm: inverseQueryNorm)
                            if full {
                                guard S.higherIsBetter ? raw >= rawThreshold : raw <= rawThreshold else { continue }
                            }
                            var score = S.score(raw: raw)
                            if score.isNaN { score = worstPossible }
                            if full {
                                guard S.higherIsBetter ? score >= threshold : score <= threshold else { continue }
                            }
                            if let filter, !filter.matches(chunk.metadata[r & RowChunk.mask]) { continue }
                            heap.insert(score, Int32(truncatingIfNeeded: r))
                            if heap.isFull {
                                full = true
                                threshold = heap.worstScore
                                rawThreshold = S.rawBound(score: threshold)
                            }
                        }
                    }
                }
            }
        }
        return timedOut ? nil : heap.sorted()
    }

    /// Exact top-k of several searches in one pass over the segment: each live row is scored
    /// against every query while it is in cache, so a batch costs far less memory traffic than
    /// its searches one by one. Each search keeps its own heap, threshold and filter, and the
    /// rows are visited in the same order as by `topK`, so every answer is exactly the single
    /// search's. nil when the scan passed `deadline` (as `topK`).
    func topK(batch searches: [SearchRequest], deadline: UInt64 = 0) -> [[(score: Float, row: Int32)]]? {
        switch metric {
        case .dot: return topK(DotScorer.self, batch: searches, deadline: deadline)
        case .cosine: return topK(CosineScorer.self, batch: searches, deadline: deadline)
        case .euclidean: return topK(EuclideanScorer.self, batch: searches, deadline: deadline)
        }
    }

    @inline(never)
    private func topK<S: RowScorer>(_: S.Type, batch searches: [SearchRequest], deadline: UInt64)
        -> [[(score: Float, row: Int32)]]?
    {
        guard rowCount > 0, liveCount > 0, let mapping, !searches.isEmpty else { return searches.map { _ in [] } }
        let chunks = self.chunks
        let idLess: (Int32, Int32) -> Bool = { a, b in
            let ia = Int(a), ib = Int(b)
            return chunks[ia >> RowChunk.shift].ids[ia & RowChunk.mask]
                < chunks[ib >> RowChunk.shift].ids[ib & RowChunk.mask]
        }
        let count = searches.count
        var heaps = searches.map { TopKHeap(k: $0.k, higherIsBetter: S.higherIsBetter, idLess: idLess) }
        let filters = searches.map(\.effectiveFilter)
        let inverseQueryNorms = searches.map { Float(1 / DistanceKernels.norm($0.query)) }
        let worstPossible: Float = S.higherIsBetter ? -.infinity : .infinity
        var thresholds = [Float](repeating: worstPossible, count: count)
        var rawThresholds = [Float](repeating: worstPossible, count: count)
        var full = [Bool](repeating: false, count: count)
        let dimension = self.dimension
        let stride = self.stride
        let rowCount = self.rowCount
        let base = mapping.base
        var packed = [Float]()
        packed.reserveCapacity(count * dimension)
        for search in searches { packed.append(contentsOf: search.query) }
        var timedOut = false

        packed.withUnsafeBytes { queries in
            let q0 = queries.baseAddress!
            live.withUnsafeBufferPointer { live in
                for (c, chunk) in chunks.enumerated() {
                    if deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline {
                        timedOut = true
                        break
                    }
                    let firstWord = c << (RowChunk.shift - 6)
                    let endWord = min(firstWord + RowChunk.capacity / 64, (rowCount + 63) >> 6)
                    guard firstWord < endWord else { break }
                    let inverseNorms = chunk.inverseNorms
                    for w in firstWord..<endWord {
                        var bits = live[w]
                        while bits != 0 {
                            let r = w << 6 | bits.trailingZeroBitCount
                            bits &= bits &- 1
                            let row = base + r &* stride
                            let inverseNorm = inverseNorms[r & RowChunk.mask]
                            for s in 0..<count {
                                let raw = S.raw(
                                    row, q0 + s &* stride, count: dimension, inverseNorm: inverseNorm,
                                    inverseQueryNorm: inverseQueryNorms[s])
                                if full[s] {
                                    guard S.higherIsBetter ? raw >= rawThresholds[s] : raw <= rawThresholds[s] else {
                                        continue
                                    }
                                }
                                var score = S.score(raw: raw)
                                if score.isNaN { score = worstPossible }
                                if full[s] {
                                    guard S.higherIsBetter ? score >= thresholds[s] : score <= thresholds[s] else {
                                        continue
                                    }
                                }
                                if let filter = filters[s], !filter.matches(chunk.metadata[r & RowChunk.mask]) {
                                    continue
                                }
                                heaps[s].insert(score, Int32(truncatingIfNeeded: r))
                                if heaps[s].isFull {
                                    full[s] = true
                                    thresholds[s] = heaps[s].worstScore
                                    rawThresholds[s] = S.rawBound(score: thresholds[s])
                                }
                            }
                        }
                    }
                }
            }
        }
        return timedOut ? nil : heaps.map { $0.sorted() }
    }

    /// The live rows whose metadata matches `filter` (nil: every live row), in row order.
    func matchingRows(_ filter: VectorFilter?, deadline: UInt64 = 0) -> [Int]? {
        var rows: [Int] = []
        for w in 0..<live.count {
            if w & 63 == 0 && deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline { return nil }
            var bits = live[w]
            while bits != 0 {
                let r = w << 6 | bits.trailingZeroBitCount
                bits &= bits &- 1
                if r >= rowCount { break }
                if let filter, !filter.matches(metadata(r)) { continue }
                rows.append(r)
            }
        }
        return rows
    }
}
