import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import JadeHTTP

/// The connection handler driven through an `EmbeddedChannel`: bytes in, bytes out, no socket.
@Suite struct ConnectionHandlerTests {
    /// A channel with the worker's pipeline and a router with one route.
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        let router = Router()
        router.add(.GET, "/hello/{name}") { r in .now(.json(.object(["hello": .string(r.parameter("name"))]))) }
        let server = ServerContext(
            eventLoop: channel.eventLoop, router: router, limits: HTTPLimits(), logger: Logger(label: "test"),
            accessLog: false, record: nil)
        try WorkerHTTPServer.configure(channel, server: server)
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

    @Test func anUnmatchedPathGetsAJSON404AndAWrongMethodA405() throws {
        let channel = try channel()
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

    /// A valid request followed by bytes that are not HTTP in the same packet: the request is
    /// answered, then the protocol error, then the connection closes.
    @Test func aRequestAlreadyReadIsAnsweredBeforeAProtocolError() throws {
        let channel = try channel()
        try? channel.writeInbound(
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
