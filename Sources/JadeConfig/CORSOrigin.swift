/// The origins of `server.cors.allowed_origins`: `scheme://host[:port]` as browsers send them
/// in `Origin`, or `*` for any origin.
public enum CORSOrigin {
    /// Whether `origin` is an entry the setting accepts.
    public static func isValid(_ origin: String) -> Bool {
        if origin == "*" { return true }
        let lower = origin.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            rest = lower.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            rest = lower.dropFirst(7)
        } else {
            return false
        }
        guard !rest.isEmpty, rest.utf8.count <= 253 + 6 else { return false }
        var host = rest
        if rest.hasPrefix("[") {
            // [IPv6 literal], then an optional port.
            guard let close = rest.firstIndex(of: "]") else { return false }
            let literal = rest[rest.index(after: rest.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return false
            }
            let after = rest[rest.index(after: close)...]
            return after.isEmpty || isPort(after)
        }
        if let colon = rest.lastIndex(of: ":") {
            guard isPort(rest[colon...]) else { return false }
            host = rest[..<colon]
        }
        return !host.isEmpty && !host.hasPrefix(".") && !host.hasSuffix(".")
            && host.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "." }
    }

    /// `:digits` with a port in 1...65535.
    private static func isPort(_ text: Substring) -> Bool {
        guard text.first == ":", let port = Int(text.dropFirst()), text.count <= 6 else { return false }
        return (1...65535).contains(port)
    }

    /// The form incoming `Origin` headers are compared in (scheme and host are case-insensitive).
    public static func normalized(_ origin: String) -> String { origin.lowercased() }
}
