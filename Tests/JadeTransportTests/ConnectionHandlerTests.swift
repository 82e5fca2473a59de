import JadeCore
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import JadeTransport

/// A responder with two answers, and a record of what the transport asked of it.
final class StubResponder: HTTPResponder, @unchecked Sendable {
    var opened: [IPAddress?] = []
    var closedTickets = 0
    var refuseConnections = false
    var requests: [IncomingRequest] = []
    var events: [TransportEvent] = []
    var health: PlainHealthAnswer?

    func connectionOpened(peer: IPAddress?) -> ConnectionAdmission {
        opened.append(peer)
        if refuseConnections { return .refused(.error(.tooManyRequests, code: "rate_limited", message: "no")) }
        return .admitted(ticket: 7)
    }

    func connectionClosed(_ ticket: any Sendable) { if ticket as? Int == 7 { closedTickets += 1 } }

    /// `GET /hello/{name}` answers `{"hello": name}`; anything else 404.
    func respond(to request: IncomingRequest) -> HandlerResult {
        requests.append(request)
        let path = request.head.uri
        if request.head.method == .GET, path.hasPrefix("/hello/") {
            return .now(.json(.object(["hello": .string(String(path.dropFirst(7)))])))
        }
        if path == "/later" {
            return .later(request.eventLoop.makeSucceededFuture(.json(.object(["later": .bool(true)]))))
        }
        if path == "/fails" {
            struct Boom: Error {}
            return .later(request.eventLoop.makeFailedFuture(Boom()))
        }
        return .now(.error(.notFound, code: "not_found", message: "none"))
    }

    var plainHealth: PlainHealthAnswer? { health }
    func transportEvent(_ event: TransportEvent) { events.append(event) }
}

/// The connection handler driven through an `EmbeddedChannel`: bytes in, bytes out, no socket,
/// and no application behind it but a stub.
@Suite struct ConnectionHandlerTests {
    /// A channel with the worker's pipeline in front of `responder`.
    func channel(_ responder: StubResponder = StubResponder(), limits: HTTPLimits = HTTPLimits()) throws
        -> EmbeddedChannel
    {
        let channel = EmbeddedChannel()
        let transport = HTTPTransport(
            eventLoop: channel.eventLoop, limits: limits, responder: responder, logger: Logger(label: "test"))
        try WorkerHTTPServer.configure(channel, transport: transport)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        return channel
    }

    /// Everything the handler wrote so far, as text.
    func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let channel = try channel()
        try channel.writeInbound(
            ByteBuffer(string: "GET /hello/ada HTTP/1.1\r\nHost: x\r\n\r\nGET /hello/bob HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let text = try written(channel)
        let ada = try #require(text.range(of: #"{"hello":"ada"}"#))
        let bob = try #require(text.range(of: #"{"hello":"bob"}"#))
        #expect(ada.upperBound <= bob.lowerBound)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(text)")
        _ = try? channel.finish()
    }

    @Test func theResponderSeesTheRequestAndItsConnection() throws {
        let responder = StubResponder()
        let channel = try channel(responder)
        try channel.writeInbound(
            ByteBuffer(
                string: "POST /hello/x HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-1\r\nContent-Length: 3\r\n\r\nabc"))
        channel.embeddedEventLoop.run()
        let text = try written(channel)
        #expect(text.contains("X-Request-Id: abc-1"), "\(text)")
        let request = try #require(responder.requests.first)
        #expect(request.head.method == .POST)
        #expect(request.body.map { String(buffer: $0) } == "abc")
        #expect(request.requestID == "abc-1")
        #expect(request.peerAddress?.description == "127.0.0.1")
        #expect(responder.opened.count == 1)
        _ = try? channel.finish()
        #expect(responder.closedTickets == 1, "the ticket is given back when the connection closes")
    }

    @Test func aRefusedConnectionGetsTheRespondersAnswerAndCloses() throws {
        let responder = StubResponder()
        responder.refuseConnections = true
        let channel = try channel(responder)
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 429"), "\(text)")
        #expect(text.contains("Connection: close"))
        #expect(responder.closedTickets == 0)
        _ = try? channel.finish()
    }

    @Test func laterAnswersAndFailedFuturesAreWritten() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        #expect(try written(channel).contains(#"{"later":true}"#))
        try channel.writeInbound(ByteBuffer(string: "GET /fails HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let failed = try written(channel)
        #expect(failed.hasPrefix("HTTP/1.1 500"), "\(failed)")
        #expect(failed.contains(#""code":"internal_error""#))
        _ = try? channel.finish()
    }

    @Test func aBodyOverTheLimitIsRefusedBeforeTheResponderSeesIt() throws {
        let responder = StubResponder()
        let channel = try channel(responder, limits: HTTPLimits(maxRequestBodyBytes: 10))
        _ = try? channel.writeInbound(
            ByteBuffer(string: "POST /hello/x HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890"))
        channel.embeddedEventLoop.run()
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 413"), "\(text)")
        #expect(responder.requests.isEmpty)
        _ = try? channel.finish()
    }

    @Test func plainHealthIsAnsweredWithoutTheResponder() throws {
        let responder = StubResponder()
        final class Count: @unchecked Sendable { var value = 0 }  // the embedded loop is this thread
        let recorded = Count()
        responder.health = PlainHealthAnswer(writeBody: { $0.writeString(#"{"status":"ok"}"#) }) { _ in
            recorded.value += 1
        }
        let channel = try channel(responder)
        try channel.writeInbound(ByteBuffer(string: "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 200"), "\(text)")
        #expect(text.contains(#"{"status":"ok"}"#))
        #expect(responder.requests.isEmpty)
        #expect(recorded.value == 1)
        _ = try? channel.finish()
    }

    /// A valid request followed by bytes that are not HTTP in the same packet: the request is
    /// answered, then the protocol error, then the connection closes.
    @Test func aRequestAlreadyReadIsAnsweredBeforeAProtocolError() throws {
        let channel = try channel()
        _ = try? channel.writeInbound(
            ByteBuffer(string: "GET /hello/ada HTTP/1.1\r\nHost: x\r\n\r\nFOO / HTTP/9.9\r\n\r\n"))
        channel.embeddedEventLoop.run()
        let text = try written(channel)
        let ok = try #require(text.range(of: "HTTP/1.1 200 OK"), "\(text)")
        let bad = try #require(text.range(of: "HTTP/1.1 400"), "\(text)")
        #expect(ok.upperBound <= bad.lowerBound)
        #expect(!channel.isActive)
    }

    /// Counts the reads that reach the socket (the head of the pipeline).
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Never
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// Backpressure: while the socket cannot take more output, the handler asks for no more
    /// input; once it can, reading resumes.
    @Test func readsAreHeldWhileTheClientDoesNotReadItsAnswers() throws {
        let channel = try channel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter, position: .first)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        #expect(counter.reads == 0, "a read went through while the socket was not writable")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        #expect(counter.reads >= 1)
        _ = try? channel.finish()
    }
}
