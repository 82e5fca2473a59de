import CJadeShm
import Foundation
import JadeConfig

/// The breaker's knobs (config section `circuit_breaker`).
public struct BreakerSettings: Sendable {
    public var failureThreshold: Int
    public var window: TimeInterval
    public var openTimeout: TimeInterval
    public var minimumCalls: Int
    public var failureRate: Double

    public init(
        failureThreshold: Int, window: TimeInterval, openTimeout: TimeInterval, minimumCalls: Int, failureRate: Double
    ) {
        self.failureThreshold = failureThreshold
        self.window = window
        self.openTimeout = openTimeout
        self.minimumCalls = minimumCalls
        self.failureRate = failureRate
    }

    /// The sprint plan's values: 5 failures in 60 s (and at least 10 calls, half of them
    /// failing), 30 s open.
    public static let defaults = BreakerSettings(
        failureThreshold: 5, window: 60, openTimeout: 30, minimumCalls: 10, failureRate: 0.5)

    public init(_ config: JadeConfiguration) {
        let c = config.circuitBreaker
        self.init(
            failureThreshold: c.failureThreshold, window: TimeInterval(c.window.components.seconds),
            openTimeout: TimeInterval(c.openTimeout.components.seconds), minimumCalls: c.minimumCalls,
            failureRate: c.failureRateThreshold)
    }

    var raw: jade_breaker_config_t {
        jade_breaker_config_t(
            failure_rate: failureRate, failure_threshold: UInt32(failureThreshold), minimum_calls: UInt32(minimumCalls),
            window_ns: UInt64(window * 1e9), open_ns: UInt64(openTimeout * 1e9))
    }
}

/// A circuit breaker (CLOSED, OPEN, HALF_OPEN) whose state is a C struct, normally in the
/// shared-memory segment so that every worker agrees: it opens on a real outage (enough hard
/// failures, enough calls, a high enough failure rate within the window), fails fast while open,
/// lets exactly one probe through after the open timeout, and closes on the probe's success.
// @unchecked Sendable: state in shared memory, changed with C atomics.
public final class CircuitBreaker: @unchecked Sendable {
    public enum State: String, Sendable {
        case closed, open
        case halfOpen = "half_open"
    }

    public enum Admission: Equatable {
        case allow
        case probe
        case reject(retryAfterNanoseconds: UInt64)
    }

    public struct View: Sendable {
        public let state: State
        public let windowCalls: Int
        public let windowFailures: Int
        public let transitions: UInt64
        public let failuresTotal: UInt64
        public let lastFailureKind: StoreFailureKind?
        public let lastFailureAt: Date?
    }

    public let name: String
    let pointer: UnsafeMutablePointer<jade_breaker_t>
    let config: jade_breaker_config_t
    private let owned: Bool

    /// A breaker over shared memory owned by the segment.
    public init(name: String, shared pointer: UnsafeMutablePointer<jade_breaker_t>, settings: BreakerSettings) {
        self.name = name
        self.pointer = pointer
        self.config = settings.raw
        self.owned = false
    }

    /// A breaker private to this process (tools, tests).
    public init(name: String, settings: BreakerSettings) {
        self.name = name
        pointer = .allocate(capacity: 1)
        _ = jade_breaker_init(pointer)
        config = settings.raw
        owned = true
    }

    deinit {
        if owned {
            pthread_mutex_destroy(&pointer.pointee.mutex)
            pointer.deallocate()
        }
    }

    /// Asks to make a call. `now` (CLOCK_MONOTONIC ns) is for tests; by default the clock is
    /// read only when the breaker is not closed (a closed breaker admits lock-free).
    public func admit(now: UInt64 = 0) -> (Admission, halfOpened: Bool) {
        var retry: UInt64 = 0
        var transition: UInt32 = 0
        var c = config
        let rc = jade_breaker_admit(pointer, &c, now, &retry, &transition)
        let halfOpened = transition == JADE_CB_HALF_OPENED.rawValue
        switch rc {
        case Int32(JADE_CB_PROBE.rawValue): return (.probe, halfOpened)
        case Int32(JADE_CB_REJECT.rawValue): return (.reject(retryAfterNanoseconds: retry), halfOpened)
        default: return (.allow, halfOpened)
        }
    }

    /// Reports an outcome; returns the new state when it changed. A success on a closed breaker
    /// is one atomic add (no lock, coarse clock).
    @discardableResult
    public func record(failed: Bool, probe: Bool, kind: StoreFailureKind? = nil, now: UInt64 = 0) -> State? {
        var c = config
        let unixMs = failed ? Int64(Date().timeIntervalSince1970 * 1000) : 0
        let t = jade_breaker_record(pointer, &c, now, failed ? 1 : 0, probe ? 1 : 0, kind?.rawValue ?? 0, unixMs)
        switch t {
        case JADE_CB_OPENED.rawValue: return .open
        case JADE_CB_CLOSED_AGAIN.rawValue: return .closed
        default: return nil
        }
    }

    public func view(now: UInt64 = 0) -> View {
        var v = jade_breaker_view_t()
        var c = config
        jade_breaker_view(pointer, &c, now, &v)
        let state: State =
            v.state == JADE_CB_OPEN.rawValue ? .open : (v.state == JADE_CB_HALF_OPEN.rawValue ? .halfOpen : .closed)
        return View(
            state: state, windowCalls: Int(v.window_calls), windowFailures: Int(v.window_failures),
            transitions: v.transitions, failuresTotal: v.failures_total,
            lastFailureKind: StoreFailureKind(rawValue: v.last_error_kind),
            lastFailureAt: v.last_failure_unix_ms > 0
                ? Date(timeIntervalSince1970: Double(v.last_failure_unix_ms) / 1000) : nil)
    }
}
