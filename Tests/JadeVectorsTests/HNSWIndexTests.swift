import Foundation
import JadeCore
import Testing

@testable import JadeVectors

/// HNSW databases through the store: graphs published to files and mapped by other "processes"
/// (independent stores on the same files), the exact tail, deletes, filters, damaged files,
/// compaction and the index lock.
@Suite struct HNSWIndexTests {
    static let dimension = 16

    /// `count` clustered vectors (40 centres), with metadata: `group` = i % 100 and `tag` = "rare"
    /// on every 200th.
    static func records(_ count: Int, from first: Int = 0, seed: UInt64 = 5) -> [VectorRecord] {
        var rng = SeededRandom(seed: seed)
        let centres = (0..<40).map { _ in rng.floats(dimension) }
        return (first..<(first + count)).map { i in
            var metadata: Metadata = ["group": .number(Double(i % 100))]
            if i % 200 == 0 { metadata["tag"] = .string("rare") }
            return VectorRecord(
                id: String(format: "v%06d", i),
                values: centres[i % 40].map { $0 + 0.15 * Float.random(in: -1...1, using: &rng) }, metadata: metadata)
        }
    }

    static func populated(_ metric: VectorMetric, count: Int = 3000) throws -> VectorStoreFixture {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(
            name: "h", dimension: dimension, metric: metric, index: .hnsw(m: 16, efConstruction: 100))
        let all = records(count)
        for start in stride(from: 0, to: count, by: 1000) {
            try f.vectors.upsert(database: "h", vectors: Array(all[start..<min(start + 1000, count)]))
        }
        return f
    }

    /// recall@k of `store`'s answers against exact answers for the same requests.
    static func recall(_ store: VectorStore, _ requests: [SearchRequest]) throws -> Double {
        var hits = 0
        var total = 0
        for request in requests {
            var exact = request
            exact.exact = true
            let truth = try store.search(database: "h", exact).map(\.id)
            let found = Set(try store.search(database: "h", request).map(\.id))
            hits += truth.filter(found.contains).count
            total += truth.count
        }
        return total == 0 ? 1 : Double(hits) / Double(total)
    }

    static func queries(_ n: Int, seed: UInt64 = 9) -> [[Float]] {
        records(n, from: 10_000, seed: seed).map(\.values)
    }

    @Test(arguments: [VectorMetric.cosine, .euclidean, .dot])
    func aPublishedGraphAnswersLikeAnExactScan(metric: VectorMetric) throws {
        let f = try Self.populated(metric)
        #expect(try f.vectors.catchUpIndex(database: "h") == 3000)
        let status = try f.vectors.indexStatus(database: "h")
        #expect(status.indexedVectors == 3000 && status.ready)
        let info = try #require(try f.vectors.database(named: "h"))
        #expect(info.index == .hnsw(m: 16, efConstruction: 100) && info.pendingIndexRows == 0)

        // Another process maps the published file and searches through it.
        let other = try f.open()
        let requests = Self.queries(50).map { SearchRequest(query: $0, k: 10) }
        let recall = try Self.recall(other, requests)
        // Inner product is not a metric: graphs over unnormalized vectors reach fewer of the
        // largest products (hnswlib measures the same); cosine and euclidean at the default ef.
        #expect(recall >= (metric == .dot ? 0.85 : 0.95), "recall@10 \(recall)")
        let snapshot = try other.snapshot(named: "h")
        #expect(snapshot.graph?.header.count == 3000)
        // Hits carry the exact scan's scores.
        let hits = try other.search(database: "h", requests[0])
        let exact = try other.search(database: "h", SearchRequest(query: requests[0].query, k: 10, exact: true))
        let exactScores = Dictionary(uniqueKeysWithValues: exact.map { ($0.id, $0.score) })
        for hit in hits where exactScores[hit.id] != nil { #expect(exactScores[hit.id] == hit.score) }
    }

    /// `database.query_timeout_seconds` holds for graph searches too: a broad one (large ef)
    /// past its deadline stops with nil (answered 503 `timeout`), like an exact scan.
    @Test func aGraphSearchStopsAtItsDeadline() throws {
        let f = try Self.populated(.euclidean)
        #expect(try f.vectors.catchUpIndex(database: "h") == 3000)
        let snapshot = try f.vectors.snapshot(named: "h")
        let query = Self.queries(1)[0]
        var visits = 0
        let unbounded = snapshot.approximateTopK(
            query: query, k: 10, ef: 2000, filter: nil, deadline: 0, visits: &visits)
        #expect(unbounded?.count == 10)
        let passed = DispatchTime.now().uptimeNanoseconds - 1
        #expect(
            snapshot.approximateTopK(query: query, k: 10, ef: 2000, filter: nil, deadline: passed, visits: &visits)
                == nil)
    }

    @Test func rowsPastTheGraphAreSearchedExactlyAndDeletesAreHonouredAtOnce() throws {
        let f = try Self.populated(.euclidean, count: 2000)
        try f.vectors.catchUpIndex(database: "h")
        // New vectors, not yet in the graph: each is its own nearest neighbour at once.
        let fresh = Self.records(300, from: 2000, seed: 77)
        try f.vectors.upsert(database: "h", vectors: fresh)
        let other = try f.open()
        #expect(try other.indexStatus(database: "h").pendingVectors == 300)
        for record in fresh.prefix(50) {
            #expect(try other.search(database: "h", SearchRequest(query: record.values, k: 1)).first?.id == record.id)
        }
        // A deleted vector in the graph is never returned; an updated one answers with its new values.
        let inGraph = Self.records(2000)[123]
        #expect(try other.search(database: "h", SearchRequest(query: inGraph.values, k: 1)).first?.id == inGraph.id)
        try f.vectors.delete(database: "h", id: inGraph.id)
        #expect(
            try !other.search(database: "h", SearchRequest(query: inGraph.values, k: 10)).contains {
                $0.id == inGraph.id
            })
        let moved = VectorRecord(id: "v000007", values: fresh[0].values.map { $0 + 0.001 }, metadata: [:])
        try f.vectors.upsert(database: "h", vectors: [moved])
        let near = try other.search(database: "h", SearchRequest(query: moved.values, k: 1))
        #expect(near.first?.id == "v000007")
        // Catching up covers the tail; answers stay right.
        #expect(try f.vectors.catchUpIndex(database: "h") == 2301)
        #expect(try other.indexStatus(database: "h").pendingVectors == 0)
        for record in fresh.suffix(20) {
            #expect(try other.search(database: "h", SearchRequest(query: record.values, k: 1)).first?.id == record.id)
        }
    }

    @Test func filtersNeverLoseMatches() throws {
        let f = try Self.populated(.cosine, count: 4000)
        try f.vectors.catchUpIndex(database: "h")
        let queries = Self.queries(30)
        // Selective (0.5% of rows): the exact filtered answer itself.
        let rare = try VectorFilter.parse(try JSONParser.parse(#"{"tag": "rare"}"#.utf8))
        for q in queries {
            let graph = try f.vectors.search(database: "h", SearchRequest(query: q, k: 10, filter: rare))
            let exact = try f.vectors.search(database: "h", SearchRequest(query: q, k: 10, filter: rare, exact: true))
            #expect(graph == exact)
            #expect(graph.count == 10)
        }
        // Broad (30%): the graph explores past non-matching nodes at the usual recall.
        let broad = try VectorFilter.parse(try JSONParser.parse(#"{"group": {"$lt": 30}}"#.utf8))
        let recall = try Self.recall(f.vectors, queries.map { SearchRequest(query: $0, k: 10, filter: broad) })
        #expect(recall >= 0.95, "filtered recall@10 \(recall)")
        for q in queries.prefix(5) {
            let hits = try f.vectors.search(
                database: "h", SearchRequest(query: q, k: 10, filter: broad, includeMetadata: true))
            #expect(hits.count == 10)
            #expect(hits.allSatisfy { broad.matches($0.metadata) })
        }
    }

    @Test func aDamagedGraphFileIsNeverSearchedAndIsRebuilt() throws {
        let f = try Self.populated(.euclidean, count: 1500)
        try f.vectors.catchUpIndex(database: "h")
        let file = f.directory + "/" + HNSWIndexFile.fileName(databaseID: 1, generation: 1, count: 1500)
        #expect(FileManager.default.fileExists(atPath: file))
        // Links scrambled in place (the size still right): the checksum no longer holds.
        let handle = try #require(FileHandle(forUpdatingAtPath: file))
        try handle.seek(toOffset: UInt64(HNSWIndexFile.headerSize + 4))
        handle.write(Data(repeating: 0xFF, count: 4096))
        try handle.close()
        let other = try f.open()
        // Bounds-checked reading: searches still answer (links past the graph are skipped).
        let q = Self.queries(1)[0]
        #expect(try other.search(database: "h", SearchRequest(query: q, k: 5)).count == 5)
        // The builder does not continue from it: it rebuilds from the segment and republishes.
        #expect(try other.catchUpIndex(database: "h") == 1500)
        let rebuilt = try #require(HNSWIndexMapping(path: file))
        #expect(rebuilt.checksumHolds)
        // A truncated file is not mapped at all: exact answers meanwhile.
        truncate(file, 1000)
        let third = try f.open()
        #expect(try third.snapshot(named: "h").graph == nil)
        let exact = try third.search(database: "h", SearchRequest(query: q, k: 5, exact: true))
        #expect(try third.search(database: "h", SearchRequest(query: q, k: 5)) == exact)
    }

    @Test func compactionStartsANewGraphAndLeavesNoStaleFiles() throws {
        let f = try Self.populated(.euclidean, count: 1200)
        try f.vectors.catchUpIndex(database: "h")
        _ = try f.vectors.delete(database: "h", ids: (0..<600).map { String(format: "v%06d", $0) })
        try f.vectors.compact(database: "h")
        #expect(try f.vectors.database(named: "h")?.pendingIndexRows == 600)
        #expect(try f.vectors.catchUpIndex(database: "h") == 600)
        let files = f.segmentFiles().filter { $0.hasSuffix(".hnsw") }
        #expect(files == ["1-2-600.hnsw"])
        let survivor = Self.records(1200)[900]
        #expect(
            try f.vectors.search(database: "h", SearchRequest(query: survivor.values, k: 1)).first?.id == survivor.id)
        try f.vectors.deleteDatabase(named: "h")
        #expect(f.segmentFiles().isEmpty)
    }

    @Test func oneBuilderAtATime() throws {
        let f = try Self.populated(.dot, count: 500)
        let snapshot = try f.vectors.snapshot(named: "h")
        let lock = try #require(IndexLock(path: f.directory + "/\(snapshot.databaseID).hnsw.lock", wait: false))
        // Another holder (a second open file description, as another process would have).
        #expect(try f.open().catchUpIndex(database: "h", wait: false) == 0)
        lock.release()
        #expect(try f.open().catchUpIndex(database: "h", wait: false) == 500)
    }

    @Test func hnswSettingsAreChecked() throws {
        let f = try VectorStoreFixture()
        #expect(throws: VectorStoreError.self) {
            try f.vectors.createDatabase(
                name: "a", dimension: 4, metric: .cosine, index: .hnsw(m: 2, efConstruction: 100))
        }
        #expect(throws: VectorStoreError.self) {
            try f.vectors.createDatabase(
                name: "a", dimension: 4, metric: .cosine, index: .hnsw(m: 16, efConstruction: 4))
        }
        // A flat database never builds a graph.
        try f.vectors.createDatabase(name: "flat", dimension: 4, metric: .cosine)
        try f.vectors.upsert(database: "flat", vectors: [VectorRecord(id: "a", values: [1, 2, 3, 4], metadata: [:])])
        #expect(try f.vectors.catchUpIndex(database: "flat") == 0)
        #expect(try f.vectors.indexStatus(database: "flat").ready)
    }

    @Test func automaticIndexingCatchesUpInTheBackground() async throws {
        let f = try VectorStoreFixture(automaticIndexing: true)
        try f.vectors.createDatabase(
            name: "h", dimension: Self.dimension, metric: .cosine, index: .hnsw(m: 8, efConstruction: 32))
        try f.vectors.upsert(database: "h", vectors: Self.records(800))
        let deadline = Date().addingTimeInterval(30)
        while try !f.vectors.indexStatus(database: "h").ready && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try f.vectors.indexStatus(database: "h").indexedVectors == 800)
    }

    @Test func anIndexFileRoundTrips() throws {
        let points = HNSWGraphTests.clustered(1000, dimension: 8, seed: 4)
        let graph = HNSWGraph(dimension: 8, distance: .cosine, m: 6, efConstruction: 40)
        for p in points { graph.add(p) }
        let dir = NSTemporaryDirectory() + "jade-hnsw-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/" + HNSWIndexFile.fileName(databaseID: 3, generation: 2, count: 1000)
        try HNSWIndexFile.write(graph, databaseID: 3, generation: 2, to: path)
        let mapping = try #require(HNSWIndexMapping(path: path))
        #expect(mapping.checksumHolds)
        #expect(mapping.header.count == 1000 && mapping.header.databaseID == 3 && mapping.header.generation == 2)
        let parsed = try #require(HNSWIndexFile.parse(fileName: (path as NSString).lastPathComponent))
        #expect(parsed.databaseID == 3 && parsed.generation == 2 && parsed.count == 1000)
        // The mapped graph answers exactly as the one in memory.
        var flat = [Float]()
        for p in points { flat += p }
        try flat.withUnsafeBytes { vectors in
            let layout = mapping.layout(vectors: vectors.baseAddress!)
            for q in points.prefix(20) {
                let inMemory = graph.search(q, k: 5, ef: 30).map(\.node)
                var visits = 0
                let inverse = Float(1 / DistanceKernels.norm(q))
                let mapped = q.withUnsafeBytes { qb in
                    mapping.visitedPool.withMarks {
                        layout.search(qb.baseAddress!, inverse, ef: 30, visited: $0, visits: &visits)
                    }
                }
                #expect(Array(mapped.prefix(5).map(\.1)) == inMemory)
                #expect(visits > 0)
            }
            // Continuing from the file gives the same graph to add to.
            let continued = try #require(HNSWGraph(continuing: mapping, distance: .cosine, m: 6, efConstruction: 40))
            #expect(continued.count == 1000)
            #expect(HNSWGraph(continuing: mapping, distance: .cosine, m: 8, efConstruction: 40) == nil)
            _ = vectors
        }
    }
}
