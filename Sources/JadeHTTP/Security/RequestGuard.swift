import Foundation
import JadeAuth
import JadeConfig
import JadeCore
import JadeShared
import JadeTransport
import Logging
import NIOHTTP1
import Synchronization

/// Request-level protection shared by every worker through shared memory: token-bucket rate
/// limits, connection counts per client address, failed-login counting per address, and the
/// IP block list (kept in SQLite, cached per worker and reloaded when the shared blocks epoch
/// moves).
public final class RequestGuard: Sendable {
    /// The configured limits (`rate_limits.<name>`): one list, in JadeConfig.
    public typealias Limit = RateLimitName

    let table: RateLimitTable?
    let segment: SharedSegment
    let ipBlocks: IPBlockStore
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

    /// Where decisions are counted.
    public let metrics: HTTPMetrics?
    /// The cached block list: the shared epoch it was read at, the addresses and their
    /// expiries, and the callers waiting for the read in progress.
    struct BlockList {
        var epoch: UInt64 = .max
        var blocked: [IPAddress: TimeInterval] = [:]
        var refreshing = false
        var waiting: [@Sendable (Bool) -> Void] = []
    }
    private let blockList = Mutex(BlockList())

    /// `ledger`: where open connections are recorded for the master to give back if this
    /// worker dies; `metrics`: where decisions are counted.
    public init(
        config: JadeConfiguration, segment: SharedSegment, ipBlocks: IPBlockStore, logger: Logger,
        metrics: HTTPMetrics? = nil, ledger: ConnectionLedger? = nil
    ) {
        self.segment = segment
        self.metrics = metrics
        self.ledger = ledger
        self.ipBlocks = ipBlocks
        self.logger = logger
        table = try? RateLimitTable(segment: segment)
        apiKeys = table.map { RateLimitKeyCache(table: $0, kind: "api", prefixes: ["key:", "user:"]) }
        let security = config.security
        rateLimiting = security.enableRateLimiting
        ipBlocking = security.enableIPBlocking
        var rules: [RateLimitRule] = []
        for limit in Limit.allCases {
            precondition(limit.index == rules.count)
            let configured = config.rateLimits[limit]!
            rules.append(
                RateLimitRule(
                    limit: configured.limit, periodSeconds: Double(configured.periodSeconds), burst: configured.burst))
        }
        self.rules = rules
        allowlist = security.ipAllowlist
        trustedProxies = config.server.trustedProxies
        failureRule = RateLimitRule(
            limit: security.maxFailedLogins, periodSeconds: Double(security.failedLoginWindow.components.seconds))
        blockDuration = TimeInterval(security.blockDuration.components.seconds)
        maxConnectionsPerIP = config.server.maxConnectionsPerIP
    }

    // MARK: client address

    /// The client address: the socket peer, or, only when the peer is a trusted proxy, the
    /// right-most address of X-Forwarded-For (all its header lines, in order) that is not
    /// itself a trusted proxy (see `IPAddress.forwardedClient`). Nil for an unknown client
    /// behind a trusted proxy (an entry that is not an address): such a request is limited
    /// under its own key and its failures never block the proxy.
    public func clientAddress(peer: IPAddress?, headers: HTTPHeaders) -> IPAddress? {
        guard let peer, !trustedProxies.isEmpty, isTrusted(peer) else { return peer }
        var entries: [Substring] = []
        for (name, value) in headers where name.utf8.count == 15 && name.lowercased() == "x-forwarded-for" {
            entries.append(contentsOf: value.split(separator: ",", omittingEmptySubsequences: false))
        }
        if entries.isEmpty { return peer }
        return IPAddress.forwardedClient(peer: peer, entries: entries, isTrusted: isTrusted)
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
            decision = table.take(
                table.key(kind: limit.rawValue, key: key), rate: rule.rate, burst: Double(rule.burst),
                policy: limit.isSecurity ? .failClosed : nil, evictionClass: limit.evictionClass)
            if decision.decidedByPolicy { unrecorded(limit.rawValue, refused: !decision.allowed) }
        }
        metrics?.recordRateLimit(limit, allowed: decision.allowed)
        return decision
    }

    /// When the last "no room" line was logged (monotonic ns), to log at most one a minute.
    private let lastFullTableLog = Mutex<UInt64>(0)

    /// A decision the table had no room to record: counted, and logged at most once a minute.
    private func unrecorded(_ kind: String, refused: Bool) {
        metrics?.recordUnrecorded(kind)
        let now = monotonicNanoseconds()
        let due = lastFullTableLog.withLock { last in
            guard last == 0 || now &- last >= 60_000_000_000 else { return false }
            last = now
            return true
        }
        guard due else { return }
        logger.error(
            "rate-limit table full: a decision could not be recorded",
            metadata: [
                "limit": "\(kind)", "decision": "\(refused ? "refused (fail closed)" : "allowed (fail open)")",
                "hint": "raise security.rate_limit_table_capacity",
            ])
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
        let decision = table.take(
            apiKeys.key(prefix: prefix, number: id), rate: rule.rate, burst: Double(rule.burst),
            evictionClass: .identity)
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

    /// A connection slot taken from an address's share of `server.max_connections_per_ip`.
    public struct ConnectionSlot: Sendable {
        /// Nil when nothing is counted (no rate-limit table).
        let key: RateLimitKey?
        /// Where the slot is recorded for the master (nil: unrecorded).
        let ledgerEntry: Int?
    }

    /// The slots this worker holds, readable by the master if the worker dies (set before
    /// serving; nil: unrecorded).
    public let ledger: ConnectionLedger?

    /// Takes a connection slot for `address`; nil when it already has the maximum open (or the
    /// table has no room to count it: refused, fail closed).
    public func connectionOpened(_ address: IPAddress) -> ConnectionSlot? {
        guard let table else { return ConnectionSlot(key: nil, ledgerEntry: nil) }
        let key = table.key(kind: "connections", key: address.description)
        // A bucket that never refills (in practice) is a counter of open connections.
        let d = table.take(
            key, rate: Self.connectionRate, burst: Double(maxConnectionsPerIP), policy: .failClosed,
            evictionClass: .pinned)
        if d.decidedByPolicy { unrecorded("connections", refused: true) }
        guard d.allowed else { return nil }
        return ConnectionSlot(key: key, ledgerEntry: ledger?.record(key))
    }

    /// Gives back a slot taken by `connectionOpened`.
    public func connectionClosed(_ slot: ConnectionSlot) {
        guard let table, let key = slot.key else { return }
        if let entry = slot.ledgerEntry { ledger?.clear(entry) }
        table.refund(key, rate: Self.connectionRate, burst: Double(maxConnectionsPerIP))
    }

    /// Refill rate of the open-connections counters: none, in practice.
    public static let connectionRate = 1e-9

    // MARK: IP blocking

    /// The cached list is stale when the shared blocks epoch moved (any worker, or the master
    /// relaying the admin CLI, changed the list) since it was read.
    ///
    /// Calls `done(true)` once the cached block list is as current as the shared epoch, at
    /// once when it already is; reads it again on a background queue if needed (one read for
    /// every caller waiting). `done(false)` when it cannot be read: the caller refuses the
    /// request (503) rather than serve it against an old list. `done` runs on any thread.
    public func whenBlockListCurrent(_ done: @escaping @Sendable (Bool) -> Void) {
        enum Next { case current, wait, refresh }
        let epoch = segment.header.blocksEpoch
        let next: Next = blockList.withLock { list in
            if epoch == list.epoch { return .current }
            list.waiting.append(done)
            if list.refreshing { return .wait }
            list.refreshing = true
            return .refresh
        }
        switch next {
        case .current: done(true)
        case .wait: break
        case .refresh: refreshQueue.async { [self] in refreshBlocks() }
        }
    }

    /// What the cached block list says of `client`, in one lock: the list is stale (see
    /// ``whenBlockListCurrent(_:)``), the client is blocked for so many seconds, or not.
    public enum BlockState {
        case clear
        case blocked(TimeInterval)
        case stale
    }

    /// The block list's answer for `client` (nil: an unknown client behind a proxy, never
    /// blocked by address). Never touches SQLite.
    public func blockState(_ client: IPAddress?) -> BlockState {
        guard ipBlocking else { return .clear }
        let epoch = segment.header.blocksEpoch
        let found: TimeInterval?? = blockList.withLock { list in
            guard epoch == list.epoch else { return nil }
            // Nearly always nothing is blocked: skip hashing the address.
            return .some(list.blocked.isEmpty ? nil : client.flatMap { list.blocked[$0] })
        }
        guard let found else { return .stale }
        guard let until = found, let client, !isAllowlisted(client) else { return .clear }
        let left = until - Date().timeIntervalSince1970
        return left > 0 ? .blocked(left) : .clear
    }

    private let refreshQueue = DispatchQueue(label: "jadevectordb.blocklist")

    /// Reads the block list from SQLite (blocking: call it before serving, or off the event
    /// loop) and answers the requests waiting for it. When the read fails they are answered
    /// `false`, and the previous list stays until a later read succeeds.
    public func refreshBlocks() {
        let epoch = segment.header.blocksEpoch
        var fresh: [IPAddress: TimeInterval]?
        do {
            var loaded: [IPAddress: TimeInterval] = [:]
            for block in try ipBlocks.activeIPBlocks() {
                if let ip = IPAddress(block.ip) { loaded[ip] = block.until }
            }
            fresh = loaded
        } catch {
            logger.error("cannot load the IP block list", metadata: ["error": "\(error)"])
        }
        let answered: [@Sendable (Bool) -> Void] = blockList.withLock { list in
            if let fresh {
                list.blocked = fresh
                list.epoch = epoch
            }
            list.refreshing = false
            defer { list.waiting.removeAll() }
            return list.waiting
        }
        for done in answered { done(fresh != nil) }
    }

    /// A failed login from `address`: counted; at the threshold within the window the address
    /// is blocked (never an allowlisted one).
    public func loginFailed(_ address: IPAddress?) {
        guard ipBlocking, let address, let table, !isAllowlisted(address) else { return }
        let d = table.take(
            table.key(kind: "login_failures", key: address.description), rate: failureRule.rate,
            burst: Double(failureRule.burst), policy: .failClosed, evictionClass: .address)
        if d.decidedByPolicy {
            // No room to count it; the login limit (fail closed too) still holds the address.
            unrecorded("login_failures", refused: true)
            return
        }
        guard d.remaining == 0 || !d.allowed else { return }
        table.reset(kind: "login_failures", key: address.description)
        do {
            try ipBlocks.blockIP(
                address, duration: blockDuration,
                reason: "\(failureRule.limit) failed logins within \(Int(failureRule.periodSeconds)) s",
                actor: "system",
                requestIP: address.description)
            segment.header.bumpBlocksEpoch()
            refreshBlocks()
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
        throws -> IPBlockStore.IPBlock
    {
        if isAllowlisted(address) {
            throw APIError(
                .conflict, "conflict", "\(address) is on the allowlist (security.ip_allowlist) and cannot be blocked.")
        }
        let block = try ipBlocks.blockIP(
            address, duration: duration, reason: reason, actor: actor, requestIP: requestIP)
        segment.header.bumpBlocksEpoch()
        refreshBlocks()
        return block
    }

    /// Admin unblock: lifts the block and forgets the address's failures.
    public func unblock(_ address: IPAddress, actor: String, requestIP: String?) throws -> Bool {
        let removed = try ipBlocks.unblockIP(address, actor: actor, requestIP: requestIP)
        table?.reset(kind: "login_failures", key: address.description)
        segment.header.bumpBlocksEpoch()
        refreshBlocks()
        return removed
    }
}

extension RateLimitName {
    /// The position in `allCases`, for arrays indexed by limit (a dictionary would hash the raw
    /// string on every request).
    public var index: Int {
        switch self {
        case .login: return 0
        case .registration: return 1
        case .api: return 2
        case .passwordReset: return 3
        case .global: return 4
        case .passwordResetAddress: return 5
        }
    }

    /// Whose key the bucket is, and so what it may push out of a full table.
    var evictionClass: RateLimitEvictionClass {
        switch self {
        case .login, .registration, .passwordResetAddress: return .address
        case .passwordReset: return .anonymous
        case .api, .global: return .identity
        }
    }

    /// Limits that stand between an attacker and credentials: when the table has no room to
    /// record a decision they refuse (fail closed) whatever the table's policy.
    var isSecurity: Bool {
        switch self {
        case .login, .registration, .passwordReset, .passwordResetAddress: return true
        case .api, .global: return false
        }
    }
}
