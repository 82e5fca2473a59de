import Foundation
import Synchronization
import Testing

@testable import JadeVectors

/// `cache.enable_query_cache`: answers kept between writes, never past one.
@Suite struct QueryCacheTests {
    /// A change epoch shared by two stores, as the workers' shared-memory segment is.
    final class SharedEpoch: Sendable {
        private let value = Atomic<UInt64>(0)
        var changeEpoch: VectorStore.ChangeEpoch {
            VectorStore.ChangeEpoch(
                current: { [self] in value.load(ordering: .acquiring) },
                bump: { [self] in value.add(1, ordering: .acquiringAndReleasing) })
        }
    }

    func cachedStores() throws -> (VectorStoreFixture, VectorStore, VectorStore, QueryCache) {
        let epoch = SharedEpoch()
        let cache = QueryCache()
        let f = try VectorStoreFixture(changeEpoch: epoch.changeEpoch, queryCache: cache)
        let other = try f.open(changeEpoch: epoch.changeEpoch, queryCache: QueryCache())
        return (f, f.vectors, other, cache)
    }

    @Test func repeatedReadsAreAnsweredFromTheCacheUntilAnyWrite() throws {
        let (f, reader, writer, cache) = try cachedStores()
        _ = f
        try writer.createDatabase(name: "d", dimension: 2, metric: .dot)
        try writer.upsert(database: "d", vectors: [VectorRecord(id: "a", values: [1, 0], metadata: ["n": .number(1)])])
        let first = try reader.search(database: "d", query: [1, 0], k: 5, includeMetadata: true)
        #expect(first.map(\.id) == ["a"])
        #expect(cache.hits == 0)
        #expect(try reader.search(database: "d", query: [1, 0], k: 5, includeMetadata: true) == first)
        #expect(try reader.get(database: "d", id: "a") == reader.get(database: "d", id: "a"))
        #expect(cache.hits == 2)
        // Another field set, another k or filter: other entries.
        _ = try reader.search(database: "d", query: [1, 0], k: 5)
        _ = try reader.search(database: "d", query: [1, 0], k: 4, includeMetadata: true)
        #expect(cache.hits == 2)
        // The other "worker" writes: the very next read sees it.
        try writer.upsert(database: "d", vectors: [VectorRecord(id: "b", values: [2, 0])])
        #expect(try reader.search(database: "d", query: [1, 0], k: 5, includeMetadata: true).map(\.id) == ["b", "a"])
        #expect(try writer.delete(database: "d", id: "a"))
        #expect(try reader.get(database: "d", id: "a") == nil)
        #expect(try reader.search(database: "d", query: [1, 0], k: 5).map(\.id) == ["b"])
        try writer.deleteDatabase(named: "d")
        #expect(throws: VectorStoreError.self) { try reader.search(database: "d", query: [1, 0], k: 5) }
    }

    @Test func largeAnswersAreNotKept() throws {
        let (f, reader, writer, cache) = try cachedStores()
        _ = f
        try writer.createDatabase(name: "d", dimension: 256, metric: .dot)
        var rng = SeededRandom(seed: 3)
        try writer.upsert(database: "d", vectors: (0..<200).map { VectorRecord(id: "v\($0)", values: rng.floats(256)) })
        let query = rng.floats(256)
        // 200 hits × 1 KiB of values: over the 64 KiB an entry may take.
        for _ in 0..<2 { _ = try reader.search(database: "d", query: query, k: 200, includeValues: true) }
        #expect(cache.hits == 0)
        for _ in 0..<2 { _ = try reader.search(database: "d", query: query, k: 200) }
        #expect(cache.hits == 1)
    }

    @Test func withoutTheCacheEveryReadGoesToTheStore() throws {
        let f = try VectorStoreFixture(changeEpoch: SharedEpoch().changeEpoch)
        try f.vectors.createDatabase(name: "d", dimension: 2, metric: .dot)
        try f.vectors.upsert(database: "d", vectors: [VectorRecord(id: "a", values: [1, 0])])
        #expect(f.vectors.cacheEpoch == nil)
        #expect(f.vectors.cachedDatabase(named: "d") == nil)
        #expect(try f.vectors.search(database: "d", query: [1, 0], k: 1).map(\.id) == ["a"])
    }
}
