import NIOCore
import NIOPosix
import NIOSSL

/// `GET <path>` over HTTPS to the local server, for `jadevectordb healthcheck` when the port
/// speaks TLS (the Docker HEALTHCHECK). Returns the answer's status code, or nil when none came
/// within the time limit.
///
/// The certificate is not verified: the probe asks the server on this machine whether it is
/// alive, by the address it is configured to listen on, and a certificate issued for a public
/// name (or renewed while the probe runs) must not make a live server look dead.
public enum TLSHealthProbe {
    public static func status(host: String, port: Int, path: String, timeoutSeconds: Int) -> Int? {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.minimumTLSVersion = .tlsv12
        guard let context = try? NIOSSLContext(configuration: configuration) else { return nil }
        let loop = group.next()
        let promise = loop.makePromise(of: Int.self)
        let timeout = loop.scheduleTask(in: .seconds(Int64(timeoutSeconds))) {
            promise.fail(ChannelError.connectTimeout(.seconds(Int64(timeoutSeconds))))
        }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.seconds(Int64(timeoutSeconds)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try sync.addHandler(StatusLineReader(promise: promise))
                }
            }
        let request =
            "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: jadevectordb-healthcheck\r\nConnection: close\r\n\r\n"
        bootstrap.connect(host: host, port: port).whenComplete { result in
            switch result {
            case .success(let channel):
                channel.writeAndFlush(channel.allocator.buffer(string: request), promise: nil)
                promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
            case .failure(let error):
                promise.fail(error)
            }
        }
        defer { timeout.cancel() }
        return try? promise.futureResult.wait()
    }
}

/// Reads the status code of the first response line.
private final class StatusLineReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let promise: EventLoopPromise<Int>
    private var received = ByteBuffer()

    init(promise: EventLoopPromise<Int>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        let view = received.readableBytesView
        guard let end = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if received.readableBytes > 4096 { promise.fail(ChannelError.inputClosed) }
            return
        }
        let line = String(decoding: view[view.startIndex..<end], as: UTF8.self)
        let parts = line.split(separator: " ")
        if parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) {
            promise.succeed(code)
        } else {
            promise.fail(ChannelError.inputClosed)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.inputClosed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
