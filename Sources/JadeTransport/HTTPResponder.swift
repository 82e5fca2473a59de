import JadeCore
import NIOCore
import NIOHTTP1

/// What a handler returns: a response now, or one later (work off the event loop).
public enum HandlerResult: Sendable {
    case now(HTTPResponse)
    case later(EventLoopFuture<HTTPResponse>)
}

/// A complete request as the transport hands it to the application: the head, the body (nil
/// when empty), the request id and where it came from.
public struct IncomingRequest {
    public let head: HTTPRequestHead
    public let body: ByteBuffer?
    /// The client's `X-Request-Id` when it is valid, else one the server made.
    public let requestID: String
    /// The socket's peer.
    public let peerAddress: IPAddress?
    /// The connection's event loop: the application answers on it.
    public let eventLoop: EventLoop
    /// When the first byte of the request arrived.
    public let startedAt: NIODeadline
}

/// Whether a new connection may stay open, and what it holds until it closes.
public enum ConnectionAdmission {
    /// Admitted; `ticket` (if any) is given back to ``HTTPResponder/connectionClosed(_:)``.
    case admitted(ticket: (any Sendable)?)
    /// Refused with this answer; the connection is closed after it.
    case refused(HTTPResponse)
}

/// The answer to a plain `GET /health`, written by the transport straight from the raw request
/// bytes, without the HTTP codec or the router (the hottest request of a load balancer).
public struct PlainHealthAnswer: Sendable {
    /// Writes the JSON body.
    public let writeBody: @Sendable (inout ByteBuffer) -> Void
    /// Records one answer (status 200) and its duration in nanoseconds.
    public let record: @Sendable (UInt64) -> Void

    public init(
        writeBody: @escaping @Sendable (inout ByteBuffer) -> Void, record: @escaping @Sendable (UInt64) -> Void
    ) {
        self.writeBody = writeBody
        self.record = record
    }
}

/// Something the transport did on its own that the application counts.
public enum TransportEvent: Sendable {
    /// An idle connection was closed to make room near the connection cap.
    case idleConnectionClosed
    /// A connection was refused at the cap (503 `overloaded`), on the acceptor thread.
    case connectionRefusedAtCap
}

/// The application behind the transport: everything the connection handler asks of what it
/// serves. The transport knows HTTP/1.1, limits, backpressure and draining; the responder knows
/// routes, credentials and data. Called on the connection's event loop, except
/// ``transportEvent(_:)`` for `.connectionRefusedAtCap` (acceptor thread).
public protocol HTTPResponder: AnyObject, Sendable {
    /// A connection from `peer` opened: admit it (per-address connection limits) or refuse it.
    func connectionOpened(peer: IPAddress?) -> ConnectionAdmission
    /// An admitted connection closed; `ticket` is what ``connectionOpened(peer:)`` gave.
    func connectionClosed(_ ticket: any Sendable)
    /// Answers one complete request. A failed `.later` future is answered 500 by the transport.
    func respond(to request: IncomingRequest) -> HandlerResult
    /// The fast answer to a plain `GET /health`, or nil to route every request (read once,
    /// when the first request arrives).
    var plainHealth: PlainHealthAnswer? { get }
    /// Counts something the transport did.
    func transportEvent(_ event: TransportEvent)
}
