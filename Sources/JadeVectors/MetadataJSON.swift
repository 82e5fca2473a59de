import JadeCore

/// The JSON text of flat metadata as stored in `vectors.metadata`: an object with sorted keys
/// whose values are strings, numbers or booleans. Encoding is a small dedicated writer; decoding
/// uses JadeCore's byte-level parser (Foundation's decoders cost several times more, and readers
/// decode every row's metadata when they load a database).
enum MetadataJSON {
    struct SyntaxError: Error, CustomStringConvertible {
        let offset: Int
        var description: String { "malformed metadata JSON at byte \(offset)" }
    }

    /// Encodes with sorted keys, so equal metadata gives equal bytes.
    static func encode(_ metadata: Metadata) -> String {
        var out = "{"
        for (i, key) in metadata.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            appendString(key, to: &out)
            out += ":"
            switch metadata[key]! {
            case .string(let s): appendString(s, to: &out)
            case .bool(let b): out += b ? "true" : "false"
            case .number(let d): out += formatNumber(d)
            }
        }
        out += "}"
        return out
    }

    /// Integers up to 2^53 without a fraction; everything else in Swift's shortest round-trip form.
    static func formatNumber(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992 {
            return d == 0 ? "0" : String(Int64(d))
        }
        return "\(d)"
    }

    private static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
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
