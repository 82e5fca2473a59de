import CJadeShm
import CJadeShmTestSupport
import Testing

@testable import JadeShared

#if canImport(Glibc)
    import Glibc
#endif

/// The global limit's single-word bucket (GCRA): the same answers as the table's token bucket,
/// and exact when several processes take from it at once.
@Suite struct GlobalLimitTests {
    @Test func burstThenOneTokenPerInterval() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 1024)
        let rule = RateLimitRule(limit: 5, periodSeconds: 60)  // one token every 12 s, burst 5
        for expected in [4, 3, 2, 1, 0] {
            let d = segment.takeGlobalLimit(rule, now: t0)
            #expect(d.allowed && d.remaining == expected)
            #expect(d.limit == 5)
        }
        let denied = segment.takeGlobalLimit(rule, now: t0)
        #expect(!denied.allowed && denied.remaining == 0)
        #expect(denied.retryAfterNanoseconds == 12_000_000_000 && denied.retryAfterSeconds == 12)
        #expect(denied.resetSeconds == 60)
        // A denial takes nothing: just before the token accrues still denied, then one passes.
        #expect(!segment.takeGlobalLimit(rule, now: t0 + 11_999_999_999).allowed)
        let next = segment.takeGlobalLimit(rule, now: t0 + 12_000_000_000)
        #expect(next.allowed && next.remaining == 0)
        // After a full period of quiet the whole burst is back.
        let later = t0 + 12_000_000_000 + 60_000_000_000
        let fresh = segment.takeGlobalLimit(rule, now: later)
        #expect(fresh.allowed && fresh.remaining == 4 && fresh.resetSeconds == 12)
    }

    @Test func matchesTheTableBucketStepByStep() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 1024)
        let table = try RateLimitTable(segment: segment)
        let rule = RateLimitRule(limit: 10, periodSeconds: 1, burst: 4)  // 100 ms per token
        var now = t0
        for step in 0..<200 {
            // An irregular but deterministic arrival pattern: bursts and pauses.
            now += UInt64((step * 37) % 11) * 9_000_000
            let a = segment.takeGlobalLimit(rule, now: now)
            let b = table.take(kind: "global", key: "compare", rule: rule, now: now)
            #expect(a.allowed == b.allowed, "step \(step)")
            #expect(a.remaining == b.remaining, "step \(step)")
            #expect(a.retryAfterSeconds == b.retryAfterSeconds, "step \(step)")
        }
    }

    @Test func rejectsInvalidRatesInC() {
        var word: UInt64 = 0
        var r = jade_rl_result_t()
        #expect(jade_gcra_take(&word, t0, 0, 5, &r) == -EINVAL)
        #expect(jade_gcra_take(&word, t0, 1, .nan, &r) == -EINVAL)
        #expect(jade_gcra_take(&word, t0, .infinity, 5, &r) == -EINVAL)
        #expect(word == 0)
    }

    @Test func concurrentProcessesAdmitExactlyTheBurst() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 1024)
        var result = jrl_hammer_result_t()
        // No whole token refills during the test: exactly the burst passes, across 4 processes.
        #expect(jrl_hammer_gcra(jade_global_limit_tat(segment.cSegment), 4, 20_000, 0, 0.001, 1000, &result) == 0)
        #expect(result.attempts == 80_000)
        #expect(result.allowed == 1000)
    }

    @Test func concurrentProcessesNeverExceedBurstPlusRefill() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 1024)
        var r = jrl_hammer_result_t()
        let rate = 2000.0
        let burst = 50.0
        #expect(jrl_hammer_gcra(jade_global_limit_tat(segment.cSegment), 3, 20_000, 0, rate, burst, &r) == 0)
        let bound = burst + rate * Double(r.elapsed_ns) / 1e9 + 1
        #expect(r.allowed >= Int(burst))
        #expect(Double(r.allowed) <= bound, "allowed \(r.allowed) in \(r.elapsed_ns) ns, bound \(bound)")
    }
}
