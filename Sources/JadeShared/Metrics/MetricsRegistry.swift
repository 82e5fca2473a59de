/// The kind of a metric family, as exposed in `# TYPE`.
public enum MetricKind: String, Sendable {
    case counter, gauge, histogram
}

/// Label names and values of one series. Values must come from bounded sets (route templates,
/// enumerations), never from user input, ids, addresses or keys.
public typealias MetricLabels = [(String, String)]

/// The series table of one process: every counter and histogram gets a fixed index into a block
/// of uint64 counters at registration (startup), and every process of the same binary builds the
/// same table in the same order, so blocks of different workers add up index by index. Gauges
/// and counters that live elsewhere (the segment header, SQLite) are registered as collectors,
/// evaluated at scrape.
///
/// Registration is not thread-safe: register everything before serving. Recording through the
/// returned handles is thread-safe and lock-free.
// @unchecked Sendable: registration happens before serving; recording is lock-free atomics.
public final class MetricsRegistry: @unchecked Sendable {
    struct Series {
        let labels: String
        let index: Int
    }

    final class Family {
        let name: String
        let help: String
        let kind: MetricKind
        let buckets: MetricBuckets?
        var series: [Series] = []
        var collector: (() -> [(MetricLabels, Double)])?

        init(name: String, help: String, kind: MetricKind, buckets: MetricBuckets?) {
            self.name = name
            self.help = help
            self.kind = kind
            self.buckets = buckets
        }
    }

    private(set) var families: [Family] = []
    private var familyByName: [String: Family] = [:]
    private var seriesByKey: [String: Int] = [:]
    /// The block this process records into.
    public let block: UnsafeMutablePointer<UInt64>
    /// Counters available in the block.
    public let capacity: Int
    /// Counters assigned so far.
    public private(set) var used = 0
    /// Series that did not fit (recorded into a private sink, never exposed).
    public private(set) var overflowed = 0
    private let sink = UnsafeMutablePointer<UInt64>.allocate(capacity: 64)

    /// A registry recording into `block` (a worker record's block in the shared segment).
    public init(block: UnsafeMutablePointer<UInt64>, capacity: Int) {
        self.block = block
        self.capacity = capacity
        sink.initialize(repeating: 0, count: 64)
    }

    /// A registry recording into private, zeroed memory (tests, tools, no master).
    public convenience init(privateCapacity: Int = 4096) {
        let block = UnsafeMutablePointer<UInt64>.allocate(capacity: privateCapacity)
        block.initialize(repeating: 0, count: privateCapacity)
        self.init(block: block, capacity: privateCapacity)
    }

    private func family(_ name: String, _ help: String, _ kind: MetricKind, _ buckets: MetricBuckets? = nil) -> Family {
        if let existing = familyByName[name] {
            precondition(existing.kind == kind, "metric \(name) registered as \(existing.kind) and \(kind)")
            return existing
        }
        let family = Family(name: name, help: help, kind: kind, buckets: buckets)
        families.append(family)
        familyByName[name] = family
        return family
    }

    private func allocate(_ family: Family, _ labels: MetricLabels, slots: Int) -> UnsafeMutablePointer<UInt64> {
        let text = MetricsExposition.labelText(labels)
        let key = family.name + "{" + text + "}"
        if let index = seriesByKey[key] { return block + index }
        guard used + slots <= capacity, slots <= 64 else {
            overflowed += 1
            return sink
        }
        let index = used
        used += slots
        seriesByKey[key] = index
        family.series.append(Series(labels: text, index: index))
        return block + index
    }

    /// Registers (or finds) the counter `name{labels}`.
    public func counter(_ name: String, help: String, labels: MetricLabels = []) -> MetricCounter {
        MetricCounter(pointer: allocate(family(name, help, .counter), labels, slots: 1))
    }

    /// Registers (or finds) the histogram `name{labels}` with `buckets` (the family's first
    /// registration fixes its buckets).
    public func histogram(
        _ name: String, help: String, labels: MetricLabels = [], buckets: MetricBuckets = .http
    ) -> MetricHistogram {
        let family = family(name, help, .histogram, buckets)
        let b = family.buckets!
        return MetricHistogram(pointer: allocate(family, labels, slots: b.slots), buckets: b)
    }

    /// Registers a family whose values are computed at scrape time by `collect` (gauges from
    /// shared memory or SQLite, counters kept by the master). `collect` runs on the scraping
    /// thread, off the event loop.
    public func collected(
        _ name: String, help: String, kind: MetricKind = .gauge, collect: @escaping () -> [(MetricLabels, Double)]
    ) {
        let family = family(name, help, kind)
        precondition(family.series.isEmpty && family.collector == nil, "metric \(name) registered twice")
        family.collector = collect
    }

    /// A fingerprint of the series table (names, kinds, labels, indices): processes whose
    /// blocks may be added together must agree on it.
    public var layoutFingerprint: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ s: String) {
            for b in s.utf8 {
                hash ^= UInt64(b)
                hash = hash &* 0x100_0000_01b3
            }
            hash ^= 0xff
            hash = hash &* 0x100_0000_01b3
        }
        for family in families where !family.series.isEmpty {
            mix(family.name)
            mix(family.kind.rawValue)
            if let b = family.buckets { mix(b.labels.joined(separator: ",")) }
            for s in family.series { mix(s.labels + "#" + String(s.index)) }
        }
        return hash == 0 ? 1 : hash
    }

    /// Every family name, in registration order (tests, documentation checks).
    public var familyNames: [String] { families.map(\.name) }
}
