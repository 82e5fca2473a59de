import CJadeShm
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The HTTP server of one worker: serves a listening socket inherited from the master, on one
/// event loop, and drains without dropping queued connections.
public final class WorkerHTTPServer: @unchecked Sendable {
    public let context: ServerContext
    private let listenFD: Int32
    private var serverChannel: Channel?

    /// `listenFD` stays owned by the server: NIO serves a duplicate, and the original is used to
    /// drain the accept queue on stop.
    public init(context: ServerContext, listenFD: Int32) {
        self.context = context
        self.listenFD = listenFD
    }

    private func initialize(_ channel: Channel) -> EventLoopFuture<Void> {
        let server = context
        return channel.eventLoop.makeCompletedFuture {
            let connection = HTTPConnectionHandler(server: server)
            let sync = channel.pipeline.syncOperations
            try sync.addHandler(RequestStartWatcher(connection: connection))
            try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: false)
            try sync.addHandler(connection)
        }
    }

    /// Starts accepting on the inherited socket.
    public func start() throws {
        let fd = dup(listenFD)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "dup") }
        let bootstrap = ServerBootstrap(group: context.eventLoop)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { [self] channel in self.initialize(channel) }
        serverChannel = try bootstrap.withBoundSocket(fd).wait()
    }

    /// Stops accepting and drains. In `.stop` mode the connections already queued on the socket
    /// are accepted and served too (the master closed its copy first, so the queue only holds
    /// connections clients completed before the stop). Completes when every connection closed
    /// or at `deadline`, when the rest are closed.
    public func drain(_ mode: DrainMode, deadline: TimeAmount) -> EventLoopFuture<Void> {
        let loop = context.eventLoop
        let closed = serverChannel?.close() ?? loop.makeSucceededFuture(())
        serverChannel = nil
        return closed.flatMapError { _ in loop.makeSucceededFuture(()) }.flatMap { [self] in
            if mode == .stop { adoptQueuedConnections() }
            close(listenFD)
            let timeout = loop.scheduleTask(in: deadline) { self.context.closeAll() }
            return context.drain(mode).always { _ in timeout.cancel() }
        }
    }

    private func adoptQueuedConnections() {
        while true {
            let fd = jade_accept_nonblocking(listenFD)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            let bootstrap = ClientBootstrap(group: context.eventLoop)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelInitializer { [self] channel in self.initialize(channel) }
            _ = bootstrap.withConnectedSocket(fd)
        }
    }
}
