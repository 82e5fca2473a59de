import JadeCore
import JadeTransport
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import JadeHTTP

/// The middleware chain on its own (order, short-circuits, decisions made later, failures), and
/// the application behind the real transport through an `EmbeddedChannel`.
@Suite struct MiddlewareChainTests {
    /// Records every step into a shared journal; answers or defers when told to.
    final class Journal: @unchecked Sendable {  // the embedded loop runs on the test's thread
        var lines: [String] = []
    }

    struct Step: Middleware {
        let name: String
        let journal: Journal
        var answer: HTTPResponse? = nil
        var deferOn: EventLoop? = nil

        func inbound(_ request: inout RequestContext, _ route: Router.Route) -> Inbound {
            journal.lines.append("in \(name)")
            if let answer { return .answer(answer) }
            if let loop = deferOn {
                let request = request
                return .later(loop.makeSucceededFuture(.next(request)))
            }
            return .next
        }

        func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route) {
            journal.lines.append("out \(name) \(response.status.code)")
            response.headers.append(("X-Step", name))
        }
    }

    let loop = EmbeddedEventLoop()

    func request() -> RequestContext {
        RequestContext(
            head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x"), path: "/x", query: nil, body: nil,
            parameters: [:], requestID: "r-1", eventLoop: loop, clientAddress: nil, connectionPeer: nil,
            startedAt: .now(), principal: nil, threadPool: nil)
    }

    func route(_ journal: Journal, _ result: @escaping @Sendable (EventLoop) -> HandlerResult) -> Router.Route {
        Router.Route(template: "/x", policy: .open) { request in
            journal.lines.append("handler")
            return result(request.eventLoop)
        }
    }

    func response(_ result: HandlerResult) throws -> HTTPResponse {
        switch result {
        case .now(let response): return response
        case .later(let future):
            loop.run()
            return try future.wait()
        }
    }

    @Test func inboundRunsInOrderAndOutboundInReverse() throws {
        let journal = Journal()
        let chain = MiddlewareChain(
            [Step(name: "a", journal: journal), Step(name: "b", journal: journal)], logger: Logger(label: "t"))
        let answer = try response(chain.run(request(), route(journal) { _ in .now(.noContent) }))
        #expect(journal.lines == ["in a", "in b", "handler", "out b 204", "out a 204"])
        #expect(answer.headers.map(\.1) == ["b", "a"])
    }

    @Test func anAnswerStopsTheWayInAndStillGoesOutThroughThoseBefore() throws {
        let journal = Journal()
        let chain = MiddlewareChain(
            [
                Step(name: "a", journal: journal),
                Step(name: "b", journal: journal, answer: .error(.forbidden, code: "forbidden", message: "no")),
                Step(name: "c", journal: journal),
            ], logger: Logger(label: "t"))
        let answer = try response(chain.run(request(), route(journal) { _ in .now(.noContent) }))
        #expect(journal.lines == ["in a", "in b", "out b 403", "out a 403"])
        #expect(answer.status == .forbidden)
    }

    @Test func aDecisionMadeLaterGoesOnWithTheRestOfTheChain() throws {
        let journal = Journal()
        let chain = MiddlewareChain(
            [
                Step(name: "a", journal: journal), Step(name: "b", journal: journal, deferOn: loop),
                Step(name: "c", journal: journal),
            ], logger: Logger(label: "t"))
        let answer = try response(
            chain.run(request(), route(journal) { loop in .later(loop.makeSucceededFuture(.noContent)) }))
        #expect(journal.lines == ["in a", "in b", "in c", "handler", "out c 204", "out b 204", "out a 204"])
        #expect(answer.status == .noContent)
    }

    @Test func aFailedHandlerIsA500ThatTheOutboundStepsSee() throws {
        struct Boom: Error {}
        let journal = Journal()
        let chain = MiddlewareChain([Step(name: "a", journal: journal)], logger: Logger(label: "t"))
        let answer = try response(
            chain.run(request(), route(journal) { loop in .later(loop.makeFailedFuture(Boom())) }))
        #expect(answer.status == .internalServerError)
        #expect(journal.lines == ["in a", "handler", "out a 500"])
    }

    // MARK: the application behind the transport

    func channel(_ router: Router, maxResponseBytes: Int = 8 << 20) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let application = Application(
            router: router, logger: Logger(label: "test"), accessLog: false, maxResponseBytes: maxResponseBytes)
        let transport = HTTPTransport(
            eventLoop: channel.eventLoop, limits: HTTPLimits(), responder: application, logger: Logger(label: "test"))
        try WorkerHTTPServer.configure(channel, transport: transport)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return channel
    }

    func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func anUnmatchedPathGetsAJSON404AndAWrongMethodA405() throws {
        let router = Router()
        router.add(.GET, "/hello/{name}") { r in .now(.json(.object(["hello": .string(r.parameter("name"))]))) }
        let channel = try channel(router)
        try channel.writeInbound(ByteBuffer(string: "GET /hello/ada HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try written(channel).contains(#"{"hello":"ada"}"#))
        try channel.writeInbound(ByteBuffer(string: "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let notFound = try written(channel)
        #expect(notFound.hasPrefix("HTTP/1.1 404"), "\(notFound)")
        #expect(notFound.contains(#""code":"not_found""#))
        try channel.writeInbound(ByteBuffer(string: "DELETE /hello/ada HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let wrongMethod = try written(channel)
        #expect(wrongMethod.hasPrefix("HTTP/1.1 405"), "\(wrongMethod)")
        #expect(wrongMethod.contains("Allow: GET"))
        _ = try? channel.finish()
    }

    @Test func anAnswerOverTheResponseLimitBecomesA422() throws {
        let router = Router()
        router.add(.GET, "/big") { _ in .now(.json(.string(String(repeating: "x", count: 200)))) }
        let channel = try channel(router, maxResponseBytes: 100)
        try channel.writeInbound(ByteBuffer(string: "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 422"), "\(text)")
        #expect(text.contains(#""code":"response_too_large""#))
        _ = try? channel.finish()
    }

    @Test func aRouteNeedingCredentialsWithoutAGatekeeperIsRefused() throws {
        let router = Router()
        router.add(.GET, "/me", .authenticated()) { _ in .now(.noContent) }
        let channel = try channel(router)
        try channel.writeInbound(ByteBuffer(string: "GET /me HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try written(channel).hasPrefix("HTTP/1.1 500"))
        _ = try? channel.finish()
    }
}
