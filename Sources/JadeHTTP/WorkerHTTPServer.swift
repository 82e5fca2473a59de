import CJadeShm
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

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
public final class WorkerHTTPServer: @unchecked Sendable {
    public let context: ServerContext
    private let listenFD: Int32
    private let wakeFD: Int32
    private let stopLock = NSLock()
    private var stopRequested = false
    private var acceptor: Thread?
    private let acceptorDone = DispatchSemaphore(value: 0)
    private var bootstrap: ClientBootstrap!

    /// `listenFD` stays owned by the server; it is closed when draining.
    public init(context: ServerContext, listenFD: Int32) {
        self.context = context
        self.listenFD = listenFD
        self.wakeFD = jade_eventfd()
    }

    private func initialize(_ channel: Channel) -> EventLoopFuture<Void> {
        let server = context
        return channel.eventLoop.makeCompletedFuture {
            let connection = HTTPConnectionHandler(server: server)
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(RequestStartWatcher(connection: connection))
            // Only the request decoder: responses are serialized by the connection handler and
            // written ahead of the codec, so NIO's response encoder would only track methods.
            try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try sync.addHandler(connection)
        }
    }

    /// Starts accepting on the inherited socket.
    public func start() throws {
        guard jade_is_listening_socket(listenFD) == 1 else {
            throw IOError(errnoCode: ENOTSOCK, reason: "fd \(listenFD) is not a listening socket")
        }
        bootstrap = ClientBootstrap(group: context.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.maxMessagesPerRead, value: 4)
            .channelInitializer { [self] channel in self.initialize(channel) }
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "acceptor"
        acceptor = thread
        thread.start()
    }

    private var shouldStop: Bool { stopLock.withLock { stopRequested } }

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
            // Over the worker's connection cap: refuse at once rather than queue forever.
            if let record = context.record, Int(record.connections) >= context.limits.maxConnections {
                close(fd)
                continue
            }
            _ = bootstrap.withConnectedSocket(fd)
        }
    }

    /// Stops accepting and drains. In `.stop` mode the connections already queued on the socket
    /// are accepted and served too (the master closed its copy first, so the queue only holds
    /// connections clients completed before the stop). Completes when every connection closed
    /// or at `deadline`, when the rest are closed.
    public func drain(_ mode: DrainMode, deadline: TimeAmount) -> EventLoopFuture<Void> {
        stopLock.withLock { stopRequested = true }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        if acceptor != nil { acceptorDone.wait() }
        if mode == .stop { acceptPending() }
        close(listenFD)
        let loop = context.eventLoop
        // Let the connections just handed over register before judging whether any are open.
        return loop.submit {}.flatMap { [self] in
            let timeout = loop.scheduleTask(in: deadline) { self.context.closeAll() }
            return context.drain(mode).always { _ in timeout.cancel() }
        }
    }
}
