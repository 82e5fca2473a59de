#if canImport(Glibc)
    import Glibc
#endif

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as an IPv4-mapped IPv6 address), so both families
/// compare and match CIDRs the same way.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public let isIPv4: Bool

    /// Parses a numeric IPv4 or IPv6 address (no host names, no zone ids). Nil when malformed.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        // inet_pton stops at a NUL byte: accept only the characters an address can hold.
        guard !s.isEmpty, s.utf8.count <= 45,
            s.utf8.allSatisfy({ b in
                (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
                    || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F")) || b == UInt8(ascii: ":")
                    || b == UInt8(ascii: ".")
            })
        else { return nil }
        var v4 = in_addr()
        if s.withCString({ inet_pton(AF_INET, $0, &v4) }) == 1 {
            let b = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + b
            isIPv4 = true
            return
        }
        var v6 = in6_addr()
        if s.withCString({ inet_pton(AF_INET6, $0, &v6) }) == 1 {
            let b = withUnsafeBytes(of: v6) { Array($0) }
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
                bytes = b
                isIPv4 = true
            } else {
                bytes = b
                isIPv4 = false
            }
            return
        }
        return nil
    }

    public var description: String {
        if isIPv4 { return bytes[12...].map(String.init).joined(separator: ".") }
        var addr = in6_addr()
        withUnsafeMutableBytes(of: &addr) { raw in for i in 0..<16 { raw[i] = bytes[i] } }
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count))
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension IPAddress {
    /// Parses one entry of an X-Forwarded-For list as proxies write it: a bare address,
    /// `v4:port`, `[v6]` or `[v6]:port` (surrounding spaces ignored). Nil for anything else
    /// (`unknown`, an obfuscated identifier, a port without brackets on IPv6, garbage).
    public init?(forwardedEntry entry: some StringProtocol) {
        var text = Substring(entry)
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        if let plain = IPAddress(text) {
            self = plain
            return
        }
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && Self.isPort(rest.dropFirst())),
                let address = IPAddress(text[text.index(after: text.startIndex)..<close]), !address.isIPv4
            else { return nil }
            self = address
            return
        }
        // v4:port (exactly one colon: an IPv6 address has several and needs brackets).
        guard let colon = text.firstIndex(of: ":"), text[text.index(after: colon)...].firstIndex(of: ":") == nil,
            Self.isPort(text[text.index(after: colon)...]), let address = IPAddress(text[..<colon]), address.isIPv4
        else { return nil }
        self = address
    }

    private static func isPort(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 5 && text.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
            && Int(text)! <= 65535
    }

    /// The client that trusted proxies vouch for. `entries` are the X-Forwarded-For entries
    /// of every header line in order. Walks from the right, starting at the peer: while the
    /// address at hand is a trusted proxy, the entry it appended names the next hop. The first
    /// untrusted address is the client. An entry that cannot be parsed ends the walk with no
    /// address: an unknown client behind the last trusted proxy, never the proxy itself.
    /// When every entry is trusted the left-most is the client.
    public static func forwardedClient(
        peer: IPAddress, entries: [Substring], isTrusted: (IPAddress) -> Bool
    ) -> IPAddress? {
        var candidate = peer
        var index = entries.endIndex
        while isTrusted(candidate) && index > entries.startIndex {
            index -= 1
            guard let next = IPAddress(forwardedEntry: entries[index]) else { return nil }
            candidate = next
        }
        return candidate
    }
}

/// A CIDR block such as `10.0.0.0/8` or `fd00::/8`; a bare address is a /32 or /128.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    /// Prefix length counted over the 128-bit form.
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(parts[0]) else { return nil }
        let maxLength = address.isIPv4 ? 32 : 128
        var length = maxLength
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...maxLength).contains(l) else { return nil }
            length = l
        }
        network = address
        prefixLength = address.isIPv4 ? length + 96 : length
    }

    /// True when `address` falls inside the block.
    public func contains(_ address: IPAddress) -> Bool {
        var remaining = prefixLength
        var i = 0
        while remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xff : UInt8(0xff << (8 - remaining) & 0xff)
            if address.bytes[i] & mask != network.bytes[i] & mask { return false }
            remaining -= 8
            i += 1
        }
        return true
    }

    public var description: String {
        "\(network)/\(network.isIPv4 ? prefixLength - 96 : prefixLength)"
    }
}
