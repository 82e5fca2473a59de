// Overhead of the resilience wrapper (issue 5): what `ResilientPool.read` adds to a point read
// (circuit-breaker admission and outcome on the shared-memory breaker, error classification
// scaffolding) compared with GRDB's pool called directly, and the breaker round trip alone.
// Run: scripts/bench-store.sh (release build). Target: under 100 ns per call.
import CJadeShm
import Foundation
import GRDB
import JadeShared
import JadeStore

func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Per-call nanoseconds of `body` over `batches` batches of `perBatch` calls: (median, p95).
func measure(_ perBatch: Int, batches: Int, _ body: () throws -> Void) rethrows -> (median: Double, p95: Double) {
    var samples: [Double] = []
    for _ in 0..<batches {
        let start = nanoseconds()
        for _ in 0..<perBatch { try body() }
        samples.append(Double(nanoseconds() - start) / Double(perBatch))
    }
    samples.sort()
    return (samples[samples.count / 2], samples[min(samples.count - 1, samples.count * 95 / 100)])
}

func report(_ name: String, _ figures: (median: Double, p95: Double)) {
    print(
        name.padding(toLength: 52, withPad: " ", startingAt: 0)
            + String(format: "median %10.1f ns   p95 %10.1f ns", figures.median, figures.p95))
}

let dir = NSTemporaryDirectory() + "jade-bench-store-" + UUID().uuidString
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }

var configuration = Configuration()
configuration.maximumReaderCount = 2
let raw = try DatabasePool(path: dir + "/bench.sqlite", configuration: configuration)
try raw.write { db in
    try db.execute(sql: "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    for i in 0..<1000 {
        try db.execute(sql: "INSERT INTO items (id, name) VALUES (?, ?)", arguments: [i, "item-\(i)"])
    }
}
// The breakers live in a shared-memory segment, as in a worker.
let segment = try SharedSegment.create()
let pool = ResilientPool(
    raw: raw,
    reads: CircuitBreaker(name: "reads", shared: segment.breakerPointer(0), settings: .defaults),
    writes: CircuitBreaker(name: "writes", shared: segment.breakerPointer(1), settings: .defaults),
    retry: RetrySettings(maxRetries: 3, baseDelay: 0.1))

var id: Int64 = 0
func pointRead(_ db: Database) throws -> String? {
    id = (id &+ 7919) % 1000
    return try String.fetchOne(db, sql: "SELECT name FROM items WHERE id = ?", arguments: [id])
}

let perBatch = 20_000
let batches = 60
// Interleaved rounds, so that both sides see the same machine; the figure is the difference of
// the per-round medians, and the breaker round trip is measured alone as a cross-check.
var direct: [Double] = []
var wrapped: [Double] = []
for _ in 0..<5 {
    direct.append(try measure(perBatch, batches: batches / 5) { _ = try raw.read(pointRead) }.median)
    wrapped.append(try measure(perBatch, batches: batches / 5) { _ = try pool.read(pointRead) }.median)
}
direct.sort()
wrapped.sort()
let directMedian = direct[direct.count / 2]
let wrappedMedian = wrapped[wrapped.count / 2]
report("point read, GRDB pool directly", (directMedian, direct.last!))
report("point read, through ResilientPool", (wrappedMedian, wrapped.last!))
print(
    String(
        format: "%@ %10.1f ns",
        "wrapper overhead on a point read (difference)".padding(toLength: 52, withPad: " ", startingAt: 0),
        wrappedMedian - directMedian))

let breaker = pool.reads
report(
    "breaker admit + record(success) alone",
    measure(1_000_000, batches: 20) {
        let (admission, _) = breaker.admit()
        breaker.record(failed: false, probe: admission == .probe)
    })
report(
    "ResilientPool.run around an empty operation",
    try measure(1_000_000, batches: 20) {
        _ = try pool.run(.read) { 42 }
    })

// Where a point read's time goes: GRDB's reader access alone, with and without a transaction.
report("GRDB pool.read, empty body", try measure(20_000, batches: 10) { try raw.read { _ in } })
report("GRDB pool.unsafeRead, empty body", try measure(20_000, batches: 10) { try raw.unsafeRead { _ in } })
report("GRDB pool.unsafeRead, point read", try measure(20_000, batches: 10) { _ = try raw.unsafeRead(pointRead) })
report(
    "GRDB pool.unsafeRead, cached statement",
    try measure(20_000, batches: 10) {
        _ = try raw.unsafeRead { db in
            id = (id &+ 7919) % 1000
            return try String.fetchOne(db.cachedStatement(sql: "SELECT name FROM items WHERE id = ?"), arguments: [id])
        }
    })
