import Testing

@testable import JadeHTTP

/// Recognition of `GET /health` requests for the raw-bytes fast path: anything it does not
/// fully understand must go to the HTTP codec.
@Suite struct FastHealthRequestTests {
    func length(_ text: String, maxHead: Int = 16_384) -> Int? {
        Array(text.utf8).withUnsafeBytes { FastHealthRequest.length(of: $0, maxHead: maxHead) }
    }

    @Test func completeRequestsAreMeasuredExactly() {
        let one = "GET /health HTTP/1.1\r\nHost: a\r\nUser-Agent: wrk\r\n\r\n"
        #expect(length(one) == one.utf8.count)
        #expect(length(one + "GET /other HTTP/1.1\r\n") == one.utf8.count)
        #expect(length("GET /health HTTP/1.1\r\n\r\n") == 24)
    }

    @Test(arguments: [
        "GET /health HTTP/1.1\r\nHost: a\r\n",  // head not finished
        "GET /health HTTP/1.1\r\nHost: a",  // line not finished
        "GET /health HTTP/1.0\r\nHost: a\r\n\r\n",  // HTTP/1.0: keep-alive rules differ
        "GET /health/db HTTP/1.1\r\n\r\n",
        "GET /health?x=1 HTTP/1.1\r\n\r\n",
        "HEAD /health HTTP/1.1\r\n\r\n",
        "get /health HTTP/1.1\r\n\r\n",
        "GET /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "GET /health HTTP/1.1\r\ncontent-LENGTH: 0\r\n\r\n",
        "GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
        "GET /health HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
        "GET /health HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
        "GET /health HTTP/1.1\r\nX-Request-Id: abc\r\n\r\n",
        "GET /health HTTP/1.1\r\nno colon here\r\n\r\n",
        "GET /health HTTP/1.1\r\n: empty name\r\n\r\n",
    ])
    func anythingElseGoesToTheCodec(_ text: String) {
        #expect(length(text) == nil)
    }

    @Test func headsOverTheLimitGoToTheCodec() {
        let padded = "GET /health HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 200) + "\r\n\r\n"
        #expect(length(padded, maxHead: 100) == nil)
        #expect(length(padded, maxHead: 1000) == padded.utf8.count)
    }
}
