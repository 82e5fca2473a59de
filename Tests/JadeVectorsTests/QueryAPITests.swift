import JadeCore
import Testing

@testable import JadeVectors

/// The query API beyond one vector at a time: filters, batch search, count, batch get,
/// scroll, metadata updates and deletes by ids or filter.
@Suite struct QueryAPITests {
    static func filter(_ json: String) throws -> VectorFilter {
        try VectorFilter.parse(try JSONParser.parse(json.utf8))
    }

    /// 200 vectors in 2 dimensions with metadata: n (number), parity (string), big (bool),
    /// and `rare` on every 50th.
    static func populated() throws -> VectorStoreFixture {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 2, metric: .euclidean)
        var rng = SeededRandom(seed: 11)
        try f.vectors.upsert(
            database: "d",
            vectors: (0..<200).map { i in
                var metadata: Metadata = [
                    "n": .number(Double(i)), "parity": .string(i % 2 == 0 ? "even" : "odd"), "big": .bool(i >= 100),
                ]
                if i % 50 == 0 { metadata["rare"] = .string("yes") }
                return VectorRecord(id: String(format: "v%03d", i), values: rng.floats(2), metadata: metadata)
            })
        return f
    }

    @Test func filterOperatorsFollowTheContract() throws {
        let m: Metadata = ["n": .number(5), "s": .string("b"), "t": .bool(true)]
        func holds(_ json: String) throws -> Bool { try Self.filter(json).matches(m) }
        #expect(try holds(#"{"n": 5}"#))
        #expect(try holds(#"{"n": {"$gt": 4, "$lte": 5}}"#))
        #expect(try !holds(#"{"n": {"$gt": 5}}"#))
        #expect(try holds(#"{"s": {"$gte": "a", "$lt": "c"}}"#))
        #expect(try holds(#"{"s": {"$in": ["a", "b"]}, "t": true}"#))
        #expect(try holds(#"{"s": {"$nin": ["a", "c"]}}"#))
        #expect(try !holds(#"{"s": {"$nin": [1, 2]}}"#))  // another type: no match
        #expect(try holds(#"{"s": {"$ne": "a"}}"#))
        #expect(try !holds(#"{"s": {"$ne": 3}}"#))  // another type: no match
        #expect(try !holds(#"{"missing": {"$ne": 1}}"#))  // a missing key never compares
        #expect(try holds(#"{"$not": {"missing": 1}}"#))
        #expect(try holds(#"{"$or": [{"n": 1}, {"s": "b"}]}"#))
        #expect(try !holds(#"{"$or": [{"n": 1}, {"s": "c"}]}"#))
        #expect(try !holds(#"{"n": "5"}"#))  // a string is not the number
        #expect(try Self.filter("{}").matchesEverything)
        // Refused: unknown operators, lists for values, null, ordering booleans, empty $in.
        for bad in [
            #"{"n": {"$regex": "x"}}"#, #"{"$and": []}"#, #"{"n": [1, 2]}"#, #"{"n": null}"#,
            #"{"t": {"$gt": true}}"#, #"{"n": {"$in": []}}"#, #"{"$or": []}"#, #"{"n": {}}"#, "[1]",
        ] {
            #expect(throws: VectorStoreError.self, "\(bad)") { try Self.filter(bad) }
        }
        let deep = String(repeating: #"{"$not": "#, count: 20) + "{}" + String(repeating: "}", count: 20)
        #expect(throws: VectorStoreError.self) { try Self.filter(deep) }
    }

    @Test func aFilteredSearchAndCountMatchAnExactFilterOfEveryVector() throws {
        let f = try Self.populated()
        let filter = try Self.filter(#"{"n": {"$gte": 20, "$lt": 120}, "$or": [{"parity": "odd"}, {"rare": "yes"}]}"#)
        let all = try f.vectors.scroll(
            database: "d", limit: 1000, cursor: nil, filter: nil, includeValues: true, includeMetadata: true)
        let expected = all.vectors.filter { filter.matches($0.metadata) }
        #expect(expected.count == 52)
        #expect(try f.vectors.count(database: "d", filter: filter) == 52)
        #expect(try f.vectors.count(database: "d") == 200)
        let query: [Float] = [0.25, -0.5]
        let hits = try f.vectors.search(database: "d", SearchRequest(query: query, k: 10, filter: filter))
        var scored: [(id: String, distance: Double)] = []
        for entry in expected {
            scored.append((entry.id, Reference.score(.euclidean, entry.values ?? [], query)))
        }
        scored.sort { $0.distance < $1.distance || ($0.distance == $1.distance && $0.id < $1.id) }
        let exact: [String] = scored.prefix(10).map(\.id)
        #expect(hits.map(\.id) == exact)
        // A threshold keeps the hits at most that far.
        let limit = hits[4].score
        let close = try f.vectors.search(
            database: "d", SearchRequest(query: query, k: 10, filter: filter, scoreThreshold: limit))
        #expect(close.map(\.id) == Array(hits.prefix(5).map(\.id)))
    }

    @Test func aBatchAnswersExactlyWhatEachSearchAnswers() throws {
        let f = try Self.populated()
        var rng = SeededRandom(seed: 5)
        let requests = try (0..<30).map { i in
            SearchRequest(
                query: rng.floats(2), k: 1 + i % 12, filter: i % 3 == 0 ? try Self.filter(#"{"parity": "even"}"#) : nil,
                scoreThreshold: i % 5 == 0 ? 0.8 : nil, includeValues: i % 2 == 0, includeMetadata: i % 4 == 0)
        }
        let batch = try f.vectors.search(database: "d", batch: requests)
        #expect(batch.count == requests.count)
        for (i, request) in requests.enumerated() {
            #expect(batch[i] == (try f.vectors.search(database: "d", request)), "search \(i)")
        }
        // One bad query fails the whole batch.
        #expect(throws: VectorStoreError.self) {
            try f.vectors.search(database: "d", batch: [requests[0], SearchRequest(query: [1, 2, 3], k: 1)])
        }
    }

    @Test func scrollVisitsEveryMatchingVectorOnceInIdOrder() throws {
        let f = try Self.populated()
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try f.vectors.scroll(
                database: "d", limit: 7, cursor: cursor, filter: try Self.filter(#"{"parity": "odd"}"#),
                includeValues: false, includeMetadata: false)
            #expect(page.vectors.count <= 7)
            #expect(page.vectors.allSatisfy { $0.values == nil && $0.metadata == nil })
            seen += page.vectors.map(\.id)
            cursor = page.nextCursor
            pages += 1
        } while cursor != nil && pages < 100
        #expect(seen == (0..<200).filter { $0 % 2 == 1 }.map { String(format: "v%03d", $0) })
        #expect(throws: VectorStoreError.self) {
            try f.vectors.scroll(
                database: "d", limit: 5, cursor: "not-a-cursor", filter: nil, includeValues: false,
                includeMetadata: false)
        }
        #expect(try ScrollCursor.decode(ScrollCursor.encode(after: "é/+?")) == "é/+?")
    }

    @Test func getUpdateAndDeleteSeveralVectors() throws {
        let f = try Self.populated()
        let before = try #require(try f.vectors.get(database: "d", id: "v007"))
        let got = try f.vectors.get(
            database: "d", ids: ["v007", "nope", "v003", "v007"], includeValues: true, includeMetadata: false)
        #expect(got.map(\.id) == ["v007", "v003"])
        #expect(got[0].values == before.values && got[0].metadata == nil)

        let changes: [String: MetadataValue?] = ["n": .number(700), "parity": MetadataValue?.none, "tag": .string("x")]
        let updated = try f.vectors.updateMetadata(database: "d", id: "v007", changes: changes)
        #expect(updated.values == before.values)
        let expectedMetadata: Metadata = ["n": .number(700), "big": .bool(false), "tag": .string("x")]
        #expect(updated.metadata == expectedMetadata)
        #expect(try f.vectors.get(database: "d", id: "v007") == updated)
        // Every other reader (another process's snapshot) sees it too.
        let other = try f.open()
        #expect(try other.count(database: "d", filter: try Self.filter(#"{"tag": "x"}"#)) == 1)
        #expect(throws: VectorStoreError.notFound("vector nope")) {
            try f.vectors.updateMetadata(database: "d", id: "nope", changes: [:])
        }

        #expect(try f.vectors.delete(database: "d", ids: ["v000", "v001", "nope", "v001"]) == 2)
        #expect(try f.vectors.delete(database: "d", filter: try Self.filter(#"{"big": true}"#)) == 100)
        #expect(try f.vectors.count(database: "d") == 98)
        #expect(try other.count(database: "d", filter: try Self.filter(#"{"big": true}"#)) == 0)
        #expect(try f.vectors.delete(database: "d", filter: try Self.filter("{}")) == 98)
        #expect(try f.vectors.count(database: "d") == 0)
    }
}

/// Batch search against single search on every metric, with dimensions that do and do not fill
/// the kernels' eight lanes, ties (repeated vectors) and dead rows: identical answers, whichever
/// kernel scored the block (the blocked AVX2 one where the CPU has it).
@Suite struct BatchSearchExactnessTests {
    @Test(arguments: [VectorMetric.cosine, .dot, .euclidean], [16, 13])
    func batchEqualsSingle(metric: VectorMetric, dimension: Int) throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: dimension, metric: metric)
        var rng = SeededRandom(seed: UInt64(dimension))
        var records = (0..<3000).map { VectorRecord(id: "v\($0)", values: rng.floats(dimension)) }
        // Ties: the same values under other ids.
        for i in 0..<50 { records.append(VectorRecord(id: "dup\(i)", values: records[i].values)) }
        try f.vectors.upsert(database: "d", vectors: records)
        // Dead rows, some of them in otherwise dense words.
        _ = try f.vectors.delete(database: "d", ids: (0..<3000).filter { $0 % 7 == 0 }.map { "v\($0)" })
        let requests = (0..<40).map { i in
            SearchRequest(query: i % 10 == 0 ? records[i].values : rng.floats(dimension), k: [1, 5, 10, 100][i % 4])
        }
        let batch = try f.vectors.search(database: "d", batch: requests)
        for (i, request) in requests.enumerated() {
            #expect(batch[i] == (try f.vectors.search(database: "d", request)), "search \(i)")
        }
    }
}
