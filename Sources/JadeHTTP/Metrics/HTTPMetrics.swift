import JadeAuth
import JadeShared
import NIOHTTP1
import Synchronization

/// Error classes of `jadevectordb_auth_errors_total{error_type}`, from the answer's status.
enum AuthErrorType: String, CaseIterable {
    case invalidCredentials = "invalid_credentials"
    case forbidden
    case rateLimited = "rate_limited"
    case invalidRequest = "invalid_request"
    case unavailable
    case `internal`

    init(status: Int) {
        switch status {
        case 401: self = .invalidCredentials
        case 403: self = .forbidden
        case 429: self = .rateLimited
        case 503: self = .unavailable
        case 500...: self = .internal
        default: self = .invalidRequest
        }
    }
}

/// The sprint plan's authentication series for one `method` (login, logout, session, ...).
final class AuthMethodMetrics: Sendable {
    let success: MetricCounter
    let failure: MetricCounter
    let duration: MetricHistogram
    let errors: [MetricCounter]

    init(_ registry: MetricsRegistry, method: String) {
        let help = "Authentication requests by method and outcome."
        success = registry.counter(
            "jadevectordb_auth_requests_total", help: help, labels: [("method", method), ("status", "success")])
        failure = registry.counter(
            "jadevectordb_auth_requests_total", help: help, labels: [("method", method), ("status", "failure")])
        duration = registry.histogram(
            "jadevectordb_auth_duration_seconds", help: "Time to answer an authentication request.",
            labels: [("method", method)])
        errors = AuthErrorType.allCases.map {
            registry.counter(
                "jadevectordb_auth_errors_total", help: "Failed authentication requests by method and error class.",
                labels: [("method", method), ("error_type", $0.rawValue)])
        }
    }

    /// Records one answer with HTTP status `status`.
    @inline(__always)
    func record(status: Int, nanoseconds: UInt64) {
        duration.observe(nanoseconds: nanoseconds)
        if status < 400 {
            success.increment()
        } else {
            failure.increment()
            let type = AuthErrorType(status: status)
            errors[AuthErrorType.allCases.firstIndex(of: type)!].increment()
        }
    }
}

/// The series one route (template and method) records into after each answer.
public final class RouteMetrics: Sendable {
    let statusClasses: [MetricCounter]
    let duration: MetricHistogram
    let auth: AuthMethodMetrics?
    let userOperation: MetricCounter?
    let failedLogin: MetricCounter?
    let search: MetricHistogram?

    init(
        _ registry: MetricsRegistry, template: String, method: String, auth: AuthMethodMetrics? = nil,
        userOperation: MetricCounter? = nil, failedLogin: MetricCounter? = nil, search: MetricHistogram? = nil
    ) {
        self.auth = auth
        self.userOperation = userOperation
        self.failedLogin = failedLogin
        self.search = search
        statusClasses = (1...5).map {
            registry.counter(
                "jadevectordb_http_requests_total",
                help: "HTTP requests answered, by route template, method and status class.",
                labels: [("route", template), ("method", method), ("status", "\($0)xx")])
        }
        duration = registry.histogram(
            "jadevectordb_http_request_duration_seconds",
            help: "Time from the first byte of a request to its answer, by route template and method.",
            labels: [("route", template), ("method", method)])
    }

    /// Records one answer: a few relaxed atomic adds.
    @inline(__always)
    public func record(status: Int, nanoseconds: UInt64) {
        statusClasses[min(max(status / 100, 1), 5) - 1].increment()
        duration.observe(nanoseconds: nanoseconds)
        if let auth { auth.record(status: status, nanoseconds: nanoseconds) }
        if status < 300, let userOperation { userOperation.increment() }
        if status == 401, let failedLogin { failedLogin.increment() }
        if status < 300, let search { search.observe(nanoseconds: nanoseconds) }
    }
}

/// Every series the HTTP layer records: per route (registered with the route), authentication,
/// permission checks, rate-limit decisions. One per worker, built before serving.
public final class HTTPMetrics: Sendable {
    public let registry: MetricsRegistry
    /// Requests that matched no route (404, 405).
    public let unmatched: RouteMetrics
    /// Credential verification by kind (Gatekeeper).
    let sessionAuth: AuthMethodMetrics
    let apiKeyAuth: AuthMethodMetrics
    let permissionChecks: [Permission: (granted: MetricCounter, denied: MetricCounter, error: MetricCounter)]
    let permissionDuration: MetricHistogram
    let permissionCacheHits: MetricCounter
    let permissionCacheMisses: MetricCounter
    /// Indexed by `RequestGuard.Limit.index`.
    let rateLimit: [(allowed: MetricCounter, limited: MetricCounter)]
    let blockedRequests: MetricCounter
    /// Idle connections closed to make room near the connection cap.
    let idleConnectionsClosed: MetricCounter
    /// Connections refused with 503 `overloaded` at the connection cap.
    let connectionsRefused: MetricCounter
    /// Rate-limit decisions the table had no room to record, by limit.
    let unrecordedDecisions: [String: MetricCounter]

    public init(registry: MetricsRegistry) {
        self.registry = registry
        unmatched = RouteMetrics(registry, template: "unmatched", method: "any")
        sessionAuth = AuthMethodMetrics(registry, method: "session")
        apiKeyAuth = AuthMethodMetrics(registry, method: "api_key")
        var checks: [Permission: (MetricCounter, MetricCounter, MetricCounter)] = [:]
        for p in Permission.allCases {
            func c(_ result: String) -> MetricCounter {
                registry.counter(
                    "jadevectordb_permission_checks_total", help: "Permission checks by permission and result.",
                    labels: [("permission", p.rawValue), ("result", result)])
            }
            checks[p] = (c("granted"), c("denied"), c("error"))
        }
        permissionChecks = checks
        permissionDuration = registry.histogram(
            "jadevectordb_permission_check_duration_seconds",
            help: "Time to decide a permission check (cached or from SQLite).", buckets: .fast)
        permissionCacheHits = registry.counter(
            "jadevectordb_permission_cache_hits_total", help: "Permission checks answered from the cache.")
        permissionCacheMisses = registry.counter(
            "jadevectordb_permission_cache_misses_total", help: "Permission checks that had to read SQLite.")
        var limits: [(allowed: MetricCounter, limited: MetricCounter)] = []
        for l in RequestGuard.Limit.allCases {
            func c(_ outcome: String) -> MetricCounter {
                registry.counter(
                    "jadevectordb_rate_limit_decisions_total", help: "Rate-limit decisions by limit and outcome.",
                    labels: [("limit", l.rawValue), ("outcome", outcome)])
            }
            precondition(l.index == limits.count)
            limits.append((c("allowed"), c("limited")))
        }
        rateLimit = limits
        idleConnectionsClosed = registry.counter(
            "jadevectordb_connections_shed_total",
            help: "Connections the server closed or refused to stay under its cap.",
            labels: [("reason", "idle_closed")])
        connectionsRefused = registry.counter(
            "jadevectordb_connections_shed_total",
            help: "Connections the server closed or refused to stay under its cap.",
            labels: [("reason", "overloaded")])
        var unrecorded: [String: MetricCounter] = [:]
        for kind in RequestGuard.Limit.allCases.map(\.rawValue) + ["connections", "login_failures"] {
            unrecorded[kind] = registry.counter(
                "jadevectordb_rate_limit_unrecorded_total",
                help:
                    "Rate-limit decisions the full table had no room to record (security limits refuse them).",
                labels: [("limit", kind)])
        }
        unrecordedDecisions = unrecorded
        blockedRequests = registry.counter(
            "jadevectordb_blocked_requests_total", help: "Requests refused because the client address is blocked.")
    }

    /// The series made so far, by route and by authentication method (registration only).
    private let made = Mutex<(routes: [String: RouteMetrics], authByMethod: [String: AuthMethodMetrics])>(([:], [:]))

    /// The series of the route `method template` with its declared `labels` (registered when
    /// the route is added, so that every series exists from the first scrape).
    public func route(_ method: HTTPMethod, _ template: String, labels: RouteLabels = .none) -> RouteMetrics {
        let key = method.rawValue + " " + template
        let registry = self.registry
        return made.withLock { made in
            if let existing = made.routes[key] { return existing }
            var auth: AuthMethodMetrics?
            if let method = labels.authMethod {
                let m = made.authByMethod[method] ?? AuthMethodMetrics(registry, method: method)
                made.authByMethod[method] = m
                auth = m
            }
            let metrics = RouteMetrics(
                registry, template: template, method: method.rawValue, auth: auth,
                userOperation: labels.userOperation.map { operation in
                    registry.counter(
                        "jadevectordb_user_operations_total", help: "Successful changes to users by operation.",
                        labels: [("operation", operation)])
                },
                failedLogin: labels.countsFailedLogins
                    ? registry.counter(
                        "jadevectordb_failed_logins_total", help: "Logins refused for bad credentials (401).") : nil,
                search: labels.timesVectorSearch
                    ? registry.histogram(
                        "jadevectordb_vector_search_duration_seconds",
                        help: "Time to answer a successful vector search.") : nil)
            made.routes[key] = metrics
            return metrics
        }
    }

    /// Records a credential verification.
    func recordAuthentication(apiKey: Bool, success: Bool, nanoseconds: UInt64) {
        (apiKey ? apiKeyAuth : sessionAuth).record(status: success ? 200 : 401, nanoseconds: nanoseconds)
    }

    /// Records a permission decision (`granted` nil: the check failed).
    func recordPermission(_ permission: Permission, granted: Bool?, nanoseconds: UInt64) {
        guard let c = permissionChecks[permission] else { return }
        switch granted {
        case true?: c.granted.increment()
        case false?: c.denied.increment()
        case nil: c.error.increment()
        }
        permissionDuration.observe(nanoseconds: nanoseconds)
    }

    /// Records a decision the rate-limit table had no room for.
    func recordUnrecorded(_ kind: String) { unrecordedDecisions[kind]?.increment() }

    /// Records a rate-limit decision.
    func recordRateLimit(_ limit: RequestGuard.Limit, allowed: Bool) {
        let c = rateLimit[limit.index]
        (allowed ? c.allowed : c.limited).increment()
    }
}
