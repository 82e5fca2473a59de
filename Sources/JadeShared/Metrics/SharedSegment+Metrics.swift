import CJadeShm

extension SharedSegment {
    /// Counters per metrics block.
    public var metricsCapacity: Int { Int(JADE_METRICS_CAPACITY) }

    /// The metrics block of worker record `index` (only that worker writes it).
    public func metricsBlock(record index: Int) -> UnsafeMutablePointer<UInt64> {
        precondition(index >= 0 && index < recordCount)
        return jade_metrics_block(base, UInt32(index))
    }

    /// The block holding the totals of workers that exited.
    public var retiredMetricsBlock: UnsafeMutablePointer<UInt64> {
        jade_metrics_block(base, UInt32(JADE_METRICS_RETIRED))
    }

    /// A registry recording into record `index`'s block.
    public func metricsRegistry(record index: Int) -> MetricsRegistry {
        MetricsRegistry(block: metricsBlock(record: index), capacity: metricsCapacity)
    }

    /// Publishes the worker's series table (after every registration, before serving). False
    /// when the segment already holds another table (a different binary): the worker's block is
    /// then left out of the totals.
    @discardableResult
    public func registerMetricsLayout(_ registry: MetricsRegistry, record index: Int) -> Bool {
        jade_metrics_register_layout(base, UInt32(index), registry.layoutFingerprint, UInt64(registry.used)) == 0
    }

    /// Master only: folds an exited worker's block into the retired block and zeroes it.
    public func foldMetrics(record index: Int) {
        precondition(index >= 0 && index < recordCount)
        jade_metrics_fold(base, UInt32(index))
    }

    /// The sum over the retired block and every live record's block, for the first `count`
    /// counters. Consistent with respect to folds: never counts a folded block twice.
    public func metricsSnapshot(count: Int) -> [UInt64] {
        let n = min(count, metricsCapacity)
        guard n > 0 else { return [] }
        return [UInt64](unsafeUninitializedCapacity: n) { buffer, initialized in
            _ = jade_metrics_snapshot(base, buffer.baseAddress!, UInt64(n))
            initialized = n
        }
    }

    /// Renders `registry` with the totals over every worker.
    public func renderMetrics(_ registry: MetricsRegistry) -> String {
        let values = metricsSnapshot(count: registry.used)
        return values.withUnsafeBufferPointer { MetricsExposition.render(registry, values: $0) }
    }
}
