import JadeCore
import JadeShared
import JadeTransport
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The application a worker serves: routes behind a middleware chain. The transport
/// (``HTTPTransport``) hands it each complete request; it matches the route (an unmatched path
/// becomes a 404 or 405 route of its own, so it passes the same guards), builds the
/// ``RequestContext`` and runs the chain:
///
/// access log → route metrics → response size limit → CORS headers (when configured) → block
/// list and global limit (``RequestScreen``) → authentication, per-credential limit and
/// permission (``Gatekeeper``) → handler.
///
/// Lives on the worker's event loop, like the transport.
// @unchecked Sendable: confined to the worker's single event loop (an NIO handler's responder).
public final class Application: HTTPResponder, @unchecked Sendable {
    public let router: Router
    public let chain: MiddlewareChain
    /// Where blocking work runs.
    public let threadPool: NIOThreadPool?
    /// Rate limits, connection counts and IP blocks (nil: none).
    public let requestGuard: RequestGuard?
    let accessLog: Bool
    /// Cross-origin access (nil: off).
    let cors: CORSPolicy?

    /// Writes the `GET /health` JSON body for the transport's fast path (the worker's main
    /// server; nil: every request is routed).
    public let fastHealth: (@Sendable (inout ByteBuffer) -> Void)?

    public init(
        router: Router, logger: Logger, accessLog: Bool, maxResponseBytes: Int = 8 << 20, gate: Gatekeeper? = nil,
        threadPool: NIOThreadPool? = nil, requestGuard: RequestGuard? = nil,
        fastHealth: (@Sendable (inout ByteBuffer) -> Void)? = nil, cors: CORSPolicy? = nil
    ) {
        self.fastHealth = fastHealth
        self.cors = cors
        self.router = router
        self.threadPool = threadPool
        self.requestGuard = requestGuard
        self.accessLog = accessLog
        var middleware: [any Middleware] = [
            AccessLog(logger: logger, everyRequest: accessLog), RouteMetricsRecorder(),
            ResponseSizeLimit(maxBytes: maxResponseBytes),
        ]
        if let cors { middleware.append(CORSHeaders(policy: cors)) }
        if let requestGuard { middleware.append(RequestScreen(requestGuard: requestGuard)) }
        middleware.append(gate.map { $0 as any Middleware } ?? MissingGatekeeper())
        self.chain = MiddlewareChain(middleware, logger: logger)
    }

    // MARK: HTTPResponder

    public func connectionOpened(peer: IPAddress?) -> ConnectionAdmission {
        guard let guardian = requestGuard, let peer, !guardian.isTrusted(peer) else { return .admitted(ticket: nil) }
        guard let slot = guardian.connectionOpened(peer) else {
            return .refused(
                .error(
                    .tooManyRequests, code: "rate_limited", message: "Too many open connections from this address.",
                    headers: [("Retry-After", "1")]))
        }
        return .admitted(ticket: slot)
    }

    public func connectionClosed(_ ticket: any Sendable) {
        if let slot = ticket as? RequestGuard.ConnectionSlot { requestGuard?.connectionClosed(slot) }
    }

    public var plainHealth: PlainHealthAnswer? {
        // The access log would miss the lines of requests answered without the chain.
        guard let fastHealth, !accessLog else { return nil }
        let metrics: RouteMetrics?
        if case .found(let route, _) = router.match(.GET, "/health"[...]) {
            metrics = route.metrics
        } else {
            metrics = nil
        }
        return PlainHealthAnswer(writeBody: fastHealth) { nanoseconds in
            metrics?.record(status: 200, nanoseconds: nanoseconds)
        }
    }

    public func transportEvent(_ event: TransportEvent) {
        switch event {
        case .idleConnectionClosed: router.metrics?.idleConnectionsClosed.increment()
        case .connectionRefusedAtCap: router.metrics?.connectionsRefused.increment()
        }
    }

    public func respond(to incoming: IncomingRequest) -> HandlerResult {
        let head = incoming.head
        let uri = head.uri[...]
        let path: Substring
        let query: Substring?
        if let q = uri.firstIndex(of: "?") {
            path = uri[..<q]
            query = uri[uri.index(after: q)...]
        } else {
            path = uri
            query = nil
        }
        let route: Router.Route
        var parameters: [String: String] = [:]
        switch router.match(head.method, path) {
        case .found(let found, let values):
            route = found
            parameters = values
        case .methodNotAllowed(let allowed):
            if let cors, CORSPolicy.isPreflight(head), let origin = head.headers.first(name: "origin") {
                route = router.answered(cors.preflightAnswer(origin: origin, methods: allowed))
            } else {
                route = router.methodNotAllowed(head.method, allowed: allowed)
            }
        case .notFound:
            route = router.notFound(path)
        }
        // Behind a trusted proxy, the address it vouches for; nil for a client it cannot name
        // (never the proxy's own address).
        let client: IPAddress?
        if let requestGuard {
            client = requestGuard.clientAddress(peer: incoming.peerAddress, headers: head.headers)
        } else {
            client = incoming.peerAddress
        }
        let request = RequestContext(
            head: head, path: path, query: query, body: incoming.body, parameters: parameters,
            requestID: incoming.requestID, eventLoop: incoming.eventLoop, clientAddress: client,
            peerAddress: client == nil ? incoming.peerAddress : nil, connectionPeer: incoming.peerAddress,
            startedAt: incoming.startedAt, principal: nil, threadPool: threadPool)
        return chain.run(request, route)
    }
}

/// Logs every request when `logging.access_log` is on, and every 5xx answer in any case.
struct AccessLog: Middleware {
    let logger: Logger
    let everyRequest: Bool

    func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route) {
        let isError = response.status.code >= 500
        guard everyRequest || isError else { return }
        let elapsed = Double((NIODeadline.now() - request.startedAt).nanoseconds) / 1e6
        logger.log(
            level: isError ? .error : .info, "request",
            metadata: [
                "request_id": "\(request.requestID)", "method": "\(request.head.method.rawValue)",
                "route": "\(route.template)", "status": "\(response.status.code)",
                "duration_ms": .stringConvertible((elapsed * 1000).rounded() / 1000),
                "remote": "\(request.connectionPeer?.description ?? "-")",
            ])
    }
}

/// Records each answer in its route's series (`jadevectordb_http_requests_total{route,...}`,
/// the duration histogram and the route's own labels, ``RouteLabels``).
struct RouteMetricsRecorder: Middleware {
    func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route) {
        guard let metrics = route.metrics else { return }
        let elapsed = (NIODeadline.now() - request.startedAt).nanoseconds
        metrics.record(status: Int(response.status.code), nanoseconds: UInt64(max(elapsed, 0)))
    }
}

/// Replaces an answer larger than `server.max_response_bytes` by 422 `response_too_large`
/// before it is queued on the connection.
struct ResponseSizeLimit: Middleware {
    let maxBytes: Int

    func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route) {
        guard response.body.readableBytes > maxBytes else { return }
        response = APIError.responseTooLarge(bytes: response.body.readableBytes, limit: maxBytes).response
    }
}

/// Without a gatekeeper (a worker built without authentication) only open routes are served.
struct MissingGatekeeper: Middleware {
    func inbound(_ request: inout RequestContext, _ route: Router.Route) -> Inbound {
        if case .open = route.policy { return .next }
        return .answer(
            .error(.internalServerError, code: "internal_error", message: "Authentication is not configured."))
    }
}

/// The guards every request passes before any route-specific work, routed or not (health and
/// metrics routes are exempt: `Router.Route.isExemptFromLimits`): the block list, then the
/// global limit. When the block list changed since this worker read it, the request waits (off
/// the event loop) for the new list: a block made on any worker holds on every worker from its
/// next request.
struct RequestScreen: Middleware {
    let requestGuard: RequestGuard

    func inbound(_ request: inout RequestContext, _ route: Router.Route) -> Inbound {
        if route.isExemptFromLimits { return .next }
        switch requestGuard.blockState(request.clientAddress) {
        case .stale: return later(request)
        case .blocked(let left): return .answer(blockedResponse(left))
        case .clear: break
        }
        if let refusal = globalLimitRefusal() { return .answer(refusal) }
        return .next
    }

    /// 403 `ip_blocked`, counted.
    private func blockedResponse(_ left: Double) -> HTTPResponse {
        requestGuard.metrics?.blockedRequests.increment()
        return .error(
            .forbidden, code: "ip_blocked", message: "Requests from this address are blocked.",
            headers: [("Retry-After", String(Int(left.rounded(.up))))])
    }

    /// 429 when the global limit is exhausted, else nil (taking one request from it).
    private func globalLimitRefusal() -> HTTPResponse? {
        guard let decision = requestGuard.take(.global, key: "*"), !decision.allowed else { return nil }
        return RequestGuard.rejection(decision, "requests to this server").response
    }

    /// Waits for a current block list, then screens (or answers 503 when the list cannot be read).
    private func later(_ request: RequestContext) -> Inbound {
        let promise = request.eventLoop.makePromise(of: Bool.self)
        requestGuard.whenBlockListCurrent { current in promise.succeed(current) }
        let client = request.clientAddress
        return .later(
            promise.futureResult.map { current -> Resumption in
                guard current else {
                    return .answer(
                        .error(
                            .serviceUnavailable, code: "unavailable",
                            message: "The server cannot check its block list right now. Retry later.",
                            headers: [("Retry-After", "1")]))
                }
                // The list was read just now: screened against it without waiting again.
                if case .blocked(let left) = requestGuard.blockState(client) { return .answer(blockedResponse(left)) }
                if let refusal = globalLimitRefusal() { return .answer(refusal) }
                return .next(request)
            })
    }
}
