import JadeTransport
import Logging
import NIOCore

/// What a middleware decides about a request on its way in.
public enum Inbound {
    /// On to the next middleware (the request possibly changed), and finally the route's handler.
    case next
    /// Answered here: the middleware after this one and the handler do not run.
    case answer(HTTPResponse)
    /// Decided off the event loop (a credential or block list read from SQLite).
    case later(EventLoopFuture<Resumption>)
}

/// How a middleware that decided later (``Inbound/later(_:)``) goes on.
public enum Resumption: Sendable {
    /// On to the next middleware with this request.
    case next(RequestContext)
    /// Answered.
    case answer(HTTPResponse)
}

/// One step of the request path between the transport and a route's handler: the guards
/// (block list, global limit, authentication, permission), metrics and the access log.
///
/// Modelled on Hummingbird's `RouterMiddleware`, shaped for futures and for a hot path that
/// allocates nothing: instead of calling `next` (which would capture the rest of the chain in a
/// closure on every request), a middleware looks at the request on its way in
/// (``inbound(_:_:)``) and at the response on its way out (``outbound(_:_:_:)``), and
/// ``MiddlewareChain`` does the calling. State between the two halves travels in the
/// ``RequestContext``.
public protocol Middleware: Sendable {
    /// Runs in chain order before the handler. May change the request (the caller it verified).
    func inbound(_ request: inout RequestContext, _ route: Router.Route) -> Inbound
    /// Runs in reverse chain order on the response, for every middleware whose `inbound` ran
    /// (including the one that answered).
    func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route)
}

extension Middleware {
    public func inbound(_ request: inout RequestContext, _ route: Router.Route) -> Inbound { .next }
    public func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route) {}
}

/// An ordered list of middleware ending in the route's handler.
public struct MiddlewareChain: Sendable {
    public let middleware: [any Middleware]
    /// Where a handler's failure is logged.
    let logger: Logger

    public init(_ middleware: [any Middleware], logger: Logger) {
        self.middleware = middleware
        self.logger = logger
    }

    /// Passes `request` through every middleware's `inbound`, runs `route`'s handler, then every
    /// `outbound` in reverse. A handler's failed future is logged and answered 500 before the
    /// outbound steps see it.
    public func run(_ request: RequestContext, _ route: Router.Route) -> HandlerResult {
        run(request, route, inboundFrom: 0, outboundDownTo: 0)
    }

    private func run(
        _ request: RequestContext, _ route: Router.Route, inboundFrom start: Int, outboundDownTo bottom: Int
    ) -> HandlerResult {
        var request = request
        var index = start
        var result: HandlerResult
        walk: while true {
            guard index < middleware.count else {
                result = route.handler(request)
                break walk
            }
            switch middleware[index].inbound(&request, route) {
            case .next:
                index += 1
            case .answer(let response):
                index += 1
                result = .now(response)
                break walk
            case .later(let future):
                let next = index + 1
                let decided = request
                let loop = request.eventLoop
                let promise = loop.makePromise(of: HTTPResponse.self)
                future.whenComplete { outcome in
                    switch outcome {
                    case .success(.next(let resumed)):
                        switch run(resumed, route, inboundFrom: next, outboundDownTo: bottom) {
                        case .now(let response): promise.succeed(response)
                        case .later(let later): later.cascade(to: promise)
                        }
                    case .success(.answer(var response)):
                        outbound(&response, decided, route, from: next, downTo: bottom)
                        promise.succeed(response)
                    case .failure(let error):
                        var response = failed(decided, error)
                        outbound(&response, decided, route, from: next, downTo: bottom)
                        promise.succeed(response)
                    }
                }
                return .later(promise.futureResult)
            }
        }
        switch result {
        case .now(var response):
            outbound(&response, request, route, from: index, downTo: bottom)
            return .now(response)
        case .later(let future):
            let finished = request
            let end = index
            let promise = request.eventLoop.makePromise(of: HTTPResponse.self)
            future.whenComplete { outcome in
                var response: HTTPResponse
                switch outcome {
                case .success(let r): response = r
                case .failure(let error): response = failed(finished, error)
                }
                outbound(&response, finished, route, from: end, downTo: bottom)
                promise.succeed(response)
            }
            return .later(promise.futureResult)
        }
    }

    /// Runs the `outbound` of middleware `bottom..<end`, last first.
    private func outbound(
        _ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route, from end: Int,
        downTo bottom: Int
    ) {
        var index = end
        while index > bottom {
            index -= 1
            middleware[index].outbound(&response, request, route)
        }
    }

    /// Logs a handler whose future failed and makes its 500.
    private func failed(_ request: RequestContext, _ error: any Error) -> HTTPResponse {
        logger.error("handler failed", metadata: ["request_id": "\(request.requestID)", "error": "\(error)"])
        return .error(
            .internalServerError, code: "internal_error",
            message: "The server failed to handle the request; see its logs for request \(request.requestID).")
    }
}
