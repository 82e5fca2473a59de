import Foundation
import JadeAuth
import JadeShared
import JadeTransport
import NIOCore
import NIOPosix

/// `GET /metrics`: Prometheus text format 0.0.4, the totals of every worker. Readable with a
/// credential holding `metrics:read`, or with the configured scrape token as
/// `Authorization: Bearer <token>` (compared in constant time).
public struct MetricsRoutes: Sendable {
    let gate: Gatekeeper
    let threadPool: NIOThreadPool
    /// SHA-256 of the scrape token; nil when none is configured.
    let tokenDigest: Data?
    /// Renders the scrape (runs on the thread pool: collectors may read SQLite).
    let render: @Sendable () -> String

    public init(
        gate: Gatekeeper, threadPool: NIOThreadPool, scrapeToken: String, render: @escaping @Sendable () -> String
    ) {
        self.gate = gate
        self.threadPool = threadPool
        self.tokenDigest = scrapeToken.isEmpty ? nil : Tokens.digest(scrapeToken)
        self.render = render
    }

    public func register(on router: Router) {
        // Open at the router: this handler admits the scrape token itself, else defers to the
        // gatekeeper with `metrics:read`.
        router.add(.GET, "/metrics") { request in self.scrape(request) }
    }

    /// True when the request presents the scrape token.
    func presentsScrapeToken(_ request: RequestContext) -> Bool {
        guard let tokenDigest, let header = request.head.headers.first(name: "authorization") else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let presented = parts[1].trimmingCharacters(in: .whitespaces)
        return Tokens.constantTimeEquals(Tokens.digest(presented), tokenDigest)
    }

    func scrape(_ request: RequestContext) -> HandlerResult {
        if presentsScrapeToken(request) { return .later(respond(on: request.eventLoop)) }
        switch gate.admit(.global(.metricsRead), request) {
        case .allowed: return .later(respond(on: request.eventLoop))
        case .denied(let response): return .now(response)
        case .pending(let future):
            return .later(
                future.flatMap { outcome in
                    switch outcome {
                    case .success: return self.respond(on: request.eventLoop)
                    case .failure(let error): return request.eventLoop.makeSucceededFuture(error.response)
                    }
                })
        }
    }

    func respond(on eventLoop: EventLoop) -> EventLoopFuture<HTTPResponse> {
        let render = self.render
        return threadPool.runIfActive(eventLoop: eventLoop) {
            let text = render()
            var buffer = ByteBuffer()
            buffer.writeString(text)
            return HTTPResponse(status: .ok, body: buffer, contentType: MetricsExposition.contentType)
        }
    }
}
