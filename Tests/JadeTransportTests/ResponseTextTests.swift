import JadeCore
import Testing

@testable import JadeTransport

/// What the transport writes that is not a response's own bytes: JSON bodies built with
/// `JSON`, and the request ids it echoes.
@Suite struct ResponseTextTests {
    @Test func jsonIsSortedAndEscaped() {
        let value: JSON = .object([
            "b": .int(1), "a": .string("x\"y\n\u{1}"), "c": .array([.bool(true), .null, .double(1.5)]),
        ])
        #expect(value.text == #"{"a":"x\"y\n\u0001","b":1,"c":[true,null,1.5]}"#)
        #expect(JSON.double(3).text == "3")
        #expect(JSON.double(.nan).text == "null")
    }

    @Test func requestIDsAreValidatedConservatively() {
        #expect(HTTPConnectionHandler.validRequestID("abc-123_x.y:z") == "abc-123_x.y:z")
        #expect(HTTPConnectionHandler.validRequestID("has space") == nil)
        #expect(HTTPConnectionHandler.validRequestID(String(repeating: "a", count: 129)) == nil)
        #expect(HTTPConnectionHandler.validRequestID("") == nil)
    }
}
