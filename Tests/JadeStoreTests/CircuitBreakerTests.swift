import Foundation
import GRDB
import Testing

@testable import JadeStore

@Suite struct CircuitBreakerTests {
    let settings = BreakerSettings(failureThreshold: 5, window: 60, openTimeout: 30, minimumCalls: 10, failureRate: 0.5)
    let s: UInt64 = 1_000_000_000

    @Test func opensOnARealOutageOnly() {
        let b = CircuitBreaker(name: "t", settings: settings)
        var now: UInt64 = 100 * s
        // 5 failures among 50,000 calls: a blip, not an outage.
        for i in 0..<50_000 { b.record(failed: i % 10_000 == 0, probe: false, kind: .io, now: now) }
        #expect(b.view(now: now).state == .closed)
        // 5 failures but fewer than the minimum number of calls: still closed.
        let fresh = CircuitBreaker(name: "t", settings: settings)
        for _ in 0..<5 { fresh.record(failed: true, probe: false, kind: .io, now: now) }
        #expect(fresh.view(now: now).state == .closed)
        // Enough calls, enough failures, a high rate: open.
        var opened: CircuitBreaker.State?
        for _ in 0..<5 { opened = fresh.record(failed: true, probe: false, kind: .full, now: now) ?? opened }
        #expect(opened == .open)
        #expect(fresh.view(now: now).state == .open)
        #expect(fresh.view(now: now).lastFailureKind == .full)
        now += 1
        if case .reject(let retry) = fresh.admit(now: now).0 {
            #expect(retry > 29 * s && retry <= 30 * s)
        } else {
            Issue.record("an open breaker must reject")
        }
    }

    @Test func halfOpenLetsExactlyOneProbeAndItsOutcomeDecides() {
        let b = CircuitBreaker(name: "t", settings: settings)
        var now: UInt64 = 100 * s
        for _ in 0..<10 { b.record(failed: true, probe: false, kind: .io, now: now) }
        #expect(b.view(now: now).state == .open)
        now += 30 * s
        let (first, halfOpened) = b.admit(now: now)
        #expect(first == .probe && halfOpened)
        if case .reject = b.admit(now: now + 1).0 {} else { Issue.record("only one probe at a time") }
        // The probe fails: open again for a full period.
        #expect(b.record(failed: true, probe: true, kind: .io, now: now + 2) == .open)
        if case .reject = b.admit(now: now + 29 * s).0 {} else { Issue.record("re-opened for a full period") }
        now += 2 + 30 * s
        #expect(b.admit(now: now).0 == .probe)
        #expect(b.record(failed: false, probe: true, now: now + 1) == .closed)
        #expect(b.admit(now: now + 2).0 == .allow)
        #expect(b.view(now: now + 2).windowFailures == 0)
    }

    @Test func failuresAgeOutOfTheWindow() {
        let b = CircuitBreaker(name: "t", settings: settings)
        let start: UInt64 = 1000 * s
        for _ in 0..<8 { b.record(failed: false, probe: false, now: start) }
        for _ in 0..<4 { b.record(failed: true, probe: false, kind: .io, now: start) }
        // Two minutes later the old failures no longer count.
        let later = start + 120 * s
        for _ in 0..<6 { b.record(failed: false, probe: false, now: later) }
        #expect(b.record(failed: true, probe: false, kind: .io, now: later) == nil)
        #expect(b.view(now: later).windowFailures == 1)
    }

    @Test func backoffDoublesWithJitter() {
        let retry = RetrySettings(maxRetries: 3, baseDelay: 0.1)
        for (attempt, expected) in [(0, 0.1), (1, 0.2), (2, 0.4)] {
            for _ in 0..<50 {
                let d = retry.delay(attempt: attempt)
                #expect(d >= expected * 0.8 - 1e-9 && d <= expected * 1.2 + 1e-9)
            }
        }
    }

    @Test func errorsAreClassifiedInOnePlace() {
        #expect(StoreFailureKind.classify(DatabaseErrorFactory.make(5)) == .contention)
        #expect(StoreFailureKind.classify(DatabaseErrorFactory.make(13)) == .full)
        #expect(StoreFailureKind.classify(DatabaseErrorFactory.make(8)) == .readOnly)
        #expect(StoreFailureKind.classify(DatabaseErrorFactory.make(10)) == .io)
        #expect(StoreFailureKind.classify(DatabaseErrorFactory.make(26)) == .corrupt)
        #expect(StoreFailureKind.classify(DatabaseErrorFactory.make(19)) == .constraint)
        #expect(StoreFailureKind.classify(DatabaseErrorFactory.make(6)) == .bug)
        #expect(
            StoreFailureKind.full.isHard && !StoreFailureKind.contention.isHard && !StoreFailureKind.constraint.isHard)
    }
}

enum DatabaseErrorFactory {
    static func make(_ code: Int32) -> DatabaseError { DatabaseError(resultCode: ResultCode(rawValue: code)) }
}
