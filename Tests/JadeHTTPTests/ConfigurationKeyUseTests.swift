import Foundation
import JadeConfig
import Testing

@testable import JadeHTTP

/// Every configuration key the schema accepts is read by the server: a key that is validated
/// and documented but read by no code (five such keys once existed) fails here.
///
/// This proves a key is read, not what it does; the behaviour of each key is the business of
/// the tests of its feature (for the keys that were once ignored: QueryTimeoutTests,
/// QueryCacheTests, Integration.ConfigurationKeys).
@Suite struct ConfigurationKeyUseTests {
    /// The Swift sources of the server, without the schema that declares the keys.
    static func serverSources() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        var text = ""
        let files = try #require(FileManager.default.enumerator(atPath: root.path))
        for case let path as String in files where path.hasSuffix(".swift") && !path.hasSuffix("ConfigSchema.swift") {
            text += try String(contentsOfFile: root.appendingPathComponent(path).path, encoding: .utf8)
        }
        return text
    }

    @Test func everyKeyIsReadByTheServer() throws {
        let sources = try Self.serverSources()
        #expect(sources.count > 100_000)
        // The rate limits are read in a loop over RateLimitName, the list the schema is built from.
        let limits = Set(RequestGuard.Limit.allCases.map(\.rawValue))
        for field in ["limit", "period_seconds", "burst"] {
            #expect(sources.contains("c.int(name.key(\"\(field)\"))"), "rate_limits.*.\(field)")
        }
        var unread: [String] = []
        for key in ConfigSchema.keys.map(\.path) {
            let parts = key.split(separator: ".")
            if parts.first == "rate_limits" {
                if parts.count != 3 || !limits.contains(String(parts[1])) { unread.append(key) }
            } else if !sources.contains("\"\(key)\"") {
                unread.append(key)
            }
        }
        #expect(unread.isEmpty, "keys no code reads: \(unread)")
        // And every limit the server applies has its keys.
        for limit in limits {
            #expect(ConfigSchema.byPath["rate_limits.\(limit).limit"] != nil, "rate_limits.\(limit)")
        }
    }
}
