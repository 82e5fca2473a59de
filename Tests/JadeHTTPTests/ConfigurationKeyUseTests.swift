import Foundation
import JadeConfig
import Testing

@testable import JadeHTTP

/// Every configuration key the schema accepts is read by the server: a key that is validated
/// and documented but read by no code (five such keys once existed) fails here.
///
/// A key is declared as an `@Setting` property of a section of `JadeConfiguration`; it counts as
/// read when the property (or the computed property derived from it) is named outside
/// JadeConfig. This proves a key is read, not what it does; the behaviour of each key is the
/// business of the tests of its feature (for the keys that were once ignored:
/// QueryTimeoutTests, QueryCacheTests, Integration.ConfigurationKeys).
@Suite struct ConfigurationKeyUseTests {
    /// The Swift sources of the server outside the configuration module.
    static func serverSources() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        var text = ""
        let files = try #require(FileManager.default.enumerator(atPath: root.path))
        for case let path as String in files where path.hasSuffix(".swift") && !path.hasPrefix("JadeConfig/") {
            text += try String(contentsOfFile: root.appendingPathComponent(path).path, encoding: .utf8)
        }
        return text
    }

    /// Each section's settings: key path and property name.
    static func declaredSettings() -> [(key: String, property: String)] {
        let sections: [any ConfigSection] = [
            JadeConfiguration.Server(), JadeConfiguration.Database(), JadeConfiguration.Cache(),
            JadeConfiguration.Authentication(), JadeConfiguration.Security(), JadeConfiguration.CircuitBreaker(),
            JadeConfiguration.Logging(), JadeConfiguration.Metrics(), JadeConfiguration.Secrets(),
        ]
        var out: [(String, String)] = []
        for section in sections {
            for child in Mirror(reflecting: section).children {
                guard let label = child.label, label.hasPrefix("_"),
                    let key = Mirror(reflecting: child.value).children.first(where: { $0.label == "key" })?.value
                        as? ConfigKey
                else { continue }
                out.append((key.path, String(label.dropFirst())))
            }
        }
        return out
    }

    /// Settings read through a computed property of their section.
    static let readThrough = ["format": "json", "synchronous": "synchronousFull", "workers": "effectiveWorkers"]

    @Test func everyKeyIsReadByTheServer() throws {
        let sources = try Self.serverSources()
        #expect(sources.count > 100_000)
        let settings = Self.declaredSettings()
        // Every key but the rate limits is a setting of a section.
        let nonRateLimitKeys = ConfigSchema.keys.map(\.path).filter { !$0.hasPrefix("rate_limits.") }
        #expect(Set(settings.map(\.key)) == Set(nonRateLimitKeys))
        #expect(settings.count == nonRateLimitKeys.count)
        var unread: [String] = []
        for (key, property) in settings {
            let names = [property] + (Self.readThrough[property].map { [$0] } ?? [])
            if !names.contains(where: { sources.contains(".\($0)") }) { unread.append(key) }
        }
        #expect(unread.isEmpty, "keys no code reads: \(unread)")
        // The rate limits are generated from RateLimitName, the list the request guard applies.
        let limits = Set(RequestGuard.Limit.allCases.map(\.rawValue))
        for key in ConfigSchema.keys.map(\.path) where key.hasPrefix("rate_limits.") {
            let parts = key.split(separator: ".")
            #expect(parts.count == 3 && limits.contains(String(parts[1])), "\(key) is applied by no limit")
        }
        for limit in limits {
            #expect(ConfigSchema.byPath["rate_limits.\(limit).limit"] != nil, "rate_limits.\(limit)")
        }
    }

    /// A section built from a configuration holds its values; one built alone, the defaults.
    @Test func sectionsReadTheConfigurationTheyAreBuiltFrom() throws {
        var values: [String: ConfigValue] = [:]
        for key in ConfigSchema.keys { values[key.path] = key.productionDefault }
        values["server.port"] = .int(9123)
        values["server.trusted_proxies"] = .strings(["10.0.0.0/8"])
        values["database.retry_base_delay_ms"] = .int(250)
        values["audit.retention_days"] = .int(2)
        values["logging.max_file_size_mb"] = .int(3)
        let config = JadeConfiguration(
            ResolvedConfig(environment: .production, configDirectory: nil, values: values, sources: [:]))
        #expect(config.server.port == 9123)
        #expect(config.server.host == "0.0.0.0")
        #expect(config.server.trustedProxies.count == 1)
        #expect(config.database.retryBaseDelay == .milliseconds(250))
        #expect(config.database.auditRetention == .seconds(2 * 86_400))
        #expect(config.logging.maxFileBytes == 3 * 1_048_576)
        #expect(config.authentication.minPasswordLength == 12)
        #expect(config.logging.accessLog == false)
        let defaults = JadeConfiguration.Server()
        #expect(defaults.port == 8080 && defaults.host == "127.0.0.1")
        #expect(ConfigSchema.byPath["server.port"]?.restartOnly == true)
        #expect(ConfigSchema.byPath["secrets.password_pepper"]?.isSecret == true)
    }
}
