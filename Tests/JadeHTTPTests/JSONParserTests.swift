import JadeCore
import Testing

@Suite struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let doc = #" { "a": [1, -2.5, 3e2, true, false, null], "s": "x\"y\\u00e9\ud83d\ude00\n", "o": {} } "#
        let value = try JSONParser.parse(Array(doc.utf8))
        #expect(
            value
                == .object([
                    "a": .array([.int(1), .double(-2.5), .double(300), .bool(true), .bool(false), .null]),
                    "s": .string("x\"y\\u00e9😀\n"), "o": .object([:]),
                ]))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\u{01}\"", "tru", "[1] x", "\"\\x\"", "\"\\ud800\"", "1e999",
        "{\"a\" 1}", "[" + String(repeating: "[", count: 70) + String(repeating: "]", count: 71),
    ])
    func rejectsMalformedDocuments(_ doc: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(Array(doc.utf8)) }
    }

    @Test func keepsIntegersAndBooleansApart() throws {
        #expect(try JSONParser.parse(Array("1".utf8)) == .int(1))
        #expect(try JSONParser.parse(Array("true".utf8)) == .bool(true))
        #expect(try JSONParser.parse(Array("1.0".utf8)) == .double(1))
        #expect(try JSONParser.parse(Array("12345678901234567890".utf8)) == .double(12_345_678_901_234_567_890))
    }
}
