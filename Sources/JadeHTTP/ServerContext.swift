import CJadeShm
import Foundation
import JadeAuth
import JadeCore
import JadeShared
import Logging
import NIOCore
import NIOPosix

/// How a worker stops serving.
public enum DrainMode: Sendable {
    /// Reload: a new generation serves the same sockets. Idle keep-alive connections are kept
    /// until their next request (answered with `Connection: close`) or the drain deadline.
    case retire
    /// Shutdown: idle keep-alive connections are closed at once; requests in progress and
    /// connections that have not sent their first request yet are still served.
    case stop
}

/// Limits the connection handler enforces.
public struct HTTPLimits: Sendable {
    public var maxRequestBodyBytes: Int
    public var maxHeaderBytes: Int
    public var requestTimeout: TimeAmount
    public var keepAliveTimeout: TimeAmount
    /// How long a connection that we closed for writing waits for the client's EOF.
    public var lingerTimeout: TimeAmount
    /// Open connections this worker accepts at most; further ones get 503 `overloaded`.
    public var maxConnections: Int
    /// Largest response body; a larger answer is replaced by 422 `response_too_large` before
    /// it is queued on the connection.
    public var maxResponseBytes: Int

    public init(
        maxRequestBodyBytes: Int = 1 << 20, maxHeaderBytes: Int = 16_384, requestTimeout: TimeAmount = .seconds(30),
        keepAliveTimeout: TimeAmount = .seconds(60), lingerTimeout: TimeAmount = .seconds(2),
        maxConnections: Int = 10_000, maxResponseBytes: Int = 8 << 20
    ) {
        self.maxConnections = maxConnections
        self.maxResponseBytes = maxResponseBytes
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.requestTimeout = requestTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.lingerTimeout = lingerTimeout
    }
}

/// Per-worker state shared by every connection. Lives on the worker's single event loop; every
/// method must be called there.
// @unchecked Sendable: confined to the worker's single event loop.
public final class ServerContext: @unchecked Sendable {
    public let eventLoop: EventLoop
    public let router: Router
    public let limits: HTTPLimits
    public let logger: Logger
    public let accessLog: Bool
    /// Verifies credentials and permissions for routes that need them.
    public let gate: Gatekeeper?
    /// Where blocking work runs.
    public let threadPool: NIOThreadPool?
    /// Rate limits, connection counts and IP blocks (nil: none).
    public let requestGuard: RequestGuard?
    /// The worker's record in shared memory, when running under the master.
    let record: WorkerRecord?
    private let inFlight: UnsafeMutablePointer<Int64>?
    private let requestsTotal: UnsafeMutablePointer<UInt64>?
    private let connectionsGauge: UnsafeMutablePointer<UInt64>?

    private(set) var drainMode: DrainMode?
    private var connections: [ObjectIdentifier: HTTPConnectionHandler] = [:]
    private var drained: EventLoopPromise<Void>?

    private var requestCounter: UInt64 = 0
    private let requestIDPrefix: String
    private var cachedDate: (second: Int, text: String) = (-1, "")

    public init(
        eventLoop: EventLoop, router: Router, limits: HTTPLimits, logger: Logger, accessLog: Bool,
        record: WorkerRecord?, gate: Gatekeeper? = nil, threadPool: NIOThreadPool? = nil,
        requestGuard: RequestGuard? = nil
    ) {
        self.requestGuard = requestGuard
        self.gate = gate
        self.threadPool = threadPool
        self.eventLoop = eventLoop
        self.router = router
        self.limits = limits
        self.logger = logger
        self.accessLog = accessLog
        self.record = record
        self.inFlight = record?.inFlightPointer
        self.requestsTotal = record?.requestsTotalPointer
        self.connectionsGauge = record?.connectionsPointer
        var rng = SystemRandomNumberGenerator()
        let random: UInt64 = rng.next()
        self.requestIDPrefix = String(random & 0xFFFF_FFFF_FFFF, radix: 36)
    }

    /// Number of open connections.
    public var openConnections: Int { connections.count }

    func register(_ handler: HTTPConnectionHandler) {
        connections[ObjectIdentifier(handler)] = handler
        if let connectionsGauge { _ = jade_add_u64(connectionsGauge, 1) }
        if let drainMode { handler.drain(drainMode) }
        if !trackingIdleOrder && connections.count * 2 > limits.maxConnections { startTrackingIdleOrder() }
        if connections.count > idleSheddingThreshold { closeOldestIdle() }
    }

    /// Above this many open connections (90% of `maxConnections`), each new connection closes
    /// the connection that has been idle longest, so that idle ones (keep-alive, or never sent a
    /// byte) make way for new clients before the cap refuses anybody.
    var idleSheddingThreshold: Int { limits.maxConnections - max(1, limits.maxConnections / 10) }

    /// Connections in the order they last became idle, oldest first, kept only while more than
    /// half of `maxConnections` are open (below, a request costs one counter store); entries
    /// whose connection left or has been busy since (its token moved on) are skipped when met.
    private var idleOrder = CircularBuffer<(id: ObjectIdentifier, token: UInt64)>()
    private var trackingIdleOrder = false
    private var lastIdleToken: UInt64 = 0

    /// `handler` has just become idle (connected, or answered with keep-alive).
    func becameIdle(_ handler: HTTPConnectionHandler) {
        lastIdleToken &+= 1
        handler.idleToken = lastIdleToken
        guard trackingIdleOrder else { return }
        idleOrder.append((ObjectIdentifier(handler), lastIdleToken))
        // Stale entries are dropped when there are more of them than live connections.
        if idleOrder.count > 2 * connections.count + 64 {
            idleOrder = CircularBuffer(
                idleOrder.filter { entry in connections[entry.id].map { $0.idleToken == entry.token } ?? false })
        }
    }

    /// More than half the cap is open: the idle order is built from the tokens (oldest first)
    /// and kept from now on.
    private func startTrackingIdleOrder() {
        trackingIdleOrder = true
        let idle = connections.values.filter(\.isIdle).sorted { $0.idleToken < $1.idleToken }
        idleOrder = CircularBuffer(idle.map { (ObjectIdentifier($0), $0.idleToken) })
    }

    /// Closes the connection idle the longest, if any.
    private func closeOldestIdle() {
        while let entry = idleOrder.popFirst() {
            guard let handler = connections[entry.id], handler.idleToken == entry.token, handler.isIdle else {
                continue
            }
            handler.closeIdle()
            router.metrics?.idleConnectionsClosed.increment()
            return
        }
    }

    func unregister(_ handler: HTTPConnectionHandler) {
        if connections.removeValue(forKey: ObjectIdentifier(handler)) != nil, let connectionsGauge {
            _ = jade_add_u64(connectionsGauge, UInt64.max)  // wrapping -1
        }
        if trackingIdleOrder && connections.count * 5 < limits.maxConnections * 2 {
            // Back under 40% of the cap: stop keeping the order (hysteresis against flapping).
            trackingIdleOrder = false
            idleOrder.removeAll()
        }
        if connections.isEmpty, let drained {
            self.drained = nil
            drained.succeed(())
        }
    }

    /// Writes the `GET /health` JSON body for the connection handlers' fast path (set by the
    /// worker on its main server; nil: every request goes through the HTTP codec and router).
    public var fastHealth: ((inout ByteBuffer) -> Void)?

    /// The metrics of the `GET /health` route, for the fast path (looked up once).
    lazy var healthRouteMetrics: RouteMetrics? = {
        if case .found(let route, _) = router.match(.GET, "/health"[...]) { return route.metrics }
        return nil
    }()

    func requestStarted() { if let inFlight { _ = jade_add_i64(inFlight, 1) } }
    func requestFinished() {
        if let inFlight { _ = jade_add_i64(inFlight, -1) }
        if let requestsTotal { _ = jade_add_u64(requestsTotal, 1) }
    }

    /// Starts draining every connection; the future completes when the last one has closed.
    public func drain(_ mode: DrainMode) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        drainMode = mode
        for handler in connections.values { handler.drain(mode) }
        if connections.isEmpty { return eventLoop.makeSucceededFuture(()) }
        let promise = drained ?? eventLoop.makePromise()
        drained = promise
        return promise.futureResult
    }

    /// Closes every connection now (the drain deadline).
    public func closeAll() {
        for handler in connections.values { handler.forceClose() }
    }

    /// A request id unique to this process: a random prefix and a counter.
    func nextRequestID() -> String {
        requestCounter &+= 1
        return requestIDPrefix + "-" + String(requestCounter, radix: 36)
    }

    /// The Date header value, recomputed once per second.
    func dateHeader() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let second = ts.tv_sec
        if second != cachedDate.second {
            var t = time_t(second)
            var tmv = tm()
            gmtime_r(&t, &tmv)
            var buf = [CChar](repeating: 0, count: 64)
            let n = strftime(&buf, 64, "%a, %d %b %Y %H:%M:%S GMT", &tmv)
            cachedDate = (second, String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return cachedDate.text
    }
}

extension ServerContext {
    /// The guards every request passes before routing decides anything, routed or not (health
    /// and metrics routes are exempt: `Router.Route.isExemptFromLimits`): the block list, then
    /// the global limit; then `next`, the rest of the chain. When the block list changed since
    /// this worker read it, the request waits (off the event loop) for the new list: a block
    /// made on any worker holds on every worker from its next request.
    func screen(_ client: IPAddress?, then next: @escaping @Sendable () -> HandlerResult) -> HandlerResult {
        guard let guardian = requestGuard else { return next() }
        switch guardian.blockState(client) {
        case .stale: return screenLater(guardian, client, then: next)
        case .blocked(let left): return .now(blockedResponse(left))
        case .clear: break
        }
        if let refusal = globalLimitRefusal(guardian) { return .now(refusal) }
        return next()
    }

    /// 403 `ip_blocked`, counted.
    private func blockedResponse(_ left: TimeInterval) -> HTTPResponse {
        requestGuard?.metrics?.blockedRequests.increment()
        return .error(
            .forbidden, code: "ip_blocked", message: "Requests from this address are blocked.",
            headers: [("Retry-After", String(Int(left.rounded(.up))))])
    }

    /// 429 when the global limit is exhausted, else nil (taking one request from it).
    private func globalLimitRefusal(_ guardian: RequestGuard) -> HTTPResponse? {
        guard let decision = guardian.take(.global, key: "*"), !decision.allowed else { return nil }
        return RequestGuard.rejection(decision, "requests to this server").response
    }

    /// Waits for a current block list, then screens and goes on (or answers 503 when the list
    /// cannot be read).
    private func screenLater(
        _ guardian: RequestGuard, _ client: IPAddress?, then next: @escaping @Sendable () -> HandlerResult
    ) -> HandlerResult {
        let promise = eventLoop.makePromise(of: Bool.self)
        guardian.whenBlockListCurrent { current in promise.succeed(current) }
        let loop = eventLoop
        return .later(
            promise.futureResult.flatMap { current -> EventLoopFuture<HTTPResponse> in
                guard current else {
                    return loop.makeSucceededFuture(
                        .error(
                            .serviceUnavailable, code: "unavailable",
                            message: "The server cannot check its block list right now. Retry later.",
                            headers: [("Retry-After", "1")]))
                }
                // The list was read just now: screened against it without waiting again.
                if case .blocked(let left) = guardian.blockState(client) {
                    return loop.makeSucceededFuture(self.blockedResponse(left))
                }
                if let refusal = self.globalLimitRefusal(guardian) { return loop.makeSucceededFuture(refusal) }
                switch next() {
                case .now(let response): return loop.makeSucceededFuture(response)
                case .later(let future): return future
                }
            })
    }

    /// Passes the request through the guards (``screen(_:then:)``), admits it through the
    /// route's policy (authentication, per-key limit, permission), then runs its handler.
    func run(_ route: Router.Route, _ request: RequestContext) -> HandlerResult {
        // The same chain as `screen`, spelled out: no closure on the way through.
        guard !route.isExemptFromLimits, let guardian = requestGuard else { return admit(route, request) }
        switch guardian.blockState(request.clientAddress) {
        case .stale: return screenLater(guardian, request.clientAddress) { self.admit(route, request) }
        case .blocked(let left): return .now(blockedResponse(left))
        case .clear: break
        }
        if let refusal = globalLimitRefusal(guardian) { return .now(refusal) }
        return admit(route, request)
    }

    /// Authentication, per-key limit and permission, then the handler.
    private func admit(_ route: Router.Route, _ request: RequestContext) -> HandlerResult {
        if case .open = route.policy { return route.handler(request) }
        guard let gate else {
            return .now(
                .error(.internalServerError, code: "internal_error", message: "Authentication is not configured."))
        }
        switch gate.admit(route.policy, request) {
        case .allowed(let principal, let decision):
            return Self.handle(route, request, principal, decision)
        case .denied(let response):
            return .now(response)
        case .pending(let future):
            return .later(
                future.flatMap { outcome -> EventLoopFuture<HTTPResponse> in
                    switch outcome {
                    case .success(let (principal, decision)):
                        switch Self.handle(route, request, principal, decision) {
                        case .now(let response): return request.eventLoop.makeSucceededFuture(response)
                        case .later(let later): return later
                        }
                    case .failure(let error):
                        return request.eventLoop.makeSucceededFuture(error.response)
                    }
                })
        }
    }

    /// Runs the handler as `principal` and puts the rate-limit decision on its response.
    private static func handle(
        _ route: Router.Route, _ request: RequestContext, _ principal: Principal, _ decision: RateLimitDecision?
    ) -> HandlerResult {
        var admitted = request
        admitted.principal = principal
        let result = route.handler(admitted)
        guard let decision else { return result }
        switch result {
        case .now(var response):
            if response.rateLimit == nil { response.rateLimit = decision }
            return .now(response)
        case .later(let future):
            return .later(
                future.map { response in
                    var r = response
                    if r.rateLimit == nil { r.rateLimit = decision }
                    return r
                })
        }
    }
}
