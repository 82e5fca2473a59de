/// The seam for rate-limit state shared beyond one machine (not used yet).
///
/// Today every decision is made by ``RateLimitTable``: token buckets in the shared-memory segment,
/// shared by the master and the workers of one node, so the limits are per node. A cluster behind
/// one load balancer would swap in a backend whose buckets live in Redis (one key per bucket,
/// the refill-and-take done atomically by a Lua script using the server's clock, with a TTL of
/// burst/rate so idle keys expire) and keep ``RateLimitTable`` as the local fallback when Redis
/// cannot be reached within a few milliseconds (fail open or closed per
/// ``RateLimitFullTablePolicy``). The request guard (JadeHTTP/Security/RequestGuard.swift) would
/// hold a `RateLimitBackend` instead of a `RateLimitTable`; nothing else changes.
///
/// See docs/operations_runbook.md, "Scale beyond one machine (design)".
public protocol RateLimitBackend: AnyObject, Sendable {
    /// The bucket identity of (limit kind, client key), e.g. ("login", "203.0.113.7").
    func key(kind: String, key: String) -> RateLimitKey

    /// Takes `cost` tokens from the bucket of `key`, refilled at `rate` tokens per second up to
    /// `burst`; `now` is a monotonic clock in nanoseconds (a remote backend uses its own clock).
    /// `evictionClass` says what a new key may push out when the backend is full.
    func take(
        _ key: RateLimitKey, rate: Double, burst: Double, cost: Double, policy: RateLimitFullTablePolicy?,
        evictionClass: RateLimitEvictionClass, now: UInt64
    ) -> RateLimitDecision

    /// Gives `amount` tokens back (capped at the burst), e.g. after a successful login.
    func refund(_ key: RateLimitKey, rate: Double, burst: Double, amount: Double, now: UInt64)

    /// Forgets the bucket of (kind, key) (an administrator's unblock). Returns whether there was one.
    @discardableResult
    func reset(kind: String, key: String) -> Bool
}

/// The shared-memory table is the single-node backend.
extension RateLimitTable: RateLimitBackend {}
