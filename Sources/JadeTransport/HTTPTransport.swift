import CJadeShm
import Foundation
import JadeCore
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

    public init(
        maxRequestBodyBytes: Int = 1 << 20, maxHeaderBytes: Int = 16_384, requestTimeout: TimeAmount = .seconds(30),
        keepAliveTimeout: TimeAmount = .seconds(60), lingerTimeout: TimeAmount = .seconds(2),
        maxConnections: Int = 10_000
    ) {
        self.maxConnections = maxConnections
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.requestTimeout = requestTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.lingerTimeout = lingerTimeout
    }
}

/// The worker's counters in shared memory (nil: not counted), read by the master for
/// `/metrics` and for the connection cap.
// @unchecked Sendable: the pointers address a shared-memory record updated only with atomics.
public struct TransportCounters: @unchecked Sendable {
    public var inFlight: UnsafeMutablePointer<Int64>?
    public var requestsTotal: UnsafeMutablePointer<UInt64>?
    public var connections: UnsafeMutablePointer<UInt64>?

    public init(
        inFlight: UnsafeMutablePointer<Int64>? = nil, requestsTotal: UnsafeMutablePointer<UInt64>? = nil,
        connections: UnsafeMutablePointer<UInt64>? = nil
    ) {
        self.inFlight = inFlight
        self.requestsTotal = requestsTotal
        self.connections = connections
    }

    /// Open connections, as counted (0 when not counted).
    var openConnections: Int { connections.map { Int(jade_load_u64($0)) } ?? 0 }
}

/// The HTTP transport of one worker: the connections it holds, their limits, draining, request
/// ids and the Date header. Knows nothing of routes or credentials: each complete request goes
/// to the ``HTTPResponder``. Lives on the worker's single event loop; every method must be
/// called there.
// @unchecked Sendable: confined to the worker's single event loop.
public final class HTTPTransport: @unchecked Sendable {
    public let eventLoop: EventLoop
    public let limits: HTTPLimits
    public let responder: any HTTPResponder
    let logger: Logger
    let counters: TransportCounters

    private(set) var drainMode: DrainMode?
    private var connections: [ObjectIdentifier: HTTPConnectionHandler] = [:]
    private var drained: EventLoopPromise<Void>?

    private var requestCounter: UInt64 = 0
    private let requestIDPrefix: String
    private var cachedDate: (second: Int, text: String) = (-1, "")

    public init(
        eventLoop: EventLoop, limits: HTTPLimits, responder: any HTTPResponder, logger: Logger,
        counters: TransportCounters = TransportCounters()
    ) {
        self.eventLoop = eventLoop
        self.limits = limits
        self.responder = responder
        self.logger = logger
        self.counters = counters
        var rng = SystemRandomNumberGenerator()
        let random: UInt64 = rng.next()
        self.requestIDPrefix = String(random & 0xFFFF_FFFF_FFFF, radix: 36)
    }

    /// Number of open connections.
    public var openConnections: Int { connections.count }

    func register(_ handler: HTTPConnectionHandler) {
        connections[ObjectIdentifier(handler)] = handler
        if let gauge = counters.connections { _ = jade_add_u64(gauge, 1) }
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
            responder.transportEvent(.idleConnectionClosed)
            return
        }
    }

    func unregister(_ handler: HTTPConnectionHandler) {
        if connections.removeValue(forKey: ObjectIdentifier(handler)) != nil, let gauge = counters.connections {
            _ = jade_add_u64(gauge, UInt64.max)  // wrapping -1
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

    /// The responder's fast `GET /health` answer, read when the first request arrives.
    lazy var plainHealth: PlainHealthAnswer? = responder.plainHealth

    func requestStarted() { if let inFlight = counters.inFlight { _ = jade_add_i64(inFlight, 1) } }
    func requestFinished() {
        if let inFlight = counters.inFlight { _ = jade_add_i64(inFlight, -1) }
        if let requestsTotal = counters.requestsTotal { _ = jade_add_u64(requestsTotal, 1) }
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
