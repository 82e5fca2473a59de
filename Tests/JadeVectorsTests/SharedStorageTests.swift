import Foundation
import GRDB
import Testing

@testable import JadeVectors

/// Segments on disk, several store instances on the same files (as worker processes are),
/// tombstones, compaction and failed writes.
@Suite struct SharedStorageTests {
    static func records(_ range: Range<Int>, dimension: Int = 8, seed: UInt64 = 1) -> [VectorRecord] {
        var rng = SeededRandom(seed: seed)
        return range.map { i in
            VectorRecord(
                id: "v\(i)", values: rng.floats(dimension), metadata: ["parity": .string(i % 2 == 0 ? "even" : "odd")])
        }
    }

    @Test func aReopenedStoreSeesTheSegments() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 8, metric: .euclidean)
        let records = Self.records(0..<300)
        try f.vectors.upsert(database: "d", vectors: Array(records[0..<150]))
        try f.vectors.upsert(database: "d", vectors: Array(records[150...]))
        let query = records[42].values
        let before = try f.vectors.search(database: "d", query: query, k: 5, includeMetadata: true)
        #expect(before.first?.id == "v42")
        try f.store.close()

        let reopened = try f.open()
        #expect(try reopened.search(database: "d", query: query, k: 5, includeMetadata: true) == before)
        #expect(try reopened.get(database: "d", id: "v299") == records[299])
        #expect(try reopened.database(named: "d")?.vectorCount == 300)
    }

    @Test func twoStoresSeeEachOthersCommittedWrites() throws {
        let f = try VectorStoreFixture()
        let a = f.vectors
        let b = try f.open()
        try a.createDatabase(name: "d", dimension: 8, metric: .dot)
        let records = Self.records(0..<200)
        let query = records[7].values

        // B caches the database empty, then A writes: B's next search sees it.
        #expect(try b.search(database: "d", query: query, k: 3).isEmpty)
        try a.upsert(database: "d", vectors: records)
        let fromA = try a.search(database: "d", query: query, k: 10)
        #expect(try b.search(database: "d", query: query, k: 10) == fromA)

        // Incremental refreshes: appended rows, replacements and deletions from either side.
        try b.upsert(database: "d", vectors: [VectorRecord(id: "v7", values: query.map { $0 * 10 })])
        #expect(try a.search(database: "d", query: query, k: 1).first?.id == "v7")
        #expect(try a.get(database: "d", id: "v7")?.values == query.map { $0 * 10 })
        try a.delete(database: "d", id: "v7")
        #expect(try !b.search(database: "d", query: query, k: 200).contains { $0.id == "v7" })
        try b.upsert(database: "d", vectors: [VectorRecord(id: "new", values: query.map { $0 * 100 })])
        #expect(
            try a.search(database: "d", query: query, k: 1, includeValues: true).first
                == SearchHit(
                    id: "new", score: DistanceKernels.dotReference(query, query.map { $0 * 100 }),
                    values: query.map { $0 * 100 }))
        #expect(try a.search(database: "d", query: query, k: 300) == b.search(database: "d", query: query, k: 300))
        #expect(try a.database(named: "d")?.vectorCount == 200)

        // Deleted by A, recreated by B with another dimension: A follows.
        try a.deleteDatabase(named: "d")
        #expect(throws: VectorStoreError.notFound("database d")) { try b.search(database: "d", query: query, k: 1) }
        try b.createDatabase(name: "d", dimension: 2, metric: .euclidean)
        try b.upsert(database: "d", vectors: [VectorRecord(id: "p", values: [1, 1])])
        #expect(try a.search(database: "d", query: [1, 1], k: 1).map(\.id) == ["p"])
    }

    /// Row data lives in chunks of 4,096 rows: an incremental refresh that crosses a chunk
    /// boundary, with deletions on both sides, answers like a store that loads everything at once.
    @Test func incrementalRefreshAcrossChunks() throws {
        let f = try VectorStoreFixture()
        let cached = try f.open()
        try f.vectors.createDatabase(name: "d", dimension: 2, metric: .euclidean)
        var rng = SeededRandom(seed: 4096)
        let records = (0..<9000).map { VectorRecord(id: String(format: "%05d", $0), values: rng.floats(2)) }
        try f.vectors.upsert(database: "d", vectors: Array(records[0..<4000]))
        let query: [Float] = [0.25, -0.5]
        #expect(try cached.search(database: "d", query: query, k: 5).count == 5)
        try f.vectors.upsert(database: "d", vectors: Array(records[4000..<9000]))
        for i in [3, 4095, 4096, 4097, 8191, 8192, 8999] { try f.vectors.delete(database: "d", id: records[i].id) }
        try f.vectors.upsert(database: "d", vectors: [VectorRecord(id: records[10].id, values: query)])

        let fresh = try f.open()
        let expected = try fresh.search(database: "d", query: query, k: 1000)
        #expect(try cached.search(database: "d", query: query, k: 1000) == expected)
        #expect(expected.first?.id == records[10].id && expected.first?.score == 0)
        let deleted = Set([3, 4095, 4096, 4097, 8191, 8192, 8999].map { records[$0].id })
        let reference = records.filter { !deleted.contains($0.id) && $0.id != records[10].id }
            .map { (id: $0.id, d: Reference.score(.euclidean, $0.values, query)) }
            .sorted { $0.d < $1.d }
        #expect(Array(expected.dropFirst().prefix(20).map(\.id)) == reference.prefix(20).map(\.id))
        #expect(try cached.database(named: "d")?.vectorCount == 8993)
    }

    @Test func tombstonesAndCompactionKeepResultsIdentical() throws {
        let f = try VectorStoreFixture(policy: CompactionPolicy(minimumTombstones: 1_000_000, tombstoneRatio: 0.3))
        let other = try f.open()
        try f.vectors.createDatabase(name: "d", dimension: 13, metric: .cosine)
        var records = Self.records(0..<600, dimension: 13)
        try f.vectors.upsert(database: "d", vectors: records)
        var rng = SeededRandom(seed: 99)
        // Replace a third, delete a sixth.
        let replaced = (0..<200).map { i in
            VectorRecord(
                id: "v\(i * 3)", values: rng.floats(13),
                metadata: ["r": .bool(true), "parity": .string(i % 2 == 0 ? "even" : "odd")])
        }
        try f.vectors.upsert(database: "d", vectors: replaced)
        for i in stride(from: 1, to: 600, by: 6) { try f.vectors.delete(database: "d", id: "v\(i)") }
        for r in replaced { records[Int(r.id.dropFirst())!] = r }

        let queries = (0..<5).map { _ in rng.floats(13) }
        func answers(_ store: VectorStore) throws -> [[SearchHit]] {
            try queries.flatMap { q in
                [
                    try store.search(database: "d", query: q, k: 20, includeValues: true, includeMetadata: true),
                    try store.search(database: "d", query: q, k: 1000, filter: ["parity": .string("odd")]),
                ]
            }
        }
        let before = try answers(f.vectors)
        #expect(try answers(other) == before)
        #expect(before[1].count == 200)  // 300 odd ids minus the 100 deleted
        let filesBefore = f.segmentFiles()
        #expect(filesBefore.count == 1)

        #expect(try f.vectors.compact(database: "d"))
        let filesAfter = f.segmentFiles()
        #expect(filesAfter.count == 1 && filesAfter != filesBefore)
        #expect(try f.vectors.compact(database: "d") == false)
        let info = try f.vectors.database(named: "d")
        #expect(info?.vectorCount == 500)
        #expect(try answers(f.vectors) == before)
        #expect(try answers(other) == before)  // `other` still mapped the unlinked generation
        #expect(try other.get(database: "d", id: "v3") == records[3])

        // Writes after compaction append to the new generation.
        try other.upsert(database: "d", vectors: [VectorRecord(id: "v1", values: records[0].values)])
        #expect(try f.vectors.get(database: "d", id: "v1")?.values == records[0].values)
        #expect(try f.vectors.database(named: "d")?.vectorCount == 501)
    }

    @Test func thePolicyCompactsAutomatically() throws {
        let f = try VectorStoreFixture(policy: CompactionPolicy(minimumTombstones: 50, tombstoneRatio: 0.3))
        try f.vectors.createDatabase(name: "d", dimension: 4, metric: .euclidean)
        try f.vectors.upsert(database: "d", vectors: Self.records(0..<100, dimension: 4))
        let initial = f.segmentFiles()
        for i in 0..<49 { try f.vectors.delete(database: "d", id: "v\(i)") }
        #expect(f.segmentFiles() == initial)  // 49 tombstones: below the minimum
        try f.vectors.delete(database: "d", id: "v49")  // 50 of 100 rows: compacted
        #expect(f.segmentFiles() != initial && f.segmentFiles().count == 1)
        let rows = try f.store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT committed_rows, tombstones, generation FROM vector_databases")!
        }
        #expect(rows[0] as Int == 50 && rows[1] as Int == 0 && rows[2] as Int == 2)
        #expect(try f.vectors.search(database: "d", query: [0, 0, 0, 0], k: 100).count == 50)
    }

    /// A transaction that fails after its rows were written to the segment leaves no rows in
    /// SQLite and no bytes a reader treats as committed; the next write reuses the space.
    @Test func aFailedTransactionLeavesNothingVisible() throws {
        let f = try VectorStoreFixture()
        let other = try f.open()
        try f.vectors.createDatabase(name: "d", dimension: 8, metric: .euclidean)
        let records = Self.records(0..<20)
        try f.vectors.upsert(database: "d", vectors: Array(records[0..<10]))
        let query = records[15].values
        let before = try other.search(database: "d", query: query, k: 20)

        // Fail the last insert of the next batch, on the writer connection only.
        try f.store.pool.writeWithoutTransaction { db in
            try db.execute(
                sql: """
                    CREATE TEMP TRIGGER poison BEFORE INSERT ON main.vectors WHEN NEW.id = 'v19'
                    BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                    """)
        }
        #expect(throws: VectorStoreError.self) { try f.vectors.upsert(database: "d", vectors: Array(records[10..<20])) }
        let segment = f.directory + "/" + f.segmentFiles()[0]
        let size = (try FileManager.default.attributesOfItem(atPath: segment)[.size] as! NSNumber).intValue
        #expect(size >= 20 * 32)  // the bytes reached the file...
        let state = try f.store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT committed_rows, live_count, version FROM vector_databases")!
        }
        #expect(state[0] as Int == 10 && state[1] as Int == 10 && state[2] as Int == 1)  // ...but were not committed
        #expect(try f.store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM vectors") } == 10)
        #expect(try other.search(database: "d", query: query, k: 20) == before)
        #expect(try f.vectors.get(database: "d", id: "v15") == nil)

        try f.store.pool.writeWithoutTransaction { db in try db.execute(sql: "DROP TRIGGER temp.poison") }
        try f.vectors.upsert(database: "d", vectors: Array(records[10..<20]))
        #expect(try other.search(database: "d", query: query, k: 1).first?.id == "v15")
        #expect(try other.get(database: "d", id: "v19") == records[19])
    }

    @Test func leftoverFilesAreRemovedAtOpen() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "gone", dimension: 2, metric: .dot)
        try f.vectors.createDatabase(name: "kept", dimension: 2, metric: .dot)
        try f.vectors.upsert(database: "kept", vectors: [VectorRecord(id: "a", values: [1, 2])])
        let goneID = 1, keptID = 2
        try f.vectors.deleteDatabase(named: "gone")
        // As if a crash had struck between a commit and the unlink that follows it.
        for name in ["\(goneID)-1.f32", "\(keptID)-0.f32", "\(keptID)-7.f32", "999-1.f32", "notes.txt"] {
            _ = FileManager.default.createFile(atPath: f.directory + "/" + name, contents: Data([1, 2, 3]))
        }
        _ = try f.open()
        // The old generation of `kept` and the deleted database's file are gone; a future
        // generation (a compaction in flight) and a database id not yet assigned are not ours to judge.
        #expect(f.segmentFiles() == ["\(keptID)-1.f32", "\(keptID)-7.f32", "999-1.f32", "notes.txt"])
        #expect(try f.vectors.get(database: "kept", id: "a")?.values == [1, 2])
    }

    @Test func concurrentSearchesDuringWrites() async throws {
        let f = try VectorStoreFixture(policy: CompactionPolicy(minimumTombstones: 40, tombstoneRatio: 0.2))
        let reader = try f.open()
        try f.vectors.createDatabase(name: "d", dimension: 8, metric: .euclidean)
        try f.vectors.upsert(database: "d", vectors: Self.records(0..<100))
        let query = Self.records(0..<1)[0].values
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<40 {
                        let hits = try reader.search(database: "d", query: query, k: 5)
                        #expect(hits.count == 5 && hits.first?.id == "v0")
                    }
                }
            }
            group.addTask {
                for round in 0..<10 {
                    try f.vectors.upsert(database: "d", vectors: Self.records(1..<30, seed: UInt64(round + 2)))
                }
            }
            try await group.waitForAll()
        }
        #expect(try reader.search(database: "d", query: query, k: 1000).count == 100)
    }
}

extension DistanceKernels {
    /// The kernel's own dot product, for expected scores.
    static func dotReference(_ a: [Float], _ b: [Float]) -> Float {
        a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in dot(pa.baseAddress!, pb.baseAddress!, count: a.count) } }
    }
}
