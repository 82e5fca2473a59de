/// Where JSON text is written: a byte array (here) or a NIO `ByteBuffer` (JadeHTTP). The one
/// writer, escaper and number formatter of the project work on any of them.
public protocol JSONOutput {
    mutating func appendJSONByte(_ byte: UInt8)
    /// Appends the UTF-8 bytes of `text` as they are (already valid JSON).
    mutating func appendJSONText(_ text: String)
    /// Appends an integer in decimal.
    mutating func appendJSONInteger(_ value: Int)
}

extension Array: JSONOutput where Element == UInt8 {
    @inlinable public mutating func appendJSONByte(_ byte: UInt8) { append(byte) }
    @inlinable public mutating func appendJSONText(_ text: String) { append(contentsOf: text.utf8) }
    @inlinable public mutating func appendJSONInteger(_ value: Int) {
        withDecimalDigits(Int64(value)) { append(contentsOf: $0) }
    }
}

extension JSONValue {
    /// Writes the value as JSON text: objects with sorted keys (equal values give equal bytes),
    /// numbers by ``JSONValue/formatNumber(_:)``, strings by ``JSONValue/writeString(_:to:)``;
    /// a non-finite number is written `null`.
    @inlinable
    public func write<Output: JSONOutput>(to out: inout Output) {
        switch self {
        case .null: out.appendJSONText("null")
        case .bool(let b): out.appendJSONText(b ? "true" : "false")
        case .int(let i): out.appendJSONInteger(i)
        case .double(let d): out.appendJSONText(Self.formatNumber(d))
        case .float(let f): out.appendJSONText(f.isFinite ? f.description : "null")
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let items):
            out.appendJSONByte(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.appendJSONByte(UInt8(ascii: ",")) }
                item.write(to: &out)
            }
            out.appendJSONByte(UInt8(ascii: "]"))
        case .object(let fields):
            out.appendJSONByte(UInt8(ascii: "{"))
            for (i, key) in fields.keys.sorted().enumerated() {
                if i > 0 { out.appendJSONByte(UInt8(ascii: ",")) }
                Self.writeString(key, to: &out)
                out.appendJSONByte(UInt8(ascii: ":"))
                fields[key]!.write(to: &out)
            }
            out.appendJSONByte(UInt8(ascii: "}"))
        }
    }

    /// The JSON text.
    public var text: String {
        var bytes: [UInt8] = []
        write(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The one number formatter: integral values below 2^53 without a fraction ("3", never
    /// "3.0"; -0 as "0"), others in Swift's shortest round-trip form, non-finite ones as null.
    public static func formatNumber(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992 { return d == 0 ? "0" : String(Int64(d)) }
        return String(d)
    }

    /// The one string escaper: quotes, backslashes and control characters escaped (as \n, \r,
    /// \t or \u00XX); everything else, including non-ASCII, copied as UTF-8.
    @inlinable
    public static func writeString<Output: JSONOutput>(_ s: String, to out: inout Output) {
        out.appendJSONByte(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them in one go.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out.appendJSONText(s)
            out.appendJSONByte(UInt8(ascii: "\""))
            return
        }
        let hex: StaticString = "0123456789abcdef"
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.appendJSONText("\\\"")
            case UInt8(ascii: "\\"): out.appendJSONText("\\\\")
            case 0x0A: out.appendJSONText("\\n")
            case 0x0D: out.appendJSONText("\\r")
            case 0x09: out.appendJSONText("\\t")
            case 0..<0x20:
                out.appendJSONText("\\u00")
                hex.withUTF8Buffer { digits in
                    out.appendJSONByte(digits[Int(byte >> 4)])
                    out.appendJSONByte(digits[Int(byte & 0xF)])
                }
            default: out.appendJSONByte(byte)
            }
        }
        out.appendJSONByte(UInt8(ascii: "\""))
    }
}
