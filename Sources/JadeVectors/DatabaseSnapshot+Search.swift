import CJadeKernels
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
    /// The block kernel's mode for this metric: 0 dot, 1 cosine, 2 squared euclidean (the
    /// margins it applies are documented in CJadeKernels.h and argued at `summationSlack`).
    static var blockMode: Int32 { get }
}

/// Rounding of a sum of `count` products or squares taken in two different orders: each is
/// within γ(count+1)·Σ|terms| of the exact sum (u = 2⁻²⁴), so they are within twice that of
/// each other; (4·count + 8)·u covers it, with 1% to spare. Σ|terms| is at most ‖a‖‖b‖ for a
/// dot product (the stored inverse norms, each within 2u, give the norms), the sum itself for
/// squares; a cosine is the dot product times both inverse norms, so its slack is this plus
/// the rounding of those two multiplications (4u).
@inline(__always)
func summationSlack(_ count: Int) -> Float { Float(4 &* count &+ 8) * 0x1p-24 * 1.01 }

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
    static var blockMode: Int32 { 0 }
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
    static var blockMode: Int32 { 1 }
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
    static var blockMode: Int32 { 2 }
}

/// Whether the blocked AVX2/FMA kernel can run here (checked once).
let blockKernelAvailable = jade_kernels_avx2_fma() != 0

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

    /// The scan of `topK`, over rows `fromRow...` only, after scoring `seeds` (live rows below
    /// `fromRow` that match the filter: an HNSW search's candidates) exactly as the scan would.
    @inline(never)
    func topK<S: RowScorer>(
        _: S.Type, query: [Float], k: Int, filter: VectorFilter?, deadline: UInt64, fromRow: Int = 0,
        seeds: [Int32] = []
    )
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
            for seed in seeds {
                let r = Int(seed)
                let chunk = chunks[r >> RowChunk.shift]
                var score = S.score(
                    raw: S.raw(
                        base + r &* stride, q, count: dimension, inverseNorm: chunk.inverseNorms[r & RowChunk.mask],
                        inverseQueryNorm: inverseQueryNorm))
                if score.isNaN { score = worstPossible }
                heap.insert(score, seed)
                if heap.isFull {
                    full = true
                    threshold = heap.worstScore
                    rawThreshold = S.rawBound(score: threshold)
                }
            }
            live.withUnsafeBufferPointer { live in
                // A chunk covers 4,096 rows: 64 bitmap words.
                for c in (fromRow >> RowChunk.shift)..<chunks.count {
                    let chunk = chunks[c]
                    if deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline {
                        timedOut = true
                        break
                    }
                    let firstWord = max(c << (RowChunk.shift - 6), fromRow >> 6)
                    let endWord = min((c + 1) << (RowChunk.shift - 6), (rowCount + 63) >> 6)
                    guard firstWord < endWord else { break }
                    let inverseNorms = chunk.inverseNorms
                    for w in firstWord..<endWord {
                        var bits = live[w]
                        // The first word of a partial scan: only rows from `fromRow` on.
                        if w == fromRow >> 6 { bits &= ~UInt64(0) << UInt64(fromRow & 63) }
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
    ///
    /// Where the CPU has AVX2 and FMA, a block of 64 rows is first scored against every query
    /// by a blocked kernel (4 rows x 2 queries per step, CJadeKernels), whose sums differ from
    /// the search's own kernel in their last bits. A pair is dismissed on that estimate only
    /// when even its margin (`summationSlack`) cannot reach the search's threshold; every other
    /// pair is scored again with the search's own kernel, which alone decides. So the answers
    /// stay exactly the single searches' while most pairs cost a fraction of a kernel call.
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
        let blocks = blockKernelAvailable && count >= 2
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: blocks ? 64 * count : 1)
        let candidates = UnsafeMutablePointer<Int32>.allocate(capacity: blocks ? 64 * count : 1)
        defer {
            scores.deallocate()
            candidates.deallocate()
        }
        let slack = summationSlack(dimension)

        packed.withUnsafeBytes { queries in
            let q0 = queries.baseAddress!
            live.withUnsafeBufferPointer { live in
                /// Row `r` against search `s` exactly as `topK` scores it: the only decision.
                @inline(__always) func consider(_ r: Int, _ s: Int, _ chunk: RowChunk) {
                    let raw = S.raw(
                        base + r &* stride, q0 + s &* stride, count: dimension,
                        inverseNorm: chunk.inverseNorms[r & RowChunk.mask], inverseQueryNorm: inverseQueryNorms[s])
                    if full[s] {
                        guard S.higherIsBetter ? raw >= rawThresholds[s] : raw <= rawThresholds[s] else { return }
                    }
                    var score = S.score(raw: raw)
                    if score.isNaN { score = worstPossible }
                    if full[s] {
                        guard S.higherIsBetter ? score >= thresholds[s] : score <= thresholds[s] else { return }
                    }
                    if let filter = filters[s], !filter.matches(chunk.metadata[r & RowChunk.mask]) { return }
                    heaps[s].insert(score, Int32(truncatingIfNeeded: r))
                    if heaps[s].isFull {
                        full[s] = true
                        thresholds[s] = heaps[s].worstScore
                        rawThresholds[s] = S.rawBound(score: thresholds[s])
                    }
                }
                for (c, chunk) in chunks.enumerated() {
                    if deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline {
                        timedOut = true
                        break
                    }
                    let firstWord = c << (RowChunk.shift - 6)
                    let endWord = min(firstWord + RowChunk.capacity / 64, (rowCount + 63) >> 6)
                    guard firstWord < endWord else { break }
                    for w in firstWord..<endWord {
                        var bits = live[w]
                        let first = w << 6
                        // Sparse words go row by row: the block kernel would score the dead rows too.
                        if blocks && bits.nonzeroBitCount >= 16 {
                            // Thresholds only tighten while the block is decided, so pairs kept
                            // against the thresholds of its start include every pair that
                            // `consider` would take; they come back in row, then search, order.
                            let found = jade_kernels_block_candidates(
                                (base + first &* stride).assumingMemoryBound(to: Float.self), dimension,
                                min(64, rowCount - first), q0.assumingMemoryBound(to: Float.self), count, dimension,
                                S.blockMode, chunk.inverseNorms + (first & RowChunk.mask), inverseQueryNorms,
                                rawThresholds, S.higherIsBetter ? 1 : 0, slack, scores, candidates)
                            for i in 0..<found {
                                let pair = Int(candidates[i])
                                let offset = pair / count
                                guard bits & (1 << UInt64(offset)) != 0 else { continue }
                                consider(first + offset, pair - offset * count, chunk)
                            }
                            continue
                        }
                        while bits != 0 {
                            let r = first | bits.trailingZeroBitCount
                            bits &= bits &- 1
                            for s in 0..<count { consider(r, s, chunk) }
                        }
                    }
                }
            }
        }
        return timedOut ? nil : heaps.map { $0.sorted() }
    }

    /// How many live rows have metadata matching `filter`; nil when the scan passed `deadline`.
    func matchingCount(_ filter: VectorFilter, deadline: UInt64 = 0) -> Int? {
        var count = 0
        for w in 0..<live.count {
            if w & 63 == 0 && deadline != 0 && DispatchTime.now().uptimeNanoseconds > deadline { return nil }
            var bits = live[w]
            while bits != 0 {
                let r = w << 6 | bits.trailingZeroBitCount
                bits &= bits &- 1
                if r < rowCount && filter.matches(metadata(r)) { count += 1 }
            }
        }
        return count
    }
}
