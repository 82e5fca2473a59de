import Testing

@testable import JadeAuth

/// Parsing of the Authorization and X-API-Key headers (byte-level, on every request).
@Suite struct PresentedCredentialTests {
    let session = Tokens.generate(.session)
    let key = Tokens.generate(.apiKey)

    func parse(_ authorization: String?, apiKey: String? = nil) throws -> PresentedCredential? {
        try PresentedCredential.parse(authorization: authorization, apiKeyHeader: apiKey)
    }

    @Test func acceptedForms() throws {
        #expect(try parse("Bearer \(session)") == .session(session))
        #expect(try parse("bearer \(session)") == .session(session))
        #expect(try parse("BEARER   \(session) \t") == .session(session))
        #expect(try parse("Bearer \(key)") == .apiKey(key))
        #expect(try parse("ApiKey \(key)") == .apiKey(key))
        #expect(try parse("apikey \(key)") == .apiKey(key))
        #expect(try parse(nil, apiKey: " \(key) ") == .apiKey(key))
        #expect(try parse(nil) == nil)
    }

    @Test func refusedForms() {
        for header in [
            "Bearer", "Bearer ", "Basic \(session)", "ApiKey \(session)", "Bearer \(session)x",
            "Bearer \(session.dropLast())", "Bearerx \(session)", "Bearér \(session)", "Bearer \(session) extra",
        ] {
            #expect(throws: AuthError.self, "\(header)") { try parse(header) }
        }
        #expect(throws: AuthError.self) { try parse(nil, apiKey: session) }
        #expect(throws: AuthError.self) { try parse(nil, apiKey: "") }
    }
}
