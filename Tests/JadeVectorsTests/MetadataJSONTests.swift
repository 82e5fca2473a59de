import Testing

@testable import JadeVectors

@Suite struct MetadataJSONTests {
    @Test func roundTripsEveryKindOfValue() throws {
        let metadata: Metadata = [
            "genre": .string("sci-fi"), "year": .number(1984), "rating": .number(4.25), "tiny": .number(1e-300),
            "big": .number(1.5e300), "negative": .number(-7), "published": .bool(true), "draft": .bool(false),
            "quote \"x\"\\": .string("line\nbreak\ttab \u{01} é 日本 🚀"), "empty": .string(""),
        ]
        let text = MetadataJSON.encode(metadata)
        #expect(try MetadataJSON.decode(text) == metadata)
        #expect(MetadataJSON.encode(metadata) == text)  // sorted keys: stable bytes
        #expect(MetadataJSON.encode(["a": .number(3), "b": .bool(true)]) == #"{"a":3,"b":true}"#)
    }

    @Test func decodesForeignSpellings() throws {
        #expect(
            try MetadataJSON.decode(#" { "a" : "\u00e9\ud83d\ude80\/" , "b": -1.5E+2 ,"c":false } "#) == [
                "a": .string("é🚀/"), "b": .number(-150), "c": .bool(false),
            ])
        #expect(try MetadataJSON.decode("{}") == [:])
    }

    @Test(arguments: [#"{"a":{}}"#, #"{"a":null}"#, #"{"a":1"#, #"{"a":1} x"#, #"["a"]"#, #"{"a":tru}"#, #"{"a":"x}"#])
    func rejectsWhatItNeverWrites(text: String) {
        #expect(throws: MetadataJSON.SyntaxError.self) { try MetadataJSON.decode(text) }
    }
}
