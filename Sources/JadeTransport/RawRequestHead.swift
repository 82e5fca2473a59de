import NIOHTTP1

/// Recognizes simple request heads in raw bytes, for the connection's fast path ahead of NIO's
/// HTTP codec: a complete `GET`, `HEAD` or `DELETE` request on HTTP/1.1 without a body.
///
/// It accepts a strict subset of what the codec accepts and never rejects anything: a head it
/// does not fully understand (another method or version, a header that changes framing or
/// connection semantics, a byte outside the plain ASCII grammar, a head split across reads or
/// over the size limit) makes `scan` return nil, and the bytes go to the codec, which answers
/// or rejects them as it always does.
struct RawRequestHead {
    /// Where one header field's name and value (leading whitespace skipped) sit in the bytes.
    struct Field {
        var nameStart: Int32
        var nameEnd: Int32
        var valueStart: Int32
        var valueEnd: Int32
    }

    var method: HTTPMethod
    /// The request target's byte range.
    var targetStart: Int
    var targetEnd: Int
    /// The length of the whole head, blank line included.
    var length: Int
    /// The head is exactly `GET /health HTTP/1.1` with no `X-Request-Id`: the health fast path.
    var isPlainHealth: Bool

    /// Header names that change framing or connection handling: any of them sends the request
    /// to the codec. `x-request-id` is only noted (the health fast path does not echo it).
    private static let disqualifying: [[UInt8]] = [
        "content-length", "transfer-encoding", "connection", "proxy-connection", "expect", "upgrade", "te",
        "trailer",
    ].map { Array($0.utf8) }
    private static let requestID = Array("x-request-id".utf8)
    private static let health = Array("/health".utf8)
    private static let version = Array(" HTTP/1.1\r\n".utf8)

    /// Scans the head at the start of `bytes`, recording its header fields in `fields` (emptied
    /// first; reused between calls so that a scan allocates nothing). Nil when the bytes do not
    /// start with a complete simple head of at most `maxHead` bytes.
    static func scan(_ bytes: UnsafeRawBufferPointer, maxHead: Int, fields: inout [Field]) -> RawRequestHead? {
        fields.removeAll(keepingCapacity: true)
        let n = min(bytes.count, maxHead)
        let method: HTTPMethod
        var i: Int
        if n >= 4 && bytes[0] == 0x47 && bytes[1] == 0x45 && bytes[2] == 0x54 && bytes[3] == 0x20 {  // "GET "
            method = .GET
            i = 4
        } else if n >= 5 && bytes[0] == 0x48 && bytes[1] == 0x45 && bytes[2] == 0x41 && bytes[3] == 0x44
            && bytes[4] == 0x20
        {  // "HEAD "
            method = .HEAD
            i = 5
        } else if n >= 7 && bytes[0] == 0x44 && bytes[1] == 0x45 && bytes[2] == 0x4C && bytes[3] == 0x45
            && bytes[4] == 0x54 && bytes[5] == 0x45 && bytes[6] == 0x20
        {  // "DELETE "
            method = .DELETE
            i = 7
        } else {
            return nil
        }
        let targetStart = i
        guard i < n, bytes[i] == UInt8(ascii: "/") else { return nil }
        while i < n && isTargetByte(bytes[i]) { i += 1 }
        let targetEnd = i
        guard i + version.count <= n else { return nil }
        for k in 0..<version.count where bytes[i + k] != version[k] { return nil }
        i += version.count
        var hasRequestID = false
        while true {
            guard i + 1 < n else { return nil }
            if bytes[i] == 13 {
                guard bytes[i + 1] == 10 else { return nil }
                i += 2
                break  // blank line: end of the head
            }
            let nameStart = i
            while i < n && isTokenByte(bytes[i]) { i += 1 }
            guard i < n, i > nameStart, bytes[i] == UInt8(ascii: ":") else { return nil }
            let nameEnd = i
            i += 1
            while i < n && (bytes[i] == 0x20 || bytes[i] == 0x09) { i += 1 }
            let valueStart = i
            while i < n && isValueByte(bytes[i]) { i += 1 }
            // Trailing whitespace stays in the value, as NIO's codec keeps it: both paths must
            // hand handlers the same strings.
            let valueEnd = i
            guard i + 1 < n, bytes[i] == 13, bytes[i + 1] == 10 else { return nil }
            i += 2
            let nameLength = nameEnd - nameStart
            for name in disqualifying where name.count == nameLength {
                if matches(bytes, nameStart, name) { return nil }
            }
            if nameLength == requestID.count && matches(bytes, nameStart, requestID) { hasRequestID = true }
            fields.append(
                Field(
                    nameStart: Int32(nameStart), nameEnd: Int32(nameEnd), valueStart: Int32(valueStart),
                    valueEnd: Int32(valueEnd)))
        }
        // The codec path measures a head as target + 16 + (name + value + 4) per field and answers
        // 431 above the limit: a head over that measure goes to the codec too, so both paths
        // agree on where the limit falls.
        var measured = targetEnd - targetStart + 16
        for f in fields { measured += Int(f.nameEnd - f.nameStart) + Int(f.valueEnd - f.valueStart) + 4 }
        guard measured <= maxHead else { return nil }
        var isHealth = method == .GET && !hasRequestID && targetEnd - targetStart == health.count
        if isHealth {
            for k in 0..<health.count where bytes[targetStart + k] != health[k] {
                isHealth = false
                break
            }
        }
        return RawRequestHead(
            method: method, targetStart: targetStart, targetEnd: targetEnd, length: i, isPlainHealth: isHealth)
    }

    /// The request head as the router sees it, built from the same bytes `scan` saw.
    func makeHead(_ bytes: UnsafeRawBufferPointer, fields: [Field]) -> HTTPRequestHead {
        var headers: [(String, String)] = []
        headers.reserveCapacity(fields.count)
        for f in fields {
            headers.append(
                (
                    Self.string(bytes, Int(f.nameStart), Int(f.nameEnd)),
                    Self.string(bytes, Int(f.valueStart), Int(f.valueEnd))
                ))
        }
        return HTTPRequestHead(
            version: .http1_1, method: method, uri: Self.string(bytes, targetStart, targetEnd),
            headers: HTTPHeaders(headers))
    }

    private static func string(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// Case-insensitive comparison of the bytes at `start` with a lowercase ASCII name.
    private static func matches(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ name: [UInt8]) -> Bool {
        for k in 0..<name.count where bytes[start + k] | 0x20 != name[k] { return false }
        return true
    }

    /// RFC 3986 characters allowed in a path and query (no fragment, no spaces, no controls).
    @inline(__always) static func isTargetByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"),
            UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "@"),
            UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: "="), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }

    /// RFC 9110 `tchar`: the characters of a header name.
    @inline(__always) static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Visible ASCII, space and tab: a header value without obs-text or controls.
    @inline(__always) static func isValueByte(_ c: UInt8) -> Bool {
        (c >= 0x20 && c < 0x7F) || c == 0x09
    }
}
