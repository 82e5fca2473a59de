import CJadeShm
import Testing

@testable import JadeShared

@Suite struct MetricsRegistryTests {
    @Test func countersAndHistogramsRenderInTextFormat() {
        let registry = MetricsRegistry(privateCapacity: 256)
        let ok = registry.counter("x_requests_total", help: "Requests.", labels: [("status", "2xx")])
        let bad = registry.counter("x_requests_total", help: "Requests.", labels: [("status", "5xx")])
        let latency = registry.histogram(
            "x_duration_seconds", help: "Latency.", buckets: MetricBuckets(seconds: [0.001, 0.01]))
        ok.increment()
        ok.increment(by: 2)
        bad.increment()
        latency.observe(nanoseconds: 500_000)  // 0.5 ms
        latency.observe(nanoseconds: 5_000_000)  // 5 ms
        latency.observe(nanoseconds: 50_000_000)  // 50 ms: +Inf
        registry.collected("x_up", help: "Up.") { [([("slot", "0")], 1)] }
        let text = MetricsExposition.renderLocal(registry)
        #expect(
            text == """
                # HELP x_requests_total Requests.
                # TYPE x_requests_total counter
                x_requests_total{status="2xx"} 3
                x_requests_total{status="5xx"} 1
                # HELP x_duration_seconds Latency.
                # TYPE x_duration_seconds histogram
                x_duration_seconds_bucket{le="0.001"} 1
                x_duration_seconds_bucket{le="0.01"} 2
                x_duration_seconds_bucket{le="+Inf"} 3
                x_duration_seconds_sum 0.0555
                x_duration_seconds_count 3
                # HELP x_up Up.
                # TYPE x_up gauge
                x_up{slot="0"} 1

                """)
    }

    @Test func sameSeriesTwiceSharesItsCounterAndLabelsAreEscaped() {
        let registry = MetricsRegistry(privateCapacity: 16)
        let a = registry.counter("y_total", help: "Y.", labels: [("route", "a\"b\\c\nd")])
        let b = registry.counter("y_total", help: "Y.", labels: [("route", "a\"b\\c\nd")])
        a.increment()
        b.increment()
        #expect(registry.used == 1)
        #expect(MetricsExposition.renderLocal(registry).contains(#"y_total{route="a\"b\\c\nd"} 2"#))
    }

    @Test func fullTableDropsSeriesInsteadOfCrashing() {
        let registry = MetricsRegistry(privateCapacity: 3)
        _ = registry.counter("a_total", help: "A.")
        _ = registry.histogram("h_seconds", help: "H.", buckets: MetricBuckets(seconds: [1]))  // 3 slots: no room
        registry.counter("b_total", help: "B.").increment()
        #expect(registry.overflowed == 1)
        #expect(registry.used == 2)
    }

    @Test func fingerprintDependsOnTheTable() {
        let a = MetricsRegistry(privateCapacity: 16)
        let b = MetricsRegistry(privateCapacity: 16)
        _ = a.counter("a_total", help: "A.")
        _ = b.counter("a_total", help: "A.")
        #expect(a.layoutFingerprint == b.layoutFingerprint)
        _ = b.counter("a_total", help: "A.", labels: [("k", "v")])
        #expect(a.layoutFingerprint != b.layoutFingerprint)
    }

    /// Two workers record, one exits and is folded: the totals never go down and nothing is
    /// counted twice.
    @Test func foldOnReapKeepsTotalsMonotonic() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 0)
        func worker(_ index: Int) -> (MetricsRegistry, MetricCounter, MetricHistogram) {
            segment.record(index).claim(slot: index, generation: 1)
            let r = segment.metricsRegistry(record: index)
            let c = r.counter("z_total", help: "Z.")
            let h = r.histogram("z_seconds", help: "Z.", buckets: MetricBuckets(seconds: [0.001]))
            #expect(segment.registerMetricsLayout(r, record: index))
            return (r, c, h)
        }
        let (r0, c0, h0) = worker(0)
        let (_, c1, h1) = worker(1)
        c0.increment(by: 5)
        c1.increment(by: 7)
        h0.observe(nanoseconds: 10)
        h1.observe(nanoseconds: 2_000_000)
        #expect(segment.metricsSnapshot(count: r0.used) == [12, 1, 1, 2_000_010])
        // Worker 1 dies: the master folds its block, then frees the record.
        segment.foldMetrics(record: 1)
        segment.record(1).state = .free
        #expect(segment.metricsSnapshot(count: r0.used) == [12, 1, 1, 2_000_010])
        #expect(segment.retiredMetricsBlock[0] == 7)
        #expect(segment.metricsBlock(record: 1)[0] == 0)
        // Its replacement starts from zero in the same record.
        let (_, c1b, _) = worker(1)
        c1b.increment()
        #expect(segment.metricsSnapshot(count: r0.used)[0] == 13)
        let text = segment.renderMetrics(r0)
        #expect(text.contains("z_total 13\n"))
        #expect(text.contains("z_seconds_count 2\n"))
    }

    @Test func foreignLayoutIsLeftOutOfTotals() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 0)
        segment.record(0).claim(slot: 0, generation: 1)
        segment.record(1).claim(slot: 1, generation: 2)
        let a = segment.metricsRegistry(record: 0)
        let b = segment.metricsRegistry(record: 1)
        let ca = a.counter("a_total", help: "A.")
        let cb = b.counter("b_total", help: "B.")
        #expect(segment.registerMetricsLayout(a, record: 0))
        #expect(!segment.registerMetricsLayout(b, record: 1))
        ca.increment()
        cb.increment(by: 100)
        #expect(segment.metricsSnapshot(count: 1) == [1])
        segment.foldMetrics(record: 1)
        #expect(segment.retiredMetricsBlock[0] == 0)
    }

    /// A scrape racing with folds never sees a total decrease.
    @Test func concurrentFoldsNeverDecreaseTheTotal() async throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 0)
        let registry = segment.metricsRegistry(record: 0)
        _ = registry.counter("c_total", help: "C.")
        #expect(segment.registerMetricsLayout(registry, record: 0))
        for i in 0..<8 {
            segment.record(i).claim(slot: i, generation: 1)
            segment.metricsBlock(record: i)[0] = 1000
        }
        let folder = Task.detached {
            for i in 0..<8 {
                segment.foldMetrics(record: i)
                segment.record(i).state = .free
            }
        }
        var last: UInt64 = 0
        for _ in 0..<2000 {
            let v = segment.metricsSnapshot(count: 1)[0]
            #expect(v == 8000 && v >= last)
            last = v
        }
        await folder.value
        #expect(segment.metricsSnapshot(count: 1)[0] == 8000)
    }
}
