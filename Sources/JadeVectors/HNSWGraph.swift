import Foundation

/// A hierarchical navigable small-world graph (Malkov and Yashunin, 2016) being built: the
/// approximate index of a database whose index type is `hnsw`. One process at a time inserts
/// (the holder of the database's index lock); it then writes the graph to an index file
/// (`HNSWIndexFile`) that every worker maps read-only and searches through `HNSWLayout`.
///
/// Node ids are dense: node `n` is the segment's row `n` when served (`attach(vectors:)`), or
/// the n-th vector given to `add(_:)` when the graph keeps its own copy (tests, benchmarks).
/// Upper layers hold about one node in `m`; their links are fixed-size records in one array,
/// like layer 0's, so the whole graph is a handful of flat arrays that a file can hold as is.
public final class HNSWGraph {
    public let dimension: Int
    public let distance: HNSWDistance
    /// Links per node above layer 0; layer 0 keeps twice as many.
    public let m: Int
    public let efConstruction: Int
    let maxLinks0: Int
    let levelFactor: Double

    public var count: Int { levels.count }
    var levels: [UInt8] = []
    var links0 = Column<Int32>()
    var upperOffsets = Column<Int32>()
    var upperLinks = Column<Int32>()
    var inverseNorms = Column<Float>()
    var entryPoint: Int32 = -1
    var maxLevel = -1
    var random: UInt64

    /// Where node n's vector is: `vectors + n * vectorStride`.
    private var vectors: UnsafeRawPointer?
    private var vectorStride: Int
    /// The graph's own copy of the vectors when they come through `add(_:)`.
    private var owned = Column<Float>()
    private let visited = VisitedMarks(capacity: 1024)

    public init(dimension: Int, distance: HNSWDistance, m: Int = 16, efConstruction: Int = 200, seed: UInt64 = 100) {
        precondition(dimension > 0 && m >= 2 && efConstruction >= 1)
        self.dimension = dimension
        self.distance = distance
        self.m = m
        self.efConstruction = efConstruction
        maxLinks0 = 2 * m
        levelFactor = 1 / log(Double(m))
        random = seed
        vectorStride = dimension * 4
    }

    /// Bytes held by the graph's arrays (the vectors included only when the graph owns them).
    public var memoryBytes: Int {
        links0.capacity * 4 + upperOffsets.capacity * 4 + upperLinks.capacity * 4 + inverseNorms.capacity * 4
            + levels.capacity + owned.capacity * 4
    }

    /// Reads the vectors of nodes from `base` on (row n at `base + n * dimension * 4`). Call
    /// again whenever the memory moves (a segment mapped anew); it must hold every node added.
    func attach(vectors base: UnsafeRawPointer) {
        vectors = base
    }

    var layout: HNSWLayout {
        HNSWLayout(
            dimension: dimension, distance: distance, m: m, maxLinks0: maxLinks0, count: count,
            entryPoint: entryPoint, maxLevel: maxLevel, links0: UnsafePointer(links0.base),
            upperOffsets: UnsafePointer(upperOffsets.base), upperLinks: UnsafePointer(upperLinks.base),
            upperCount: upperLinks.count, inverseNorms: UnsafePointer(inverseNorms.base), vectors: vectors!,
            vectorStride: vectorStride)
    }

    // MARK: Inserting

    /// Adds a vector the graph keeps a copy of; its node id is the previous `count`.
    @discardableResult
    public func add(_ values: [Float]) -> Int32 {
        precondition(values.count == dimension)
        values.withUnsafeBufferPointer { owned.append(contentsOf: $0) }
        vectors = UnsafeRawPointer(owned.base)
        return insertNext(linked: true)
    }

    /// Adds the next node (id `count`), whose vector is already in the attached memory.
    /// `linked: false` adds it without links (a row that died before it was indexed): it is
    /// never reached, yet keeps node ids equal to rows.
    @discardableResult
    func insertNext(linked: Bool) -> Int32 {
        let id = Int32(count)
        let point = vectors! + Int(id) * vectorStride
        let norm = DistanceKernels.norm(point, count: dimension)
        let inverse = Float(1 / norm)
        inverseNorms.append(inverse.isFinite ? inverse : 0)
        links0.append(repeating: 0, count: maxLinks0 + 1)
        let level = linked ? randomLevel() : 0
        levels.append(UInt8(level))
        if level > 0 {
            upperOffsets.append(Int32(upperLinks.count))
            upperLinks.append(repeating: 0, count: level * (m + 1))
        } else {
            upperOffsets.append(-1)
        }
        visited.reserve(count)
        guard linked else { return id }
        guard entryPoint >= 0 else {
            entryPoint = id
            maxLevel = level
            return id
        }
        let view = layout
        let scale = distance == .cosine ? inverseNorms[Int(id)] : 1
        var nearest = entryPoint
        var nearestDistance = view.distance(point, scale, nearest)
        var visits = 0
        // Greedy descent through the layers above the new node's.
        if maxLevel > level {
            for layer in stride(from: maxLevel, to: level, by: -1) {
                (nearest, nearestDistance) = view.greedy(
                    point, scale, from: nearest, distance: nearestDistance, layer: layer)
            }
        }
        var entries = [(nearestDistance, nearest)]
        for layer in stride(from: min(level, maxLevel), through: 0, by: -1) {
            // No deadline: the search always completes.
            let found = view.searchLayer(
                point, scale, entries: entries, ef: efConstruction, layer: layer, visited: visited, visits: &visits)!
            let limit = layer == 0 ? maxLinks0 : m
            let chosen = selectNeighbours(found, limit: m, view)
            setLinks(id, layer: layer, chosen.map(\.1))
            for (_, neighbour) in chosen { connect(neighbour, to: id, layer: layer, limit: limit, view) }
            entries = found
        }
        if level > maxLevel {
            maxLevel = level
            entryPoint = id
        }
        return id
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

    private func record(_ node: Int32, layer: Int) -> UnsafeMutablePointer<Int32> {
        layer == 0
            ? links0.base + Int(node) * (maxLinks0 + 1)
            : upperLinks.base + Int(upperOffsets[Int(node)]) + (layer - 1) * (m + 1)
    }

    private func setLinks(_ node: Int32, layer: Int, _ neighbours: [Int32]) {
        let r = record(node, layer: layer)
        r[0] = Int32(neighbours.count)
        for (i, n) in neighbours.enumerated() { r[1 + i] = n }
    }

    /// Adds `new` to `node`'s links; past `limit`, keeps the heuristic's choice among them.
    private func connect(_ node: Int32, to new: Int32, layer: Int, limit: Int, _ view: HNSWLayout) {
        let r = record(node, layer: layer)
        let current = Int(r[0])
        if current < limit {
            r[1 + current] = new
            r[0] = Int32(current + 1)
            return
        }
        let base = view.vectors + Int(node) * vectorStride
        let scale = distance == .cosine ? inverseNorms[Int(node)] : 1
        var candidates: [(Float, Int32)] = []
        candidates.reserveCapacity(current + 1)
        for i in 0..<current { candidates.append((view.distance(base, scale, r[1 + i]), r[1 + i])) }
        candidates.append((view.distance(base, scale, new), new))
        candidates.sort { $0.0 < $1.0 }
        setLinks(node, layer: layer, selectNeighbours(candidates, limit: limit, view).map(\.1))
    }

    /// The paper's heuristic: closest first, each kept only if it is closer to the base than to
    /// every neighbour already kept (spreads the links over directions). `candidates` sorted,
    /// closest first.
    private func selectNeighbours(_ candidates: [(Float, Int32)], limit: Int, _ view: HNSWLayout) -> [(Float, Int32)] {
        guard candidates.count > limit else { return candidates }
        var kept: [(Float, Int32)] = []
        kept.reserveCapacity(limit)
        for (d, c) in candidates {
            let point = view.vectors + Int(c) * vectorStride
            let scale = distance == .cosine ? inverseNorms[Int(c)] : 1
            var good = true
            for (_, k) in kept where view.distance(point, scale, k) < d {
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

    /// The (about) k nearest nodes to `query`, closest first: (distance as defined by
    /// `HNSWDistance`, node id). `ef` (at least k) is the breadth of the layer-0 search.
    public func search(_ query: [Float], k: Int, ef: Int) -> [(distance: Float, node: Int32)] {
        precondition(query.count == dimension)
        guard entryPoint >= 0 else { return [] }
        return query.withUnsafeBytes { buffer in
            let q = buffer.baseAddress!
            let inverse = Float(1 / DistanceKernels.norm(q, count: dimension))
            var visits = 0
            let found = layout.search(
                q, distance == .cosine && inverse.isFinite ? inverse : 1, ef: max(ef, k), visited: visited,
                visits: &visits)
            return found.prefix(k).map { ($0.0, $0.1) }
        }
    }
}

/// A growable array of trivial values behind a stable pointer between appends.
struct Column<T> {
    private(set) var base: UnsafeMutablePointer<T> = .allocate(capacity: 1)
    private(set) var count = 0
    private(set) var capacity = 1
    private var storage: Storage

    /// Frees the memory when the last copy of the column goes.
    final class Storage {
        var pointer: UnsafeMutablePointer<T>
        init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
        deinit { pointer.deallocate() }
    }

    init() { storage = Storage(base) }

    subscript(i: Int) -> T {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    mutating func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let next = max(needed, capacity * 2)
        let grown = UnsafeMutablePointer<T>.allocate(capacity: next)
        grown.moveInitialize(from: base, count: count)
        base = grown
        storage = Storage(grown)
        capacity = next
    }

    mutating func append(_ value: T) {
        reserve(count + 1)
        (base + count).initialize(to: value)
        count += 1
    }

    mutating func append(repeating value: T, count n: Int) {
        reserve(count + n)
        (base + count).initialize(repeating: value, count: n)
        count += n
    }

    mutating func append(contentsOf values: UnsafeBufferPointer<T>) {
        reserve(count + values.count)
        (base + count).initialize(from: values.baseAddress!, count: values.count)
        count += values.count
    }
}
