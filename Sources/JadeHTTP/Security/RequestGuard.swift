import Foundation
import JadeAuth
import JadeConfig
import JadeCore
import JadeShared
import Logging

/// Request-level protection shared by every worker through shared memory: token-bucket rate
/// limits, connection counts per client address, failed-login counting per address, and the
/// IP block list (kept in SQLite, cached per worker and reloaded when the shared blocks epoch
/// moves).
public final class RequestGuard: @unchecked Sendable {
    /// The configured limits (`rate_limits.<name>` in security_config.json).
    public enum Limit: String, CaseIterable, Sendable {
        case login, registration, api, passwordReset = "password_reset", global

        /// The position in `allCases`, for arrays indexed by limit (a dictionary would hash the
        /// raw string on every request).
        public var index: Int {
            switch self {
            case .login: return 0
            case .registration: return 1
            case .api: return 2
            case .passwordReset: return 3
            case .global: return 4
            }
        }
    }

    let table: RateLimitTable?
    let segment: SharedSegment
    let auth: AuthService
    let logger: Logger
    let rateLimiting: Bool
    let ipBlocking: Bool
    /// Indexed by `Limit.index`.
    let rules: [RateLimitRule]
    let allowlist: [CIDR]
    let trustedProxies: [CIDR]
    let failureRule: RateLimitRule
    let blockDuration: TimeInterval
    let maxConnectionsPerIP: Int

    /// Bucket keys of the API limit (prefixes `key:` and `user:`).
    let apiKeys: RateLimitKeyCache?

    /// Where decisions are counted (set before serving).
    public var metrics: HTTPMetrics?
    private let lock = NSLock()
    private var blocksEpoch: UInt64 = .max
    private var blocked: [IPAddress: TimeInterval] = [:]

    public init(config: JadeConfiguration, segment: SharedSegment, auth: AuthService, logger: Logger) {
        let c = config.resolved
        self.segment = segment
        self.auth = auth
        self.logger = logger
        table = try? RateLimitTable(segment: segment)
        apiKeys = table.map { RateLimitKeyCache(table: $0, kind: "api", prefixes: ["key:", "user:"]) }
        rateLimiting = c.bool("security.enable_rate_limiting")
        ipBlocking = c.bool("security.enable_ip_blocking")
        var rules: [RateLimitRule] = []
        for limit in Limit.allCases {
            precondition(limit.index == rules.count)
            rules.append(
                RateLimitRule(
                    limit: c.int("rate_limits.\(limit.rawValue).limit"),
                    periodSeconds: Double(c.int("rate_limits.\(limit.rawValue).period_seconds")),
                    burst: c.int("rate_limits.\(limit.rawValue).burst")))
        }
        self.rules = rules
        allowlist = c.strings("security.ip_allowlist").compactMap { CIDR($0) }
        trustedProxies = config.server.trustedProxies
        failureRule = RateLimitRule(
            limit: c.int("security.max_failed_logins"),
            periodSeconds: Double(c.int("security.failed_login_window_seconds")))
        blockDuration = TimeInterval(c.int("security.block_duration_seconds"))
        maxConnectionsPerIP = config.server.maxConnectionsPerIP
    }

    // MARK: client address

    /// The client address: the socket peer, or, only when the peer is a trusted proxy, the
    /// right-most address of X-Forwarded-For that is not itself a trusted proxy.
    public func clientAddress(peer: IPAddress?, forwardedFor: String?) -> IPAddress? {
        guard let peer, let forwardedFor, !trustedProxies.isEmpty, isTrusted(peer) else { return peer }
        var candidate = peer
        for part in forwardedFor.split(separator: ",").reversed() {
            guard let address = IPAddress(part.trimmingCharacters(in: .whitespaces)) else { break }
            candidate = address
            if !isTrusted(address) { break }
        }
        return candidate
    }

    func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }
    func isAllowlisted(_ address: IPAddress) -> Bool { allowlist.contains { $0.contains(address) } }

    // MARK: rate limits

    /// Takes one request from `limit`'s bucket for `key`; nil when rate limiting is off.
    public func take(_ limit: Limit, key: String) -> RateLimitDecision? {
        guard rateLimiting else { return nil }
        let rule = rules[limit.index]
        let decision: RateLimitDecision
        if limit == .global {
            decision = segment.takeGlobalLimit(rule)  // its own word in the segment, not the table
        } else {
            guard let table else { return nil }
            decision = table.take(kind: limit.rawValue, key: key, rule: rule)
        }
        metrics?.recordRateLimit(limit, allowed: decision.allowed)
        return decision
    }

    /// Takes one request from the API limit of an API key (bucket `key:<id>`).
    public func takeAPI(apiKeyID: Int64) -> RateLimitDecision? { takeAPI(prefix: 0, id: apiKeyID) }

    /// Takes one request from the API limit of a user's sessions (bucket `user:<id>`).
    public func takeAPI(userID: Int64) -> RateLimitDecision? { takeAPI(prefix: 1, id: userID) }

    /// The same buckets as `take(.api, key: "<prefix><id>")`, without building or hashing the
    /// key string on every request.
    private func takeAPI(prefix: Int, id: Int64) -> RateLimitDecision? {
        guard rateLimiting, let table, let apiKeys else { return nil }
        let rule = rules[Limit.api.index]
        let decision = table.take(apiKeys.key(prefix: prefix, number: id), rate: rule.rate, burst: Double(rule.burst))
        metrics?.recordRateLimit(.api, allowed: decision.allowed)
        return decision
    }

    /// RateLimit-* headers describing a decision.
    public static func headers(_ d: RateLimitDecision) -> [(String, String)] {
        var headers = [
            ("RateLimit-Limit", String(d.limit)), ("RateLimit-Remaining", String(d.remaining)),
            ("RateLimit-Reset", String(d.resetSeconds)),
        ]
        if !d.allowed { headers.append(("Retry-After", String(d.retryAfterSeconds))) }
        return headers
    }

    /// The 429 answer for a denied decision.
    public static func rejection(_ d: RateLimitDecision, _ what: String) -> APIError {
        APIError(
            .tooManyRequests, "rate_limited", "Too many \(what); retry in \(d.retryAfterSeconds) s.",
            headers: headers(d))
    }

    // MARK: connections

    /// Counts a new connection from `address`; false when it already has the maximum open.
    public func connectionOpened(_ address: IPAddress) -> Bool {
        guard let table else { return true }
        // A bucket that never refills (in practice) is a counter of open connections.
        let d = table.take(
            table.key(kind: "connections", key: address.description), rate: 1e-9, burst: Double(maxConnectionsPerIP))
        return d.allowed
    }

    /// Gives back the connection slot taken by `connectionOpened`.
    public func connectionClosed(_ address: IPAddress) {
        table?.refund(
            table!.key(kind: "connections", key: address.description), rate: 1e-9, burst: Double(maxConnectionsPerIP))
    }

    // MARK: IP blocking

    /// Seconds left on a block of `address`, or nil when it is not blocked.
    public func blockRemaining(_ address: IPAddress) -> TimeInterval? {
        let epoch = segment.header.blocksEpoch
        lock.lock()
        defer { lock.unlock() }
        if epoch != blocksEpoch {
            do {
                var fresh: [IPAddress: TimeInterval] = [:]
                for block in try auth.activeIPBlocks() {
                    if let ip = IPAddress(block.ip) { fresh[ip] = block.until }
                }
                blocked = fresh
                blocksEpoch = epoch
            } catch {
                logger.error("cannot load the IP block list", metadata: ["error": "\(error)"])
            }
        }
        // Nearly always nothing is blocked: skip hashing the address.
        guard !blocked.isEmpty, let until = blocked[address] else { return nil }
        let left = until - Date().timeIntervalSince1970
        return left > 0 ? left : nil
    }

    /// A failed login from `address`: counted; at the threshold within the window the address
    /// is blocked (never an allowlisted one).
    public func loginFailed(_ address: IPAddress?) {
        guard ipBlocking, let address, let table, !isAllowlisted(address) else { return }
        let d = table.take(kind: "login_failures", key: address.description, rule: failureRule)
        guard d.remaining == 0 || !d.allowed else { return }
        table.reset(kind: "login_failures", key: address.description)
        do {
            try auth.blockIP(
                address, duration: blockDuration,
                reason: "\(failureRule.limit) failed logins within \(Int(failureRule.periodSeconds)) s",
                actor: "system",
                requestIP: address.description)
            segment.header.bumpBlocksEpoch()
            logger.warning("blocked an address after failed logins", metadata: ["ip": "\(address)"])
        } catch {
            logger.error("cannot block an address", metadata: ["ip": "\(address)", "error": "\(error)"])
        }
    }

    /// A successful login clears the address's failure history.
    public func loginSucceeded(_ address: IPAddress?) {
        guard let address, let table else { return }
        table.reset(kind: "login_failures", key: address.description)
    }

    /// Admin block (409 for an allowlisted address).
    public func block(_ address: IPAddress, duration: TimeInterval, reason: String, actor: String, requestIP: String?)
        throws -> AuthService.IPBlock
    {
        if isAllowlisted(address) {
            throw APIError(
                .conflict, "conflict", "\(address) is on the allowlist (security.ip_allowlist) and cannot be blocked.")
        }
        let block = try auth.blockIP(address, duration: duration, reason: reason, actor: actor, requestIP: requestIP)
        segment.header.bumpBlocksEpoch()
        return block
    }

    /// Admin unblock: lifts the block and forgets the address's failures.
    public func unblock(_ address: IPAddress, actor: String, requestIP: String?) throws -> Bool {
        let removed = try auth.unblockIP(address, actor: actor, requestIP: requestIP)
        table?.reset(kind: "login_failures", key: address.description)
        segment.header.bumpBlocksEpoch()
        return removed
    }
}
