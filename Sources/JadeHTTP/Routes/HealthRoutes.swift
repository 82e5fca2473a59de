import Foundation
import JadeAuth
import JadeCore
import JadeShared
import JadeStore
import JadeTransport
import JadeVectors
import NIOCore
import NIOHTTP1
import NIOPosix

/// `GET /health` (liveness: never touches the database) and `GET /health/db` (readiness: a
/// real query, WAL size, read-only state, live workers). Registered like every other route.
public struct HealthRoutes: Sendable {
    let segment: SharedSegment
    let record: WorkerRecord
    let store: Store
    let vectors: VectorStore
    let auth: AuthServices
    let threadPool: NIOThreadPool

    public init(
        segment: SharedSegment, record: WorkerRecord, store: Store, vectors: VectorStore, auth: AuthServices,
        threadPool: NIOThreadPool
    ) {
        self.segment = segment
        self.record = record
        self.store = store
        self.vectors = vectors
        self.auth = auth
        self.threadPool = threadPool
    }
    /// The constant tail of the liveness body, rebuilt if the record's identity changes
    /// (used from the event loop only).
    private let suffix = LivenessSuffix()

    // @unchecked Sendable: read and rebuilt only on the worker's event loop.
    final class LivenessSuffix: @unchecked Sendable {
        var identity: (UInt32, Int32, UInt32) = (0, 0, .max)
        var text = ""
    }

    public func register(on router: Router) {
        router.add(.GET, "/health") { request in .now(self.liveness()) }
        router.add(.GET, "/health/db") { request in
            .later(self.readiness(on: request.eventLoop, authorization: request.head.headers))
        }
    }

    /// The liveness body (status, uptime in seconds with millisecond precision, version, the
    /// worker's slot, pid and generation), written straight into `buffer`: the /health fast
    /// path calls this on every request, so no JSON tree is built.
    public func writeLiveness(into buffer: inout ByteBuffer) {
        let ms = (monotonicNanoseconds() &- segment.header.masterStartedNanoseconds) / 1_000_000
        buffer.writeStaticString("{\"status\":\"ok\",\"uptime_seconds\":")
        buffer.writeDecimal(Int(ms / 1000))
        let fraction = ms % 1000
        buffer.writeInteger(UInt8(ascii: "."))
        buffer.writeInteger(UInt8(0x30 + fraction / 100))
        buffer.writeInteger(UInt8(0x30 + fraction / 10 % 10))
        buffer.writeInteger(UInt8(0x30 + fraction % 10))
        let identity = (record.generation, record.pid, record.slot)
        if identity != suffix.identity {
            suffix.identity = identity
            suffix.text =
                ",\"version\":\"\(JadeVersion.current)\",\"worker\":{\"generation\":\(identity.0),\"pid\":\(identity.1),\"slot\":\(identity.2)}}"
        }
        buffer.writeString(suffix.text)
    }

    /// The liveness answer of the router path (the same body as the fast path's).
    func liveness() -> HTTPResponse {
        var body = ByteBuffer()
        writeLiveness(into: &body)
        return HTTPResponse(body: body)
    }

    /// Workers whose record says ready or draining, and the configured count.
    func workerCounts() -> (alive: Int, expected: Int) {
        var alive = 0
        let generation = segment.header.currentGeneration
        for i in 0..<segment.recordCount {
            let r = segment.record(i)
            if r.state == .ready && r.generation == generation { alive += 1 }
        }
        return (alive, Int(segment.header.configuredWorkers))
    }

    /// Whether the request carries an admin credential (details are for administrators only).
    func isAdmin(_ headers: HTTPHeaders) -> Bool {
        guard
            let credential = try? PresentedCredential.parse(
                authorization: headers.first(name: "authorization"), apiKeyHeader: headers.first(name: "x-api-key")),
            let principal = auth.authenticator.cachedPrincipal(for: credential)
                ?? (try? auth.authenticator.authenticate(credential, ip: nil))
        else { return false }
        return auth.authorizer.cachedDecision(principal, .admin, database: nil)
            ?? ((try? auth.authorizer.authorize(principal, .admin, database: nil)) ?? false)
    }

    func readiness(on eventLoop: EventLoop, authorization headers: HTTPHeaders) -> EventLoopFuture<HTTPResponse> {
        threadPool.runIfActive(eventLoop: eventLoop) { () -> HTTPResponse in
            var database: [String: JSON] = [:]
            var reachable = false
            var lastError: String?
            do {
                let latency = try store.ping()
                reachable = true
                database["latency_ms"] = .double((latency * 1e6).rounded() / 1e3)
            } catch {
                lastError = "\(error)"
            }
            let reads = store.pool.reads.view()
            let writes = store.pool.writes.view()
            let writable =
                access(store.path, W_OK) == 0 && access((store.path as NSString).deletingLastPathComponent, W_OK) == 0
                && writes.state == .closed
            database["reachable"] = .bool(reachable)
            database["wal_bytes"] = .int(Int(store.walBytes))
            database["read_only"] = .bool(!writable)
            if let lastError { database["error"] = .string(lastError) }
            let (alive, expected) = workerCounts()
            let status: String
            if !reachable || reads.state == .open {
                status = "unavailable"
            } else if !writable {
                status = "degraded"
            } else {
                status = "healthy"
            }
            var fields: [String: JSON] = [
                "status": .string(status),
                "database": .object(database),
                "workers": .object(["alive": .int(alive), "expected": .int(expected)]),
                "circuit_breaker": Self.breakers(reads, writes),
            ]
            if reachable, let stats = try? vectors.stats() {
                fields["vector_store"] = .object([
                    "databases": .int(stats.databases), "vectors": .int(stats.vectors),
                    "mapped_bytes": .int(stats.mappedBytes),
                ])
            }
            if !isAdmin(headers) { fields = ["status": .string(status)] }
            let body: JSON = .object(fields)
            if status == "healthy" { return .json(body) }
            // Retry-After: until the open circuit lets a probe through, at least a second.
            return .json(body, status: .serviceUnavailable, headers: [("Retry-After", "5")])
        }
    }
}

extension HealthRoutes {
    static func breaker(_ v: CircuitBreaker.View) -> JSON {
        var fields: [String: JSON] = [
            "state": .string(v.state.rawValue), "failures": .int(v.windowFailures), "calls": .int(v.windowCalls),
            "transitions": .int(Int(v.transitions)),
        ]
        if let kind = v.lastFailureKind { fields["last_error"] = .string("\(kind)") }
        if let at = v.lastFailureAt { fields["last_error_at"] = .string(ISO8601DateFormatter().string(from: at)) }
        return .object(fields)
    }

    /// The worse of the two breakers' states at the top, each in detail below.
    static func breakers(_ reads: CircuitBreaker.View, _ writes: CircuitBreaker.View) -> JSON {
        let order: [CircuitBreaker.State] = [.closed, .halfOpen, .open]
        let worst =
            order.firstIndex(of: reads.state)! >= order.firstIndex(of: writes.state)! ? reads.state : writes.state
        return .object([
            "state": .string(worst.rawValue), "failures": .int(reads.windowFailures + writes.windowFailures),
            "reads": breaker(reads), "writes": breaker(writes),
        ])
    }
}
