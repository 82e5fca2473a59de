import CJadeShm
import Testing

@testable import JadeShared

#if canImport(Glibc)
    import Glibc
#endif

/// A fixed point on the injected clock, and one second.
let t0: UInt64 = 1_000_000_000_000
let second: UInt64 = 1_000_000_000

func makeTable(capacity: Int = 1024, policy: RateLimitFullTablePolicy = .failOpen) throws -> RateLimitTable {
    try RateLimitTable(segment: SharedSegment.create(rateLimitCapacity: capacity, fullTablePolicy: policy))
}

@Suite struct RateLimitBucketTests {
    @Test func fivePerMinuteBurstFive() throws {
        let table = try makeTable()
        let rule = RateLimitRule(limit: 5, periodSeconds: 60)
        for i in 0..<5 {
            let d = table.take(kind: "login", key: "203.0.113.7", rule: rule, now: t0)
            #expect(d.allowed)
            #expect(d.limit == 5)
            #expect(d.remaining == 4 - i)
            #expect(d.retryAfterSeconds == 0)
            #expect(d.resetSeconds == 12 * (i + 1))
            #expect(d.isNewKey == (i == 0))
        }
        let sixth = table.take(kind: "login", key: "203.0.113.7", rule: rule, now: t0)
        #expect(!sixth.allowed)
        #expect(sixth.remaining == 0)
        #expect(sixth.retryAfterSeconds == 12)
        #expect(sixth.resetSeconds == 60)

        let early = table.take(kind: "login", key: "203.0.113.7", rule: rule, now: t0 + 11_900_000_000)
        #expect(!early.allowed)
        #expect(early.retryAfterSeconds == 1)  // 0.1 s, rounded up

        let later = table.take(kind: "login", key: "203.0.113.7", rule: rule, now: t0 + 12 * second)
        #expect(later.allowed)
        #expect(later.remaining == 0)
        let again = table.take(kind: "login", key: "203.0.113.7", rule: rule, now: t0 + 12 * second)
        #expect(!again.allowed)
        #expect(again.retryAfterSeconds == 12)
    }

    @Test func burstDiffersFromLimit() throws {
        let table = try makeTable()
        let rule = RateLimitRule(limit: 10, periodSeconds: 60, burst: 3)  // one token per 6 s
        #expect(rule.burst == 3)
        for _ in 0..<3 { #expect(table.take(kind: "api", key: "k", rule: rule, now: t0).allowed) }
        let denied = table.take(kind: "api", key: "k", rule: rule, now: t0)
        #expect(!denied.allowed)
        #expect(denied.limit == 3)
        #expect(denied.retryAfterSeconds == 6)
        #expect(denied.resetSeconds == 18)
        #expect(table.take(kind: "api", key: "k", rule: rule, now: t0 + 6 * second).allowed)
        #expect(!table.take(kind: "api", key: "k", rule: rule, now: t0 + 6 * second).allowed)

        // An hour later the bucket holds burst, not the hour's worth of tokens.
        let hour = t0 + 3600 * second
        for i in 0..<3 {
            let d = table.take(kind: "api", key: "k", rule: rule, now: hour)
            #expect(d.allowed)
            #expect(d.remaining == 2 - i)
        }
        #expect(!table.take(kind: "api", key: "k", rule: rule, now: hour).allowed)
    }

    @Test func rawRateAndBurst() throws {
        let table = try makeTable()
        // 2 per second, burst 4, cost 3: one take leaves 1 token; 2 more take 1 s.
        #expect(table.take(kind: "x", key: "y", rate: 2, burst: 4, cost: 3, now: t0).allowed)
        let denied = table.take(kind: "x", key: "y", rate: 2, burst: 4, cost: 3, now: t0)
        #expect(!denied.allowed)
        #expect(denied.remaining == 1)
        #expect(denied.retryAfterNanoseconds > 999_000_000 && denied.retryAfterNanoseconds <= second)
        #expect(denied.retryAfterSeconds == 1)
        #expect(table.take(kind: "x", key: "y", rate: 2, burst: 4, cost: 3, now: t0 + second).allowed)
    }

    @Test func independentKeysAndKinds() throws {
        let table = try makeTable()
        let rule = RateLimitRule(limit: 2, periodSeconds: 60)
        for _ in 0..<2 { #expect(table.take(kind: "login", key: "10.0.0.1", rule: rule, now: t0).allowed) }
        #expect(!table.take(kind: "login", key: "10.0.0.1", rule: rule, now: t0).allowed)
        #expect(table.take(kind: "login", key: "10.0.0.2", rule: rule, now: t0).allowed)
        #expect(table.take(kind: "registration", key: "10.0.0.1", rule: rule, now: t0).allowed)
        // The length prefix keeps ("ab", "c") and ("a", "bc") apart.
        #expect(table.key(kind: "ab", key: "c") != table.key(kind: "a", key: "bc"))
        #expect(table.key(kind: "", key: "") != table.key(kind: "", key: "x"))
        #expect(table.statistics.inUse == 3)
    }

    @Test func peekTakesNothing() throws {
        let table = try makeTable()
        let rule = RateLimitRule(limit: 5, periodSeconds: 60)
        let fresh = table.peek(kind: "login", key: "a", rate: rule.rate, burst: 5, now: t0)
        #expect(fresh.allowed && fresh.isNewKey && fresh.remaining == 4)
        #expect(table.statistics.inUse == 0)
        for _ in 0..<5 { _ = table.take(kind: "login", key: "a", rule: rule, now: t0) }
        let peeked = table.peek(kind: "login", key: "a", rate: rule.rate, burst: 5, now: t0)
        #expect(!peeked.allowed && !peeked.isNewKey && peeked.retryAfterSeconds == 12)
        #expect(table.peek(kind: "login", key: "a", rate: rule.rate, burst: 5, now: t0 + 12 * second).allowed)
        #expect(table.peek(kind: "login", key: "a", rate: rule.rate, burst: 5, now: t0 + 12 * second).allowed)
    }

    @Test func resetUnblocks() throws {
        let table = try makeTable()
        let rule = RateLimitRule(limit: 1, periodSeconds: 3600)
        #expect(table.take(kind: "login", key: "a", rule: rule, now: t0).allowed)
        #expect(!table.take(kind: "login", key: "a", rule: rule, now: t0).allowed)
        #expect(table.statistics.inUse == 1)
        #expect(table.reset(kind: "login", key: "a"))
        #expect(!table.reset(kind: "login", key: "a"))
        #expect(table.statistics.inUse == 0)
        let d = table.take(kind: "login", key: "a", rule: rule, now: t0)
        #expect(d.allowed && d.isNewKey)
    }

    @Test func clockReadingsOutOfOrderCountNoRefillTwice() throws {
        // Another process may read the clock later but lock first: the bucket keeps its time.
        let table = try makeTable()
        let rule = RateLimitRule(limit: 5, periodSeconds: 60)
        #expect(table.take(kind: "k", key: "a", rule: rule, now: t0 + 12 * second).remaining == 4)
        #expect(table.take(kind: "k", key: "a", rule: rule, now: t0).remaining == 3)
        #expect(table.take(kind: "k", key: "a", rule: rule, now: t0 + 12 * second).remaining == 2)
        let d = table.take(kind: "k", key: "a", rule: rule, now: t0 + 24 * second)
        #expect(d.remaining == 2)  // one token refilled in the 12 s after t0 + 12 s
    }

    @Test func invalidArgumentsAreRefused() throws {
        let table = try makeTable()
        let key = table.key(kind: "k", key: "a").raw
        var r = jade_rl_result_t()
        let einval = -EINVAL
        #expect(jade_rl_take(table.cTable, key, t0, 0, 5, 1, 0, &r) == einval)  // rate 0
        #expect(jade_rl_take(table.cTable, key, t0, 1, .nan, 1, 0, &r) == einval)
        #expect(jade_rl_take(table.cTable, key, t0, 1, 5, 6, 0, &r) == einval)  // cost above burst
        #expect(jade_rl_take(table.cTable, key, t0, 1, 5, -1, 0, &r) == einval)
        #expect(jade_rl_peek(table.cTable, key, t0, .infinity, 5, 1, &r) == einval)
        #expect(table.statistics.inUse == 0)
    }

    @Test func segmentsHaveTheirOwnSeed() throws {
        let a = try makeTable()
        let b = try makeTable()
        #expect(a.key(kind: "login", key: "1.2.3.4") == a.key(kind: "login", key: "1.2.3.4"))
        #expect(a.key(kind: "login", key: "1.2.3.4") != b.key(kind: "login", key: "1.2.3.4"))
    }
}
