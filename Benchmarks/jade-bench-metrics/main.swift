// Measures the cost of recording metrics (a counter increment, a histogram observation) into a
// shared-memory block, and of a scrape (snapshot over 8 live worker blocks plus rendering a
// worker-sized series table). Run through scripts/bench-metrics.sh (release build).
import CJadeShm
import Foundation
import JadeShared

@inline(never)
func measure(_ label: String, iterations: Int, _ body: () -> Void) -> Double {
    let start = monotonicNanoseconds()
    body()
    let ns = Double(monotonicNanoseconds() - start) / Double(iterations)
    print(String(format: "%-44@ %10.2f ns/op", label as NSString, ns))
    return ns
}

let segment = try SharedSegment.create(rateLimitCapacity: 0)
let workers = 8
var registries: [MetricsRegistry] = []
for w in 0..<workers {
    segment.record(w).claim(slot: w, generation: 1)
    segment.record(w).state = .ready
    let registry = segment.metricsRegistry(record: w)
    // A table the size of a worker's: 60 routes x (5 status classes + a 13-bucket histogram),
    // plus 500 other counters.
    for route in 0..<60 {
        for status in 1...5 {
            _ = registry.counter(
                "bench_http_requests_total", help: "Requests.",
                labels: [("route", "/v1/route/\(route)"), ("method", "GET"), ("status", "\(status)xx")])
        }
        _ = registry.histogram(
            "bench_http_duration_seconds", help: "Latency.", labels: [("route", "/v1/route/\(route)")])
    }
    for i in 0..<500 { _ = registry.counter("bench_other_total", help: "Other.", labels: [("i", "\(i)")]) }
    precondition(segment.registerMetricsLayout(registry, record: w))
    registries.append(registry)
}
let registry = registries[0]
let counter = registry.counter(
    "bench_http_requests_total", help: "Requests.",
    labels: [("route", "/v1/route/7"), ("method", "GET"), ("status", "2xx")])
let histogram = registry.histogram("bench_http_duration_seconds", help: "Latency.", labels: [("route", "/v1/route/7")])
print("series table: \(registry.used) counters per worker, \(workers) workers")

let n = 50_000_000
var counterNs = 0.0
var histogramNs = 0.0
for _ in 0..<3 {
    counterNs = measure("counter increment", iterations: n) { for _ in 0..<n { counter.increment() } }
    histogramNs = measure("histogram observe (varying values)", iterations: n) {
        var v: UInt64 = 12345
        for _ in 0..<n {
            v = v &* 6364136223846793005 &+ 1442695040888963407
            histogram.observe(nanoseconds: (v >> 40) & 0x3FFF_FFFF)  // 0 .. ~1 s
        }
    }
}
let scrapes = 200
var snapshotMs = 0.0
var scrapeMs = 0.0
for _ in 0..<3 {
    snapshotMs =
        measure("snapshot (8 workers + retired)", iterations: scrapes) {
            for _ in 0..<scrapes { _ = segment.metricsSnapshot(count: registry.used) }
        } / 1e6
    scrapeMs =
        measure("scrape: snapshot + render", iterations: scrapes) {
            for _ in 0..<scrapes { _ = segment.renderMetrics(registry) }
        } / 1e6
}
print(
    String(
        format: "scrape of %d workers: %.3f ms (snapshot %.3f ms), %d bytes", workers, scrapeMs, snapshotMs,
        segment.renderMetrics(registry).utf8.count))
let ok = counterNs < 50 && histogramNs < 50 && scrapeMs < 10
print(ok ? "targets met: < 50 ns per record, < 10 ms per scrape" : "TARGETS MISSED")
exit(ok ? 0 : 1)
