import Foundation

/// A hierarchical navigable small-world graph (Malkov and Yashunin, 2016) over float32 vectors:
/// the approximate index of issue 16, built and measured in process (`jade-bench-vectors ann`,
/// `scripts/bench-ann.sh`); not yet used by the server, whose databases stay flat.
///
/// Layout, chosen so that the graph can later live in a memory-mapped file shared by workers:
/// every node has a fixed-size layer-0 record (`maxLinks0` neighbour slots and their count) in
/// one flat buffer, and nodes above layer 0 (about one in `m`) keep their upper links in small
/// arrays of their own. Node ids are dense (0, 1, 2, ... in insertion order); the caller maps
/// them to rows.
///
/// Scores: squared euclidean distance, or the negated dot product (cosine on vectors the
/// caller normalized), so that lower is always closer inside the graph.
public final class HNSWGraph {
    public enum Distance: Sendable {
        case squaredEuclidean
        /// Negated inner product (cosine when the vectors are unit length).
        case innerProduct
    }

    public let dimension: Int
    public let distance: Distance
    /// Links per node above layer 0; layer 0 keeps twice as many.
    public let m: Int
    public let efConstruction: Int
    let maxLinks0: Int
    let levelFactor: Double

    public private(set) var count = 0
    private var capacity: Int
    private var vectors: UnsafeMutablePointer<Float>
    /// Per node: [count, neighbour 0, ..., neighbour maxLinks0-1].
    private var links0: UnsafeMutablePointer<Int32>
    /// Per node with level > 0: for each level 1...level, its links ([Int32], at most m).
    private var upper: [Int32: [[Int32]]] = [:]
    private var levels: [UInt8] = []
    private var entryPoint: Int32 = -1
    private var maxLevel = -1
    private var random: UInt64

    /// Visited marks stamped by search generation (no clearing between searches).
    private var visited: UnsafeMutablePointer<UInt32>
    private var visitStamp: UInt32 = 0

    public init(dimension: Int, distance: Distance, m: Int = 16, efConstruction: Int = 200, seed: UInt64 = 100) {
        precondition(dimension > 0 && m >= 2 && efConstruction >= 1)
        self.dimension = dimension
        self.distance = distance
        self.m = m
        self.efConstruction = efConstruction
        maxLinks0 = 2 * m
        levelFactor = 1 / log(Double(m))
        random = seed
        capacity = 1024
        vectors = .allocate(capacity: capacity * dimension)
        links0 = .allocate(capacity: capacity * (2 * m + 1))
        visited = .allocate(capacity: capacity)
        visited.initialize(repeating: 0, count: capacity)
    }

    deinit {
        vectors.deallocate()
        links0.deallocate()
        visited.deallocate()
    }

    /// Bytes held by the graph: vectors, layer-0 records, upper links and levels.
    public var memoryBytes: Int {
        let upperBytes = upper.values.reduce(0) { total, lists in total + lists.reduce(48) { $0 + 32 + $1.count * 4 } }
        return capacity * dimension * 4 + capacity * (maxLinks0 + 1) * 4 + capacity * 4 + upperBytes + levels.count
    }

    // MARK: Inserting

    /// Adds a vector; its node id is the previous `count`.
    @discardableResult
    public func add(_ values: [Float]) -> Int32 {
        precondition(values.count == dimension)
        if count == capacity { grow() }
        let id = Int32(count)
        values.withUnsafeBufferPointer { (vectors + count * dimension).update(from: $0.baseAddress!, count: dimension) }
        links0[count * (maxLinks0 + 1)] = 0
        let level = randomLevel()
        levels.append(UInt8(level))
        if level > 0 { upper[id] = Array(repeating: [], count: level) }
        count += 1

        guard entryPoint >= 0 else {
            entryPoint = id
            maxLevel = level
            return id
        }
        let query = vectors + Int(id) * dimension
        var nearest = entryPoint
        var nearestDistance = self.distance(query, nearest)
        // Greedy descent through the layers above the new node's.
        if maxLevel > level {
            for layer in stride(from: maxLevel, to: level, by: -1) {
                (nearest, nearestDistance) = greedy(query, from: nearest, distance: nearestDistance, layer: layer)
            }
        }
        var entries = [(nearestDistance, nearest)]
        for layer in stride(from: min(level, maxLevel), through: 0, by: -1) {
            let found = searchLayer(query, entries: entries, ef: efConstruction, layer: layer)
            let limit = layer == 0 ? maxLinks0 : m
            let chosen = selectNeighbours(found, limit: m)
            setLinks(id, layer: layer, chosen.map(\.1))
            for (_, neighbour) in chosen { connect(neighbour, to: id, layer: layer, limit: limit) }
            entries = found
        }
        if level > maxLevel {
            maxLevel = level
            entryPoint = id
        }
        return id
    }

    private func grow() {
        let next = capacity * 2
        let newVectors = UnsafeMutablePointer<Float>.allocate(capacity: next * dimension)
        newVectors.update(from: vectors, count: count * dimension)
        vectors.deallocate()
        vectors = newVectors
        let stride = maxLinks0 + 1
        let newLinks = UnsafeMutablePointer<Int32>.allocate(capacity: next * stride)
        newLinks.update(from: links0, count: count * stride)
        links0.deallocate()
        links0 = newLinks
        let newVisited = UnsafeMutablePointer<UInt32>.allocate(capacity: next)
        newVisited.initialize(repeating: 0, count: next)
        visited.deallocate()
        visited = newVisited
        visitStamp = 0
        capacity = next
    }

    /// ⌊−ln(U) / ln(m)⌋ from a SplitMix64 stream (deterministic for a seed).
    private func randomLevel() -> Int {
        random &+= 0x9E37_79B9_7F4A_7C15
        var z = random
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let u = (Double(z >> 11) + 0.5) / Double(1 << 53)
        return min(Int(-log(u) * levelFactor), 30)
    }

    // MARK: Links

    @inline(__always)
    private func withLinks<R>(_ node: Int32, layer: Int, _ body: (UnsafeBufferPointer<Int32>) -> R) -> R {
        if layer == 0 {
            let record = links0 + Int(node) * (maxLinks0 + 1)
            return body(UnsafeBufferPointer(start: record + 1, count: Int(record[0])))
        }
        return upper[node]![layer - 1].withUnsafeBufferPointer(body)
    }

    private func setLinks(_ node: Int32, layer: Int, _ neighbours: [Int32]) {
        if layer == 0 {
            let record = links0 + Int(node) * (maxLinks0 + 1)
            record[0] = Int32(neighbours.count)
            for (i, n) in neighbours.enumerated() { record[1 + i] = n }
        } else {
            upper[node]![layer - 1] = neighbours
        }
    }

    /// Adds `new` to `node`'s links; past `limit`, keeps the heuristic's choice among them.
    private func connect(_ node: Int32, to new: Int32, layer: Int, limit: Int) {
        var current = withLinks(node, layer: layer) { Array($0) }
        if current.count < limit {
            current.append(new)
            setLinks(node, layer: layer, current)
            return
        }
        let base = vectors + Int(node) * dimension
        var candidates = current.map { (distance(base, $0), $0) }
        candidates.append((distance(base, new), new))
        candidates.sort { $0.0 < $1.0 }
        setLinks(node, layer: layer, selectNeighbours(candidates, limit: limit).map(\.1))
    }

    /// The paper's heuristic: closest first, each kept only if it is closer to the base than to
    /// every neighbour already kept (spreads the links over directions). `candidates` sorted,
    /// closest first.
    private func selectNeighbours(_ candidates: [(Float, Int32)], limit: Int) -> [(Float, Int32)] {
        guard candidates.count > limit else { return candidates }
        var kept: [(Float, Int32)] = []
        kept.reserveCapacity(limit)
        for (d, c) in candidates {
            let point = vectors + Int(c) * dimension
            var good = true
            for (_, k) in kept where distance(point, k) < d {
                good = false
                break
            }
            if good {
                kept.append((d, c))
                if kept.count == limit { break }
            }
        }
        return kept
    }

    // MARK: Searching

    @inline(__always)
    private func distance(_ query: UnsafePointer<Float>, _ node: Int32) -> Float {
        let point = UnsafeRawPointer(vectors + Int(node) * dimension)
        switch self.distance {
        case .squaredEuclidean: return DistanceKernels.squaredL2(UnsafeRawPointer(query), point, count: dimension)
        case .innerProduct: return -DistanceKernels.dot(UnsafeRawPointer(query), point, count: dimension)
        }
    }

    private func greedy(_ query: UnsafePointer<Float>, from start: Int32, distance start0: Float, layer: Int) -> (
        Int32, Float
    ) {
        var best = start
        var bestDistance = start0
        var changed = true
        while changed {
            changed = false
            withLinks(best, layer: layer) { links in
                for n in links {
                    let d = distance(query, n)
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

    /// The `ef` nodes closest to `query` found from `entries` on `layer`, closest first.
    private func searchLayer(_ query: UnsafePointer<Float>, entries: [(Float, Int32)], ef: Int, layer: Int) -> [(
        Float, Int32
    )] {
        visitStamp &+= 1
        if visitStamp == 0 {
            visited.update(repeating: 0, count: capacity)
            visitStamp = 1
        }
        let stamp = visitStamp
        var candidates = DistanceHeap(farthestOnTop: false)  // to explore, closest first
        var results = DistanceHeap(farthestOnTop: true)  // the best ef, farthest on top
        for (d, e) in entries {
            visited[Int(e)] = stamp
            candidates.push(d, e)
            results.push(d, e)
        }
        while results.count > ef { results.pop() }
        while let (d, c) = candidates.pop() {
            if results.count >= ef && d > results.top.0 { break }
            withLinks(c, layer: layer) { links in
                for n in links where visited[Int(n)] != stamp {
                    visited[Int(n)] = stamp
                    let dn = distance(query, n)
                    if results.count < ef || dn < results.top.0 {
                        candidates.push(dn, n)
                        results.push(dn, n)
                        if results.count > ef { results.pop() }
                    }
                }
            }
        }
        return results.sortedAscending()
    }

    /// The (about) k nearest nodes to `query`, closest first: (distance as defined by
    /// `Distance`, node id). `ef` (at least k) is the breadth of the layer-0 search.
    public func search(_ query: [Float], k: Int, ef: Int) -> [(distance: Float, node: Int32)] {
        precondition(query.count == dimension)
        guard entryPoint >= 0 else { return [] }
        return query.withUnsafeBufferPointer { buffer in
            let q = buffer.baseAddress!
            var nearest = entryPoint
            var nearestDistance = distance(q, nearest)
            if maxLevel > 0 {
                for layer in stride(from: maxLevel, to: 0, by: -1) {
                    (nearest, nearestDistance) = greedy(q, from: nearest, distance: nearestDistance, layer: layer)
                }
            }
            let found = searchLayer(q, entries: [(nearestDistance, nearest)], ef: max(ef, k), layer: 0)
            return found.prefix(k).map { ($0.0, $0.1) }
        }
    }
}

/// A binary heap of (distance, node): the closest on top, or the farthest.
struct DistanceHeap {
    private var items: [(Float, Int32)] = []
    /// true: the farthest on top (the results of a search); false: the closest (its frontier).
    let farthestOnTop: Bool
    var count: Int { items.count }
    var top: (Float, Int32) { items[0] }

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
