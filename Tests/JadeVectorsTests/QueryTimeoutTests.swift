import Dispatch
import Foundation
import GRDB
import JadeStore
import Synchronization
import Testing

@testable import JadeVectors

/// `database.query_timeout_seconds` stops statements and vector scans that run longer.
@Suite struct QueryTimeoutTests {
    /// A statement that would never end is interrupted at the limit (1 s here), surfaces as
    /// `QueryTimeout`, is counted, and leaves the breaker closed and the connection usable.
    @Test func aRunawayStatementIsInterruptedAtTheLimit() throws {
        let counted = Counter()
        let f = try VectorStoreFixture(
            queryTimeout: 1_000_000_000, hooks: PoolHooks(onTimeout: { kind in counted.add(kind) }))
        let pool = f.store.pool
        let started = DispatchTime.now().uptimeNanoseconds
        #expect(throws: QueryTimeout.self) {
            try pool.read { db in
                try Int.fetchOne(
                    db, sql: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        #expect(seconds >= 1 && seconds < 10, "stopped after \(seconds) s")
        #expect(counted.kinds == ["sql"])
        #expect(pool.reads.view().state == .closed)
        #expect(pool.reads.view().windowFailures == 0)
        // The same connections still answer, and a short statement is not affected.
        #expect(try pool.read { db in try Int.fetchOne(db, sql: "SELECT 42") } == 42)
    }

    /// A scan past its deadline stops between chunks and reports it; within it, the answer is
    /// the full one.
    @Test func aScanPastItsDeadlineStops() throws {
        let f = try VectorStoreFixture()
        try f.vectors.createDatabase(name: "d", dimension: 4, metric: .dot)
        var rng = SeededRandom(seed: 7)
        try f.vectors.upsert(
            database: "d", vectors: (0..<10_000).map { VectorRecord(id: "v\($0)", values: rng.floats(4)) })
        let snapshot = try f.vectors.snapshot(named: "d")
        let query: [Float] = [1, 0, 0, 0]
        #expect(snapshot.topK(query: query, k: 5, filter: nil, deadline: 1) == nil)
        let far = DispatchTime.now().uptimeNanoseconds + 60_000_000_000
        #expect(snapshot.topK(query: query, k: 5, filter: nil, deadline: far)?.count == 5)
        #expect(try f.vectors.search(database: "d", query: query, k: 5).count == 5)
    }
}

/// Timeout kinds reported by the pool (any thread).
final class Counter: Sendable {
    private let seen = Mutex<[String]>([])
    func add(_ kind: String) { seen.withLock { $0.append(kind) } }
    var kinds: [String] { seen.withLock { $0 } }
}
