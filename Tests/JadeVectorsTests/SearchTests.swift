import Testing

@testable import JadeVectors

@Suite struct SearchTests {
    /// Top-k against a double-precision full sort: the same scores, and nothing left out that
    /// scores better than the last hit (beyond float rounding).
    @Test(arguments: VectorMetric.allCases, [1, 13, 64])
    func exactTopKMatchesFullSort(metric: VectorMetric, dimension: Int) throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: dimension, metric: metric)
        var rng = SeededRandom(seed: UInt64(dimension) &* 31 &+ UInt64(metric.hashValue & 0xFF))
        let records = (0..<400).map { VectorRecord(id: "v\($0)", values: rng.floats(dimension)) }
        try f.vectors.upsert(database: "d", vectors: records)
        let higherIsBetter = metric != .euclidean
        for _ in 0..<3 {
            let query = rng.floats(dimension)
            let reference = records.map { (id: $0.id, score: Reference.score(metric, $0.values, query)) }
                .sorted { higherIsBetter ? $0.score > $1.score : $0.score < $1.score }
            let referenceByID = Dictionary(uniqueKeysWithValues: reference.map { ($0.id, $0.score) })
            for k in [1, 10, 400, 1000] {
                let hits = try f.vectors.search(database: "d", query: query, k: k)
                #expect(hits.count == min(k, records.count))
                for hit in hits {
                    #expect(
                        abs(Double(hit.score) - referenceByID[hit.id]!) <= 1e-4 * max(1, abs(referenceByID[hit.id]!)))
                }
                #expect(Set(hits.map(\.id)).count == hits.count)
                for (a, b) in zip(hits, hits.dropFirst()) {
                    #expect(higherIsBetter ? a.score >= b.score : a.score <= b.score)
                }
                if hits.count < reference.count {
                    let last = Double(hits.last!.score)
                    let firstLeftOut = reference[hits.count].score
                    #expect(higherIsBetter ? firstLeftOut <= last + 1e-4 : firstLeftOut >= last - 1e-4)
                }
            }
        }
    }

    @Test(arguments: VectorMetric.allCases)
    func tiesAreBrokenByIDAscending(metric: VectorMetric) throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 5, metric: metric)
        // The same vector under shuffled ids, plus a farther one.
        let ids = ["m", "b", "z", "a", "k", "c"]
        try f.vectors.upsert(
            database: "d",
            vectors: ids.map { VectorRecord(id: $0, values: [1, 2, 3, 4, 5]) } + [
                VectorRecord(id: "0far", values: [-1, 0, 0, 0, 9])
            ])
        let hits = try f.vectors.search(database: "d", query: [1, 2, 3, 4, 5], k: 4)
        #expect(hits.map(\.id) == ["a", "b", "c", "k"])
        #expect(Set(hits.map(\.score)).count == 1)
        let all = try f.vectors.search(database: "d", query: [1, 2, 3, 4, 5], k: 100)
        #expect(all.map(\.id) == ["a", "b", "c", "k", "m", "z", "0far"])
    }

    @Test func scoresPerMetric() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "cos", dimension: 2, metric: .cosine)
        try f.vectors.createDatabase(name: "dot", dimension: 2, metric: .dot)
        try f.vectors.createDatabase(name: "l2", dimension: 2, metric: .euclidean)
        let records = [
            VectorRecord(id: "x", values: [3, 4]), VectorRecord(id: "y", values: [0, 2]),
            VectorRecord(id: "zero", values: [0, 0]),
        ]
        for name in ["cos", "dot", "l2"] { try f.vectors.upsert(database: name, vectors: records) }
        let cos = try f.vectors.search(database: "cos", query: [0, 1], k: 3)
        #expect(cos.map(\.id) == ["y", "x", "zero"])
        #expect(cos.map(\.score) == [1, 0.8, 0])
        let dot = try f.vectors.search(database: "dot", query: [0, 1], k: 3)
        #expect(dot.map(\.id) == ["x", "y", "zero"] && dot.map(\.score) == [4, 2, 0])
        let l2 = try f.vectors.search(database: "l2", query: [0, 1], k: 3)
        #expect(l2.map(\.id) == ["y", "zero", "x"] && l2.map(\.score) == [1, 1, Float(18).squareRoot()])
    }

    @Test func filtersAndIncludedFields() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 2, metric: .dot)
        try f.vectors.upsert(
            database: "d",
            vectors: [
                VectorRecord(id: "a", values: [1, 0], metadata: ["kind": .string("book"), "year": .number(2001)]),
                VectorRecord(id: "b", values: [2, 0], metadata: ["kind": .string("film"), "year": .number(2001)]),
                VectorRecord(
                    id: "c", values: [3, 0],
                    metadata: ["kind": .string("book"), "year": .number(1999), "new": .bool(true)]),
                VectorRecord(id: "d", values: [4, 0]),
                VectorRecord(id: "e", values: [5, 0], metadata: ["new": .number(1), "year": .string("2001")]),
            ])
        func ids(_ filter: Metadata?) throws -> [String] {
            try f.vectors.search(database: "d", query: [1, 0], k: 10, filter: filter).map(\.id)
        }
        #expect(try ids(nil) == ["e", "d", "c", "b", "a"])
        #expect(try ids([:]) == ["e", "d", "c", "b", "a"])
        #expect(try ids(["kind": .string("book")]) == ["c", "a"])
        #expect(try ids(["kind": .string("book"), "year": .number(2001)]) == ["a"])
        #expect(try ids(["year": .number(2001)]) == ["b", "a"])  // the string "2001" is not the number
        #expect(try ids(["new": .bool(true)]) == ["c"])  // nor is 1 the boolean
        #expect(try ids(["missing": .bool(false)]) == [])
        #expect(try f.vectors.search(database: "d", query: [1, 0], k: 1, filter: ["kind": .string("book")]).count == 1)

        let bare = try f.vectors.search(database: "d", query: [1, 0], k: 2)
        #expect(bare.allSatisfy { $0.values == nil && $0.metadata == nil })
        let full = try f.vectors.search(database: "d", query: [1, 0], k: 3, includeValues: true, includeMetadata: true)
        #expect(full.map(\.values) == [[5, 0], [4, 0], [3, 0]])
        #expect(full[1].metadata == [:])
        #expect(full[2].metadata == ["kind": .string("book"), "year": .number(1999), "new": .bool(true)])
    }

    @Test func emptyDatabaseAnswersNothing() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 3, metric: .euclidean)
        #expect(try f.vectors.search(database: "d", query: [1, 2, 3], k: 5).isEmpty)
        try f.vectors.upsert(database: "d", vectors: [VectorRecord(id: "a", values: [1, 2, 3])])
        try f.vectors.delete(database: "d", id: "a")
        #expect(try f.vectors.search(database: "d", query: [1, 2, 3], k: 5).isEmpty)
    }
}
