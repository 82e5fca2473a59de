import Foundation
import Testing

@testable import JadeConfig

/// A config directory in a temporary folder.
final class ConfigFixture {
    let path: String
    init(files: [String: String]) throws {
        path = NSTemporaryDirectory() + "jadeconfig-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: path + "/" + name, atomically: true, encoding: .utf8) }
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var environment: [String: String] {
        ["JADEVECTORDB_CONFIG_DIR": path, "JADEVECTORDB_SECRETS_DIR": path + "/secrets"]
    }
}

@Suite struct ConfigLoaderTests {
    @Test func defaultsThenFilesThenEnvironment() throws {
        let fixture = try ConfigFixture(files: [
            "development.json": #"{"server": {"port": 9000, "workers": 3}}"#,
            "performance.json": #"{"server": {"port": 7000, "backlog": 512}}"#,
        ])
        var env = fixture.environment
        env["JADEVECTORDB_WORKERS"] = "5"
        let c = try ConfigLoader.load(environment: env)
        #expect(c.int("server.port") == 9000)  // development.json overrides performance.json
        #expect(c.int("server.backlog") == 512)
        #expect(c.int("server.workers") == 5)  // environment wins
        #expect(c.sources["server.workers"] == "JADEVECTORDB_WORKERS")
        #expect(c.int("server.shutdown_timeout_seconds") == 30)  // built-in default
    }

    @Test func everyProblemIsReportedAtOnce() throws {
        let fixture = try ConfigFixture(files: [
            "development.json": #"{"server": {"port": "x", "bogus": 1}, "nosuchsection": {}, "logging": {"level": 3}}"#
        ])
        var env = fixture.environment
        env["JADEVECTORDB_SERVER_BACKLOG"] = "1"
        #expect {
            try ConfigLoader.load(environment: env)
        } throws: { error in
            let issues = (error as! ConfigError).issues.map(\.key)
            return Set(issues) == ["server.port", "server.bogus", "nosuchsection", "logging.level", "server.backlog"]
        }
    }

    @Test func environmentNamesFollowTheKeyPath() {
        let key = ConfigSchema.byPath["rate_limits.login.limit"]!
        #expect(key.environmentName == "JADEVECTORDB_RATE_LIMITS_LOGIN_LIMIT")
        #expect(ConfigSchema.byPath["server.port"]!.aliases == ["JADEVECTORDB_PORT"])
    }

    @Test func secretsFromFileAndSecretsDirectoryAreRedacted() throws {
        let fixture = try ConfigFixture(files: ["development.json": "{}"])
        try FileManager.default.createDirectory(atPath: fixture.path + "/secrets", withIntermediateDirectories: true)
        try "pepper-from-docker-secret\n".write(
            toFile: fixture.path + "/secrets/jadevectordb_password_pepper", atomically: true, encoding: .utf8)
        try "file-password\n".write(toFile: fixture.path + "/pw", atomically: true, encoding: .utf8)
        var env = fixture.environment
        env["JADEVECTORDB_ADMIN_PASSWORD_FILE"] = fixture.path + "/pw"
        let c = try ConfigLoader.load(environment: env)
        #expect(c.string("secrets.admin_password") == "file-password")
        #expect(c.string("secrets.password_pepper") == "pepper-from-docker-secret")
        let dump = String(
            decoding: try JSONSerialization.data(withJSONObject: c.redactedDump(), options: [.sortedKeys]),
            as: UTF8.self)
        #expect(!dump.contains("file-password"))
        #expect(!dump.contains("pepper-from-docker-secret"))
        #expect(dump.contains("<redacted>"))
    }

    @Test func productionRefusesSecretsInFilesAndWeakSettings() throws {
        let fixture = try ConfigFixture(files: [
            "production.json": #"{"secrets": {"admin_password": "in-a-file"}, "logging": {"log_sql_queries": true}}"#
        ])
        var env = fixture.environment
        env["JADEVECTORDB_TOTP_ENCRYPTION_KEY"] = "0123456789abcdef0123"
        #expect {
            try ConfigLoader.load(environment: env, environmentOverride: .production)
        } throws: { error in
            let config = error as! ConfigError
            let text = "\(config)"
            return Set(config.issues.map(\.key)) == ["secrets.admin_password", "logging.log_sql_queries"]
                && !text.contains("in-a-file")
        }
    }

    @Test func serializationRoundTripsForWorkers() throws {
        let fixture = try ConfigFixture(files: ["development.json": #"{"server": {"trusted_proxies": ["10.0.0.0/8"]}}"#]
        )
        var env = fixture.environment
        env["JADEVECTORDB_SCRAPE_TOKEN"] = "0123456789abcdef0123"
        let c = try ConfigLoader.load(environment: env)
        let back = try #require(ResolvedConfig.deserialize(c.serialized()))
        #expect(back.values == c.values)
        #expect(back.environment == c.environment)
        let typed = JadeConfiguration(back)
        #expect(typed.server.trustedProxies.count == 1)
    }
}
