import CJadeShm
import Testing

@testable import JadeShared

/// A table of 16 entries is one stripe: the 17th live key finds no room.
@Suite struct RateLimitTableFullTests {
    let perSecond = RateLimitRule(limit: 1, periodSeconds: 1, burst: 10)  // full 1 s after a take
    let perHour = RateLimitRule(limit: 1, periodSeconds: 3600, burst: 10)  // full 1 h after a take

    @Test func geometryOfASmallTable() throws {
        let table = try makeTable(capacity: 10)
        let stats = table.statistics
        #expect(stats.capacity == 16)
        #expect(stats.stripes == 1)
        #expect(stats.regionBytes == 4096)
        #expect(stats.policy == .failOpen)
    }

    @Test func failClosedWhenFullOfLiveBuckets() throws {
        let table = try makeTable(capacity: 16, policy: .failClosed)
        for i in 0..<16 {
            let d = table.take(kind: "login", key: "k\(i)", rule: perSecond, now: t0 + UInt64(i))
            #expect(d.allowed && d.isNewKey && !d.decidedByPolicy)
        }
        #expect(table.statistics.inUse == 16)
        #expect(table.liveEntries(now: t0 + 100) == 16)

        let denied = table.take(kind: "login", key: "new", rule: perSecond, now: t0 + 100)
        #expect(!denied.allowed && denied.decidedByPolicy)
        // Until the first bucket (k0, taken at t0) has refilled.
        #expect(denied.retryAfterNanoseconds > second - 1_000_000 && denied.retryAfterNanoseconds < second)
        #expect(denied.retryAfterSeconds == 1)
        #expect(table.statistics.tableFull == 1)

        let open = table.take(kind: "login", key: "new", rule: perSecond, policy: .failOpen, now: t0 + 200)
        #expect(open.allowed && open.decidedByPolicy && open.remaining == 9)
        let stats = table.statistics
        #expect(stats.tableFull == 2 && stats.failOpenAllowed == 1 && stats.evictions == 0)
        // Nothing was recorded for the new key.
        #expect(table.peek(kind: "login", key: "new", rate: 1, burst: 10, now: t0 + 300).isNewKey)
        // Existing keys are unaffected.
        #expect(!table.take(kind: "login", key: "k3", rule: perSecond, now: t0 + 300).isNewKey)
    }

    @Test func failOpenIsTheTablePolicyAndCanChange() throws {
        let segment = try SharedSegment.create(rateLimitCapacity: 16, fullTablePolicy: .failOpen)
        let table = try RateLimitTable(segment: segment)
        for i in 0..<16 { _ = table.take(kind: "api", key: "k\(i)", rule: perHour, now: t0) }
        let d = table.take(kind: "api", key: "other", rule: perHour, now: t0 + 1)
        #expect(d.allowed && d.decidedByPolicy)
        #expect(table.statistics.failOpenAllowed == 1)

        // The policy lives in shared memory: a change is seen through every mapping.
        let other = try RateLimitTable(segment: SharedSegment.attach(fd: segment.fd))
        other.fullTablePolicy = .failClosed
        #expect(table.fullTablePolicy == .failClosed)
        let closed = table.take(kind: "api", key: "other", rule: perHour, now: t0 + 2)
        #expect(!closed.allowed && closed.decidedByPolicy)
        #expect(closed.retryAfterSeconds == 3600)
    }

    @Test func idleBucketsAreReusedLeastRecentlyUsedFirst() throws {
        let table = try makeTable(capacity: 16, policy: .failClosed)
        let ms: UInt64 = 1_000_000
        for i in 0..<8 { _ = table.take(kind: "a", key: "s\(i)", rule: perSecond, now: t0 + UInt64(i) * ms) }
        for i in 0..<8 { _ = table.take(kind: "a", key: "h\(i)", rule: perHour, now: t0) }
        _ = table.take(kind: "a", key: "s0", rule: perSecond, now: t0 + 500 * ms)  // s1 is now the LRU

        // At t0 + 3 s the s-buckets are full again (idle); the h-buckets are not.
        let now = t0 + 3 * second
        #expect(table.liveEntries(now: now) == 8)
        let d = table.take(kind: "a", key: "new", rule: perSecond, now: now)
        #expect(d.allowed && d.isNewKey && !d.decidedByPolicy)
        #expect(table.statistics.evictions == 1)
        #expect(table.peek(kind: "a", key: "s1", rate: 1, burst: 10, now: now).isNewKey)
        #expect(!table.peek(kind: "a", key: "s0", rate: 1, burst: 10, now: now).isNewKey)
        for i in 2..<8 { #expect(!table.peek(kind: "a", key: "s\(i)", rate: 1, burst: 10, now: now).isNewKey) }
        for i in 0..<8 { #expect(!table.peek(kind: "a", key: "h\(i)", rate: 1, burst: 10, now: now).isNewKey) }

        // Seven more new keys take the other idle buckets; the next one finds none.
        for i in 0..<7 { #expect(!table.take(kind: "b", key: "\(i)", rule: perSecond, now: now).decidedByPolicy) }
        #expect(table.statistics.evictions == 8)
        #expect(table.take(kind: "b", key: "last", rule: perSecond, now: now).decidedByPolicy)
        #expect(table.statistics.inUse == 16)
    }

    @Test func resetFreesAnEntryForANewKey() throws {
        let table = try makeTable(capacity: 16, policy: .failClosed)
        for i in 0..<16 { _ = table.take(kind: "a", key: "\(i)", rule: perHour, now: t0) }
        #expect(table.take(kind: "a", key: "new", rule: perHour, now: t0).decidedByPolicy)
        #expect(table.reset(kind: "a", key: "7"))
        let d = table.take(kind: "a", key: "new", rule: perHour, now: t0)
        #expect(d.allowed && d.isNewKey && !d.decidedByPolicy)
    }
}
