import JadeCore
import Logging
import NIOCore
import NIOHTTP1

/// Sits in front of the HTTP decoder and tells the connection handler when the bytes of a new
/// request start arriving, so that the slow-request deadline covers the request head too.
///
/// It also serves simple requests (a complete bodiless `GET`, `HEAD` or `DELETE` on HTTP/1.1,
/// see ``RawRequestHead``) straight from the raw bytes, without NIO's HTTP codec: only while
/// every byte the connection sent so far was such a request. The first byte of anything else
/// (another method, a body, a header that changes semantics, a request split across reads) goes
/// to the decoder, and the connection stays on the codec from then on.
final class RequestStartWatcher: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    unowned let connection: HTTPConnectionHandler
    private var fastPathOpen = true

    init(connection: HTTPConnectionHandler) { self.connection = connection }

    func handlerAdded(context: ChannelHandlerContext) { connection.rawContext = context }

    func handlerRemoved(context: ChannelHandlerContext) { connection.rawContext = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if fastPathOpen {
            var buffer = unwrapInboundIn(data)
            connection.serveRaw(&buffer, rawContext: context)
            guard buffer.readableBytes > 0 else { return }
            fastPathOpen = false
            connection.bytesArrived()
            context.fireChannelRead(wrapInboundOut(buffer))
            return
        }
        connection.bytesArrived()
        context.fireChannelRead(data)
    }
}

/// One HTTP/1.1 connection: assembles requests under the size and time limits, hands each to
/// the responder, writes responses with the standard headers, and closes gracefully when draining.
///
/// Requests are handled one at a time: while one is processed, further reads are held back and
/// parts already decoded (a pipelining client) are queued and replayed after the response.
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Waiting for the first byte of the next request.
        case idle
        /// Bytes of a request have arrived; its head or body is incomplete.
        case receiving
        /// The request is complete and its handler runs.
        case processing
        /// The request was answered early (413, 431) and the connection is closing.
        case rejecting
        /// Closing: the write side is shut, waiting for the client's EOF.
        case closing
    }

    private let server: HTTPTransport
    private var context: ChannelHandlerContext?
    /// The watcher's context, ahead of the HTTP codec: responses are serialized here and
    /// written from it as one buffer, bypassing the response encoder.
    var rawContext: ChannelHandlerContext?
    private var state: State = .idle
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var requestsServed = 0
    private var draining: DrainMode?
    /// When the current phase (request, keep-alive idle, linger) times out; nil: no limit.
    private var deadline: NIODeadline?
    /// The one scheduled wake-up, and when it fires. Re-arming to a later deadline does not
    /// reschedule: the wake-up finds the deadline moved and sleeps again, so a request costs a
    /// store, not a timer-heap insertion and cancellation.
    private var timer: Scheduled<Void>?
    private var timerFiresAt: NIODeadline?
    private var peerAddress: IPAddress?
    /// What the responder gave when it admitted the connection, given back at close.
    private var connectionTicket: (any Sendable)?
    private var requestStart: NIODeadline = .now()
    private var queuedParts: [HTTPServerRequestPart] = []
    private var readHeld = false
    /// When the connection last became idle, in the server's idle order (0: never).
    var idleToken: UInt64 = 0

    init(server: HTTPTransport) { self.server = server }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { activated(context: context) }
    }

    /// Lets go of the context (which holds this handler: keeping it would keep every closed
    /// connection's handler, context and buffers alive) and of the timer.
    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
        rawContext = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        activated(context: context)
        context.fireChannelActive()
    }

    private var activatedOnce = false
    private func activated(context: ChannelHandlerContext) {
        guard !activatedOnce else { return }
        activatedOnce = true
        peerAddress = context.channel.remoteAddress?.ipAddress.flatMap { IPAddress($0) }
        server.register(self)
        switch server.responder.connectionOpened(peer: peerAddress) {
        case .admitted(let ticket): connectionTicket = ticket
        case .refused(let response):
            reject(context: context, response)
            return
        }
        // A new connection must deliver a complete request within the request timeout.
        arm(server.limits.requestTimeout)
        server.becameIdle(self)
    }

    /// Waiting for a request with nothing of one read and nothing to answer: a connection the
    /// server may close first when it nears its connection cap.
    var isIdle: Bool { state == .idle && queuedParts.isEmpty && !sawBytes && pendingProtocolError == nil }

    /// Closes an idle connection to make room for new ones (the usual keep-alive race: a
    /// client that sends at that moment sees the close and retries on a new connection).
    func closeIdle() {
        guard isIdle else { return }
        context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        timer?.cancel()
        timer = nil
        if let ticket = connectionTicket {
            connectionTicket = nil
            server.responder.connectionClosed(ticket)
        }
        server.unregister(self)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The client finished sending. Anything still being answered is written first.
            if state == .processing { return }
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A malformed request that followed requests still being answered: sent, and the
    /// connection closed, once they are.
    private var pendingProtocolError: HTTPResponse?

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        let response: HTTPResponse
        if case .headerOverflow = parserError {
            response = .error(
                .requestHeaderFieldsTooLarge, code: "request_header_fields_too_large",
                message: "The request head exceeds the server's limit.")
        } else {
            response = .error(.badRequest, code: "invalid_request", message: "Malformed HTTP request.")
        }
        switch state {
        case .idle where queuedParts.isEmpty, .receiving where queuedParts.isEmpty:
            reject(context: context, response)
        case .idle, .receiving, .processing:
            // Requests read before the bad bytes are answered first (the decoder reads no more).
            if pendingProtocolError == nil { pendingProtocolError = response }
        case .rejecting, .closing:
            context.close(promise: nil)
        }
    }

    // MARK: timers

    private func arm(_ amount: TimeAmount) {
        let due = NIODeadline.now() + amount
        deadline = due
        if let firesAt = timerFiresAt, firesAt <= due { return }
        schedule(at: due)
    }

    private func disarm() { deadline = nil }

    private func schedule(at due: NIODeadline) {
        guard let context else { return }
        timer?.cancel()
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timerFiresAt = due
        timer = context.eventLoop.scheduleTask(deadline: due) { loopBound.value.wake() }
    }

    private func wake() {
        timer = nil
        timerFiresAt = nil
        guard let due = deadline else { return }
        if NIODeadline.now() < due {
            schedule(at: due)
            return
        }
        deadline = nil
        timerFired()
    }

    private func timerFired() {
        guard let context else { return }
        switch state {
        case .idle where requestsServed > 0 || head == nil && !sawBytes:
            // Idle keep-alive timeout, or a connection that never sent anything.
            context.close(promise: nil)
        case .idle, .receiving:
            reject(
                context: context,
                .error(
                    .requestTimeout, code: "request_timeout",
                    message: "The request was not received within the server's time limit."))
        case .processing:
            break  // the handler's own time limits apply
        case .rejecting, .closing:
            context.close(promise: nil)
        }
    }

    private var sawBytes = false

    /// Called by the watcher for every read of raw bytes.
    func bytesArrived() {
        sawBytes = true
        if state == .idle {
            state = .receiving
            if requestsServed > 0 { arm(server.limits.requestTimeout) }
            requestStart = .now()
        }
    }

    // MARK: the raw fast path

    /// Header field ranges of the last raw scan (reused: a scan allocates nothing).
    private var rawFields: [RawRequestHead.Field] = []

    /// Serves the complete simple requests at the start of `buffer` (called by the watcher with
    /// its own context, ahead of the HTTP codec), and leaves `buffer` at the first byte it did
    /// not take: all of it when the connection stops being idle (a response pending, closing).
    ///
    /// `GET /health` is answered right here, without the responder's routing, when the responder
    /// offers a ``PlainHealthAnswer`` and the connection is not draining. Every other simple
    /// request goes through `dispatch` exactly like one the codec decoded.
    func serveRaw(_ buffer: inout ByteBuffer, rawContext: ChannelHandlerContext) {
        guard let context else { return }
        let maxHead = server.limits.maxHeaderBytes
        var healthAnswered = false
        while buffer.readableBytes > 0 && state == .idle && queuedParts.isEmpty && rawContext.channel.isWritable {
            let started = NIODeadline.now()
            guard
                let scanned = buffer.withUnsafeReadableBytes({
                    RawRequestHead.scan($0, maxHead: maxHead, fields: &rawFields)
                })
            else { break }
            if scanned.isPlainHealth, draining == nil, let answer = server.plainHealth {
                buffer.moveReaderIndex(forwardBy: scanned.length)
                server.requestStarted()
                var body = rawContext.channel.allocator.buffer(capacity: 128)
                answer.writeBody(&body)
                let out = serialize(
                    HTTPResponse(body: body), requestID: server.nextRequestID(), version: .http1_1, keepAlive: true,
                    isHead: false, allocator: rawContext.channel.allocator)
                rawContext.write(NIOAny(out), promise: nil)
                server.requestFinished()
                requestsServed += 1
                healthAnswered = true
                answer.record(UInt64(max((NIODeadline.now() - started).nanoseconds, 0)))
                continue
            }
            let head = buffer.withUnsafeReadableBytes { scanned.makeHead($0, fields: rawFields) }
            buffer.moveReaderIndex(forwardBy: scanned.length)
            sawBytes = true
            requestStart = started
            self.head = head
            body = nil
            disarm()
            state = .processing
            server.requestStarted()
            dispatch(context: context, head: head)
        }
        if healthAnswered {
            rawContext.flush()
            if state == .idle {
                arm(server.limits.keepAliveTimeout)
                server.becameIdle(self)
            }
        }
    }

    // MARK: requests

    /// Reads are held while a request is processed, while answers not yet taken by the client
    /// are above the channel's high-water mark (a client that sends but does not read), and
    /// while parts of pipelined requests wait: so a connection holds at most one read's worth
    /// of requests and one high-water mark of answers, whatever the client sends.
    func read(context: ChannelHandlerContext) {
        if state == .processing || !context.channel.isWritable || !queuedParts.isEmpty {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && state != .processing { resume(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if state == .processing || !queuedParts.isEmpty || !context.channel.isWritable {
            queuedParts.append(part)
            return
        }
        handle(part, context: context)
    }

    /// Replays parts that arrived while a request was processed or the output was backed up,
    /// then resumes reading. Stops while the client is not taking its answers.
    private func resume(context: ChannelHandlerContext) {
        while !queuedParts.isEmpty && state != .processing && state != .closing && context.channel.isWritable {
            let part = queuedParts.removeFirst()
            if case .head = part, state == .idle {
                state = .receiving
                requestStart = .now()
                arm(server.limits.requestTimeout)
            }
            handle(part, context: context)
        }
        if state == .closing { queuedParts.removeAll() }
        if queuedParts.isEmpty, state == .idle, let error = pendingProtocolError {
            // Everything read before the malformed bytes has been answered: now the error.
            pendingProtocolError = nil
            reject(context: context, error)
            return
        }
        if readHeld && state != .processing && queuedParts.isEmpty && context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            guard state == .receiving || state == .idle else { return }
            state = .receiving
            var headerBytes = head.uri.utf8.count + 16
            for (name, value) in head.headers { headerBytes += name.utf8.count + value.utf8.count + 4 }
            if headerBytes > server.limits.maxHeaderBytes {
                reject(
                    context: context,
                    .error(
                        .requestHeaderFieldsTooLarge, code: "request_header_fields_too_large",
                        message: "The request head exceeds \(server.limits.maxHeaderBytes) bytes."))
                return
            }
            if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }),
                length > server.limits.maxRequestBodyBytes
            {
                reject(context: context, payloadTooLarge())
                return
            }
            self.head = head
            self.body = nil
        case .body(var chunk):
            guard state == .receiving, head != nil else { return }
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
            if body!.readableBytes > server.limits.maxRequestBodyBytes {
                body = nil
                reject(context: context, payloadTooLarge())
            }
        case .end:
            guard state == .receiving, let head else { return }
            disarm()
            state = .processing
            server.requestStarted()
            dispatch(context: context, head: head)
        }
    }

    private func payloadTooLarge() -> HTTPResponse {
        .error(
            .payloadTooLarge, code: "payload_too_large",
            message: "The request body exceeds \(server.limits.maxRequestBodyBytes) bytes.")
    }

    private func dispatch(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let requestID = head.headers.first(name: "x-request-id").flatMap(Self.validRequestID) ?? server.nextRequestID()
        let request = IncomingRequest(
            head: head, body: body, requestID: requestID, peerAddress: peerAddress, eventLoop: context.eventLoop,
            startedAt: requestStart)
        body = nil
        switch server.responder.respond(to: request) {
        case .now(let response):
            respond(context: context, head: head, response: response, requestID: requestID)
        case .later(let future):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            future.hop(to: context.eventLoop).whenComplete { outcome in
                let (handler, context) = loopBound.value
                let response: HTTPResponse
                switch outcome {
                case .success(let r): response = r
                case .failure(let error):
                    handler.server.logger.error(
                        "handler failed", metadata: ["request_id": "\(requestID)", "error": "\(error)"])
                    response = .error(
                        .internalServerError, code: "internal_error",
                        message: "The server failed to handle the request; see its logs for request \(requestID).")
                }
                handler.respond(context: context, head: head, response: response, requestID: requestID)
            }
        }
    }

    /// Whether a client's `X-Request-Id` can be used as this request's id (echoed in the
    /// response header and the logs): 1 to 128 characters of `[A-Za-z0-9._:-]`.
    static func validRequestID(_ value: String) -> String? {
        guard !value.isEmpty, value.utf8.count <= 128 else { return nil }
        for c in value.utf8 {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: ":"):
                continue
            default: return nil
            }
        }
        return value
    }

    private func respond(
        context: ChannelHandlerContext, head: HTTPRequestHead, response: HTTPResponse, requestID: String
    ) {
        guard state == .processing else { return }
        let keepAlive = head.isKeepAlive && draining == nil
        write(
            context: context, response: response, requestID: requestID, version: head.version,
            keepAlive: keepAlive, isHead: head.method == .HEAD)
        server.requestFinished()
        requestsServed += 1
        if keepAlive {
            state = .idle
            sawBytes = false
            arm(server.limits.keepAliveTimeout)
            server.becameIdle(self)
        } else {
            closeGracefully(context: context)
        }
        resume(context: context)
    }

    /// Writes the whole response as one buffer from the watcher's context, ahead of the HTTP
    /// encoder. The watcher is always installed in front of this handler (WorkerHTTPServer);
    /// without it the channel is being torn down and there is nobody to answer.
    private func write(
        context: ChannelHandlerContext, response: HTTPResponse, requestID: String, version: HTTPVersion,
        keepAlive: Bool, isHead: Bool
    ) {
        guard let rawContext else { return }
        let buffer = serialize(
            response, requestID: requestID, version: version, keepAlive: keepAlive, isHead: isHead,
            allocator: rawContext.channel.allocator)
        rawContext.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    /// The response as bytes: status line, Content-Type, Content-Length, Date, X-Request-Id, the
    /// rate-limit headers, the response's own headers, Connection when needed, then the body (none for HEAD). Every
    /// header value is the server's own (fixed strings, numbers, request ids that passed
    /// `validRequestID`), so nothing needs escaping.
    private func serialize(
        _ response: HTTPResponse, requestID: String, version: HTTPVersion, keepAlive: Bool, isHead: Bool,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + response.body.readableBytes)
        buffer.writeString(version == .http1_0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        buffer.writeDecimal(Int(response.status.code))
        buffer.writeString(" ")
        buffer.writeString(response.status.reasonPhrase)
        buffer.writeString("\r\nContent-Type: ")
        buffer.writeString(response.contentType)
        buffer.writeString("\r\nContent-Length: ")
        buffer.writeDecimal(response.body.readableBytes)
        buffer.writeString("\r\nDate: ")
        buffer.writeString(server.dateHeader())
        buffer.writeString("\r\nX-Request-Id: ")
        buffer.writeString(requestID)
        if let limit = response.rateLimit {
            buffer.writeString("\r\nRateLimit-Limit: ")
            buffer.writeDecimal(limit.limit)
            buffer.writeString("\r\nRateLimit-Remaining: ")
            buffer.writeDecimal(limit.remaining)
            buffer.writeString("\r\nRateLimit-Reset: ")
            buffer.writeDecimal(limit.resetSeconds)
            if let retryAfter = limit.retryAfterSeconds {
                buffer.writeString("\r\nRetry-After: ")
                buffer.writeDecimal(retryAfter)
            }
        }
        for (name, value) in response.headers {
            buffer.writeString("\r\n")
            buffer.writeString(name)
            buffer.writeString(": ")
            buffer.writeString(value)
        }
        if !keepAlive {
            buffer.writeString("\r\nConnection: close")
        } else if version == .http1_0 {
            buffer.writeString("\r\nConnection: keep-alive")
        }
        buffer.writeString("\r\n\r\n")
        if !isHead && response.body.readableBytes > 0 {
            var body = response.body
            buffer.writeBuffer(&body)
        }
        return buffer
    }

    /// Answers a request that will not be processed (too large, too slow, malformed) and closes.
    private func reject(context: ChannelHandlerContext, _ response: HTTPResponse) {
        guard state == .idle || state == .receiving else { return }
        state = .rejecting
        let version = head?.version ?? .http1_1
        write(
            context: context, response: response, requestID: server.nextRequestID(), version: version,
            keepAlive: false, isHead: false)
        closeGracefully(context: context)
    }

    /// Shuts the write side and waits (briefly) for the client's EOF, so that unread request
    /// bytes do not turn the close into a reset that could destroy the response in flight.
    private func closeGracefully(context: ChannelHandlerContext) {
        state = .closing
        context.close(mode: .output, promise: nil)
        arm(server.limits.lingerTimeout)
    }

    // MARK: draining

    func drain(_ mode: DrainMode) {
        draining = mode
        guard let context else { return }
        if state == .idle && requestsServed > 0 && mode == .stop {
            closeGracefully(context: context)
        }
    }

    func forceClose() {
        context?.close(promise: nil)
    }
}

extension ByteBuffer {
    /// Writes `value` in decimal ASCII, without building a String.
    public mutating func writeDecimal(_ value: Int) {
        withDecimalDigits(Int64(value)) { _ = writeBytes($0) }
    }
}
