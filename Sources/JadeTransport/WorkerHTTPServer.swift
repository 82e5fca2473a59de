import CJadeShm
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP server of one worker: serves a listening socket inherited from the master, on one
/// event loop, and drains without dropping queued connections.
///
/// The listening socket is shared: by the old and new generation during a reload, and by every
/// worker under socket activation with a single socket. So accepting is done by a small
/// acceptor thread (poll + accept4, where a lost race is simply EAGAIN) that hands each
/// connection to the event loop, rather than by a NIO server channel, which treats a readable
/// socket that yields nothing as a broken invariant.
// @unchecked Sendable: confined to the worker's event loop once started.
public final class WorkerHTTPServer: @unchecked Sendable {
    public let transport: HTTPTransport
    private let listenFD: Int32
    private let wakeFD: Int32
    private let stopRequested = Atomic<Bool>(false)
    private var acceptor: Thread?
    private let acceptorDone = DispatchSemaphore(value: 0)
    private var bootstrap: ClientBootstrap!
    /// TLS on this port (nil: plain HTTP).
    private let tls: NIOSSLContext?

    /// `listenFD` stays owned by the server; it is closed when draining. With `tls`, every
    /// connection speaks HTTPS only.
    public init(transport: HTTPTransport, listenFD: Int32, tls: NIOSSLContext? = nil) {
        self.transport = transport
        self.listenFD = listenFD
        self.wakeFD = jade_eventfd()
        self.tls = tls
    }

    private func initialize(_ channel: Channel) -> EventLoopFuture<Void> {
        let transport = self.transport
        let tls = self.tls
        return channel.eventLoop.makeCompletedFuture { try Self.configure(channel, transport: transport, tls: tls) }
    }

    /// Installs a connection's handlers (on its event loop): TLS when configured, the
    /// request-start watcher, NIO's request decoder and the connection handler. The transport
    /// seam that unit tests drive with an `EmbeddedChannel`.
    ///
    /// Everything after the TLS handler sees the decrypted bytes, so the limits, the slow-client
    /// timers and the health fast path work the same over HTTPS. The request timeout runs from
    /// the connection's start, so a handshake that is never completed (or sent byte by byte)
    /// is closed when `server.request_timeout_seconds` runs out, like a request that never
    /// arrives.
    public static func configure(_ channel: Channel, transport: HTTPTransport, tls: NIOSSLContext? = nil) throws {
        let connection = HTTPConnectionHandler(server: transport)
        let sync = channel.pipeline.syncOperations
        if let tls { try sync.addHandler(TLSServerContext.handler(tls)) }
        try sync.addHandler(RequestStartWatcher(connection: connection))
        // Only the request decoder: responses are serialized by the connection handler and
        // written ahead of the codec, so NIO's response encoder would only track methods.
        try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        try sync.addHandler(connection)
    }

    /// Starts accepting on the inherited socket.
    public func start() throws {
        guard jade_is_listening_socket(listenFD) == 1 else {
            throw IOError(errnoCode: ENOTSOCK, reason: "fd \(listenFD) is not a listening socket")
        }
        bootstrap = ClientBootstrap(group: transport.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.maxMessagesPerRead, value: 4)
            .channelInitializer { [self] channel in self.initialize(channel) }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "acceptor"
        acceptor = thread
        thread.start()
    }

    private var shouldStop: Bool { stopRequested.load(ordering: .acquiring) }

    private func acceptLoop() {
        var fds = [
            pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        while !shouldStop {
            let rc = poll(&fds, 2, 1000)
            if rc < 0 && errno != EINTR { break }
            if shouldStop { break }
            if fds[0].revents & Int16(POLLIN) != 0 { acceptPending() }
        }
        acceptorDone.signal()
    }

    /// Accepts every connection queued now and hands each to the event loop.
    private func acceptPending() {
        while true {
            let fd = jade_accept_nonblocking(listenFD)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EAGAIN (another process won the race), or EMFILE and friends
            }
            // At the worker's connection cap (idle connections are shed before it is reached,
            // HTTPTransport.register): answer 503 at once rather than queue forever.
            if transport.counters.connections != nil,
                transport.counters.openConnections >= transport.limits.maxConnections
            {
                if tls != nil {
                    // A plain-text answer means nothing to a TLS client: the close alone.
                    transport.responder.transportEvent(.connectionRefusedAtCap)
                    close(fd)
                    continue
                }
                refuseOverloaded(fd)
                continue
            }
            _ = bootstrap.withConnectedSocket(fd)
        }
    }

    /// Requests refused at the cap (acceptor thread only), for their request ids.
    private var refusedCount: UInt64 = 0
    private let refusalPrefix = "overloaded-" + String(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF, radix: 36)

    /// Answers a connection over the cap with 503 `overloaded` and closes it, without an event
    /// loop: a non-blocking write of one small response (a client whose socket cannot take
    /// even that gets the close alone), then the client's bytes already received are read
    /// and dropped so that the close is a FIN, not a reset that could destroy the answer.
    private func refuseOverloaded(_ fd: Int32) {
        refusedCount &+= 1
        transport.responder.transportEvent(.connectionRefusedAtCap)
        let body = HTTPResponse.error(
            .serviceUnavailable, code: "overloaded",
            message: "The server is at its connection limit (server.max_connections). Retry shortly."
        ).body
        var head = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        head += "Content-Length: \(body.readableBytes)\r\nRetry-After: 1\r\n"
        head += "X-Request-Id: \(refusalPrefix)-\(String(refusedCount, radix: 36))\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        bytes.append(contentsOf: body.readableBytesView)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 where recv(fd, &scratch, scratch.count, Int32(MSG_DONTWAIT)) > 0 {}
        close(fd)
    }

    /// Stops accepting and drains. In `.stop` mode the connections already queued on the socket
    /// are accepted and served too (the master closed its copy first, so the queue only holds
    /// connections clients completed before the stop). Completes when every connection closed
    /// or at `deadline`, when the rest are closed.
    public func drain(_ mode: DrainMode, deadline: TimeAmount) -> EventLoopFuture<Void> {
        stopRequested.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        if acceptor != nil { acceptorDone.wait() }
        if mode == .stop { acceptPending() }
        close(listenFD)
        let loop = transport.eventLoop
        // Let the connections just handed over register before judging whether any are open.
        return loop.submit {}.flatMap { [self] in
            let timeout = loop.scheduleTask(in: deadline) { self.transport.closeAll() }
            return transport.drain(mode).always { _ in timeout.cancel() }
        }
    }
}
