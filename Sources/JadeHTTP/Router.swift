import NIOCore
import NIOHTTP1

/// What a handler returns: a response now, or one later (work off the event loop).
public enum HandlerResult {
    case now(HTTPResponse)
    case later(EventLoopFuture<HTTPResponse>)
}

/// The request as a handler sees it.
public struct RequestContext {
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
    /// The peer's address as text (the client address rules of API.md apply on top of it).
    public let remoteAddress: String?
}

/// A route handler.
public typealias RouteHandler = (RequestContext) -> HandlerResult

/// Matches method and path against route templates such as `/v1/databases/{name}`.
public final class Router {
    final class Node {
        var children: [Substring: Node] = [:]
        var parameter: (name: String, node: Node)?
        var handlers: [String: (template: String, handler: RouteHandler)] = [:]
    }

    /// The outcome of matching a request.
    public enum Match {
        case found(template: String, handler: RouteHandler, parameters: [String: String])
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
    }

    private let root = Node()

    public init() {}

    /// Adds a route. `{name}` segments capture a path segment.
    public func add(_ method: HTTPMethod, _ template: String, _ handler: @escaping RouteHandler) {
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
        node.handlers[method.rawValue] = (template, handler)
    }

    /// Finds the handler for `method` and `path`. HEAD falls back to GET.
    public func match(_ method: HTTPMethod, _ path: Substring) -> Match {
        var node = root
        var parameters: [String: String] = [:]
        for segment in path.split(separator: "/") {
            if let child = node.children[segment] {
                node = child
            } else if let (name, child) = node.parameter {
                guard let decoded = percentDecode(segment) else { return .notFound }
                parameters[name] = decoded
                node = child
            } else {
                return .notFound
            }
        }
        if let entry = node.handlers[method.rawValue] ?? (method == .HEAD ? node.handlers["GET"] : nil) {
            return .found(template: entry.template, handler: entry.handler, parameters: parameters)
        }
        if node.handlers.isEmpty { return .notFound }
        var allowed = Array(node.handlers.keys)
        if node.handlers["GET"] != nil { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed.sorted().map { HTTPMethod(rawValue: $0) })
    }

    private func percentDecode(_ s: Substring) -> String? {
        guard s.contains("%") else { return String(s) }
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
