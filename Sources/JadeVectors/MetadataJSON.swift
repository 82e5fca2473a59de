import JadeCore

/// The JSON text of flat metadata as stored in `vectors.metadata`: an object with sorted keys
/// whose values are strings, numbers or booleans. Encoding and decoding use JadeCore's writer
/// and byte-level parser (Foundation's decoders cost several times more, and readers
/// decode every row's metadata when they load a database).
enum MetadataJSON {
    struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        var description: String { "malformed metadata JSON at byte \(offset)" }
    }

    /// Encodes with sorted keys, so equal metadata gives equal bytes: the project's one JSON
    /// writer, escaper and number formatter (JadeCore), without building a `JSONValue` first.
    static func encode(_ metadata: Metadata) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(16 + metadata.count * 24)
        for (i, key) in metadata.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch metadata[key]! {
            case .string(let s): JSONValue.writeString(s, to: &out)
            case .bool(let b): out.appendJSONText(b ? "true" : "false")
            case .number(let d): out.appendJSONText(JSONValue.formatNumber(d))
            }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a flat object with the project's JSON parser; anything else (nesting, null,
    /// trailing bytes) is an error.
    static func decode(_ text: String) throws -> Metadata {
        let value: JSONValue
        do {
            value = try JSONParser.parse(text.utf8)
        } catch let error as JSONParseError {
            throw SyntaxError(offset: error.offset)
        }
        guard case .object(let fields) = value else { throw SyntaxError(offset: 0) }
        var result: Metadata = [:]
        for (key, field) in fields {
            switch field {
            case .string(let s): result[key] = .string(s)
            case .int(let i): result[key] = .number(Double(i))
            case .double(let d): result[key] = .number(d)
            case .bool(let b): result[key] = .bool(b)
            default: throw SyntaxError(offset: 0)
            }
        }
        return result
    }
}
