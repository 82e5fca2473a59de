import Foundation
import JadeCore
import JadeTransport
import NIOCore

/// A request's JSON object body with typed, validating accessors. Every failure is a 400
/// `invalid_request` naming the field (415 for a non-JSON content type).
public struct JSONBody {
    public let fields: [String: JSONValue]
    /// Put before field names in messages (`searches[2].`): the object's place in the body.
    public let path: String

    /// An object inside a body (a batch's item), its messages naming fields from `path`.
    public init(fields: [String: JSONValue], path: String) {
        self.fields = fields
        self.path = path
    }

    /// A body arrives as `application/json` (any parameters, such as `charset=utf-8`): another
    /// type, or none at all, is 415 `unsupported_media_type` before a byte is parsed. `curl -d`
    /// sends `application/x-www-form-urlencoded`, and a body without a type is a client that did
    /// not say what it sent: both are told what to send instead of being guessed at. A request
    /// without a body needs no type.
    public init(_ request: RequestContext, allowEmpty: Bool = false) throws {
        path = ""
        let hasBody = (request.body?.readableBytes ?? 0) > 0
        switch request.head.headers.first(name: "content-type") {
        case let type? where Self.isJSON(type):
            break
        case let type?:
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type",
                "Send the body as application/json (got \(type.prefix(100))); with curl, add -H 'Content-Type: application/json'."
            )
        case nil where hasBody:
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type",
                "The body has no Content-Type: send it as application/json.")
        case nil:
            break
        }
        guard let body = request.body, body.readableBytes > 0 else {
            if allowEmpty {
                fields = [:]
                return
            }
            throw APIError.invalid("A JSON object body is required.")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(body.readableBytesView)
        } catch {
            throw APIError.invalid("The body is not valid JSON.")
        }
        guard case .object(let object) = value else { throw APIError.invalid("The body must be a JSON object.") }
        fields = object
    }

    /// `application/json`, case-insensitive, with or without parameters.
    static func isJSON(_ contentType: String) -> Bool {
        let media = contentType.split(separator: ";", maxSplits: 1).first ?? ""
        return media.trimmingCharacters(in: .whitespaces).lowercased() == "application/json"
    }

    /// Rejects fields outside `allowed`.
    public func allowOnly(_ allowed: Set<String>) throws {
        if let unknown = fields.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw APIError.invalid("Unknown field \"\(path)\(unknown)\".")
        }
    }

    public func string(_ key: String, maxBytes: Int = 4096) throws -> String? {
        switch fields[key] {
        case nil, .null?: return nil
        case .string(let s)?:
            guard s.utf8.count <= maxBytes else {
                throw APIError.invalid("\"\(path)\(key)\" is longer than \(maxBytes) bytes.")
            }
            return s
        default: throw APIError.invalid("\"\(path)\(key)\" must be a string.")
        }
    }

    public func requiredString(_ key: String, maxBytes: Int = 4096) throws -> String {
        guard let s = try string(key, maxBytes: maxBytes) else {
            throw APIError.invalid("\"\(path)\(key)\" is required.")
        }
        return s
    }

    public func int(_ key: String) throws -> Int? {
        switch fields[key] {
        case nil, .null?: return nil
        case .int(let i)?: return i
        case .double(let d)? where d == d.rounded() && abs(d) < 9e15: return Int(d)
        default: throw APIError.invalid("\"\(path)\(key)\" must be an integer.")
        }
    }

    public func bool(_ key: String) throws -> Bool? {
        switch fields[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw APIError.invalid("\"\(path)\(key)\" must be true or false.")
        }
    }

    public func strings(_ key: String) throws -> [String]? {
        switch fields[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            return try items.map {
                guard case .string(let s) = $0 else {
                    throw APIError.invalid("\"\(path)\(key)\" must be a list of strings.")
                }
                return s
            }
        default: throw APIError.invalid("\"\(path)\(key)\" must be a list of strings.")
        }
    }

    /// True when the key is present (even as null).
    public func has(_ key: String) -> Bool { fields[key] != nil }
}
