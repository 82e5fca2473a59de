import JadeAuth
import JadeCore
import JadeShared
import JadeTransport
import NIOCore
import NIOHTTP1
import NIOPosix

/// What a route requires of the caller. Every route declares one; handlers never check
/// permissions themselves.
public enum AccessPolicy: Sendable {
    /// Anyone (health, login, registration).
    case open
    /// Any valid credential; a restricted session (expired password, pending 2FA enrolment) only
    /// where its restriction is listed.
    case authenticated(allowing: Set<Principal.Restriction> = [])
    /// The caller's own account (password, two-factor, API keys, sessions): like
    /// `authenticated`, and only with a session or an API key without a permission list. A
    /// key restricted to some permissions can use exactly those, never its owner's account.
    case account(allowing: Set<Principal.Restriction> = [])
    /// A global permission (`admin`, `users:manage`, …).
    case global(Permission)
    /// A permission on the database named by a path parameter.
    case database(Permission, parameter: String)
}

/// The request as a handler sees it.
public struct RequestContext: Sendable {
    public let head: HTTPRequestHead
    /// The path without the query string.
    public let path: Substring
    /// The raw query string (after `?`), if any.
    public let query: Substring?
    public let body: ByteBuffer?
    /// Values of the route template's `{parameters}`.
    public let parameters: [String: String]
    public let requestID: String
    public let eventLoop: EventLoop
    /// The client address (the peer, or the X-Forwarded-For address a trusted proxy vouches
    /// for); nil for an unknown client behind a trusted proxy.
    public let clientAddress: IPAddress?
    /// The socket's peer, when it is not the client (an unknown client behind a trusted proxy).
    public var peerAddress: IPAddress? = nil
    /// The socket's peer, always (for the access log).
    public let connectionPeer: IPAddress?
    /// When the first byte of the request arrived.
    public let startedAt: NIODeadline
    /// The client address as text, for audit events and per-address limit keys (formatted only
    /// when asked for). An unknown client behind a proxy is `unknown via <proxy>`: limited
    /// apart from the proxy's own address.
    public var remoteAddress: String? {
        if let clientAddress { return clientAddress.description }
        return peerAddress.map { "unknown via \($0)" }
    }

    /// The verified caller (nil on open routes).
    public internal(set) var principal: Principal?
    /// The caller's API rate-limit decision, written on the response as `RateLimit-*` headers.
    public internal(set) var rateLimit: RateLimitDecision? = nil
    /// Where blocking work (SQLite, password hashing) runs.
    public let threadPool: NIOThreadPool?

    /// Runs `work` on the thread pool and answers with its response, or the API error it threw.
    public func blocking(_ work: @escaping @Sendable () throws -> HTTPResponse) -> HandlerResult {
        guard let threadPool else { return .now(Self.answer(work)) }
        return .later(threadPool.runIfActive(eventLoop: eventLoop) { Self.answer(work) })
    }

    /// Calls `work`, turning a thrown error into its API answer (500 for unexpected ones).
    public static func answer(_ work: () throws -> HTTPResponse) -> HTTPResponse {
        do {
            return try work()
        } catch {
            if let api = APIError.from(error) { return api.response }
            return .error(
                .internalServerError, code: "internal_error", message: "The server failed to handle the request.")
        }
    }

    /// The `{name}` path parameter.
    public func parameter(_ name: String) -> String { parameters[name] ?? "" }

    /// The query string's parameters (last value wins).
    public var queryItems: [String: String] {
        guard let query else { return [:] }
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let rawKey = kv.first, !rawKey.isEmpty else { continue }
            let key = String(rawKey).removingPercentEncoding ?? String(rawKey)
            let value =
                kv.count > 1
                ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "") : ""
            items[key] = value
        }
        return items
    }
}

/// A route handler.
public typealias RouteHandler = @Sendable (RequestContext) -> HandlerResult

/// What a route records beyond its own series (`jadevectordb_http_requests_total{route,...}`):
/// the sprint plan's labels, declared with the route (`Router.add`).
public struct RouteLabels: Sendable, Equatable {
    /// `jadevectordb_auth_requests_total{method}` and friends: an authentication route.
    public var authMethod: String?
    /// `jadevectordb_user_operations_total{operation}` on success: a route that changes users.
    public var userOperation: String?
    /// `jadevectordb_failed_logins_total` on 401.
    public var countsFailedLogins = false
    /// `jadevectordb_vector_search_duration_seconds` on success.
    public var timesVectorSearch = false

    public init(
        authMethod: String? = nil, userOperation: String? = nil, countsFailedLogins: Bool = false,
        timesVectorSearch: Bool = false
    ) {
        self.authMethod = authMethod
        self.userOperation = userOperation
        self.countsFailedLogins = countsFailedLogins
        self.timesVectorSearch = timesVectorSearch
    }

    public static let none = RouteLabels()
}

/// Matches method and path against route templates such as `/v1/databases/{name}`.
public final class Router {
    final class Node {
        var children: [Substring: Node] = [:]
        var parameter: (name: String, node: Node)?
        /// A node has a handful of methods at most: a list beats hashing method names.
        var handlers: [(method: HTTPMethod, route: Route)] = []

        func handler(for method: HTTPMethod) -> Route? {
            for entry in handlers where entry.method == method { return entry.route }
            return nil
        }
    }

    /// A registered route.
    public struct Route: Sendable {
        public let template: String
        public let policy: AccessPolicy
        public let handler: RouteHandler
        /// Where answers to this route are counted (nil: no metrics).
        public var metrics: RouteMetrics? = nil
        /// Health and metrics routes are never blocked or rate limited (load balancers and
        /// scrapers must always get through).
        public var isExemptFromLimits = false
    }

    /// The outcome of matching a request.
    public enum Match {
        case found(route: Route, parameters: [String: String])
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    private let root = Node()
    /// When set before routes are added, every route gets its series
    /// (`jadevectordb_http_requests_total{route,method,status}` and friends).
    public var metrics: HTTPMetrics?

    public init(metrics: HTTPMetrics? = nil) { self.metrics = metrics }

    /// Adds a route: its method, path template (`{name}` segments capture a path segment),
    /// access policy, metric labels and handler, all declared here and nowhere else.
    public func add(
        _ method: HTTPMethod, _ template: String, _ policy: AccessPolicy = .open, labels: RouteLabels = .none,
        _ handler: @escaping RouteHandler
    ) {
        var node = root
        for segment in template.split(separator: "/") {
            if segment.hasPrefix("{") && segment.hasSuffix("}") {
                let name = String(segment.dropFirst().dropLast())
                if let existing = node.parameter {
                    node = existing.node
                } else {
                    let child = Node()
                    node.parameter = (name, child)
                    node = child
                }
            } else if let child = node.children[segment] {
                node = child
            } else {
                let child = Node()
                node.children[segment] = child
                node = child
            }
        }
        var route = Route(
            template: template, policy: policy, handler: handler,
            metrics: metrics?.route(method, template, labels: labels))
        route.isExemptFromLimits = template.hasPrefix("/health") || template.hasPrefix("/metrics")
        node.handlers.removeAll { $0.method == method }
        node.handlers.append((method, route))
    }

    /// The route of a path that matches no template: 404 `not_found`, counted as `unmatched`.
    func notFound(_ path: Substring) -> Route {
        let message = "No route matches \(path)."
        return Route(
            template: "unmatched", policy: .open,
            handler: { _ in .now(.error(.notFound, code: "not_found", message: message)) },
            metrics: metrics?.unmatched)
    }

    /// The route of a known path asked with another method: 405 with `Allow`, counted as `unmatched`.
    func methodNotAllowed(_ method: HTTPMethod, allowed: [HTTPMethod]) -> Route {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        let message = "\(method.rawValue) is not allowed here; allowed: \(allow)."
        return Route(
            template: "unmatched", policy: .open,
            handler: { _ in
                .now(
                    .error(.methodNotAllowed, code: "method_not_allowed", message: message, headers: [("Allow", allow)])
                )
            }, metrics: metrics?.unmatched)
    }

    /// A route that gives `answer` (a CORS preflight's), counted as `unmatched`.
    func answered(_ answer: HTTPResponse) -> Route {
        Route(template: "unmatched", policy: .open, handler: { _ in .now(answer) }, metrics: metrics?.unmatched)
    }

    /// Finds the handler for `method` and `path`. HEAD falls back to GET. A literal segment
    /// is preferred to a parameter (`/vectors/get` before `/vectors/{id}`); when the literal
    /// branch has no handler for the method, the parameter branch is tried, so `GET
    /// /vectors/get` still reads the vector whose id is `get`.
    public func match(_ method: HTTPMethod, _ path: Substring) -> Match {
        var parameters: [String: String] = [:]
        var allowed: [HTTPMethod] = []
        if let route = walk(root, path[...], method, &parameters, &allowed) {
            return .found(route: route, parameters: parameters)
        }
        if allowed.isEmpty { return .notFound }
        var names = Set(allowed.map(\.rawValue))
        if names.contains("GET") { names.insert("HEAD") }
        return .methodNotAllowed(allowed: names.sorted().map { HTTPMethod(rawValue: $0) })
    }

    /// The route for `method` under `node` along `rest`, filling `parameters`; on failure,
    /// `allowed` holds the methods of the first node the path reached.
    private func walk(
        _ start: Node, _ path: Substring, _ method: HTTPMethod, _ parameters: inout [String: String],
        _ allowed: inout [HTTPMethod]
    ) -> Route? {
        var node = start
        // Walks the non-empty segments between slashes without building an array of them.
        var rest = path
        while !rest.isEmpty {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            let segment = rest[rest.startIndex..<end]
            rest = end == rest.endIndex ? rest[end...] : rest[rest.utf8.index(after: end)...]
            if segment.isEmpty { continue }
            if let child = node.children[segment] {
                guard let (name, parameterNode) = node.parameter else {
                    node = child
                    continue
                }
                // Both a literal and a parameter fit: the literal first, then the parameter.
                var literal = parameters
                if let route = walk(child, rest, method, &literal, &allowed) {
                    parameters = literal
                    return route
                }
                guard let decoded = percentDecode(segment) else { return nil }
                parameters[name] = decoded
                return walk(parameterNode, rest, method, &parameters, &allowed)
            } else if let (name, child) = node.parameter {
                guard let decoded = percentDecode(segment) else { return nil }
                parameters[name] = decoded
                node = child
            } else {
                return nil
            }
        }
        if let entry = node.handler(for: method) ?? (method == .HEAD ? node.handler(for: .GET) : nil) {
            return entry
        }
        // 405's Allow names the methods of the most specific path (the literal one, reached
        // first), as the API document lists them per path.
        if allowed.isEmpty { allowed = node.handlers.map(\.method) }
        return nil
    }

    private func percentDecode(_ s: Substring) -> String? {
        // Byte search: `contains("%")` would resolve to Foundation's range(of:), bridging per request.
        guard s.utf8.contains(UInt8(ascii: "%")) else { return String(s) }
        var bytes: [UInt8] = []
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else {
                    return nil
                }
                bytes.append(hv << 4 | lv)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
