import CJadeShm
import JadeShared

/// The workloads, each runnable alone (one process) or in several processes at once.
enum Workload: String, CaseIterable {
    /// jade_rl_take on one pre-hashed key, reading the clock per decision (the worker's path
    /// minus hashing).
    case cHot = "c-take-one-key"
    /// The same with a fixed clock reading: the decision alone.
    case cHotFixedClock = "c-take-one-key-fixed-clock"
    /// RateLimitTable.take(kind:key:rate:burst:): hashing, clock and decision, from Swift (the
    /// worker's path).
    case swiftHot = "swift-take-one-key"
    /// The bucket key of `user:<id>` hashed from the number (no string), clock and decision.
    case swiftAPIUser = "swift-take-api-user"
    /// The worker's API-limit path: the key from RateLimitKeyCache, clock and decision.
    case swiftAPICached = "swift-take-api-cached"
    /// RateLimitTable.take(_:rate:burst:) on a precomputed key: clock and decision, from Swift.
    case swiftPrecomputed = "swift-take-precomputed-key"
    /// RateLimitTable.key(kind:key:) alone: SipHash-2-4-128 of ("login", an IPv4 address).
    case swiftHash = "swift-hash-key"
    /// jade_rl_take over 40,000 pre-hashed keys in random order (the table does not fit the
    /// caches: most decisions miss).
    case cManyKeys = "c-take-40k-keys"
    /// jade_rl_take on a key of another stripe per process (no shared lock).
    case cOwnKey = "c-take-own-key"
    /// jade_gcra_take on the segment header's global-limit word, reading the clock per decision.
    case cGlobal = "c-gcra-global"
    /// SharedSegment.takeGlobalLimit: the worker's path for `rate_limits.global`.
    case swiftGlobal = "swift-take-global"

    func run(_ table: RateLimitTable, segment: SharedSegment, operations: Int, process: Int) -> Measurement {
        let t = table.cTable
        var r = jade_rl_result_t()
        switch self {
        case .cHot:
            let key = table.key(kind: "login", key: "203.0.113.7").raw
            return measure(operations: operations) { _ in
                _ = jade_rl_take(t, key, jade_monotonic_ns(), 1e9, 1e9, 1, 0, &r)
            }
        case .cHotFixedClock:
            let key = table.key(kind: "login", key: "203.0.113.7").raw
            let now = jade_monotonic_ns()
            return measure(operations: operations) { _ in _ = jade_rl_take(t, key, now, 1e9, 1e9, 1, 0, &r) }
        case .swiftHot:
            return measure(operations: operations) { _ in
                _ = table.take(kind: "login", key: "203.0.113.7", rate: 1e9, burst: 1e9)
            }
        case .swiftAPIUser:
            return measure(operations: operations) { _ in
                _ = table.take(table.key(kind: "api", prefix: "user:", number: 42), rate: 1e9, burst: 1e9)
            }
        case .swiftAPICached:
            let keys = RateLimitKeyCache(table: table, kind: "api", prefixes: ["key:", "user:"])
            return measure(operations: operations) { _ in
                _ = table.take(keys.key(prefix: 1, number: 42), rate: 1e9, burst: 1e9)
            }
        case .swiftPrecomputed:
            let key = table.key(kind: "login", key: "203.0.113.7")
            return measure(operations: operations) { _ in _ = table.take(key, rate: 1e9, burst: 1e9) }
        case .swiftHash:
            var sink: UInt64 = 0
            let m = measure(operations: operations) { _ in
                sink &+= table.key(kind: "login", key: "203.0.113.7").raw.primary
            }
            if sink == 42 { print("") }  // keep the hashes
            return m
        case .cManyKeys:
            let keys = (0..<40_000).map { table.key(kind: "login", key: "10.\(process).\($0 / 256).\($0 % 256)").raw }
            var x = UInt64(0x9E37_79B9_7F4A_7C15) &+ UInt64(process)  // xorshift: no index array to miss on
            return measure(operations: operations) { _ in
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                _ = jade_rl_take(t, keys[Int(x % UInt64(keys.count))], jade_monotonic_ns(), 1e9, 1e9, 1, 0, &r)
            }
        case .cOwnKey:
            // Keys whose primary hashes select different stripes for different processes.
            var n = 0
            var key = table.key(kind: "own", key: "\(process)-0").raw
            while key.primary % 1024 != UInt64(process) * 512 % 1024 {
                n += 1
                key = table.key(kind: "own", key: "\(process)-\(n)").raw
            }
            return measure(operations: operations) { _ in
                _ = jade_rl_take(t, key, jade_monotonic_ns(), 1e9, 1e9, 1, 0, &r)
            }
        case .cGlobal:
            let word = jade_global_limit_tat(segment.cSegment)
            return measure(operations: operations) { _ in
                _ = jade_gcra_take(word, jade_monotonic_ns(), 1e9, 1e9, &r)
            }
        case .swiftGlobal:
            let rule = RateLimitRule(limit: 1_000_000_000, periodSeconds: 1)
            return measure(operations: operations) { _ in _ = segment.takeGlobalLimit(rule) }
        }
    }
}
