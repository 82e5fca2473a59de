import CJadeShm
import CJadeShmTestSupport
import Testing

@testable import JadeShared

/// Several processes on one table. The children are forked and run only C (see
/// CJadeShmTestSupport.h), so forking the multi-threaded test runner is safe.
@Suite struct RateLimitProcessTests {
    func hammer(
        _ table: RateLimitTable, keys: [RateLimitKey], children: Int32, attempts: Int32, now: UInt64 = 0,
        rate: Double, burst: Double
    ) -> jrl_hammer_result_t {
        var raw = keys.map(\.raw)
        var result = jrl_hammer_result_t()
        let rc = jrl_hammer(table.cTable, &raw, Int32(raw.count), children, attempts, now, rate, burst, &result)
        #expect(rc == 0)
        return result
    }

    @Test func concurrentProcessesAdmitExactlyTheBurst() throws {
        let table = try makeTable()
        // A rate so low that no whole token refills during the test: exactly `burst` may pass.
        let key = table.key(kind: "login", key: "198.51.100.9")
        let r = hammer(table, keys: [key], children: 4, attempts: 20_000, rate: 0.001, burst: 1000)
        #expect(r.attempts == 80_000)
        #expect(r.allowed == 1000)
        let d = table.peek(kind: "login", key: "198.51.100.9", rate: 0.001, burst: 1000)
        #expect(!d.allowed && d.remaining == 0)
    }

    @Test func concurrentProcessesOnManyKeysOfOneStripe() throws {
        // 16 entries: one stripe, so every take contends for the same lock.
        let table = try makeTable(capacity: 16)
        let keys = (0..<8).map { table.key(kind: "api", key: "key-\($0)") }
        let r = hammer(table, keys: keys, children: 4, attempts: 4000, now: t0, rate: 1, burst: 150)
        #expect(r.allowed == 8 * 150)
        #expect(table.statistics.inUse == 8)
        #expect(table.statistics.tableFull == 0)
    }

    @Test func concurrentProcessesNeverExceedBurstPlusRefill() throws {
        let table = try makeTable()
        let key = table.key(kind: "global", key: "")
        let rate = 2000.0
        let burst = 50.0
        let r = hammer(table, keys: [key], children: 3, attempts: 20_000, rate: rate, burst: burst)
        let bound = burst + rate * Double(r.elapsed_ns) / 1e9 + 1
        #expect(r.allowed >= Int(burst))
        #expect(Double(r.allowed) <= bound, "allowed \(r.allowed) in \(r.elapsed_ns) ns, bound \(bound)")
    }

    @Test func lockOfADeadProcessIsRecovered() throws {
        let table = try makeTable()
        let rule = RateLimitRule(limit: 5, periodSeconds: 60)
        for _ in 0..<3 { _ = table.take(kind: "login", key: "x", rule: rule, now: t0) }
        #expect(jrl_die_holding_lock(table.cTable, table.key(kind: "login", key: "x").raw) == 0)

        let d = table.take(kind: "login", key: "x", rule: rule, now: t0)
        #expect(d.allowed && d.remaining == 1)  // the bucket survived
        #expect(table.statistics.lockRecoveries == 1)
        #expect(table.take(kind: "login", key: "x", rule: rule, now: t0).remaining == 0)
        #expect(!table.take(kind: "login", key: "x", rule: rule, now: t0).allowed)
        #expect(table.statistics.lockRecoveries == 1)
        #expect(table.statistics.lockFailures == 0)
    }
}
