import ArgumentParser
import Foundation
import JadeConfig
import Testing

@testable import JadeCLI

/// The command line without a running server: parsing, the preflight `serve` and
/// `check-config` share, the config reference, and the schema every module contributes to.
@Suite struct CLITests {
    static func config(_ environment: [String: String], production: Bool = false) throws -> (
        JadeConfiguration, cleanup: () -> Void
    ) {
        let dir = NSTemporaryDirectory() + "jadecli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir + "/config", withIntermediateDirectories: true)
        try "{}".write(toFile: dir + "/config/development.json", atomically: true, encoding: .utf8)
        try "{}".write(toFile: dir + "/config/production.json", atomically: true, encoding: .utf8)
        var env = [
            "JADEVECTORDB_CONFIG_DIR": dir + "/config", "JADEVECTORDB_DATA_DIR": dir + "/data",
            "JADEVECTORDB_TOTP_ENCRYPTION_KEY": "0123456789abcdef0123",
        ]
        if production { env["JADEVECTORDB_ENV"] = "production" }
        for (k, v) in environment { env[k] = v }
        let resolved = try ConfigLoader.load(environment: env)
        return (JadeConfiguration(resolved), { try? FileManager.default.removeItem(atPath: dir) })
    }

    @Test func unknownCommandsAndBadEnvironmentsAreUsageErrors() throws {
        #expect(throws: (any Error).self) { try JadeCommand.parseAsRoot(["no-such-command"]) }
        do {
            _ = try JadeCommand.parseAsRoot(["serve", "--bogus"])
            Issue.record("an unknown option was accepted")
        } catch {
            #expect(JadeCommand.exitCode(for: error) == .validationFailure)  // exit 2
        }
        let parsed = try JadeCommand.parseAsRoot(["check-config", "--env", "staging"])
        let check = try #require(parsed as? JadeCommand.CheckConfig)
        #expect(throws: ValidationError.self) { try check.environment.override() }
        let production = try #require(
            try JadeCommand.parseAsRoot(["migrate", "--env", "production"]) as? JadeCommand.Migrate)
        #expect(try production.environment.override() == .production)
        let admin = try JadeCommand.parseAsRoot(["admin", "unblock-ip", "192.0.2.1"])
        #expect(admin is JadeCommand.UnblockIP)
    }

    @Test func aFirstProductionStartNeedsAnAcceptableBootstrapPassword() throws {
        let (missing, cleanMissing) = try Self.config([:], production: true)
        defer { cleanMissing() }
        let problems = Preflight.problems(missing, includingDataDirectory: false)
        #expect(problems.count == 1 && problems[0].hasPrefix("secrets.admin_password"))
        let (weak, cleanWeak) = try Self.config(["JADEVECTORDB_ADMIN_PASSWORD": "short"], production: true)
        defer { cleanWeak() }
        #expect(
            Preflight.problems(weak, includingDataDirectory: false).first?.contains("bootstrap admin password") == true)
        let (good, cleanGood) = try Self.config(
            ["JADEVECTORDB_ADMIN_PASSWORD": "a long and unusual passphrase 7"], production: true)
        defer { cleanGood() }
        #expect(Preflight.problems(good, includingDataDirectory: false).isEmpty)
        // Development starts without one (the bootstrap generates a password).
        let (development, cleanDevelopment) = try Self.config([:])
        defer { cleanDevelopment() }
        #expect(Preflight.problems(development, includingDataDirectory: false).isEmpty)
    }

    @Test func anUnusableDataDirectoryIsReportedByCheckConfig() throws {
        let file = NSTemporaryDirectory() + "jadecli-file-" + UUID().uuidString
        try "not a directory".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (config, cleanup) = try Self.config(["JADEVECTORDB_DATA_DIR": file])
        defer { cleanup() }
        #expect(Preflight.problems(config, includingDataDirectory: false).isEmpty)
        #expect(Preflight.problems(config, includingDataDirectory: true).count == 1)
    }

    @Test func rootIsRefusedOnlyInProductionWithoutTheFlag() {
        #expect(Preflight.rootProblem(.development, allowRoot: false) == nil)
        #expect(Preflight.rootProblem(.production, allowRoot: true) == nil)
        let refused = Preflight.rootProblem(.production, allowRoot: false)
        #expect((refused != nil) == Preflight.runningAsRoot)
    }

    @Test func theConfigReferenceHasARowPerKeyAndHidesSecrets() {
        let table = JadeCommand.ConfigReference.markdown()
        let rows = table.split(separator: "\n").dropFirst(2)
        #expect(rows.count == ConfigSchema.keys.count)
        for (row, key) in zip(rows, ConfigSchema.keys) {
            #expect(row.hasPrefix("| `\(key.path)` |"))
            #expect(row.contains("`\(key.environmentName)`"))
            #expect(row.contains("Read at start only") == key.restartOnly, "\(key.path)")
            if key.isSecret { #expect(row.contains("(unset)") && row.contains("_FILE")) }
        }
        #expect(table.contains("| `server.port` | int 0…65535 | `8080` | `8080` |"))
    }

    @Test func theServerSchemaHoldsEveryModulesMigrationsInOrder() {
        #expect(
            ServerSchema.full.known == ["v1_foundation", "v2_auth", "v3_vectors", "v4_ip_blocks", "v5_vector_indexes"])
    }
}
