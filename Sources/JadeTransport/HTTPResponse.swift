import JadeCore
import NIOCore
import NIOHTTP1

/// A complete response: status, extra headers and a body (JSON unless said otherwise).
/// The connection handler adds Content-Length, Date, X-Request-Id and Connection.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: [(String, String)]
    public var body: ByteBuffer
    public var contentType: String
    /// The caller's API rate-limit decision: written as `RateLimit-Limit`, `RateLimit-Remaining`
    /// and `RateLimit-Reset` (numbers straight into the response bytes, no header strings).
    public var rateLimit: RateLimitHeaders?

    public init(
        status: HTTPResponseStatus = .ok, headers: [(String, String)] = [], body: ByteBuffer = ByteBuffer(),
        contentType: String = "application/json"
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.contentType = contentType
    }

    /// A JSON response from a value built with `JSON`.
    public static func json(_ value: JSON, status: HTTPResponseStatus = .ok, headers: [(String, String)] = [])
        -> HTTPResponse
    {
        var buffer = ByteBuffer()
        value.write(to: &buffer)
        return HTTPResponse(status: status, headers: headers, body: buffer)
    }

    /// The API's error shape: `{"error": {"code": ..., "message": ...}}`.
    public static func error(
        _ status: HTTPResponseStatus, code: String, message: String, headers: [(String, String)] = []
    ) -> HTTPResponse {
        .json(
            .object(["error": .object(["code": .string(code), "message": .string(message)])]), status: status,
            headers: headers)
    }

    /// 204 without a body.
    public static var noContent: HTTPResponse { HTTPResponse(status: .noContent) }
}

/// The `RateLimit-*` headers (and `Retry-After` when refused) of a rate-limit decision.
public struct RateLimitHeaders: Sendable, Equatable {
    /// `RateLimit-Limit`: the bucket size.
    public var limit: Int
    /// `RateLimit-Remaining`.
    public var remaining: Int
    /// `RateLimit-Reset`: whole seconds until the bucket is full.
    public var resetSeconds: Int
    /// `Retry-After`, written only when the request was refused.
    public var retryAfterSeconds: Int?

    public init(limit: Int, remaining: Int, resetSeconds: Int, retryAfterSeconds: Int?) {
        self.limit = limit
        self.remaining = remaining
        self.resetSeconds = resetSeconds
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// Response bodies are built from the project's one JSON value (JadeCore).
public typealias JSON = JSONValue

extension ByteBuffer: JSONOutput {
    @inlinable public mutating func appendJSONByte(_ byte: UInt8) { writeInteger(byte) }
    @inlinable public mutating func appendJSONText(_ text: String) { writeString(text) }
    @inlinable public mutating func appendJSONInteger(_ value: Int) { writeDecimal(value) }
}
