import Testing

@testable import JadeVectors

@Suite struct VectorCRUDTests {
    @Test func upsertGetReplaceDelete() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 3, metric: .euclidean)
        let written = try f.vectors.upsert(
            database: "d",
            vectors: [
                VectorRecord(id: "a", values: [1, 2, 3], metadata: ["tag": .string("x"), "n": .number(2)]),
                VectorRecord(id: "b", values: [4, 5, 6]),
                VectorRecord(id: "a", values: [7, 8, 9], metadata: ["tag": .string("last wins")]),
            ])
        #expect(written == 2)
        #expect(
            try f.vectors.get(database: "d", id: "a")
                == VectorRecord(id: "a", values: [7, 8, 9], metadata: ["tag": .string("last wins")]))
        #expect(try f.vectors.get(database: "d", id: "b") == VectorRecord(id: "b", values: [4, 5, 6]))
        #expect(try f.vectors.get(database: "d", id: "c") == nil)

        try f.vectors.upsert(database: "d", vectors: [VectorRecord(id: "b", values: [0, 0, 1])])
        #expect(try f.vectors.get(database: "d", id: "b")?.values == [0, 0, 1])
        #expect(try f.vectors.database(named: "d")?.vectorCount == 2)

        #expect(try f.vectors.delete(database: "d", id: "a"))
        #expect(try !f.vectors.delete(database: "d", id: "a"))
        #expect(try f.vectors.get(database: "d", id: "a") == nil)
        #expect(try f.vectors.database(named: "d")?.vectorCount == 1)
        #expect(try f.vectors.search(database: "d", query: [0, 0, 0], k: 10).map(\.id) == ["b"])
    }

    @Test func idsOfEveryAllowedLength() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 1, metric: .dot)
        let longest = String(repeating: "é", count: 128)  // 256 bytes
        try f.vectors.upsert(
            database: "d", vectors: [VectorRecord(id: "x", values: [1]), VectorRecord(id: longest, values: [2])])
        #expect(try f.vectors.get(database: "d", id: longest)?.values == [2])
        for bad in ["", longest + "x"] {
            #expect(throws: VectorStoreError.invalid("vector id must be 1 to 256 bytes of UTF-8")) {
                try f.vectors.upsert(database: "d", vectors: [VectorRecord(id: bad, values: [1])])
            }
        }
    }

    @Test func aBadVectorLeavesTheWholeBatchUnwritten() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 4, metric: .cosine)
        try f.vectors.upsert(database: "d", vectors: [VectorRecord(id: "keep", values: [1, 1, 1, 1])])
        let good = (0..<50).map { VectorRecord(id: "v\($0)", values: [1, 2, 3, Float($0)]) }
        let cases: [(VectorRecord, VectorStoreError)] = [
            (VectorRecord(id: "nan", values: [1, .nan, 3, 4]), .invalid("vector nan: value 1 is not a finite number")),
            (
                VectorRecord(id: "inf", values: [1, 2, 3, -.infinity]),
                .invalid("vector inf: value 3 is not a finite number")
            ),
            (VectorRecord(id: "short", values: [1, 2, 3]), .dimensionMismatch(expected: 4, got: 3)),
            (
                VectorRecord(id: "meta", values: [1, 2, 3, 4], metadata: ["x": .number(.nan)]),
                .invalid("vector meta: metadata x is not a finite number")
            ),
            (
                VectorRecord(id: "key", values: [1, 2, 3, 4], metadata: ["": .bool(true)]),
                .invalid("vector key: metadata keys must not be empty")
            ),
        ]
        for (bad, error) in cases {
            #expect(throws: error) { try f.vectors.upsert(database: "d", vectors: good + [bad]) }
        }
        #expect(try f.vectors.database(named: "d")?.vectorCount == 1)
        #expect(try f.vectors.get(database: "d", id: "v0") == nil)
        #expect(try f.vectors.search(database: "d", query: [1, 2, 3, 4], k: 100).map(\.id) == ["keep"])
        #expect(throws: VectorStoreError.notFound("database nope")) {
            try f.vectors.upsert(database: "nope", vectors: good)
        }
    }

    @Test func searchArgumentErrors() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "c", dimension: 2, metric: .cosine)
        try f.vectors.upsert(database: "c", vectors: [VectorRecord(id: "a", values: [1, 0])])
        #expect(throws: VectorStoreError.dimensionMismatch(expected: 2, got: 3)) {
            try f.vectors.search(database: "c", query: [1, 2, 3], k: 1)
        }
        #expect(throws: VectorStoreError.invalid("query: value 0 is not a finite number")) {
            try f.vectors.search(database: "c", query: [.nan, 1], k: 1)
        }
        for k in [0, 1001] {
            #expect(throws: VectorStoreError.invalid("k must be between 1 and 1000, got \(k)")) {
                try f.vectors.search(database: "c", query: [1, 0], k: k)
            }
        }
        #expect(throws: VectorStoreError.self) { try f.vectors.search(database: "c", query: [0, 0], k: 1) }
        #expect(throws: VectorStoreError.notFound("database zz")) {
            try f.vectors.search(database: "zz", query: [1, 0], k: 1)
        }
        #expect(throws: VectorStoreError.notFound("database zz")) { try f.vectors.get(database: "zz", id: "a") }
        #expect(throws: VectorStoreError.notFound("database zz")) { try f.vectors.delete(database: "zz", id: "a") }
    }
}
