import Foundation

/// A parsed JSON value that keeps booleans, integers and other numbers apart (unlike
/// JSONSerialization on Linux, where `true` and `1` are both NSNumber).
public enum JSONValue: Decodable, Sendable, Equatable {
    case bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])
    case null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// The value as it would be written (objects abbreviated).
    public var display: String {
        switch self {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.display).joined(separator: ",") + "]"
        case .object: return "{…}"
        case .null: return "null"
        }
    }
}

extension JSONValue {
    /// Parses a JSON document (strict; see `JSONParser`).
    public static func parse(_ data: some Collection<UInt8>) throws -> JSONValue {
        try JSONParser.parse(data)
    }
}
