import JadeShared
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
    public var rateLimit: RateLimitDecision?

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

/// A JSON value for building response bodies; objects are written with sorted keys so bytes
/// are stable.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    /// A float32, written in its shortest round-tripping form (vector values, scores).
    case float(Float)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    /// Appends the JSON text to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .null: buffer.writeStaticString("null")
        case .bool(let b): buffer.writeStaticString(b ? "true" : "false")
        case .int(let i): buffer.writeDecimal(i)
        case .double(let d):
            if d.isFinite {
                if d == d.rounded() && abs(d) < 1e15 {
                    buffer.writeDecimal(Int(d))
                    if d == 0 && d.sign == .minus { break }
                } else {
                    buffer.writeString(String(d))
                }
            } else {
                buffer.writeStaticString("null")
            }
        case .float(let f):
            if f.isFinite { buffer.writeString(f.description) } else { buffer.writeStaticString("null") }
        case .string(let s): JSON.writeString(s, to: &buffer)
        case .array(let items):
            buffer.writeInteger(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                item.write(to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "]"))
        case .object(let fields):
            buffer.writeInteger(UInt8(ascii: "{"))
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
                JSON.writeString(key, to: &buffer)
                buffer.writeInteger(UInt8(ascii: ":"))
                fields[key]!.write(to: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "}"))
        }
    }

    /// The JSON text as a String.
    public var text: String {
        var buffer = ByteBuffer()
        write(to: &buffer)
        return String(buffer: buffer)
    }

    static func writeString(_ s: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them in one go.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            buffer.writeString(s)
            buffer.writeInteger(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0xF)])
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
