import Foundation

/// The project's one JSON value: what `JSONParser` reads (request bodies, configuration files,
/// stored metadata) and what the writer (JSONWriter.swift) writes (responses, stored metadata,
/// audit details). Booleans, integers and other numbers stay apart (unlike JSONSerialization on
/// Linux, where `true` and `1` are both NSNumber).
public indirect enum JSONValue: Sendable, Equatable {
    case bool(Bool), int(Int), double(Double), string(String), array([JSONValue]), object([String: JSONValue])
    case null
    /// A float32 to write in its shortest round-tripping form (vector values, scores); the
    /// parser never produces it.
    case float(Float)

    /// The value as it would be written (objects abbreviated).
    public var display: String {
        switch self {
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .float(let f): return f.description
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
