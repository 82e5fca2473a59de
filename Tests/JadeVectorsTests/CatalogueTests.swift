import Testing

@testable import JadeVectors

@Suite struct CatalogueTests {
    @Test func createListGetDelete() throws {
        let f = try VectorStoreFixture()
        let created = try f.vectors.createDatabase(name: "docs", dimension: 3, metric: .cosine)
        #expect(
            created.name == "docs" && created.dimension == 3 && created.metric == .cosine && created.vectorCount == 0)
        try f.vectors.createDatabase(name: "A_b-9", dimension: 4096, metric: .dot)
        #expect(try f.vectors.listDatabases().map(\.name) == ["A_b-9", "docs"])

        try f.vectors.upsert(database: "docs", vectors: [VectorRecord(id: "x", values: [1, 2, 3])])
        #expect(try f.vectors.database(named: "docs")?.vectorCount == 1)
        #expect(try f.vectors.database(named: "nope") == nil)
        #expect(try f.vectors.database(named: "bad name!") == nil)

        try f.vectors.deleteDatabase(named: "docs")
        #expect(try f.vectors.database(named: "docs") == nil)
        #expect(f.segmentFiles().isEmpty)
        #expect(throws: VectorStoreError.notFound("database docs")) { try f.vectors.deleteDatabase(named: "docs") }
        // The name is free again, with another shape.
        try f.vectors.createDatabase(name: "docs", dimension: 2, metric: .euclidean)
        #expect(try f.vectors.get(database: "docs", id: "x") == nil)
    }

    @Test func rejectsBadNamesDimensionsAndDuplicates() throws {
        let f = try VectorStoreFixture()
        for name in ["", "has space", "slash/", "é", String(repeating: "a", count: 65)] {
            #expect(throws: VectorStoreError.self) {
                try f.vectors.createDatabase(name: name, dimension: 3, metric: .dot)
            }
        }
        try f.vectors.createDatabase(name: String(repeating: "a", count: 64), dimension: 1, metric: .dot)
        for dimension in [0, -1, 4097] {
            #expect(throws: VectorStoreError.invalid("dimension must be between 1 and 4096, got \(dimension)")) {
                try f.vectors.createDatabase(name: "d", dimension: dimension, metric: .dot)
            }
        }
        try f.vectors.createDatabase(name: "d", dimension: 3, metric: .dot)
        #expect(throws: VectorStoreError.conflict("database d")) {
            try f.vectors.createDatabase(name: "d", dimension: 3, metric: .cosine)
        }
    }

    @Test func statsCountDatabasesVectorsAndMappedBytes() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "a", dimension: 4, metric: .dot)
        try f.vectors.createDatabase(name: "b", dimension: 4, metric: .dot)
        try f.vectors.upsert(
            database: "a", vectors: (0..<10).map { VectorRecord(id: "\($0)", values: [1, 2, 3, Float($0)]) })
        try f.vectors.upsert(database: "b", vectors: [VectorRecord(id: "z", values: [1, 1, 1, 1])])
        var stats = try f.vectors.stats()
        #expect(stats.databases == 2 && stats.vectors == 11 && stats.mappedBytes == 0)
        _ = try f.vectors.search(database: "a", query: [1, 0, 0, 0], k: 1)
        stats = try f.vectors.stats()
        #expect(stats.mappedBytes >= 10 * 16)
        // Another process deletes the database: the next health check drops the mapping.
        try f.open().deleteDatabase(named: "a")
        stats = try f.vectors.stats()
        #expect(stats.databases == 1 && stats.vectors == 1 && stats.mappedBytes == 0)
    }
}
