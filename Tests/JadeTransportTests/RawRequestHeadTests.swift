import NIOCore
import NIOHTTP1
import Testing

@testable import JadeTransport

/// Recognition of simple request heads for the raw-bytes fast path: anything it does not fully
/// understand must go to the HTTP codec, and what it takes must read exactly as the codec would.
@Suite struct RawRequestHeadTests {
    func scan(_ text: String, maxHead: Int = 16_384) -> (RawRequestHead, HTTPRequestHead)? {
        var fields: [RawRequestHead.Field] = []
        return Array(text.utf8).withUnsafeBytes { bytes in
            guard let scanned = RawRequestHead.scan(bytes, maxHead: maxHead, fields: &fields) else { return nil }
            return (scanned, scanned.makeHead(bytes, fields: fields))
        }
    }

    @Test func completeRequestsAreMeasuredExactly() throws {
        let one = "GET /health HTTP/1.1\r\nHost: a\r\nUser-Agent: wrk\r\n\r\n"
        #expect(scan(one)?.0.length == one.utf8.count)
        #expect(scan(one + "GET /other HTTP/1.1\r\n")?.0.length == one.utf8.count)
        #expect(scan("GET /health HTTP/1.1\r\n\r\n")?.0.length == 24)
    }

    @Test func headsAreBuiltLikeTheCodecBuildsThem() throws {
        let text =
            "DELETE /v1/databases/a%20b/vectors/7?x=1&y=%2F HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            + "Authorization:  Bearer abc.def \t\r\nX-Empty:\r\nx-api-key: k1\r\nX-Api-Key: k2\r\n\r\n"
        let (scanned, head) = try #require(scan(text))
        #expect(scanned.length == text.utf8.count)
        #expect(!scanned.isPlainHealth)
        #expect(head.method == .DELETE)
        #expect(head.version == .http1_1)
        #expect(head.uri == "/v1/databases/a%20b/vectors/7?x=1&y=%2F")
        #expect(head.isKeepAlive)
        #expect(head.headers.first(name: "host") == "127.0.0.1:8080")
        #expect(head.headers.first(name: "authorization") == "Bearer abc.def \t")  // as the codec keeps it
        #expect(head.headers.first(name: "x-empty") == "")
        #expect(head.headers["x-api-key"] == ["k1", "k2"])
        #expect(head.headers.count == 5)
    }

    @Test(arguments: [
        ("GET /health HTTP/1.1\r\nHost: a\r\n\r\n", true),
        ("GET /health HTTP/1.1\r\n\r\n", true),
        ("GET /health HTTP/1.1\r\nX-Request-Id: abc\r\n\r\n", false),  // echoed: the router's job
        ("GET /health/db HTTP/1.1\r\n\r\n", false),
        ("GET /health?x=1 HTTP/1.1\r\n\r\n", false),
        ("GET /healt HTTP/1.1\r\n\r\n", false),
        ("HEAD /health HTTP/1.1\r\n\r\n", false),
    ])
    func onlyPlainHealthRequestsTakeTheHealthPath(_ text: String, _ plain: Bool) throws {
        #expect(try #require(scan(text)).0.isPlainHealth == plain)
    }

    @Test(arguments: [
        "GET /health HTTP/1.1\r\nHost: a\r\n",  // head not finished
        "GET /health HTTP/1.1\r\nHost: a",  // line not finished
        "GET /health HTTP/1.1\r\nHost: a\r",
        "GET /health HTTP/1.0\r\nHost: a\r\n\r\n",  // HTTP/1.0: keep-alive rules differ
        "GET /health HTTP/1.1\n\n",  // bare LF
        "GET /health HTTP/1.1\r\nHost: a\n\r\n",
        "get /health HTTP/1.1\r\n\r\n",
        "POST /v1/auth/login HTTP/1.1\r\n\r\n",
        "PUT /x HTTP/1.1\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\n\r\n",
        "GET http://host/health HTTP/1.1\r\n\r\n",  // absolute form
        "GET /a b HTTP/1.1\r\n\r\n",
        "GET /a#frag HTTP/1.1\r\n\r\n",
        "GET /a\"b HTTP/1.1\r\n\r\n",
        "GET /caf\u{e9} HTTP/1.1\r\n\r\n",
        "GET  /health HTTP/1.1\r\n\r\n",
        "GET /health  HTTP/1.1\r\n\r\n",
        "GET /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "GET /health HTTP/1.1\r\ncontent-LENGTH: 0\r\n\r\n",
        "DELETE /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /health HTTP/1.1\r\nConnection: keep-alive\r\n\r\n",
        "GET /a HTTP/1.1\r\nProxy-Connection: close\r\n\r\n",  // llhttp treats it as Connection
        "GET /health HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
        "GET /health HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        "GET /health HTTP/1.1\r\nTE: trailers\r\n\r\n",
        "GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /health HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost : a\r\n\r\n",  // space before the colon
        "GET /health HTTP/1.1\r\n folded: a\r\n\r\n",  // obs-fold
        "GET /health HTTP/1.1\r\nX-A: b\u{1}c\r\n\r\n",  // control byte
        "GET /health HTTP/1.1\r\nX-A: caf\u{e9}\r\n\r\n",  // obs-text
        "GET /health HTTP/1.1\r\nX(A): b\r\n\r\n",  // not a token
    ])
    func anythingElseGoesToTheCodec(_ text: String) {
        #expect(scan(text) == nil)
    }

    @Test func headsOverTheLimitGoToTheCodec() {
        let padded = "GET /health HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 200) + "\r\n\r\n"
        #expect(scan(padded, maxHead: 100) == nil)
        #expect(scan(padded, maxHead: 1000)?.0.length == padded.utf8.count)
        // Measured as the codec path measures it (target + 16 + name + value + 4 per field), so
        // a head at the limit by one measure and over it by the other goes to the codec.
        let tight = "GET /a HTTP/1.1\r\nA:1\r\nB:2\r\n\r\n"  // 29 bytes; the codec's measure: 2 + 16 + 12 = 30
        #expect(tight.utf8.count == 29)
        #expect(scan(tight, maxHead: 30) != nil)
        #expect(scan(tight, maxHead: 29) == nil)
    }

    @Test func decimalsAreWrittenWithoutStrings() {
        for value in [0, 7, 10, 429, 65_535, Int.max, -1, Int.min] {
            var buffer = ByteBufferAllocator().buffer(capacity: 0)
            buffer.writeDecimal(value)
            #expect(buffer.readString(length: buffer.readableBytes) == String(value))
        }
    }
}
