import Foundation
import Testing

@testable import JadeConfig

/// `server.tls.*` and `server.cors.allowed_origins`: what the validator accepts and refuses.
@Suite struct WebClientSettingsTests {
    @Test(arguments: [
        "*", "https://app.example.com", "http://localhost:3000", "HTTPS://App.Example.COM", "http://127.0.0.1:8080",
        "https://[::1]:8443", "https://xn--bcher-kva.example",
    ])
    func acceptsOrigins(_ origin: String) {
        #expect(CORSOrigin.isValid(origin))
    }

    @Test(arguments: [
        "", "app.example.com", "ftp://example.com", "https://", "https://example.com/", "https://example.com/path",
        "https://example.com:0", "https://example.com:99999", "https://exa mple.com", "https://.example.com",
        "https://example.com:", "null", "https://[::1", "https://user@example.com",
    ])
    func refusesOrigins(_ origin: String) {
        #expect(!CORSOrigin.isValid(origin))
    }

    func issues(_ extra: [String: String]) throws -> Set<String> {
        let fixture = try ConfigFixture(files: ["development.json": "{}"])
        do {
            _ = try ConfigLoader.load(environment: fixture.environment.merging(extra) { $1 })
            return []
        } catch {
            guard let refusal = error as? ConfigError else { throw error }
            var keys = Set<String>()
            for issue in refusal.issues { keys.insert(issue.key) }
            return keys
        }
    }

    @Test func tlsFilesComeTogetherAndMustBeReadable() throws {
        let file = NSTemporaryDirectory() + "jade-tls-\(UUID().uuidString).pem"
        try "not checked here".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(try issues([:]).isEmpty)
        #expect(try issues(["JADEVECTORDB_SERVER_TLS_CERTIFICATE_FILE": file]) == ["server.tls.private_key_file"])
        #expect(try issues(["JADEVECTORDB_SERVER_TLS_PRIVATE_KEY_FILE": file]) == ["server.tls.certificate_file"])
        #expect(
            try issues([
                "JADEVECTORDB_SERVER_TLS_CERTIFICATE_FILE": file,
                "JADEVECTORDB_SERVER_TLS_PRIVATE_KEY_FILE": file + ".missing",
            ]) == ["server.tls.private_key_file"])
        #expect(
            try issues([
                "JADEVECTORDB_SERVER_TLS_CERTIFICATE_FILE": file, "JADEVECTORDB_SERVER_TLS_PRIVATE_KEY_FILE": file,
            ]).isEmpty)
    }

    @Test func corsOriginsAreValidated() throws {
        #expect(
            try issues(["JADEVECTORDB_SERVER_CORS_ALLOWED_ORIGINS": "https://a.example.com,http://localhost:3000"])
                .isEmpty)
        #expect(
            try issues(["JADEVECTORDB_SERVER_CORS_ALLOWED_ORIGINS": "https://a.example.com/app"])
                == ["server.cors.allowed_origins"])
    }
}
