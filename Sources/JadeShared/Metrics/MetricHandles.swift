import CJadeShm

/// A monotonic counter: one uint64 in the recording block. Copyable, two words; incrementing is
/// one relaxed atomic add (the block is written only by its own process).
// @unchecked Sendable: a pointer to an atomic counter in the recording block.
public struct MetricCounter: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt64>

    /// Adds `amount` (default 1).
    @inline(__always)
    public func increment(by amount: UInt64 = 1) { _ = jade_add_u64(pointer, amount) }

    /// The value in this process's own block (tests).
    public var localValue: UInt64 { jade_load_u64(pointer) }
}

/// Histogram bucket bounds, in nanoseconds for durations, shared by every series of a family.
// @unchecked Sendable: immutable bounds.
public final class MetricBuckets: @unchecked Sendable {
    /// Upper bounds in the recorded unit (nanoseconds), ascending.
    public let bounds: [UInt64]
    /// The same bounds as exposed (`le` label values, in seconds).
    let labels: [String]
    let storage: UnsafeMutablePointer<UInt64>
    let count: Int

    /// Bounds in seconds, ascending and positive; recorded as nanoseconds.
    public init(seconds: [Double]) {
        precondition(!seconds.isEmpty && zip(seconds, seconds.dropFirst()).allSatisfy { $0 < $1 })
        bounds = seconds.map { UInt64(($0 * 1e9).rounded()) }
        labels = seconds.map { MetricsExposition.format($0) }
        count = bounds.count
        storage = .allocate(capacity: count)
        storage.initialize(from: bounds, count: count)
    }

    /// Request latencies: 1 ms to 10 s.
    public static let http = MetricBuckets(seconds: [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ])
    /// Fast operations (cached checks, single statements): 1 µs to 1 s.
    public static let fast = MetricBuckets(seconds: [
        0.000_001, 0.000_01, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,
    ])

    /// Number of counters a series of this family takes: one per bound, +Inf, and the sum.
    var slots: Int { count + 2 }
}

/// A histogram series: `bounds + 1` consecutive bucket counters (not cumulative; the last is
/// +Inf) followed by the sum of observations in nanoseconds. The count is the buckets' total.
// @unchecked Sendable: a pointer to atomic counters in the recording block.
public struct MetricHistogram: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt64>
    let buckets: MetricBuckets

    /// Records one observation of `nanoseconds`: two relaxed atomic adds.
    @inline(__always)
    public func observe(nanoseconds: UInt64) {
        let bounds = buckets.storage
        let n = buckets.count
        var i = 0
        while i < n && nanoseconds > bounds[i] { i += 1 }
        _ = jade_add_u64(pointer + i, 1)
        _ = jade_add_u64(pointer + n + 1, nanoseconds)
    }

    /// Records the time elapsed since `start` (from ``monotonicNanoseconds()``).
    @inline(__always)
    public func observe(since start: UInt64) { observe(nanoseconds: jade_monotonic_ns() &- start) }
}
