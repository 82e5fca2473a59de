import CJadeShm
import JadeCore
import Synchronization

/// What a take does when a new key finds no room: its stripe of the table is full of buckets
/// that have not refilled yet.
public enum RateLimitFullTablePolicy: UInt32, Sendable {
    /// Allow the request untracked (counted in ``RateLimitStatistics/failOpenAllowed``).
    case failOpen = 1
    /// Deny the request; Retry-After is the time until an entry of the stripe turns idle.
    case failClosed = 2
}

/// What a new key may push out of a full part of the table (see `jade_rl_class` in C): a key
/// takes the least recently used live bucket of its own or a lower class, never a higher one.
public enum RateLimitEvictionClass: UInt32, Sendable {
    /// Keys an unauthenticated client picks at will (an account name in a reset request).
    case anonymous = 0
    /// Keys of client addresses.
    case address = 1
    /// Keys of authenticated identities (API keys, users).
    case identity = 2
    /// Never evicted while live, and never evicts a live bucket (counters such as open
    /// connections per address).
    case pinned = 3
}

/// A configured limit: `limit` requests per `periodSeconds`, in bursts of up to `burst`.
public struct RateLimitRule: Sendable, Equatable {
    /// Requests per period (the steady rate).
    public var limit: Int
    /// Length of the period in seconds.
    public var periodSeconds: Double
    /// Bucket size: requests a fresh client may make at once.
    public var burst: Int

    /// A rule as in `rate_limits.<name>`: `burst` 0 means equal to `limit`.
    public init(limit: Int, periodSeconds: Double, burst: Int = 0) {
        precondition(limit > 0 && periodSeconds > 0 && burst >= 0)
        self.limit = limit
        self.periodSeconds = periodSeconds
        self.burst = burst == 0 ? limit : burst
    }

    /// Tokens per second.
    public var rate: Double { Double(limit) / periodSeconds }
}

/// The identity of a bucket: the table's keyed hash of (kind, key). Compute it once with
/// ``RateLimitTable/key(kind:key:)`` when the same key is checked repeatedly.
public struct RateLimitKey: Hashable, Sendable {
    /// The C identity, for jade_rl_* calls.
    public let raw: jade_rl_key_t

    init(_ raw: jade_rl_key_t) { self.raw = raw }

    public static func == (a: RateLimitKey, b: RateLimitKey) -> Bool {
        a.raw.primary == b.raw.primary && a.raw.check == b.raw.check
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(raw.primary)
        hasher.combine(raw.check)
    }
}

/// One rate-limit decision, shaped for HTTP: 429 with `Retry-After: retryAfterSeconds` when
/// denied, and `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset`.
public struct RateLimitDecision: Sendable, Equatable {
    /// Whether the request may proceed.
    public let allowed: Bool
    /// The bucket size (burst), in whole requests.
    public let limit: Int
    /// Whole requests left in the bucket after this one.
    public let remaining: Int
    /// When denied: whole seconds, rounded up and at least 1, until the request would pass. 0
    /// when allowed.
    public let retryAfterSeconds: Int
    /// Whole seconds, rounded up, until the bucket is full again (0 when full).
    public let resetSeconds: Int
    /// `retryAfterSeconds` in nanoseconds, unrounded.
    public let retryAfterNanoseconds: UInt64
    /// `resetSeconds` in nanoseconds, unrounded.
    public let resetNanoseconds: UInt64
    /// The table had no room for this new key: the full-table policy decided (or the stripe's
    /// lock was unusable), and nothing was recorded.
    public let decidedByPolicy: Bool
    /// The key had no bucket before this decision.
    public let isNewKey: Bool
    /// Creating the key's bucket took the live bucket of another key.
    public let evictedLive: Bool

    init(_ r: jade_rl_result_t, burst: Double) {
        allowed = r.allowed != 0
        limit = Int(burst)
        remaining = max(0, Int((r.remaining + JADE_RL_TOLERANCE).rounded(.down)))
        retryAfterNanoseconds = r.retry_after_ns
        resetNanoseconds = r.reset_ns
        retryAfterSeconds = allowed ? 0 : max(1, Self.seconds(r.retry_after_ns))
        resetSeconds = Self.seconds(r.reset_ns)
        let policyFlags = UInt32(JADE_RL_FLAG_TABLE_FULL.rawValue | JADE_RL_FLAG_LOCK_FAILED.rawValue)
        decidedByPolicy = r.flags & policyFlags != 0
        isNewKey = r.flags & UInt32(JADE_RL_FLAG_NEW.rawValue) != 0
        evictedLive = r.flags & UInt32(JADE_RL_FLAG_EVICTED_LIVE.rawValue) != 0
    }

    /// Nanoseconds to whole seconds, rounded up.
    static func seconds(_ ns: UInt64) -> Int {
        Int((ns / 1_000_000_000) + (ns % 1_000_000_000 == 0 ? 0 : 1))
    }
}

/// Counters and geometry of the table.
public struct RateLimitStatistics: Sendable, Equatable {
    /// Entries (one bucket each).
    public let capacity: Int
    /// Locks (stripes of 64 entries).
    public let stripes: Int
    /// Size of the table region in bytes.
    public let regionBytes: Int
    /// Entries holding a key, live or idle (approximate after a lock recovery).
    public let inUse: Int
    /// New keys that found no room (each decided by the full-table policy).
    public let tableFull: UInt64
    /// Of those, the ones allowed (fail-open).
    public let failOpenAllowed: UInt64
    /// Buckets of other keys reused for a new key (idle or live).
    public let evictions: UInt64
    /// Of those, live buckets taken under the eviction classes.
    public let liveEvictions: UInt64
    /// Stripe locks recovered from a process that died holding them.
    public let lockRecoveries: UInt64
    /// Stripe locks that could not be taken.
    public let lockFailures: UInt64
    /// The table's full-table policy.
    public let policy: RateLimitFullTablePolicy
}

/// The token-bucket table in shared memory, exact across all worker processes.
///
/// Each (kind, key) pair, for example ("login", client IP), has a bucket of `burst` tokens that
/// refills at `rate` tokens per second; a request takes `cost` tokens or is denied. A new key
/// starts full. Keys are hashed with SipHash-2-4 keyed by a secret the master drew for the
/// segment, so clients cannot craft colliding keys. Buckets that have refilled completely are
/// reused for new keys when needed; when none can be, the full-table policy decides.
// @unchecked Sendable: a shared-memory table: C atomics and per-stripe locks.
public final class RateLimitTable: @unchecked Sendable {
    /// `security.rate_limit_table_capacity` default.
    public static let defaultCapacity = Int(JADE_RL_DEFAULT_CAPACITY)
    /// Entries per MiB of shared memory (64 bytes each, plus a 128-byte header per 64 entries).
    public static let keysPerMiB = Int(JADE_RL_KEYS_PER_MIB)

    private let segment: SharedSegment
    private let table: OpaquePointer

    /// The table of `segment`; throws when the segment was created without one.
    public init(segment: SharedSegment) throws {
        guard let table = jade_shm_ratelimit(segment.base) else {
            throw SharedSegmentError(description: "the shared-memory segment has no rate-limit table")
        }
        self.segment = segment
        self.table = table
    }

    /// The bucket identity of (kind, key).
    public func key(kind: String, key: String) -> RateLimitKey {
        var kind = kind
        var key = key
        return kind.withUTF8 { k in
            key.withUTF8 { v in
                RateLimitKey(jade_rl_hash(table, k.baseAddress, k.count, v.baseAddress, v.count))
            }
        }
    }

    /// The bucket identity of (kind, prefix + number in decimal), the same as
    /// `key(kind: kind, key: "\(prefix)\(number)")` but without building the key string.
    public func key(kind: StaticString, prefix: StaticString, number: Int64) -> RateLimitKey {
        withDecimalDigits(number) { digits in
            let count = prefix.utf8CodeUnitCount + digits.count
            return withUnsafeTemporaryAllocation(byteCount: count, alignment: 1) { buffer in
                buffer.copyMemory(
                    from: UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
                UnsafeMutableRawBufferPointer(rebasing: buffer[prefix.utf8CodeUnitCount...]).copyMemory(from: digits)
                return RateLimitKey(
                    jade_rl_hash(table, kind.utf8Start, kind.utf8CodeUnitCount, buffer.baseAddress, count))
            }
        }
    }

    /// Takes `cost` tokens from the bucket of (kind, key), refilled at `rate` tokens per second
    /// up to `burst`. `policy` overrides the table's full-table policy for this decision.
    /// Requires `rate` and `burst` positive and finite, and `cost` in 0 ... `burst`.
    public func take(
        kind: String, key: String, rate: Double, burst: Double, cost: Double = 1,
        policy: RateLimitFullTablePolicy? = nil, now: UInt64 = monotonicNanoseconds()
    ) -> RateLimitDecision {
        take(self.key(kind: kind, key: key), rate: rate, burst: burst, cost: cost, policy: policy, now: now)
    }

    /// Takes `cost` tokens under `rule`.
    public func take(
        kind: String, key: String, rule: RateLimitRule, cost: Double = 1,
        policy: RateLimitFullTablePolicy? = nil, now: UInt64 = monotonicNanoseconds()
    ) -> RateLimitDecision {
        take(
            self.key(kind: kind, key: key), rate: rule.rate, burst: Double(rule.burst), cost: cost, policy: policy,
            now: now)
    }

    /// Takes `cost` tokens from the bucket of a precomputed key of eviction class `evictionClass`.
    public func take(
        _ key: RateLimitKey, rate: Double, burst: Double, cost: Double = 1,
        policy: RateLimitFullTablePolicy? = nil, evictionClass: RateLimitEvictionClass = .pinned,
        now: UInt64 = monotonicNanoseconds()
    ) -> RateLimitDecision {
        var result = jade_rl_result_t()
        let rc = jade_rl_take_class(
            table, key.raw, now, rate, burst, cost, policy?.rawValue ?? 0, evictionClass.rawValue, &result)
        precondition(rc == 0, "rate limit: invalid rate \(rate), burst \(burst) or cost \(cost)")
        return RateLimitDecision(result, burst: burst)
    }

    /// What ``take(kind:key:rate:burst:cost:policy:now:)`` would decide, changing nothing (an
    /// absent key counts as full).
    public func peek(
        kind: String, key: String, rate: Double, burst: Double, cost: Double = 1,
        now: UInt64 = monotonicNanoseconds()
    ) -> RateLimitDecision {
        var result = jade_rl_result_t()
        let rc = jade_rl_peek(table, self.key(kind: kind, key: key).raw, now, rate, burst, cost, &result)
        precondition(rc == 0, "rate limit: invalid rate \(rate), burst \(burst) or cost \(cost)")
        return RateLimitDecision(result, burst: burst)
    }

    /// Gives `amount` tokens back to the bucket of a precomputed key (capped at the burst).
    public func refund(
        _ key: RateLimitKey, rate: Double, burst: Double, amount: Double = 1, now: UInt64 = monotonicNanoseconds()
    ) {
        _ = jade_rl_refund(table, key.raw, now, rate, burst, amount)
    }

    /// Forgets the bucket of (kind, key) (admin unblock): its next request starts full. Returns
    /// whether there was one.
    @discardableResult
    public func reset(kind: String, key: String) -> Bool {
        jade_rl_reset(table, self.key(kind: kind, key: key).raw) == 1
    }

    /// The full-table policy used when a take names none (shared by all processes).
    public var fullTablePolicy: RateLimitFullTablePolicy {
        get { statistics.policy }
        set { jade_rl_set_policy(table, newValue.rawValue) }
    }

    /// Counters and geometry.
    public var statistics: RateLimitStatistics {
        var s = jade_rl_stats_t()
        jade_rl_stats(table, &s)
        return RateLimitStatistics(
            capacity: Int(s.capacity), stripes: Int(s.stripes), regionBytes: Int(s.region_size),
            inUse: Int(s.in_use), tableFull: s.table_full, failOpenAllowed: s.fail_open_allowed,
            evictions: s.evictions, liveEvictions: s.live_evictions, lockRecoveries: s.lock_recoveries,
            lockFailures: s.lock_failures,
            policy: RateLimitFullTablePolicy(rawValue: s.policy) ?? .failOpen)
    }

    /// Keys whose bucket has not refilled at `now` (scans the whole table without locking; for
    /// metrics).
    public func liveEntries(now: UInt64 = monotonicNanoseconds()) -> Int {
        Int(jade_rl_count_live(table, now))
    }

    /// The C table, for tests and benchmarks.
    public var cTable: OpaquePointer { table }
}

/// Remembers the bucket keys of numeric identities (API limit: `key:<id>`, `user:<id>`), so that
/// a request costs a dictionary lookup instead of SipHash-2-4 over the formatted key. Keys are
/// stable for the table's lifetime (its hash secret never changes). Bounded: when `capacity`
/// identities are held, it starts over. Thread-safe.
public final class RateLimitKeyCache: Sendable {
    private let table: RateLimitTable
    private let kind: StaticString
    private let prefixes: [StaticString]
    private let capacity: Int
    private let keys = Mutex<[Int64: RateLimitKey]>([:])

    /// Keys of `kind` for identities written as one of `prefixes` followed by a number.
    public init(table: RateLimitTable, kind: StaticString, prefixes: [StaticString], capacity: Int = 65_536) {
        precondition(!prefixes.isEmpty && prefixes.count <= 4)
        self.table = table
        self.kind = kind
        self.prefixes = prefixes
        self.capacity = max(1, capacity)
    }

    /// The key of `prefixes[prefix]` followed by `number`, the same as
    /// `table.key(kind:prefix:number:)`.
    public func key(prefix: Int, number: Int64) -> RateLimitKey {
        // Two bits of the slot name the prefix; identities beyond 2^61 are not cached.
        let cacheable = number >= 0 && number < 1 << 61
        let slot = number << 2 | Int64(prefix)
        if cacheable, let known = keys.withLock({ $0[slot] }) { return known }
        let key = table.key(kind: kind, prefix: prefixes[prefix], number: number)
        if cacheable {
            keys.withLock { keys in
                if keys.count >= capacity { keys.removeAll(keepingCapacity: true) }
                keys[slot] = key
            }
        }
        return key
    }
}
