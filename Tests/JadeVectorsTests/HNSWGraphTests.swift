import Testing

@testable import JadeVectors

/// The HNSW graph against an exact scan: recall on clustered data, both distances, edges.
@Suite struct HNSWGraphTests {
    /// `count` points around 40 centres in `dimension` dimensions (seeded).
    static func clustered(_ count: Int, dimension: Int, seed: UInt64) -> [[Float]] {
        var rng = SeededRandom(seed: seed)
        let centres = (0..<40).map { _ in rng.floats(dimension) }
        return (0..<count).map { i in centres[i % 40].map { $0 + 0.1 * Float.random(in: -1...1, using: &rng) } }
    }

    static func exact(_ points: [[Float]], _ query: [Float], k: Int, _ d: ([Float], [Float]) -> Float) -> [Int32] {
        var scored: [(distance: Float, node: Int32)] = []
        for (i, p) in points.enumerated() { scored.append((d(p, query), Int32(i))) }
        scored.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.node < $1.node) }
        return scored.prefix(k).map(\.node)
    }

    @Test func recallAgainstAnExactScan() {
        // Queries from the same mixture, not inserted.
        let all = Self.clustered(4100, dimension: 16, seed: 1)
        let points = Array(all.prefix(4000))
        let queries = Array(all.suffix(100))
        let graph = HNSWGraph(dimension: 16, distance: .squaredEuclidean, m: 8, efConstruction: 100)
        for p in points { graph.add(p) }
        #expect(graph.count == 4000)
        func l2(_ a: [Float], _ b: [Float]) -> Float {
            var sum: Float = 0
            for i in a.indices { sum += (a[i] - b[i]) * (a[i] - b[i]) }
            return sum
        }
        var recall = [Int: Double]()
        for ef in [10, 64] {
            var hits = 0
            for q in queries {
                let found = Set(graph.search(q, k: 10, ef: ef).map(\.node))
                hits += Self.exact(points, q, k: 10, l2).filter(found.contains).count
            }
            recall[ef] = Double(hits) / 1000
        }
        #expect(recall[64]! >= 0.95, "recall@10 at ef 64: \(recall[64]!)")
        #expect(recall[64]! >= recall[10]!)
        // Distances come back closest first and equal to the exact ones.
        let hits = graph.search(queries[0], k: 5, ef: 50)
        #expect(hits.map(\.distance) == hits.map(\.distance).sorted())
        for hit in hits { #expect(abs(hit.distance - l2(points[Int(hit.node)], queries[0])) < 1e-3) }
    }

    @Test func innerProductOnUnitVectorsIsCosine() {
        let points = Self.clustered(2000, dimension: 12, seed: 3).map { v in
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        let graph = HNSWGraph(dimension: 12, distance: .innerProduct, m: 8, efConstruction: 80)
        for p in points { graph.add(p) }
        func negDot(_ a: [Float], _ b: [Float]) -> Float {
            var sum: Float = 0
            for i in a.indices { sum += a[i] * b[i] }
            return -sum
        }
        var hits = 0
        for q in points.prefix(50) {
            let found = Set(graph.search(q, k: 10, ef: 80).map(\.node))
            hits += Self.exact(points, q, k: 10, negDot).filter(found.contains).count
        }
        #expect(Double(hits) / 500 >= 0.95)
    }

    @Test func edges() {
        let graph = HNSWGraph(dimension: 3, distance: .squaredEuclidean)
        #expect(graph.search([0, 0, 0], k: 5, ef: 10).isEmpty)
        graph.add([1, 0, 0])
        graph.add([0, 1, 0])
        // k above the count: every node, closest first.
        #expect(graph.search([0.9, 0, 0], k: 10, ef: 10).map(\.node) == [0, 1])
    }
}
