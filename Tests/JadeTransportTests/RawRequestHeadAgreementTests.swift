import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import JadeTransport

/// The raw scanner must accept only what NIO's codec accepts, and read it the same way: for
/// thousands of generated heads (mostly valid, with mutations of every kind), whenever the scanner
/// takes one, the codec decodes the same method, target, version and header fields from the same
/// bytes.
@Suite struct RawRequestHeadAgreementTests {
    /// SplitMix64: a fixed sequence, so a failure reproduces.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    static let methods = ["GET", "GET", "GET", "HEAD", "DELETE", "POST", "PUT", "get", "OPTIONS", "GETX"]
    static let versions = ["HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "http/1.1"]
    static let names = [
        "Host", "Authorization", "X-API-Key", "Accept", "User-Agent", "X-Request-Id", "x-forwarded-for", "A_b.c~d!",
    ]
    /// Names the scanner must leave to the codec (framing, connection handling, not a token).
    static let otherNames = [
        "Content-Length", "Connection", "Proxy-Connection", "Transfer-Encoding", "X(bad)", "Bad Name", "", "X-\u{e9}",
    ]
    /// Bytes for targets and values: the plain ones often, the odd ones sometimes.
    static let plain = Array("abcXYZ019-._~/?=&%:@!$'()*+,;".utf8)
    static let odd: [UInt8] = [
        0x20, 0x09, 0x22, 0x23, 0x3C, 0x5C, 0x7B, 0x7F, 0x00, 0x01, 0x0D, 0x0A, 0xC3, 0xA9, 0xFF,
    ]

    static func bytes(_ g: inout Generator, count: Int, oddPercent: Int) -> [UInt8] {
        (0..<count).map { _ in g.chance(oddPercent) ? g.pick(odd) : g.pick(plain) }
    }

    static func request(_ g: inout Generator) -> [UInt8] {
        let eol: [UInt8] = g.chance(95) ? [13, 10] : (g.chance(50) ? [10] : [13])
        var out = Array(g.pick(methods).utf8)
        out += g.chance(97) ? [0x20] : [0x20, 0x20]
        if g.chance(95) { out.append(UInt8(ascii: "/")) }
        out += bytes(&g, count: g.below(24), oddPercent: g.chance(90) ? 0 : 8)
        out += g.chance(97) ? [0x20] : [0x20, 0x20]
        out += Array(g.pick(versions).utf8) + eol
        for _ in 0..<g.below(5) {
            out += Array((g.chance(95) ? g.pick(names) : g.pick(otherNames)).utf8)
            if g.chance(3) { out.append(0x20) }  // space before the colon
            out.append(UInt8(ascii: ":"))
            if g.chance(70) { out.append(0x20) }
            if g.chance(10) { out.append(0x09) }
            out += bytes(&g, count: g.below(20), oddPercent: g.chance(92) ? 0 : 10).map {
                // Keep most values free of CR/LF so that heads stay well framed.
                $0 == 13 || $0 == 10 ? (g.chance(50) ? $0 : 0x20) : $0
            }
            if g.chance(10) { out += [0x20, 0x09] }
            out += g.chance(97) ? [13, 10] : [10]
        }
        return out + eol
    }

    /// What NIO's decoder makes of `bytes`: the head, or nil when it rejects or does not finish one.
    static func decode(_ bytes: [UInt8]) -> HTTPRequestHead? {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            guard case .head(let head)? = try channel.readInbound(as: HTTPServerRequestPart.self) else { return nil }
            return head
        } catch {
            return nil
        }
    }

    @Test func acceptedHeadsDecodeTheSameWayInTheCodec() {
        var g = Generator(state: 20_261_129)
        var fields: [RawRequestHead.Field] = []
        var accepted = 0
        var codecOnly = 0
        for i in 0..<4000 {
            let bytes = Self.request(&g)
            let scanned = bytes.withUnsafeBytes { raw -> HTTPRequestHead? in
                guard let head = RawRequestHead.scan(raw, maxHead: 16_384, fields: &fields) else { return nil }
                #expect(head.length == bytes.count, "case \(i): length")
                return head.makeHead(raw, fields: fields)
            }
            let decoded = Self.decode(bytes)
            guard let scanned else {
                if decoded != nil { codecOnly += 1 }
                continue
            }
            accepted += 1
            let text = String(decoding: bytes, as: UTF8.self).debugDescription
            guard let decoded else {
                Issue.record("case \(i): the scanner took a head the codec rejects: \(text)")
                continue
            }
            #expect(scanned.method == decoded.method, "case \(i): \(text)")
            #expect(scanned.uri == decoded.uri, "case \(i): \(text)")
            #expect(scanned.version == decoded.version, "case \(i): \(text)")
            #expect(scanned.isKeepAlive == decoded.isKeepAlive, "case \(i): \(text)")
            #expect(
                scanned.headers.map { "\($0.name): \($0.value)" } == decoded.headers.map { "\($0.name): \($0.value)" },
                "case \(i): \(text)")
        }
        // Not vacuous: a good share of the generated heads takes the raw path, and the codec
        // still gets the ones the scanner leaves to it.
        #expect(accepted > 500, "accepted \(accepted)")
        #expect(codecOnly > 100, "codec only \(codecOnly)")
    }
}
