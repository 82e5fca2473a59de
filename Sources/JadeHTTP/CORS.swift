import JadeConfig
import JadeTransport
import NIOHTTP1

/// Cross-origin access for browser pages (`server.cors.allowed_origins`), off when the list is
/// empty: then no response carries a CORS header and `OPTIONS` is an ordinary 405.
///
/// - A request whose `Origin` is listed gets `Access-Control-Allow-Origin` (that origin, or `*`
///   when the list is `*`) and `Access-Control-Expose-Headers` on every answer, errors and 429s
///   included, so that a page can read the error and its `Retry-After`.
/// - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on a known path is
///   answered 204 with the path's methods and the request headers the API reads; from an
///   unlisted origin it is 403 `forbidden` and carries no CORS header, so the browser blocks
///   the call. A preflight passes the block list and the global limit like any request, and
///   needs no credential (browsers send none).
/// - Every answer carries `Vary: Origin` (unless the list is `*`), so a shared cache never hands
///   one origin's answer to another.
///
/// Credentials are headers (`Authorization`, `X-API-Key`), never cookies, so
/// `Access-Control-Allow-Credentials` is never sent.
public struct CORSPolicy: Sendable {
    let anyOrigin: Bool
    let origins: Set<String>

    /// The request headers a page may send.
    static let allowedHeaders = "Authorization, Content-Type, X-API-Key, X-Request-Id"
    /// The response headers a page may read.
    static let exposedHeaders = "Retry-After, X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
    /// How long a browser may cache a preflight answer, in seconds.
    static let maxAge = "600"

    /// The policy for `allowedOrigins`; nil when the list is empty (CORS off).
    public init?(allowedOrigins: [String]) {
        guard !allowedOrigins.isEmpty else { return nil }
        anyOrigin = allowedOrigins.contains("*")
        origins = Set(allowedOrigins.map(CORSOrigin.normalized))
    }

    /// Whether a page from `origin` may read answers.
    func allows(_ origin: String) -> Bool {
        anyOrigin || origins.contains(CORSOrigin.normalized(origin))
    }

    /// Whether `head` is a CORS preflight.
    static func isPreflight(_ head: HTTPRequestHead) -> Bool {
        head.method == .OPTIONS && head.headers.contains(name: "origin")
            && head.headers.contains(name: "access-control-request-method")
    }

    /// The answer to a preflight for a path that accepts `methods`.
    func preflightAnswer(origin: String, methods: [HTTPMethod]) -> HTTPResponse {
        guard allows(origin) else {
            return .error(
                .forbidden, code: "forbidden",
                message: "Cross-origin requests from \(origin) are not allowed (server.cors.allowed_origins).")
        }
        var names = methods.map(\.rawValue)
        if !names.contains("OPTIONS") { names.append("OPTIONS") }
        return HTTPResponse(
            status: .noContent,
            headers: [
                ("Access-Control-Allow-Methods", names.joined(separator: ", ")),
                ("Access-Control-Allow-Headers", Self.allowedHeaders),
                ("Access-Control-Max-Age", Self.maxAge),
            ])
    }
}

/// Adds the CORS response headers (``CORSPolicy``) to every answer, whatever answered it.
struct CORSHeaders: Middleware {
    let policy: CORSPolicy

    func outbound(_ response: inout HTTPResponse, _ request: RequestContext, _ route: Router.Route) {
        if !policy.anyOrigin { response.headers.append(("Vary", "Origin")) }
        guard let origin = request.head.headers.first(name: "origin"), policy.allows(origin) else { return }
        response.headers.append(("Access-Control-Allow-Origin", policy.anyOrigin ? "*" : origin))
        response.headers.append(("Access-Control-Expose-Headers", CORSPolicy.exposedHeaders))
    }
}
