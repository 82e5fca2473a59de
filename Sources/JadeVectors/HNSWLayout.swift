import CJadeKernels
import Dispatch
import Synchronization

/// How an HNSW graph measures closeness; lower is always closer inside the graph.
public enum HNSWDistance: UInt32, Sendable {
    /// Squared euclidean distance.
    case squaredEuclidean = 1
    /// Negated inner product.
    case innerProduct = 2
    /// Negated cosine similarity: the inner product times both inverse norms (kept per node).
    case cosine = 3
}

/// Whether the AVX2/FMA pair kernel can run here (checked once).
let pairKernelAvailable = jade_kernels_avx2_fma() != 0

/// A read-only view of an HNSW graph's arrays, wherever they live: the builder's memory
/// (`HNSWGraph`) or a mapped index file (`HNSWIndexMapping`). Node `n`'s vector is at
/// `vectors + n * vectorStride` (the segment's row `n` when served).
///
/// Arrays:
/// - `links0`: per node, a record of `maxLinks0 + 1` Int32: the count, then the neighbours.
/// - `upperOffsets`: per node, where its upper records start in `upperLinks` (-1: level 0 only).
/// - `upperLinks`: for a node of level L, L records of `m + 1` Int32 (count, neighbours) for
///   layers 1...L, back to back.
/// - `inverseNorms`: per node, 1 / ‖vector‖ (0 for a zero vector); read only for cosine.
///
/// Reading is bounds-checked where a damaged file could point outside the arrays (a link past
/// `count`, an upper record past `upperCount`): such a link is skipped, never followed.
struct HNSWLayout {
    let dimension: Int
    let distance: HNSWDistance
    let m: Int
    let maxLinks0: Int
    let count: Int
    let entryPoint: Int32
    let maxLevel: Int
    let links0: UnsafePointer<Int32>
    let upperOffsets: UnsafePointer<Int32>
    let upperLinks: UnsafePointer<Int32>
    let upperCount: Int
    let inverseNorms: UnsafePointer<Float>
    let vectors: UnsafeRawPointer
    let vectorStride: Int

    /// The distance from a query (scaled by `queryScale`: its inverse norm for cosine, else 1) to `node`.
    /// AVX2 + FMA where the CPU has them (chosen at run time), else the portable kernels.
    @inline(__always)
    func distance(_ query: UnsafeRawPointer, _ queryScale: Float, _ node: Int32) -> Float {
        let point = vectors + Int(node) &* vectorStride
        if pairKernelAvailable {
            let q = query.assumingMemoryBound(to: Float.self)
            let p = point.assumingMemoryBound(to: Float.self)
            switch distance {
            case .squaredEuclidean: return jade_kernels_pair(q, p, dimension, 1)
            case .innerProduct: return -jade_kernels_pair(q, p, dimension, 0)
            case .cosine: return -jade_kernels_pair(q, p, dimension, 0) * (queryScale * inverseNorms[Int(node)])
            }
        }
        switch distance {
        case .squaredEuclidean: return DistanceKernels.squaredL2(query, point, count: dimension)
        case .innerProduct: return -DistanceKernels.dot(query, point, count: dimension)
        case .cosine:
            return -DistanceKernels.dot(query, point, count: dimension) * (queryScale * inverseNorms[Int(node)])
        }
    }

    /// Hints the vector of `node` into cache ahead of its distance.
    @inline(__always)
    func prefetch(_ node: Int32) {
        jade_kernels_prefetch(vectors + Int(node) &* vectorStride)
    }

    /// Starts loading all of `node`'s vector (`prefetch` asks for its first cache line only).
    @inline(__always)
    func prefetchVector(_ node: Int32) {
        let start = vectors + Int(node) &* vectorStride
        var offset = 64
        while offset < vectorStride {
            jade_kernels_prefetch(start + offset)
            offset &+= 64
        }
    }

    /// Starts loading `node`'s layer-0 links (its count and first neighbours, then the rest),
    /// so that expanding it next does not wait for memory (the graph is larger than the cache).
    @inline(__always)
    func prefetchLinks0(_ node: Int32) {
        guard node >= 0, Int(node) < count else { return }
        let record = UnsafeRawPointer(links0 + Int(node) &* (maxLinks0 + 1))
        jade_kernels_prefetch(record)
        jade_kernels_prefetch(record + 64)
    }

    /// The neighbours of `node` on `layer` (empty when the record is out of bounds).
    @inline(__always)
    func withLinks<R>(_ node: Int32, layer: Int, _ body: (UnsafeBufferPointer<Int32>) -> R) -> R {
        if layer == 0 {
            let record = links0 + Int(node) &* (maxLinks0 + 1)
            return body(UnsafeBufferPointer(start: record + 1, count: max(0, min(Int(record[0]), maxLinks0))))
        }
        let offset = Int(upperOffsets[Int(node)])
        let start = offset + (layer - 1) * (m + 1)
        guard offset >= 0, start + m + 1 <= upperCount else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        let record = upperLinks + start
        return body(UnsafeBufferPointer(start: record + 1, count: max(0, min(Int(record[0]), m))))
    }

    /// Walks down from `start` on one layer, always to a closer neighbour, until none is closer.
    func greedy(_ query: UnsafeRawPointer, _ scale: Float, from start: Int32, distance start0: Float, layer: Int)
        -> (Int32, Float)
    {
        var best = start
        var bestDistance = start0
        var changed = true
        while changed {
            changed = false
            withLinks(best, layer: layer) { links in
                for n in links where n >= 0 && Int(n) < count {
                    let d = distance(query, scale, n)
                    if d < bestDistance {
                        bestDistance = d
                        best = n
                        changed = true
                    }
                }
            }
        }
        return (best, bestDistance)
    }

    /// The `ef` nodes closest to `query` found from `entries` on `layer`, closest first. With
    /// `accept`, only accepted nodes are results, but every node is explored: the search goes
    /// on past rejected nodes until `ef` accepted ones are found or the frontier is exhausted
    /// (a selective filter explores more of the graph, never returns fewer matches for it).
    /// `visits` counts the distances computed. With a `deadline` (a `DispatchTime` uptime in
    /// nanoseconds; 0: none), checked every 64 expanded nodes, nil once it has passed: a broad
    /// search (a large `ef`, a filter few nodes pass) is stopped like an exact scan is.
    func searchLayer(
        _ query: UnsafeRawPointer, _ scale: Float, entries: [(Float, Int32)], ef: Int, layer: Int,
        visited: VisitedMarks, visits: inout Int, deadline: UInt64 = 0, accept: ((Int32) -> Bool)? = nil
    ) -> [(Float, Int32)]? {
        let stamp = visited.nextStamp()
        let marks = visited.marks
        var candidates = DistanceHeap(farthestOnTop: false)  // to explore, closest first
        var results = DistanceHeap(farthestOnTop: true)  // the best ef accepted, farthest on top
        for (d, e) in entries {
            marks[Int(e)] = stamp
            candidates.push(d, e)
            if accept?(e) ?? true { results.push(d, e) }
        }
        while results.count > ef { results.pop() }
        var expanded = 0
        while let (d, c) = candidates.pop() {
            if results.count >= ef && d > results.top.0 { break }
            expanded &+= 1
            if deadline != 0 && expanded & 63 == 0 && DispatchTime.now().uptimeNanoseconds > deadline { return nil }
            withLinks(c, layer: layer) { links in
                withUnsafeTemporaryAllocation(of: Int32.self, capacity: links.count) { fresh in
                    // The neighbours not seen yet, their first cache line on its way at once...
                    var unseen = 0
                    for n in links where n >= 0 && Int(n) < count && marks[Int(n)] != stamp {
                        marks[Int(n)] = stamp
                        fresh[unseen] = n
                        unseen += 1
                        prefetch(n)
                    }
                    for i in 0..<unseen {
                        // ...and the whole of the next one while this one is scored.
                        if i + 1 < unseen { prefetchVector(fresh[i + 1]) }
                        let n = fresh[i]
                        let dn = distance(query, scale, n)
                        visits &+= 1
                        if results.count < ef || dn < results.top.0 {
                            candidates.push(dn, n)
                            if accept?(n) ?? true {
                                results.push(dn, n)
                                if results.count > ef { results.pop() }
                            }
                        }
                    }
                }
            }
            // The next node to expand is known now: fetch its links while the loop comes round.
            if layer == 0, let next = candidates.peek { prefetchLinks0(next.1) }
        }
        return results.sortedAscending()
    }

    /// Descends from the entry point to layer 0 and searches it with breadth `ef`: up to `ef`
    /// accepted nodes, closest first.
    func search(
        _ query: UnsafeRawPointer, _ scale: Float, ef: Int, visited: VisitedMarks, visits: inout Int,
        accept: ((Int32) -> Bool)? = nil
    ) -> [(Float, Int32)] {
        // Without a deadline the search always completes.
        search(query, scale, ef: ef, visited: visited, visits: &visits, deadline: 0, accept: accept)!
    }

    /// ``search(_:_:ef:visited:visits:accept:)`` stopped at `deadline` (nil once it passed).
    func search(
        _ query: UnsafeRawPointer, _ scale: Float, ef: Int, visited: VisitedMarks, visits: inout Int,
        deadline: UInt64, accept: ((Int32) -> Bool)? = nil
    ) -> [(Float, Int32)]? {
        guard entryPoint >= 0, Int(entryPoint) < count else { return [] }
        var nearest = entryPoint
        var nearestDistance = distance(query, scale, nearest)
        visits &+= 1
        if maxLevel > 0 {
            for layer in stride(from: maxLevel, to: 0, by: -1) {
                (nearest, nearestDistance) = greedy(
                    query, scale, from: nearest, distance: nearestDistance, layer: layer)
            }
        }
        return searchLayer(
            query, scale, entries: [(nearestDistance, nearest)], ef: ef, layer: 0, visited: visited, visits: &visits,
            deadline: deadline, accept: accept)
    }
}

/// Visit marks for one search at a time, stamped by search (no clearing between searches).
// @unchecked Sendable: used by one search at a time (handed out by `VisitedPool`).
final class VisitedMarks: @unchecked Sendable {
    private(set) var marks: UnsafeMutablePointer<UInt32>
    private(set) var capacity: Int
    private var stamp: UInt32 = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        marks = .allocate(capacity: self.capacity)
        marks.initialize(repeating: 0, count: self.capacity)
    }

    deinit { marks.deallocate() }

    /// Makes room for `count` nodes (keeping the marks of those already there).
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        let next = max(count, capacity * 2)
        let grown = UnsafeMutablePointer<UInt32>.allocate(capacity: next)
        grown.initialize(repeating: 0, count: next)
        grown.update(from: marks, count: capacity)
        marks.deallocate()
        marks = grown
        capacity = next
    }

    /// A stamp no node carries yet.
    func nextStamp() -> UInt32 {
        stamp &+= 1
        if stamp == 0 {
            marks.update(repeating: 0, count: capacity)
            stamp = 1
        }
        return stamp
    }
}

/// Visit-mark buffers for concurrent searches of one graph: taken for a search, given back
/// after. Keeps at most `limit` idle buffers.
final class VisitedPool: Sendable {
    private let idle = Mutex<[VisitedMarks]>([])
    let nodes: Int
    let limit: Int

    init(nodes: Int, limit: Int = 8) {
        self.nodes = nodes
        self.limit = limit
    }

    func withMarks<R>(_ body: (VisitedMarks) throws -> R) rethrows -> R {
        let marks = idle.withLock { $0.popLast() } ?? VisitedMarks(capacity: nodes)
        defer { idle.withLock { if $0.count < limit { $0.append(marks) } } }
        return try body(marks)
    }
}

/// A binary heap of (distance, node): the closest on top, or the farthest.
struct DistanceHeap {
    private var items: [(Float, Int32)] = []
    /// true: the farthest on top (the results of a search); false: the closest (its frontier).
    let farthestOnTop: Bool
    var count: Int { items.count }
    var top: (Float, Int32) { items[0] }
    /// The top, or nil when empty.
    var peek: (Float, Int32)? { items.first }

    init(farthestOnTop: Bool) { self.farthestOnTop = farthestOnTop }

    @inline(__always)
    private func above(_ a: Int, _ b: Int) -> Bool {
        farthestOnTop ? items[a].0 > items[b].0 : items[a].0 < items[b].0
    }

    mutating func push(_ d: Float, _ n: Int32) {
        items.append((d, n))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard above(i, p) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    /// Removes and returns the top (nil when empty).
    @discardableResult
    mutating func pop() -> (Float, Int32)? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var s = i
            if l < items.count && above(l, s) { s = l }
            if r < items.count && above(r, s) { s = r }
            if s == i { break }
            items.swapAt(i, s)
            i = s
        }
        return top
    }

    func sortedAscending() -> [(Float, Int32)] { items.sorted { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) } }
}
