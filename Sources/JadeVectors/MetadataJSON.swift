/// The JSON text of flat metadata as stored in `vectors.metadata`: an object with sorted keys
/// whose values are strings, numbers or booleans. A small dedicated codec: readers decode every
/// row's metadata when they load a database, and Foundation's decoders cost several times more.
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

    /// Decodes a flat object; anything else (nesting, null, trailing bytes) is an error.
    static func decode(_ text: String) throws -> Metadata {
        var text = text
        return try text.withUTF8 { bytes in
            var parser = Parser(bytes: bytes)
            return try parser.object()
        }
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func object() throws -> Metadata {
            var result: Metadata = [:]
            skipSpace()
            try expect(UInt8(ascii: "{"))
            skipSpace()
            if peek() == UInt8(ascii: "}") {
                i += 1
            } else {
                while true {
                    skipSpace()
                    let key = try string()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                    result[key] = try value()
                    skipSpace()
                    if peek() == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    try expect(UInt8(ascii: "}"))
                    break
                }
            }
            skipSpace()
            guard i == bytes.count else { throw SyntaxError(offset: i) }
            return result
        }

        mutating func value() throws -> MetadataValue {
            switch peek() {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            default: return .number(try number())
            }
        }

        mutating func number() throws -> Double {
            let start = i
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."),
                    UInt8(ascii: "e"), UInt8(ascii: "E"):
                    i += 1
                    continue
                default: break
                }
                break
            }
            guard i > start,
                let d = Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)),
                d.isFinite
            else { throw SyntaxError(offset: start) }
            return d
        }

        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""))
            let start = i
            // Fast path: no escapes.
            while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") { i += 1 }
            guard i < bytes.count else { throw SyntaxError(offset: start) }
            if bytes[i] == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<(i - 1)]), as: UTF8.self)
            }
            var out = Array(bytes[start..<i])
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard b == UInt8(ascii: "\\") else {
                    out.append(b)
                    continue
                }
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                        bytes[i + 1] == UInt8(ascii: "u")
                    {
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw SyntaxError(offset: i) }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(scalar).utf8))
                default: throw SyntaxError(offset: i - 1)
                }
            }
            throw SyntaxError(offset: start)
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count else { throw SyntaxError(offset: i) }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let digit: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw SyntaxError(offset: i)
                }
                v = v << 4 | digit
                i += 1
            }
            return v
        }

        mutating func literal(_ word: StaticString) throws {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw SyntaxError(offset: i) }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw SyntaxError(offset: i) }
            i += n
        }

        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func expect(_ b: UInt8) throws {
            guard i < bytes.count, bytes[i] == b else { throw SyntaxError(offset: i) }
            i += 1
        }

        mutating func skipSpace() {
            while i < bytes.count,
                bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09
            {
                i += 1
            }
        }
    }
}
