import CJadeShm
import Testing

@testable import JadeShared

/// Eviction classes in a full table (16 entries, one stripe): what a new key may push out once
/// no entry is free or idle.
@Suite struct RateLimitEvictionTests {
    let perHour = RateLimitRule(limit: 1, periodSeconds: 3600, burst: 10)  // live for an hour after a take

    func take(
        _ table: RateLimitTable, _ key: String, _ evictionClass: RateLimitEvictionClass, at now: UInt64,
        policy: RateLimitFullTablePolicy = .failClosed
    ) -> RateLimitDecision {
        table.take(
            table.key(kind: "k", key: key), rate: perHour.rate, burst: Double(perHour.burst), policy: policy,
            evictionClass: evictionClass, now: now)
    }

    func isPresent(_ table: RateLimitTable, _ key: String, at now: UInt64) -> Bool {
        !table.peek(kind: "k", key: key, rate: perHour.rate, burst: Double(perHour.burst), now: now).isNewKey
    }

    @Test func anonymousKeysChurnAmongThemselvesLeastRecentlyUsedFirst() throws {
        let table = try makeTable(capacity: 16)
        for i in 0..<8 { _ = take(table, "addr\(i)", .address, at: t0 + UInt64(i)) }
        for i in 0..<8 { _ = take(table, "anon\(i)", .anonymous, at: t0 + 100 + UInt64(i)) }
        // A flood of new anonymous keys: each takes the oldest anonymous bucket, never an address's.
        for i in 0..<100 {
            let d = take(table, "flood\(i)", .anonymous, at: t0 + 1000 + UInt64(i))
            #expect(d.allowed && d.isNewKey && d.evictedLive && !d.decidedByPolicy)
        }
        for i in 0..<8 { #expect(isPresent(table, "addr\(i)", at: t0 + 2000)) }
        #expect(!isPresent(table, "anon0", at: t0 + 2000))
        #expect(isPresent(table, "flood99", at: t0 + 2000))
        let stats = table.statistics
        #expect(stats.liveEvictions == 100 && stats.evictions == 100 && stats.tableFull == 0)
    }

    @Test func addressesTakeAnonymousThenAddressBucketsButNeverIdentities() throws {
        let table = try makeTable(capacity: 16)
        for i in 0..<12 { _ = take(table, "id\(i)", .identity, at: t0 + UInt64(i)) }
        for i in 0..<4 { _ = take(table, "anon\(i)", .anonymous, at: t0 + 100 + UInt64(i)) }
        // Anonymous buckets go first, even though every identity was used earlier.
        for i in 0..<4 {
            #expect(take(table, "addr\(i)", .address, at: t0 + 200 + UInt64(i)).evictedLive)
        }
        for i in 0..<4 { #expect(!isPresent(table, "anon\(i)", at: t0 + 300)) }
        // Then the least recently used address bucket (addr0), still never an identity.
        _ = take(table, "addr1", .address, at: t0 + 300)  // addr1 is now the most recent
        #expect(take(table, "addr-new", .address, at: t0 + 400).evictedLive)
        #expect(!isPresent(table, "addr0", at: t0 + 500))
        #expect(isPresent(table, "addr1", at: t0 + 500))
        for i in 0..<12 { #expect(isPresent(table, "id\(i)", at: t0 + 500)) }
        // An anonymous key finds nothing it may take: the security policy refuses it.
        let full = try makeTable(capacity: 16)
        for i in 0..<16 { _ = take(full, "id\(i)", .identity, at: t0) }
        let refused = take(full, "anon", .anonymous, at: t0 + 1)
        #expect(!refused.allowed && refused.decidedByPolicy)
    }

    @Test func pinnedBucketsStayAndTakeOnlyAnonymousOrAddressBuckets() throws {
        let table = try makeTable(capacity: 16)
        for i in 0..<8 { _ = take(table, "conn\(i)", .pinned, at: t0 + UInt64(i)) }
        for i in 0..<8 { _ = take(table, "id\(i)", .identity, at: t0 + 10 + UInt64(i)) }
        // An identity never takes a pinned bucket, even an older one: the oldest identity goes.
        #expect(take(table, "id-new", .identity, at: t0 + 100).evictedLive)
        #expect(!isPresent(table, "id0", at: t0 + 200))
        for i in 0..<8 { #expect(isPresent(table, "conn\(i)", at: t0 + 200)) }
        // A new pinned key finds no anonymous or address bucket: refused, nothing recorded.
        let refused = take(table, "conn-new", .pinned, at: t0 + 300)
        #expect(!refused.allowed && refused.decidedByPolicy)
        // With an address bucket present, a pinned key takes it.
        let mixed = try makeTable(capacity: 16)
        for i in 0..<15 { _ = take(mixed, "conn\(i)", .pinned, at: t0 + UInt64(i)) }
        _ = take(mixed, "addr", .address, at: t0 + 50)
        #expect(take(mixed, "conn-new", .pinned, at: t0 + 100).evictedLive)
        #expect(!isPresent(mixed, "addr", at: t0 + 200))
    }

    @Test func aKeyKeepsTheClassItWasCreatedWith() throws {
        let table = try makeTable(capacity: 16)
        _ = take(table, "a", .anonymous, at: t0)
        for i in 0..<15 { _ = take(table, "id\(i)", .identity, at: t0 + 1 + UInt64(i)) }
        // Used again later under another class: still anonymous, so an anonymous key takes it.
        _ = take(table, "a", .identity, at: t0 + 100)
        #expect(take(table, "b", .anonymous, at: t0 + 200).evictedLive)
        #expect(!isPresent(table, "a", at: t0 + 300))
    }
}
