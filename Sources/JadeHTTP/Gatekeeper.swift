import JadeAuth
import JadeShared
import JadeTransport
import NIOCore
import NIOPosix

/// Verifies the caller and the route's permission. Cache hits are decided on the event loop;
/// misses go to the thread pool (SQLite) and come back as a future.
public final class Gatekeeper: Sendable {
    public enum Decision {
        /// Admitted; the rate-limit decision (RateLimit-* headers) goes on the response.
        case allowed(Principal, RateLimitDecision?)
        case denied(HTTPResponse)
        case pending(EventLoopFuture<Result<(Principal, RateLimitDecision?), APIError>>)
    }

    public let authenticator: Authenticator
    public let authorizer: Authorizer
    let threadPool: NIOThreadPool
    let requestGuard: RequestGuard?
    /// Where authentications and permission checks are counted.
    public let metrics: HTTPMetrics?

    public init(
        authenticator: Authenticator, authorizer: Authorizer, threadPool: NIOThreadPool,
        requestGuard: RequestGuard? = nil, metrics: HTTPMetrics? = nil
    ) {
        self.metrics = metrics
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.threadPool = threadPool
        self.requestGuard = requestGuard
    }

    /// The per-credential API limit (`rate_limits.api`): per API key, or per user for sessions.
    private func limit(_ principal: Principal) -> Result<RateLimitDecision?, APIError> {
        guard let requestGuard else { return .success(nil) }
        let decision: RateLimitDecision?
        switch principal.credential {
        case .apiKey(let id, _): decision = requestGuard.takeAPI(apiKeyID: id)
        case .session: decision = requestGuard.takeAPI(userID: principal.userID)
        }
        guard let decision else { return .success(nil) }
        if !decision.allowed { return .failure(RequestGuard.rejection(decision, "API requests")) }
        return .success(decision)
    }

    public func admit(_ policy: AccessPolicy, _ request: RequestContext) -> Decision {
        let credential: PresentedCredential
        do {
            guard
                let presented = try PresentedCredential.parse(
                    authorization: request.head.headers.first(name: "authorization"),
                    apiKeyHeader: request.head.headers.first(name: "x-api-key"))
            else { return .denied(APIError.from(AuthError.unauthenticated)!.response) }
            credential = presented
        } catch {
            return .denied(APIError.from(error)!.response)
        }
        let started = monotonicNanoseconds()
        let isKey: Bool
        if case .apiKey = credential { isKey = true } else { isKey = false }
        let cached = authenticator.cachedPrincipal(for: credential)
        if let principal = cached {
            metrics?.recordAuthentication(apiKey: isKey, success: true, nanoseconds: monotonicNanoseconds() &- started)
            switch check(policy, principal, request, cachedOnly: true, countCache: true) {
            case .success(true):
                switch limit(principal) {
                case .success(let decision): return .allowed(principal, decision)
                case .failure(let error): return .denied(error.response)
                }
            case .success(false): break  // decision not cached: ask the database
            case .failure(let error): return .denied(error.response)
            }
        }
        let authenticator = self.authenticator
        let ip = request.remoteAddress
        return .pending(
            threadPool.runIfActive(eventLoop: request.eventLoop) {
                () -> Result<(Principal, RateLimitDecision?), APIError> in
                do {
                    // Counted once per request: a cached principal was counted on the loop.
                    let count = cached == nil ? self.metrics : nil
                    let start = monotonicNanoseconds()
                    let principal: Principal
                    do {
                        principal = try authenticator.authenticate(credential, ip: ip)
                    } catch {
                        count?.recordAuthentication(
                            apiKey: isKey, success: false, nanoseconds: monotonicNanoseconds() &- start)
                        throw error
                    }
                    count?.recordAuthentication(
                        apiKey: isKey, success: true, nanoseconds: monotonicNanoseconds() &- start)
                    switch self.check(policy, principal, request, cachedOnly: false, countCache: cached == nil) {
                    case .success: return self.limit(principal).map { (principal, $0) }
                    case .failure(let error): return .failure(error)
                    }
                } catch {
                    return .failure(
                        APIError.from(error)
                            ?? APIError(.internalServerError, "internal_error", "Authentication failed."))
                }
            })
    }

    /// `.success(true)`: allowed; `.success(false)` (cache-only mode): unknown yet;
    /// `.failure`: denied.
    private func check(
        _ policy: AccessPolicy, _ principal: Principal, _ request: RequestContext, cachedOnly: Bool, countCache: Bool
    ) -> Result<Bool, APIError> {
        var required: (Permission, String?)?
        switch policy {
        case .open:
            return .success(true)
        case .authenticated(let allowing):
            if let restriction = principal.restriction, !allowing.contains(restriction) {
                return .failure(restricted(restriction))
            }
            return .success(true)
        case .account(let allowing):
            if principal.keyPermissions != nil {
                return .failure(
                    APIError(
                        .forbidden, "forbidden",
                        "An API key with a permission list cannot act on its owner's account; use a session or "
                            + "an unrestricted key."))
            }
            if let restriction = principal.restriction, !allowing.contains(restriction) {
                return .failure(restricted(restriction))
            }
            return .success(true)
        case .global(let permission):
            required = (permission, nil)
        case .database(let permission, let parameter):
            required = (permission, request.parameters[parameter] ?? "")
        }
        if let restriction = principal.restriction { return .failure(restricted(restriction)) }
        guard let (permission, database) = required else { return .success(true) }
        let started = monotonicNanoseconds()
        let granted: Bool
        if let cached = authorizer.cachedDecision(principal, permission, database: database) {
            if countCache { metrics?.permissionCacheHits.increment() }
            granted = cached
        } else if cachedOnly {
            if countCache { metrics?.permissionCacheMisses.increment() }
            return .success(false)
        } else {
            if countCache { metrics?.permissionCacheMisses.increment() }
            do {
                granted = try authorizer.authorize(principal, permission, database: database)
            } catch {
                metrics?.recordPermission(permission, granted: nil, nanoseconds: monotonicNanoseconds() &- started)
                return .failure(
                    APIError(
                        .serviceUnavailable, "unavailable", "The permission check failed; retry.",
                        headers: [("Retry-After", "1")]))
            }
        }
        metrics?.recordPermission(permission, granted: granted, nanoseconds: monotonicNanoseconds() &- started)
        if granted { return .success(true) }
        let what = database.map { "\(permission.rawValue) on database \($0)" } ?? permission.rawValue
        return .failure(APIError(.forbidden, "forbidden", "This needs the \(what) permission."))
    }

    private func restricted(_ restriction: Principal.Restriction) -> APIError {
        switch restriction {
        case .passwordExpired: return APIError.from(AuthError.passwordExpired)!
        case .twoFactorEnrollment: return APIError.from(AuthError.twoFactorEnrollmentRequired)!
        }
    }
}

/// The gatekeeper as the last guard of the chain: a route's policy decides whether the caller
/// gets through; the caller's rate-limit decision goes on the response.
extension Gatekeeper: Middleware {
    public func inbound(_ request: inout RequestContext, _ route: Router.Route) -> Inbound {
        if case .open = route.policy { return .next }
        switch admit(route.policy, request) {
        case .allowed(let principal, let decision):
            request.principal = principal
            request.rateLimit = decision
            return .next
        case .denied(let response):
            return .answer(response)
        case .pending(let future):
            let pending = request
            return .later(
                future.map { outcome -> Resumption in
                    switch outcome {
                    case .success(let (principal, decision)):
                        var admitted = pending
                        admitted.principal = principal
                        admitted.rateLimit = decision
                        return .next(admitted)
                    case .failure(let error):
                        return .answer(error.response)
                    }
                })
        }
    }

    public func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route) {
        guard response.rateLimit == nil, let decision = request.rateLimit else { return }
        response.rateLimit = RateLimitHeaders(
            limit: decision.limit, remaining: decision.remaining, resetSeconds: decision.resetSeconds,
            retryAfterSeconds: decision.allowed ? nil : decision.retryAfterSeconds)
    }
}
